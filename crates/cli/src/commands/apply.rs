//! `tandem apply`, `deploy` and `destroy`: plan after reading live state, confirm, apply region
//! wave by region wave; and how an apply ends ([`finish`]), shared with `apply FILE`. `apply` and
//! `deploy` hold the desired stack to the policy pack first ([`check_policy`]): a mandatory
//! finding that is not suppressed refuses the run before any change; `destroy` is not judged.

use std::path::PathBuf;
use std::sync::Arc;

use console::style;
use tandem_core::DesiredStack;
use tandem_core::StackBuilder;
use tandem_engine::{ApplyOptions, ApplyReport, Outcome, ops};
use tandem_stack_multi_region::policy;

use crate::error::{Error, Exit, Result};
use crate::progress::Progress;
use crate::render;
use crate::workspace::{Access, Workspace, confirm};

#[derive(clap::Args, Debug)]
pub struct ApplyCommand {
    /// A plan saved by `tandem plan --out FILE`: apply exactly it, without planning or reading
    /// the cloud again.
    #[arg(value_name = "FILE")]
    pub plan_file: Option<PathBuf>,
    /// Limit the run to one region wave (`global` or a region name).
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(clap::Args, Debug)]
pub struct DestroyArgs {
    /// Limit the run to one region wave (`global` or a region name).
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// At most this many operations in flight.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
    /// Skip reading live state before planning.
    #[arg(long)]
    pub no_refresh: bool,
}

#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    /// `primary`, `secondary` or `all`.
    #[arg(value_parser = ["primary", "secondary", "all"])]
    pub target: String,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// `tandem apply` (without a saved plan): every wave, or the one `--region` names.
pub async fn apply(ws: &Workspace, args: &ApplyArgs, region: Option<&str>) -> Result<Exit> {
    run(ws, args, &waves_of(ws, region)?, false).await
}

/// `tandem destroy`.
pub async fn destroy(ws: &Workspace, args: &DestroyArgs) -> Result<Exit> {
    run(
        ws,
        &args.apply,
        &waves_of(ws, args.region.as_deref())?,
        true,
    )
    .await
}

/// `tandem deploy primary|secondary|all`.
pub async fn deploy(ws: &Workspace, args: &DeployArgs) -> Result<Exit> {
    let env = &ws.env;
    let waves = match args.target.as_str() {
        "primary" => Some(vec!["global".to_string(), env.primary_region.clone()]),
        "secondary" => {
            let (state, _) = ops::read_state(&ws.store, &ws.stack, &env.name)?;
            let deployed = state.resources.keys().any(|a| {
                a.region_str() == env.primary_region
                    && a.kind() == tandem_schema::kinds::CLOUDFORMATION_STACK_INSTANCE
            });
            if !deployed {
                return Err(Error::Refused(format!(
                    "refusing to deploy the secondary region {}: the primary region {} is not deployed yet (run `make deploy-primary` first)",
                    env.secondary_region, env.primary_region
                )));
            }
            Some(vec![env.secondary_region.clone()])
        }
        _ => None,
    };
    run(ws, &args.apply, &waves, false).await
}

/// The waves a run may touch: all of them, or the one `--region` names.
fn waves_of(ws: &Workspace, region: Option<&str>) -> Result<Option<Vec<String>>> {
    let Some(r) = region else { return Ok(None) };
    ws.check_wave(r)?;
    Ok(Some(vec![r.to_string()]))
}

async fn run(
    ws: &Workspace,
    args: &ApplyArgs,
    waves: &Option<Vec<String>>,
    destroy: bool,
) -> Result<Exit> {
    let operation = if destroy { "destroy" } else { "apply" };
    let providers = ws.providers();
    let (lock, state) = ws.lock(operation, Access::Cloud(&providers)).await?;
    let desired = if destroy {
        StackBuilder::new()
            .finish()
            .map_err(|e| tandem_engine::EngineError::from(tandem_core::EvaluateError::Graph(e)))?
    } else {
        ws.desired(&state)?
    };
    let (mut plan, base) = ws
        .plan_reading_live(
            &desired,
            &state,
            &providers,
            !args.no_refresh,
            usize::from(args.parallel),
        )
        .await?;
    if let Some(keep) = waves {
        plan.waves.retain(|w| keep.contains(&w.name));
    }
    print!("{}", render::plan_text(&plan));
    if !destroy {
        check_policy(ws, &desired)?;
    }
    if !plan.has_changes() {
        if !plan.drift.is_empty() {
            let mut base = base;
            ops::save_state(&ws.store, &lock, &mut base)?;
        }
        return Ok(Exit::Success);
    }
    if !args.yes {
        confirm(&format!(
            "\nDo you want to {operation} these changes in environment {}?",
            ws.env.name
        ))?;
    }
    println!();
    let options = ApplyOptions {
        parallel: usize::from(args.parallel),
    };
    let report = ops::apply_plan(
        &ws.store,
        &lock,
        &plan,
        base,
        &desired.outputs,
        &providers,
        &options,
        Arc::new(Progress::new()),
        operation,
    )
    .await?;
    println!();
    let mut report = report;
    if destroy
        && report.succeeded()
        && tandem_failover::context::reset_posture_after_destroy(&mut report.state, &ws.regions())?
    {
        ops::save_state(&ws.store, &lock, &mut report.state)?;
    }
    finish(&report, operation, destroy)
}

/// Prints the policy pack's findings on `desired` (after the plan) and refuses the run when one
/// of them blocks it (exit 9): the pack decides, this prints and maps.
pub fn check_policy(ws: &Workspace, desired: &DesiredStack) -> Result<()> {
    let findings = policy::evaluate(&ws.env, desired);
    print!("\n{}", render::policy::policy_text(&findings));
    if findings.is_blocking() {
        return Err(Error::Policy(render::policy::refusal(
            &findings,
            &ws.env.file,
        )));
    }
    Ok(())
}

/// Prints how an apply ended: success, or each failure and an error that counts them.
pub fn finish(report: &ApplyReport, operation: &str, destroy: bool) -> Result<Exit> {
    let done = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Done)
        .count();
    if report.succeeded() {
        println!(
            "{}",
            style(format!(
                "{} complete: {done} change(s) applied.",
                capitalised(operation)
            ))
            .green()
            .bold()
        );
        if !destroy && !report.state.outputs.is_empty() {
            println!(
                "\nOutputs:\n{}",
                render::outputs_text(&report.state.outputs)
            );
        }
        return Ok(Exit::Success);
    }
    for f in &report.results {
        if let Outcome::Failed(e) = &f.outcome {
            eprintln!(
                "{} {} (region {}): {e}",
                style("failed:").red().bold(),
                f.addr,
                f.addr.region_str()
            );
        }
    }
    let skipped = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped(_)))
        .count();
    let failed = report.failures().count();
    let mut msg =
        format!("{operation} incomplete: {done} done, {failed} failed, {skipped} skipped");
    if !report.not_started.is_empty() {
        msg.push_str(&format!(
            "; stopped before wave(s) {}",
            report.not_started.join(", ")
        ));
    }
    msg.push_str(". The state records what was done; fix the cause and run again.");
    Err(Error::Failed(msg))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
