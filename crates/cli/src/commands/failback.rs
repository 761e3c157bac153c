//! `tandem failback`: fail back to the primary region as a planned switchover, or show its three
//! steps as plans.

use console::style;
use tandem_engine::ops::{self, make_plan};
use tandem_failover::failback::{FailbackWaits, failback, planned_steps};

use crate::commands::operation::{Operation, Printer, Timed, context, program_for};
use crate::error::{Exit, Result};
use crate::render;
use crate::render::resilience::failback_text;
use crate::workspace::{Access, Workspace, confirm, note_pending};

#[derive(clap::Args, Debug)]
pub struct FailbackArgs {
    /// Show the three steps (rebuild, stop writes, switch back) as plans; change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub async fn run(ws: &Workspace, args: &FailbackArgs) -> Result<Exit> {
    let program = program_for(ws);
    if args.plan {
        // A plan changes nothing: no lock, no preflight, nothing written (an interrupted run's
        // pending operations are folded in memory only).
        let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
        note_pending(pending);
        let posture = ws.posture(&state)?;
        let providers = ws.providers();
        let Some(steps) = planned_steps(&ws.topology(), &state, &posture, &ws.env.primary_region)?
        else {
            println!(
                "Nothing to fail back: {} is the primary region and active.",
                ws.env.primary_region
            );
            return Ok(Exit::Success);
        };
        for (title, p) in steps {
            let desired = program(&p)?;
            let (plan, _) =
                make_plan(&desired, &state, &providers, &ws.plan_config(), None).await?;
            println!("{}", style(title).bold());
            print!("{}", render::plan_text(&plan));
        }
        return Ok(Exit::Success);
    }
    let op = Operation::new(ws, "failback");
    let timed = Timed::of(&op);
    let (lock, state) = ws.lock("failback", Access::Cloud(&op.providers)).await?;
    let posture = ws.posture(&state)?;
    if !args.yes {
        confirm(&format!(
            "Fail back environment {} to {}?",
            ws.env.name, posture.standby_region
        ))?;
    }
    let unreachable = ws.unreachable().await;
    let ctx = context(&op, &timed, &lock, &program, &Printer, unreachable);
    let (_, report) = failback(&ctx, state, &FailbackWaits::default()).await?;
    println!("{}", failback_text(&report));
    Ok(Exit::Success)
}
