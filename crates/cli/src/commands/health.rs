//! `tandem check-health`: each region's application probed as Route 53's checkers do, and Route
//! 53's own verdict where the cloud gives one.

use tandem_engine::ops;
use tandem_failover::health::check_health;

use crate::commands::operation::CloudReader;
use crate::error::{Error, Exit, Result};
use crate::render::status::{health_json, health_text};
use crate::workspace::Workspace;

#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ws: &Workspace, args: &HealthArgs) -> Result<Exit> {
    let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    let posture = ws.posture(&state)?;
    let reader = CloudReader::new(ws);
    let report = check_health(&reader.cloud(), &state, &posture, &ws.regions(), 3).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&health_json(&report))?);
    } else {
        println!("{}", health_text(&report));
    }
    if report.active_is_healthy() {
        Ok(Exit::Success)
    } else {
        Err(Error::Unhealthy(format!(
            "the active region {} is unhealthy",
            report.active_region
        )))
    }
}
