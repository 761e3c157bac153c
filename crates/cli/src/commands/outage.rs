//! `tandem simulate-outage`: cut a region off, or restore it.

use tandem_failover::outage::simulate_outage;

use crate::commands::operation::{Operation, Printer, Timed, context, program_for};
use crate::error::{Exit, Result};
use crate::workspace::{Access, Workspace};

#[derive(clap::Args, Debug)]
pub struct OutageArgs {
    /// Default: the active region.
    #[arg(long)]
    pub region: Option<String>,
    /// Undo the outage (default region: the one cut off).
    #[arg(long)]
    pub restore: bool,
}

pub async fn run(ws: &Workspace, args: &OutageArgs) -> Result<Exit> {
    let op = Operation::new(ws, "simulate-outage");
    let timed = Timed::of(&op);
    let (lock, mut state) = ws
        .lock("simulate-outage", Access::Cloud(&op.providers))
        .await?;
    let program = program_for(ws);
    let ctx = context(
        &op,
        &timed,
        &lock,
        &program,
        &Printer,
        ws.unreachable().await,
    );
    let simulator = op.simulator();
    let report = simulate_outage(
        &ctx,
        &mut state,
        simulator.as_ref(),
        args.region.as_deref(),
        args.restore,
    )
    .await?;
    println!(
        "{} region {} ({})",
        if report.restored {
            "Restored"
        } else {
            "Simulated an outage of"
        },
        report.region,
        report.method
    );
    Ok(Exit::Success)
}
