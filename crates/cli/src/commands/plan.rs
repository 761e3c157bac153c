//! `tandem plan`: what apply would change, wave by wave, after reading live state.

use std::path::PathBuf;

use tandem_engine::{Plan, ops};

use crate::commands::saved_plan;
use crate::error::{Exit, Result};
use crate::render;
use crate::workspace::{Workspace, note_pending};

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Print the plan as JSON (format documented in the README).
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error (as Terraform).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Limit the plan to one region wave (`global` or a region name).
    #[arg(long)]
    pub region: Option<String>,
    /// Skip reading live state (no drift detection).
    #[arg(long)]
    pub no_refresh: bool,
    /// Also save the plan to FILE, for `tandem apply FILE` to apply exactly it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(ws: &Workspace, args: &PlanArgs) -> Result<Exit> {
    let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    note_pending(pending);
    let desired = ws.desired(&state)?;
    let providers = ws.providers();
    let (mut plan, _) = ws
        .plan_reading_live(&desired, &state, &providers, !args.no_refresh, 10)
        .await?;
    if let Some(r) = &args.region {
        plan = limit_to_wave(ws, plan, r)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render::plan_json(&plan))?
        );
    } else {
        print!("{}", render::plan_text(&plan));
    }
    if let Some(path) = &args.out {
        saved_plan::save(ws, &plan, &state, path)?;
    }
    Ok(
        if args.detailed_exitcode && (plan.has_changes() || !plan.drift.is_empty()) {
            Exit::Changes
        } else {
            Exit::Success
        },
    )
}

/// `--region`: keeps one wave; a known wave with nothing to do gives an empty plan.
fn limit_to_wave(ws: &Workspace, plan: Plan, region: &str) -> Result<Plan> {
    ws.check_wave(region)?;
    if plan.waves.iter().any(|w| w.name == region) {
        return Ok(plan
            .only_wave(region)
            .map_err(tandem_engine::EngineError::from)?);
    }
    let mut p = plan;
    p.waves.clear();
    Ok(p)
}
