//! `tandem refresh`: read live state from the cloud, report drift and record it in the state.

use tandem_engine::ops;

use crate::error::{Exit, Result};
use crate::render;
use crate::workspace::{Access, Workspace};

pub async fn run(ws: &Workspace) -> Result<Exit> {
    let providers = ws.providers();
    let (lock, state) = ws.lock("refresh", Access::Cloud(&providers)).await?;
    let (mut refreshed, drift) = tandem_engine::refresh(&state, &providers, 10).await?;
    if drift.is_empty() {
        println!(
            "No drift: {} resources match the state.",
            refreshed.resources.len()
        );
        return Ok(Exit::Success);
    }
    print!("{}", render::drift_text(&drift));
    ops::save_state(&ws.store, &lock, &mut refreshed)?;
    println!("Recorded the live state (serial {}).", refreshed.serial);
    Ok(Exit::Success)
}
