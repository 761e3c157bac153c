//! `tandem plan`: what apply would change, wave by wave, after reading live state, and what the
//! policy pack finds in the desired stack (reported; a plan does not fail on findings).

use std::path::PathBuf;

use tandem_engine::{Plan, ops};
use tandem_stack_multi_region::policy;

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
    let findings = policy::evaluate(&ws.env, &desired);
    let providers = ws.providers();
    let (mut plan, _) = ws
        .plan_reading_live(&desired, &state, &providers, !args.no_refresh, 10)
        .await?;
    if let Some(r) = &args.region {
        plan = limit_to_wave(ws, plan, r)?;
    }
    // Failover work that waits for a control plane: the program still declares the world as it
    // was for those parts, so the plan shows no change for them — but the cloud does not match
    // the posture yet, and the plan says so.
    let posture = ws.posture(&state)?;
    let pending_failover = !posture.deferred.is_empty() || posture.transition.is_some();
    if args.json {
        let mut j = render::plan_json(&plan);
        j["deferred_failover_work"] = serde_json::json!(posture
            .deferred
            .iter()
            .map(|d| serde_json::json!({"aspect": d.aspect, "waits_for": d.waits_for, "why": d.why}))
            .collect::<Vec<_>>());
        j["transition_in_progress"] = serde_json::json!(posture.transition);
        j["policy"] = render::policy::policy_json(&findings);
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print!("{}", render::plan_text(&plan));
        if pending_failover {
            println!("\nFailover work not done yet (the cloud does not match the posture):");
            for line in render::resilience::deferred_lines(&posture.deferred, false) {
                println!("{line}");
            }
            if let Some(t) = &posture.transition {
                println!(
                    "  ! a {} from {} to {} is in progress: run `tandem {}` to finish it",
                    t.kind,
                    t.from,
                    t.to,
                    t.kind.command()
                );
            } else {
                println!("  complete it with `tandem failover --resume` once they answer");
            }
        }
        print!("\n{}", render::policy::policy_text(&findings));
    }
    if let Some(path) = &args.out {
        saved_plan::save(ws, &plan, &state, path)?;
    }
    Ok(
        if args.detailed_exitcode
            && (plan.has_changes() || !plan.drift.is_empty() || pending_failover)
        {
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
