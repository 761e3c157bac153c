//! One function per command: load, call the engine's operations, print.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::{Context, Result};
use console::style;
use tandem_core::{DesiredStack, Program, ResourceAddr, StackBuilder, evaluate};
use tandem_engine::ops::{self, make_plan};
use tandem_engine::recovery::Reconciled;
use tandem_engine::{
    ApplyOptions, LocalStore, Outcome, Plan, PlanConfig, Providers, State, StateLock,
};
use tandem_failover::Posture;
use tandem_stack_multi_region::{Environment, MultiRegion, process_vars};

use crate::exit::{self, Failure};
use crate::progress::Progress;
use crate::render;
use crate::{ApplyArgs, Cli, Command, PlanArgs, StateCommand};

/// What every command works on: the environment, its state store, the stack program.
pub struct Workspace {
    pub env: Environment,
    pub stack: String,
    pub store: LocalStore,
    pub clients: tandem_aws::AwsClients,
}

impl Workspace {
    pub fn open(cli: &Cli) -> Result<Workspace> {
        Workspace::open_named(&cli.environments, &cli.stack, &cli.env)
    }

    /// The workspace of environment `env` (commands covering several environments).
    pub fn open_named(environments: &std::path::Path, stack: &str, env: &str) -> Result<Workspace> {
        let env = Environment::load(environments, env, &process_vars)?;
        if stack != tandem_stack_multi_region::STACK_NAME {
            return Err(Failure::new(
                exit::CONFIG,
                format!(
                    "unknown stack {:?}: this build has `{}`",
                    stack,
                    tandem_stack_multi_region::STACK_NAME
                ),
            )
            .into());
        }
        Ok(Workspace {
            store: LocalStore::new(env.state_dir.clone()),
            clients: crate::cloud::clients(&env),
            stack: stack.to_string(),
            env,
        })
    }

    /// The posture recorded in the state: which region is active now.
    pub fn posture(&self, state: &State) -> Result<Posture> {
        Posture::of(state, &self.env.primary_region, &self.env.secondary_region)
            .map_err(|e| Failure::new(exit::STATE, e).into())
    }

    pub fn program(&self, state: &State) -> Result<Box<dyn Program>> {
        let posture = self.posture(state)?;
        Ok(Box::new(MultiRegion::new(self.env.clone(), posture)))
    }

    pub fn desired(&self, state: &State) -> Result<DesiredStack> {
        let program = self.program(state)?;
        Ok(evaluate(program.as_ref()).map_err(tandem_engine::EngineError::from)?)
    }

    pub fn plan_config(&self) -> PlanConfig {
        PlanConfig {
            wave_order: self.env.wave_order(),
        }
    }

    pub fn providers(&self) -> Providers {
        tandem_aws::providers(self.clients.clone())
    }
}

pub async fn run(cli: Cli) -> Result<u8> {
    // The gateway process `local up` starts reads everything from its state directory: it needs
    // no environment file (and runs from wherever `local up` ran).
    if let Command::Local(crate::LocalCommand::ServeGateway { state_dir }) = &cli.command {
        return crate::local::serve_gateway(state_dir).await;
    }
    let ws = Workspace::open(&cli)?;
    match cli.command {
        Command::Plan(args) => plan(&ws, &args).await,
        Command::Apply(cmd) => match (&cmd.plan_file, &cmd.region) {
            (Some(_), Some(r)) => Err(Failure::new(
                exit::USAGE,
                format!(
                    "--region {r} cannot limit a saved plan: make it with `tandem plan --region {r} --out FILE`"
                ),
            )
            .into()),
            (Some(file), None) => crate::saved_plan::apply(&ws, file, &cmd.apply).await,
            (None, region) => {
                apply(&ws, &cmd.apply, &waves_of(&ws, region.as_deref())?, false).await
            }
        },
        Command::Preview(args) => {
            crate::saved_plan::preview(&ws, &cli.environments, &cli.stack, &args).await
        }
        Command::Destroy(args) => {
            apply(&ws, &args.apply, &waves_of(&ws, args.region.as_deref())?, true).await
        }
        Command::Deploy(args) => deploy(&ws, &args).await,
        Command::Template => {
            println!(
                "{}",
                tandem_stack_multi_region::template::regional_template()
            );
            Ok(exit::OK)
        }
        Command::Refresh { yes: _ } => refresh(&ws).await,
        Command::State(cmd) => state(&ws, cmd),
        Command::Output { name, json } => output(&ws, name.as_deref(), json),
        Command::Failover {
            to,
            plan,
            yes,
            resume,
            force,
        } => {
            let args = crate::resilience::FailoverArgs {
                to,
                plan,
                yes,
                resume,
                force,
                drill: false,
                clock: Default::default(),
            };
            Ok(crate::resilience::failover(&ws, &args).await?.0)
        }
        Command::Failback { plan, yes } => crate::resilience::failback(&ws, plan, yes).await,
        Command::CheckHealth { json } => crate::resilience::check_health(&ws, json).await,
        Command::SimulateOutage { region, restore } => {
            crate::resilience::simulate_outage(&ws, region.as_deref(), restore).await
        }
        Command::Drill {
            yes,
            interval,
            threshold,
        } => {
            let secs = interval.unwrap_or(if ws.env.local_cloud.is_some() { 1 } else { 10 });
            crate::resilience::drill(&ws, yes, std::time::Duration::from_secs(secs), threshold)
                .await
        }
        Command::Status { json } => crate::resilience::status(&ws, json).await,
        Command::Local(cmd) => crate::local::run(&ws, cmd).await,
    }
}

fn note_pending(pending: usize) {
    if pending > 0 {
        eprintln!(
            "{} an interrupted run left {pending} operation(s) pending; the next apply reconciles them with the cloud",
            style("note:").yellow()
        );
    }
}

async fn plan(ws: &Workspace, args: &PlanArgs) -> Result<u8> {
    let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    note_pending(pending);
    let desired = ws.desired(&state)?;
    let providers = ws.providers();
    let (mut plan, _) =
        plan_reading_live(ws, &desired, &state, &providers, !args.no_refresh, 10).await?;
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
        crate::saved_plan::save(ws, &plan, &state, path).await?;
    }
    Ok(
        if args.detailed_exitcode && (plan.has_changes() || !plan.drift.is_empty()) {
            exit::CHANGES
        } else {
            exit::OK
        },
    )
}

/// Plans after reading live state, except in regions whose control plane does not answer (their
/// recorded state is kept, and a note says so).
pub async fn plan_reading_live(
    ws: &Workspace,
    desired: &DesiredStack,
    state: &State,
    providers: &Providers,
    refresh: bool,
    parallel: usize,
) -> Result<(Plan, State)> {
    if !refresh {
        return Ok(make_plan(desired, state, providers, &ws.plan_config(), None).await?);
    }
    let down = crate::resilience::unreachable(ws).await;
    if !down.is_empty() {
        eprintln!(
            "{} not reading live state in {}: no answer from its API; using the recorded state",
            style("note:").yellow(),
            down.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let skip = |a: &ResourceAddr| down.contains(a.region_str());
    Ok(ops::make_plan_except(
        desired,
        state,
        providers,
        &ws.plan_config(),
        parallel,
        &skip,
    )
    .await?)
}

/// Asks for confirmation on the terminal; refuses when there is none.
pub fn confirm(question: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            exit::REFUSED,
            "refusing to apply without confirmation: no terminal to ask on (pass --yes)",
        )
        .into());
    }
    print!("{question} Only 'yes' is accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Failure::new(exit::REFUSED, "cancelled: nothing was changed").into())
    }
}

/// Refuses a `--region` that is not one of the environment's waves.
fn check_wave(ws: &Workspace, region: &str) -> Result<()> {
    let waves = ws.env.wave_order();
    if waves.iter().any(|w| w == region) {
        return Ok(());
    }
    Err(Failure::new(
        exit::CONFIG,
        format!(
            "--region {region}: not a wave of environment {} (waves: {})",
            ws.env.name,
            waves.join(", ")
        ),
    )
    .into())
}

/// The waves a run may touch: all of them, or the one `--region` names.
fn waves_of(ws: &Workspace, region: Option<&str>) -> Result<Option<Vec<String>>> {
    let Some(r) = region else { return Ok(None) };
    check_wave(ws, r)?;
    Ok(Some(vec![r.to_string()]))
}

async fn deploy(ws: &Workspace, args: &crate::DeployArgs) -> Result<u8> {
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
                return Err(Failure::new(
                    exit::REFUSED,
                    format!(
                        "refusing to deploy the secondary region {}: the primary region {} is not deployed yet (run `make deploy-primary` first)",
                        env.secondary_region, env.primary_region
                    ),
                )
                .into());
            }
            Some(vec![env.secondary_region.clone()])
        }
        _ => None,
    };
    apply(ws, &args.apply, &waves, false).await
}

async fn apply(
    ws: &Workspace,
    args: &ApplyArgs,
    waves: &Option<Vec<String>>,
    destroy: bool,
) -> Result<u8> {
    let operation = if destroy { "destroy" } else { "apply" };
    let providers = ws.providers();
    let (lock, state) = lock_and_recover(ws, operation, &providers).await?;
    let desired = if destroy {
        StackBuilder::new()
            .finish()
            .map_err(|e| tandem_engine::EngineError::from(tandem_core::EvaluateError::Graph(e)))?
    } else {
        ws.desired(&state)?
    };
    let (mut plan, base) = plan_reading_live(
        ws,
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
    if !plan.has_changes() {
        if !plan.drift.is_empty() {
            let mut base = base;
            ops::save_state(&ws.store, &lock, &mut base)?;
        }
        return Ok(exit::OK);
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
    finish_apply(&report, operation, destroy)
}

/// Takes the lock for `operation` (noting a stale lock it broke), checks the credentials, then
/// reconciles what an interrupted run left pending by reading the cloud through `providers`.
pub(crate) async fn lock_and_recover(
    ws: &Workspace,
    operation: &str,
    providers: &Providers,
) -> Result<(StateLock, State)> {
    let lock = ws.store.lock(&ws.stack, &ws.env.name, operation)?;
    if let Some(stale) = &lock.broke_stale {
        eprintln!(
            "{} broke a stale lock of pid {} ({} since {}), which no longer runs",
            style("note:").yellow(),
            stale.pid,
            stale.operation,
            stale.time
        );
    }
    crate::cloud::preflight(&ws.clients, &ws.env).await?;
    let (state, reconciled) =
        ops::recover(&ws.store, &lock, &ws.stack, &ws.env.name, providers).await?;
    note_recovered(&reconciled);
    Ok((lock, state))
}

/// Notes on stderr what recovery found of each operation an interrupted run left pending.
pub(crate) fn note_recovered(reconciled: &[Reconciled]) {
    for r in reconciled {
        eprintln!(
            "{} recovered {:?} of {}: {}",
            style("note:").yellow(),
            r.op,
            r.addr,
            r.finding
        );
    }
}

/// Prints how an apply ended and returns its exit code.
pub(crate) fn finish_apply(
    report: &tandem_engine::ApplyReport,
    operation: &str,
    destroy: bool,
) -> Result<u8> {
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
        return Ok(exit::OK);
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
    Err(Failure::new(exit::ERROR, msg).into())
}

/// `--region`: keeps one wave; a known wave with nothing to do gives an empty plan.
fn limit_to_wave(ws: &Workspace, plan: Plan, region: &str) -> Result<Plan> {
    check_wave(ws, region)?;
    if plan.waves.iter().any(|w| w.name == region) {
        return Ok(plan
            .only_wave(region)
            .map_err(tandem_engine::EngineError::from)?);
    }
    let mut p = plan;
    p.waves.clear();
    Ok(p)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

async fn refresh(ws: &Workspace) -> Result<u8> {
    let lock = ws.store.lock(&ws.stack, &ws.env.name, "refresh")?;
    let providers = ws.providers();
    let (state, _) = ops::recover(&ws.store, &lock, &ws.stack, &ws.env.name, &providers).await?;
    let (mut refreshed, drift) = tandem_engine::refresh(&state, &providers, 10).await?;
    if drift.is_empty() {
        println!(
            "No drift: {} resources match the state.",
            refreshed.resources.len()
        );
        return Ok(exit::OK);
    }
    print!("{}", render::drift_text(&drift));
    ops::save_state(&ws.store, &lock, &mut refreshed)?;
    println!("Recorded the live state (serial {}).", refreshed.serial);
    Ok(exit::OK)
}

fn parse_addr(text: &str) -> Result<ResourceAddr> {
    text.parse::<ResourceAddr>()
        .map_err(|e| Failure::new(exit::USAGE, format!("{e}")).into())
}

fn state(ws: &Workspace, cmd: StateCommand) -> Result<u8> {
    match cmd {
        StateCommand::List => {
            let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
            note_pending(pending);
            for (addr, r) in &state.resources {
                println!("{addr}  {}", style(&r.id).dim());
            }
            Ok(exit::OK)
        }
        StateCommand::Show { address } => {
            let addr = parse_addr(&address)?;
            let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
            let r = state.resources.get(&addr).ok_or_else(|| {
                Failure::new(
                    exit::CONFIG,
                    format!(
                        "{addr} is not in the state of {} / {}",
                        ws.stack, ws.env.name
                    ),
                )
            })?;
            println!("{}", style(&addr).bold());
            println!("  id: {}", r.id);
            if r.protect {
                println!("  protect: true");
            }
            println!("  inputs:");
            for (k, v) in &r.inputs {
                println!("    {k} = {}", v.render());
            }
            println!("  outputs:");
            for (k, v) in &r.outputs {
                println!("    {k} = {}", v.render());
            }
            if !r.dependencies.is_empty() {
                println!("  depends on:");
                for d in &r.dependencies {
                    println!("    {d}");
                }
            }
            Ok(exit::OK)
        }
        StateCommand::Rm { address } => {
            let addr = parse_addr(&address)?;
            let lock = ws.store.lock(&ws.stack, &ws.env.name, "state rm")?;
            let (mut state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
            if pending > 0 {
                return Err(Failure::new(
                    exit::STATE,
                    "an interrupted run left pending operations: run `tandem apply` (or `refresh`) first",
                )
                .into());
            }
            if state.resources.remove(&addr).is_none() {
                return Err(
                    Failure::new(exit::CONFIG, format!("{addr} is not in the state")).into(),
                );
            }
            ops::save_state(&ws.store, &lock, &mut state)?;
            println!("Removed {addr} from the state; it is left in the cloud.");
            Ok(exit::OK)
        }
        StateCommand::Unlock { force } => {
            if !force {
                return Err(Failure::new(
                    exit::USAGE,
                    "`state unlock` needs --force: make sure no run holds the lock any more",
                )
                .into());
            }
            match ws.store.force_unlock(&ws.stack, &ws.env.name)? {
                Some(h) => println!(
                    "Removed the lock held by {}@{} (pid {}) since {} for `{}`.",
                    h.user, h.host, h.pid, h.time, h.operation
                ),
                None => println!("The state was not locked."),
            }
            Ok(exit::OK)
        }
    }
}

fn output(ws: &Workspace, name: Option<&str>, json: bool) -> Result<u8> {
    let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    let outputs: std::collections::BTreeMap<String, tandem_core::Value> = match name {
        Some(n) => {
            let v = state
                .outputs
                .get(n)
                .with_context(|| format!("no output named {n:?}"))
                .map_err(|e| Failure::new(exit::CONFIG, format!("{e}")))?;
            if !json {
                match v {
                    tandem_core::Value::String(s) => println!("{s}"),
                    other => println!("{}", other.render()),
                }
                return Ok(exit::OK);
            }
            [(n.to_string(), v.clone())].into_iter().collect()
        }
        None => state.outputs.clone(),
    };
    if json {
        let j: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print!("{}", render::outputs_text(&outputs));
    }
    Ok(exit::OK)
}
