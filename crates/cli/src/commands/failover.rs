//! `tandem failover`: fail over to the standby region (or resume deferred work), or show the
//! failover as a plan.

use console::style;
use tandem_engine::ops::{self, make_plan};
use tandem_failover::failover::{
    FailoverRequest, failover, preflight, resume_deferred, target_posture,
};

use crate::commands::operation::{Operation, Printer, Timed, context, program_for};
use crate::error::{Error, Exit, Result};
use crate::render;
use crate::render::resilience::{deferred_lines, failover_text};
use crate::workspace::{Access, Workspace, confirm, note_pending};

#[derive(clap::Args, Debug)]
pub struct FailoverArgs {
    /// The region to fail over to (default: the standby).
    #[arg(long)]
    pub to: Option<String>,
    /// Show the failover as a plan; change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Complete deferred work whose region answers again.
    #[arg(long)]
    pub resume: bool,
    /// Fail over even when the preflight (replica lag, standby health) refuses.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(ws: &Workspace, args: &FailoverArgs) -> Result<Exit> {
    if args.plan {
        return show_plan(ws, args).await;
    }
    let op = Operation::new(ws, "failover");
    let timed = Timed::of(&op);
    let (lock, state) = ws.lock("failover", Access::Cloud(&op.providers)).await?;
    let posture = ws.posture(&state)?;
    let unreachable = ws.unreachable().await;
    let program = program_for(ws);
    let ctx = context(&op, &timed, &lock, &program, &Printer, unreachable);

    if args.resume && posture.transition.is_none() {
        let (_, _, still) = resume_deferred(&ctx, state).await?;
        if still.is_empty() {
            println!("No deferred failover work left.");
        } else {
            println!("{}", deferred_lines(&still, false).join("\n"));
        }
        return Ok(Exit::Success);
    }
    let to = args
        .to
        .clone()
        .unwrap_or_else(|| posture.standby_region.clone());
    if !args.yes && posture.transition.is_none() {
        confirm(&format!(
            "Fail over environment {} from {} to {to}?",
            ws.env.name, posture.active_region
        ))?;
    }
    let pre = preflight(&ctx, &state, &posture, &to).await;
    let request = FailoverRequest {
        to: Some(to),
        drill: false,
        force: args.force,
        rpo_minutes: ws.env.rpo_minutes,
    };
    let (_, report) = failover(&ctx, state, &request, &pre)
        .await
        .map_err(Error::from)?;
    println!("{}", failover_text(&report));
    Ok(Exit::Success)
}

/// `--plan`: the failover as a plan. It changes nothing: no lock, no preflight, nothing written
/// (an interrupted run's pending operations are folded in memory only).
async fn show_plan(ws: &Workspace, args: &FailoverArgs) -> Result<Exit> {
    let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    note_pending(pending);
    let posture = ws.posture(&state)?;
    let unreachable = ws.unreachable().await;
    let to = args
        .to
        .clone()
        .unwrap_or_else(|| posture.standby_region.clone());
    let target = match target_posture(&unreachable, &ws.topology(), &state, &posture, &to, false) {
        Ok(t) => t,
        Err(e) => {
            // A posture with nothing to fail over (no replica in `to`) says so; it is an
            // answer, not an error.
            println!("{} No failover from this posture: {e}", style("!").yellow());
            if posture.db.replica.is_none() {
                println!("  `tandem failback` rebuilds a replica and fails back.");
            }
            return Ok(Exit::Success);
        }
    };
    let desired = program_for(ws)(&target)?;
    let (plan, _) = make_plan(&desired, &state, &ws.providers(), &ws.plan_config(), None).await?;
    println!(
        "{}",
        style(format!("Failover from {} to {to}", posture.active_region)).bold()
    );
    for line in deferred_lines(&target.deferred, false) {
        println!("{line}");
    }
    print!("{}", render::plan_text(&plan));
    Ok(Exit::Success)
}
