//! Reviewed changes: `plan --out FILE` saves a plan, `apply FILE` applies exactly it.

use std::path::Path;
use std::sync::Arc;

use console::style;
use tandem_engine::{ApplyOptions, Plan, State, check_fresh, load_plan, ops, save_plan};

use crate::commands::apply::{self, ApplyCommand};
use crate::error::{Error, Exit, Result};
use crate::progress::Progress;
use crate::render;
use crate::workspace::{Access, Workspace, confirm};

/// `plan --out FILE`: saves the plan with the fingerprint of the program that made it.
pub fn save(ws: &Workspace, plan: &Plan, state: &State, path: &Path) -> Result<()> {
    let fingerprint = ws.program(state)?.fingerprint();
    save_plan(path, plan, &fingerprint)?;
    eprintln!(
        "{} saved the plan to {}; `tandem apply {}` applies exactly it (refused if the state or the program changes first)",
        style("note:").green(),
        path.display(),
        path.display()
    );
    Ok(())
}

/// `apply FILE`: under the lock, after recovery, checks that the state and the program are those
/// the plan was made from, then applies the plan as saved: no new plan, no read of the cloud.
pub async fn apply(ws: &Workspace, path: &Path, cmd: &ApplyCommand) -> Result<Exit> {
    if let Some(r) = &cmd.region {
        return Err(Error::Usage(format!(
            "--region {r} cannot limit a saved plan: make it with `tandem plan --region {r} --out FILE`"
        )));
    }
    let args = &cmd.apply;
    let mut saved = load_plan(path)?;
    let stale = |stale: tandem_engine::Stale| {
        Error::State(format!("cannot apply {}: {stale}", path.display()))
    };
    // Fail fast, before the lock and the cloud; checked again under the lock below.
    let (current, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    check_fresh(&saved, &current, &ws.program(&current)?.fingerprint()).map_err(stale)?;
    let providers = ws.providers();
    let (lock, state) = ws.lock("apply", Access::Cloud(&providers)).await?;
    let fingerprint = ws.program(&state)?.fingerprint();
    check_fresh(&saved, &state, &fingerprint).map_err(stale)?;
    // The file masks every secret digest: the state has them.
    saved.restore_secrets(&state);
    let plan = &saved.plan;
    print!("{}", render::plan_text(plan));
    // The program and the state are those the plan was made from: so is the desired stack.
    apply::check_policy(ws, &ws.desired(&state)?)?;
    let base = saved.base_state(state);
    if !plan.has_changes() {
        if !plan.drift.is_empty() {
            let mut base = base;
            ops::save_state(&ws.store, &lock, &mut base)?;
        }
        return Ok(Exit::Success);
    }
    if !args.yes {
        confirm(&format!(
            "\nDo you want to apply the saved plan {} in environment {}?",
            path.display(),
            ws.env.name
        ))?;
    }
    println!();
    let report = ops::apply_plan(
        &ws.store,
        &lock,
        plan,
        base,
        &plan.outputs,
        &providers,
        &ApplyOptions {
            parallel: usize::from(args.parallel),
        },
        Arc::new(Progress::new()),
        "apply",
    )
    .await?;
    println!();
    apply::finish(&report, "apply", false)
}
