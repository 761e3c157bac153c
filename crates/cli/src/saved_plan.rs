//! Reviewed changes: `plan --out FILE` saves a plan, `apply FILE` applies exactly it, and
//! `preview` renders the plans of several environments for a pull request.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use console::style;
use tandem_engine::planfile::PlanFileError;
use tandem_engine::{ApplyOptions, Plan, State, check_fresh, load_plan, ops, save_plan};

use crate::commands::{Workspace, confirm, finish_apply, lock_and_recover};
use crate::exit::{self, Failure};
use crate::progress::Progress;
use crate::{ApplyArgs, PreviewArgs, PreviewFormat, preview, render};

/// Exit codes of saved-plan files: unreadable is an error, unusable is a state problem.
fn file_failure(e: PlanFileError) -> anyhow::Error {
    let code = match &e {
        PlanFileError::Io { .. } => exit::ERROR,
        PlanFileError::Secret { .. } => exit::CONFIG,
        PlanFileError::Decode { .. } => exit::STATE,
    };
    Failure::new(code, e.to_string()).into()
}

/// `plan --out FILE`: saves the plan with the fingerprint of the program that made it.
pub async fn save(ws: &Workspace, plan: &Plan, state: &State, path: &Path) -> Result<()> {
    let fingerprint = ws.program(state)?.fingerprint();
    save_plan(path, plan, &fingerprint).map_err(file_failure)?;
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
pub async fn apply(ws: &Workspace, path: &Path, args: &ApplyArgs) -> Result<u8> {
    let saved = load_plan(path).map_err(file_failure)?;
    let stale = |stale: tandem_engine::Stale| {
        Failure::new(
            exit::STATE,
            format!("cannot apply {}: {stale}", path.display()),
        )
    };
    // Fail fast, before the lock and the cloud; checked again under the lock below.
    let (current, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    check_fresh(&saved, &current, &ws.program(&current)?.fingerprint()).map_err(stale)?;
    let providers = ws.providers();
    let (lock, state) = lock_and_recover(ws, "apply", &providers).await?;
    let fingerprint = ws.program(&state)?.fingerprint();
    check_fresh(&saved, &state, &fingerprint).map_err(stale)?;
    let plan = &saved.plan;
    print!("{}", render::plan_text(plan));
    let base = saved.base_state(state);
    if !plan.has_changes() {
        if !plan.drift.is_empty() {
            let mut base = base;
            ops::save_state(&ws.store, &lock, &mut base)?;
        }
        return Ok(exit::OK);
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
    finish_apply(&report, "apply", false)
}

/// `preview`: the plan of each environment named (or the global one), rendered as one document.
pub async fn preview(
    ws: &Workspace,
    environments: &Path,
    stack: &str,
    args: &PreviewArgs,
) -> Result<u8> {
    let mut plans = Vec::new();
    if args.envs.is_empty() {
        plans.push(plan_of(ws, args).await?);
    }
    for name in &args.envs {
        if *name == ws.env.name {
            plans.push(plan_of(ws, args).await?);
        } else {
            let other = Workspace::open_named(environments, stack, name)?;
            plans.push(plan_of(&other, args).await?);
        }
    }
    let document = match args.format {
        PreviewFormat::Markdown => preview::markdown(&plans),
        PreviewFormat::Json => {
            let mut text = serde_json::to_string_pretty(&preview::json(&plans))?;
            text.push('\n');
            text
        }
        PreviewFormat::Text => {
            let colour =
                args.out.is_none() && std::io::stdout().is_terminal() && console::colors_enabled();
            preview::text(&plans, colour)
        }
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &document).map_err(|e| {
                Failure::new(exit::ERROR, format!("cannot write {}: {e}", path.display()))
            })?;
            eprintln!(
                "{} wrote the preview of {} to {}",
                style("note:").green(),
                plans
                    .iter()
                    .map(|p| p.env.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                path.display()
            );
        }
        None => print!("{document}"),
    }
    Ok(exit::OK)
}

async fn plan_of(ws: &Workspace, args: &PreviewArgs) -> Result<Plan> {
    let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    if pending > 0 {
        eprintln!(
            "{} environment {}: an interrupted run left {pending} operation(s) pending; the next apply reconciles them",
            style("note:").yellow(),
            ws.env.name
        );
    }
    let desired = ws.desired(&state)?;
    let providers = ws.providers();
    let (plan, _) =
        crate::commands::plan_reading_live(ws, &desired, &state, &providers, !args.no_refresh, 10)
            .await?;
    Ok(plan)
}
