//! `tandem drill`: outage → detection → failover → checks read from the cloud → restore → a
//! Markdown and JSON report, with the measured RTO and RPO against the objectives.

use std::time::Duration;

use tandem_engine::store::{create_private_dir, write_private};
use tandem_failover::DrillOutcome;
use tandem_failover::drill::{DrillConfig, drill};

use crate::commands::operation::{Operation, Printer, Timed, context, program_for};
use crate::error::{Error, Exit, Result};
use crate::render::drill::{json, markdown};
use crate::render::resilience::outcome_text;
use crate::workspace::{Access, Workspace, confirm};

#[derive(clap::Args, Debug)]
pub struct DrillArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Seconds between health probes (default: 1 on the local cloud, 10 on AWS).
    #[arg(long)]
    pub interval: Option<u64>,
    /// Consecutive failed probes that make a region unhealthy (1-10).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub threshold: u32,
}

pub async fn run(ws: &Workspace, args: &DrillArgs) -> Result<Exit> {
    if !args.yes {
        confirm(&format!(
            "Drill a failover of environment {} (it fails the active region over)?",
            ws.env.name
        ))?;
    }
    let interval = args
        .interval
        .unwrap_or(if ws.env.local_cloud.is_some() { 1 } else { 10 });
    let op = Operation::new(ws, "drill");
    let timed = Timed::of(&op);
    let (lock, state) = ws.lock("drill", Access::Cloud(&op.providers)).await?;
    let program = program_for(ws);
    let unreachable = ws.unreachable().await;
    let mut ctx = context(&op, &timed, &lock, &program, &Printer, unreachable);
    let config = DrillConfig {
        interval: Duration::from_secs(interval),
        threshold: args.threshold,
        rto_minutes: ws.env.rto_minutes,
        rpo_minutes: ws.env.rpo_minutes,
        detection_limit: Duration::from_secs(600),
    };
    let simulator = op.simulator();
    let (_, report) = drill(
        &mut ctx,
        state,
        simulator.as_ref(),
        &config,
        std::sync::Arc::clone(&op.clock),
    )
    .await?;

    let dir = ws.tandem_dir().join("reports");
    create_private_dir(&dir)?;
    let stamp = report.finished_at.replace([':', '-'], "");
    let json_path = dir.join(format!("drill-{}-{stamp}.json", ws.env.name));
    let md_path = json_path.with_extension("md");
    write_private(
        &json_path,
        (serde_json::to_string_pretty(&json(&ws.env.name, &report))? + "\n").as_bytes(),
    )?;
    let md = markdown(&report);
    write_private(&md_path, md.as_bytes())?;
    println!("\n{md}");
    println!("{}", outcome_text(report.outcome));
    println!("Report: {} and {}", md_path.display(), json_path.display());
    match report.outcome {
        DrillOutcome::Met => Ok(Exit::Success),
        DrillOutcome::Missed => Err(Error::Unhealthy(
            "the drill missed an objective or a check failed (see the report)".into(),
        )),
        DrillOutcome::Unverified => Err(Error::Unverified(
            "the drill met what it measured, but not every objective and check could be measured here (see the report)".into(),
        )),
    }
}
