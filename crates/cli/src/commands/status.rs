//! `tandem status`: where the stack stands, each line read from the cloud or saying why not.

use tandem_engine::ops;
use tandem_failover::status::status;

use crate::commands::operation::CloudReader;
use crate::error::{Exit, Result};
use crate::render::status::{status_json, status_text};
use crate::workspace::{Workspace, note_pending};

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ws: &Workspace, args: &StatusArgs) -> Result<Exit> {
    let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    note_pending(pending);
    let posture = ws.posture(&state)?;
    let reader = CloudReader::new(ws);
    let report = status(&reader.cloud(), &state, &posture, &ws.regions()).await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status_json(&ws.env.name, &report))?
        );
    } else {
        println!("{}", status_text(&ws.env.name, &report));
    }
    Ok(Exit::Success)
}
