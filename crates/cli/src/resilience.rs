//! The resilience commands: `failover`, `failback`, `check-health`, `simulate-outage`, `drill`,
//! `status`, and `local` (the local cloud). They parse, call the failover crate, and print.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use console::style;
use serde_json::json;
use tandem_aws::{CheckerReport, HealthCheckStatus};
use tandem_core::evaluate;
use tandem_engine::ops::{self, make_plan};
use tandem_engine::{EngineError, Observer, Providers, State};
use tandem_failover::audit::AuditLog;
use tandem_failover::health::{self, ProbeConfig, Verdict};
use tandem_failover::orchestrate::{
    self, FailbackStep, FailoverError, FailoverReport, Preflight, db_addr,
};
use tandem_failover::run::{Runner, epoch_now, read_live};
use tandem_failover::timed::{CloudClock, timed};
use tandem_failover::{Aspect, Posture};
use tandem_schema::kinds;
use tandem_stack_multi_region::MultiRegion;

use crate::error::{Error, Exit, Result};
use crate::progress::Progress;
use crate::render;
use crate::workspace::{Access, Workspace};

/// The application health URL of a region, as Route 53's checker probes it.
fn app_health_url(ws: &Workspace, state: &State, region: &str) -> Option<String> {
    if let Some(url) = ws.env.app_health_url(region) {
        return Some(url);
    }
    let dns = state
        .outputs
        .get(&format!("alb_dns_{region}"))?
        .as_str()?
        .to_string();
    let scheme = if ws.env.http_only { "http" } else { "https" };
    Some(format!("{scheme}://{dns}/health"))
}

/// One region's health, probed as Route 53's checkers do.
#[derive(Clone, Debug)]
struct RegionHealth {
    region: String,
    role: &'static str,
    url: Option<String>,
    healthy: bool,
    probes: Vec<health::Probe>,
}

async fn probe_region(
    url: Option<&str>,
    probes: u32,
    interval: Duration,
    threshold: u32,
) -> (bool, Vec<health::Probe>) {
    let Some(url) = url else {
        return (false, Vec::new());
    };
    let mut verdict = Verdict::new(threshold);
    let mut out = Vec::new();
    for i in 0..probes {
        let p = health::probe(url, &ProbeConfig::default()).await;
        verdict.record(p.healthy);
        out.push(p);
        if i + 1 < probes {
            tokio::time::sleep(interval).await;
        }
    }
    (verdict.healthy, out)
}

async fn region_health(
    ws: &Workspace,
    state: &State,
    posture: &Posture,
    probes: u32,
) -> Vec<RegionHealth> {
    let mut out = Vec::new();
    for region in [&ws.env.primary_region, &ws.env.secondary_region] {
        let url = app_health_url(ws, state, region);
        let (healthy, p) =
            probe_region(url.as_deref(), probes, Duration::from_millis(300), probes).await;
        out.push(RegionHealth {
            region: region.clone(),
            role: if *region == posture.active_region {
                "active"
            } else {
                "standby"
            },
            url,
            healthy,
            probes: p,
        });
    }
    out
}

/// How long `check-health` waits for Route 53's answer about one health check.
const ROUTE53_TIMEOUT: Duration = Duration::from_secs(10);

/// Route 53's own verdict on a region's health check, or why there is none.
#[derive(Clone, Debug)]
struct Route53View {
    health_check_id: Option<String>,
    report: Result<CheckerReport, Route53Unavailable>,
}

/// Why Route 53's verdict is not shown.
#[derive(Clone, Debug)]
struct Route53Unavailable {
    /// What the ROUTE53 column shows: `n/a`, `missing` or `error`.
    label: &'static str,
    why: String,
}

impl Route53View {
    fn unavailable(id: Option<String>, label: &'static str, why: String) -> Route53View {
        Route53View {
            health_check_id: id,
            report: Err(Route53Unavailable { label, why }),
        }
    }

    /// Route 53's verdict, when it gave one.
    fn healthy(&self) -> Option<bool> {
        self.report.as_ref().ok().and_then(|r| r.healthy)
    }

    /// The ROUTE53 column: `healthy 16/16`, `UNHEALTHY 0/16` (checkers reporting success / all),
    /// `no data` before any checker reported, or the label of why there is nothing.
    fn column(&self) -> console::StyledObject<String> {
        match &self.report {
            Ok(r) => {
                let counts = format!("{}/{}", r.reporting_healthy, r.observations);
                match r.healthy {
                    Some(true) => style(format!("healthy {counts}")).green(),
                    Some(false) => style(format!("UNHEALTHY {counts}")).red().bold(),
                    None => style("no data".to_string()),
                }
            }
            Err(u) => style(u.label.to_string()),
        }
    }

    /// The `route53` object of `--json`: `null` when Route 53 gave no status.
    fn json(&self) -> serde_json::Value {
        match &self.report {
            Ok(r) => json!({
                "health_check_id": self.health_check_id,
                "healthy": r.healthy,
                "observations": r.observations,
                "reporting_healthy": r.reporting_healthy,
                "inverted": r.inverted,
                "disabled": r.disabled,
                "latest_status": r.latest_status,
                "latest_region": r.latest_region,
                "latest_checked": r.latest_checked
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| tandem_engine::store::utc_text(d.as_secs())),
            }),
            Err(_) => serde_json::Value::Null,
        }
    }

    /// Why there is no status, or what to know to read it.
    fn note(&self) -> Option<String> {
        match &self.report {
            Ok(r) if r.disabled => {
                Some("the health check is disabled: Route 53 considers it healthy".into())
            }
            Ok(r) if r.inverted => Some(
                "the health check is inverted (a simulated outage): Route 53 reads its checkers' \
                 successes as unhealthy"
                    .into(),
            ),
            Ok(_) => None,
            Err(u) => Some(u.why.clone()),
        }
    }
}

/// The id of the health check the stack deployed for `region`
/// (`global/route53:HealthCheck/app-REGION`), from its `health_check_id` output.
fn deployed_health_check(state: &State, region: &str) -> Option<String> {
    let name = format!("app-{region}");
    state
        .resources
        .iter()
        .find(|(a, _)| {
            a.kind() == kinds::ROUTE53_HEALTH_CHECK && a.region().is_global() && a.name() == name
        })
        .map(|(_, r)| {
            r.outputs
                .get("health_check_id")
                .and_then(|v| v.as_str())
                .map_or_else(|| r.id.clone(), str::to_string)
        })
}

/// What Route 53 says of `region`'s health check, waiting at most [`ROUTE53_TIMEOUT`].
async fn route53_view(ws: &Workspace, state: &State, region: &str) -> Route53View {
    let Some(id) = deployed_health_check(state, region) else {
        return Route53View::unavailable(
            None,
            "n/a",
            "no route53:HealthCheck deployed for this region".into(),
        );
    };
    let answer = tokio::time::timeout(
        ROUTE53_TIMEOUT,
        tandem_aws::health_check_status(&ws.clients, &id),
    )
    .await;
    let known = Some(id.clone());
    match answer {
        Ok(Ok(HealthCheckStatus::Reported(r))) => Route53View {
            health_check_id: known,
            report: Ok(r),
        },
        Ok(Ok(HealthCheckStatus::NotProvided(why))) => Route53View::unavailable(
            known,
            "n/a",
            format!("the cloud does not give health-check status ({why})"),
        ),
        Ok(Ok(HealthCheckStatus::NotFound)) => Route53View::unavailable(
            known,
            "missing",
            format!("health check {id} is in the state but not in Route 53 (`tandem refresh`)"),
        ),
        Ok(Err(e)) => Route53View::unavailable(known, "error", e.to_string()),
        Err(_) => Route53View::unavailable(
            known,
            "error",
            format!(
                "Route 53 did not answer within {} s",
                ROUTE53_TIMEOUT.as_secs()
            ),
        ),
    }
}

/// `region`'s health as the failover records see it, and what said so: Route 53's verdict where
/// the cloud gives one (it decides where the records send traffic), else one probe of the
/// application as Route 53's checkers do.
async fn routing_health(ws: &Workspace, state: &State, region: &str) -> (bool, String) {
    if let Some(healthy) = route53_view(ws, state, region).await.healthy() {
        return (healthy, format!("Route 53's health check of {region}"));
    }
    let url = app_health_url(ws, state, region);
    let (healthy, _) = probe_region(url.as_deref(), 1, Duration::ZERO, 1).await;
    (healthy, url.unwrap_or_else(|| "no health endpoint".into()))
}

/// Whether the active region is healthy: by the probes, and by Route 53 when it gives a status
/// (`route53` in the order of `results`).
fn active_is_healthy(results: &[RegionHealth], route53: &[Route53View]) -> bool {
    results
        .iter()
        .zip(route53)
        .any(|(r, r53)| r.role == "active" && r.healthy && r53.healthy() != Some(false))
}

fn audit_path(ws: &Workspace) -> PathBuf {
    ws.env
        .state_dir
        .join(&ws.stack)
        .join(format!("{}.audit.jsonl", ws.env.name))
}

fn program_for(
    ws: &Workspace,
) -> impl Fn(&Posture) -> Result<tandem_core::DesiredStack, EngineError> + Send + Sync + '_ {
    move |p: &Posture| Ok(evaluate(&MultiRegion::new(ws.env.clone(), p.clone()))?)
}

fn map_failover_error(e: FailoverError) -> Error {
    match e {
        FailoverError::Transform(t) => Error::Config(t.to_string()),
        e @ FailoverError::Preflight(_) => Error::Refused(e.to_string()),
        FailoverError::State(m) => Error::State(m),
        FailoverError::Engine(e) => e.into(),
        FailoverError::Run(r) => Error::Failed(r.to_string()),
    }
}

/// Replica lag of the current replica, when the cloud reports it.
async fn replica_lag(ws: &Workspace, posture: &Posture) -> Option<f64> {
    let replica = posture.db.replica.as_ref()?;
    let program = MultiRegion::new(ws.env.clone(), posture.clone());
    let id = program.db_identifier(&replica.name);
    tandem_aws::rds::replica_lag_seconds(&ws.clients, &replica.region, &id)
        .await
        .ok()
        .flatten()
}

pub struct FailoverArgs {
    pub to: Option<String>,
    pub plan: bool,
    pub yes: bool,
    pub resume: bool,
    pub force: bool,
    pub drill: bool,
    /// Adds up the time spent waiting on the cloud (for the drill's overhead figure).
    pub clock: Arc<CloudClock>,
}

/// `tandem failover`: returns the report (also printed).
pub async fn failover(
    ws: &Workspace,
    args: &FailoverArgs,
) -> Result<(Exit, Option<FailoverReport>)> {
    let providers = timed(&ws.providers(), &args.clock);
    let (lock, state) = ws.lock("failover", Access::Cloud(&providers)).await?;
    let posture = ws.posture(&state)?;
    let audit = AuditLog::open(&audit_path(ws), "failover");
    let unreachable = args.clock.time(ws.unreachable()).await;
    let program = program_for(ws);
    let runner = Runner {
        store: &ws.store,
        lock: &lock,
        providers: &providers,
        plan_config: ws.plan_config(),
        program: &program,
        observer: Arc::new(Progress::new()) as Arc<dyn Observer>,
        audit: &audit,
        parallel: 10,
        unreachable: unreachable.clone(),
    };
    if args.resume && posture.transition.is_none() {
        let (_, phases, still) = orchestrate::resume_deferred(
            &runner,
            state,
            &ws.env.primary_region,
            &ws.env.secondary_region,
        )
        .await
        .map_err(map_failover_error)?;
        for p in &phases {
            println!("{} {}: {}", style("✓").green(), p.name, p.outcome);
        }
        if still.is_empty() {
            println!("No deferred failover work left.");
        } else {
            for d in &still {
                println!(
                    "{} still deferred: {} (waits for {}: {})",
                    style("!").yellow(),
                    d.aspect.describe(),
                    d.waits_for,
                    d.why
                );
            }
        }
        return Ok((Exit::Success, None));
    }
    let to = args
        .to
        .clone()
        .unwrap_or_else(|| posture.standby_region.clone());
    if args.plan {
        // Show the transform as a plan, with the same renderer as `plan`.
        let target = tandem_failover::transform::fail_over(
            &posture,
            &to,
            tandem_failover::transform::Unreachable {
                old_region: unreachable.contains(&posture.active_region),
                route53: unreachable.contains("global"),
            },
            None,
            "(plan)",
            false,
        )
        .map_err(|e| Error::Config(e.to_string()))?;
        let desired = program(&target)?;
        let (plan, _) = make_plan(&desired, &state, &providers, &ws.plan_config(), None).await?;
        println!(
            "{}",
            style(format!("Failover from {} to {}", posture.active_region, to)).bold()
        );
        for d in &target.deferred {
            println!(
                "  {} deferred: {} ({})",
                style("!").yellow(),
                d.aspect.describe(),
                d.why
            );
        }
        print!("{}", render::plan_text(&plan));
        return Ok((Exit::Success, None));
    }
    let (standby_healthy, standby_health) = args.clock.time(routing_health(ws, &state, &to)).await;
    let pre = Preflight {
        replica_lag_seconds: args.clock.time(replica_lag(ws, &posture)).await,
        standby_healthy,
        standby_health,
        unreachable: unreachable.clone(),
    };
    if !args.yes && posture.transition.is_none() {
        crate::workspace::confirm(&format!(
            "Fail over environment {} from {} to {to}?",
            ws.env.name, posture.active_region
        ))?;
    }
    let (_, report) = orchestrate::failover(
        &runner,
        state,
        &ws.env.primary_region,
        &ws.env.secondary_region,
        Some(&to),
        &pre,
        ws.env.rpo_minutes,
        args.drill,
        args.force,
    )
    .await
    .map_err(map_failover_error)?;
    print_failover(&report);
    Ok((Exit::Success, Some(report)))
}

fn print_failover(r: &FailoverReport) {
    println!(
        "{}",
        style(format!(
            "Failed over from {} to {}{}",
            r.from,
            r.to,
            if r.resumed { " (resumed)" } else { "" }
        ))
        .green()
        .bold()
    );
    for p in &r.phases {
        println!(
            "  {:<12} {:>6.2}s  {}",
            p.name,
            p.finished - p.started,
            p.outcome
        );
    }
    for d in &r.posture.deferred {
        println!(
            "  {} deferred: {} — waits for {} ({}); complete with `tandem failover --resume`",
            style("!").yellow(),
            d.aspect.describe(),
            d.waits_for,
            d.why
        );
    }
}

/// `tandem failback`.
pub async fn failback(ws: &Workspace, plan_only: bool, yes: bool) -> Result<Exit> {
    let providers = ws.providers();
    let (lock, state) = ws.lock("failback", Access::Cloud(&providers)).await?;
    let posture = ws.posture(&state)?;
    if plan_only {
        let target = tandem_failover::transform::failback_rebuild(&posture)
            .map_err(|e| Error::Config(e.to_string()))?;
        let quiesced = tandem_failover::transform::failback_quiesce(&target)
            .map_err(|e| Error::Config(e.to_string()))?;
        // Steps 2 and 3 are planned against today's state, where the new replica does not exist
        // yet: it shows as created from the current writer (its source after step 1).
        let writer_arn = state
            .output(&orchestrate::db_addr(&posture.db.writer), "arn")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let switched = tandem_failover::transform::failback_switch(&quiesced, writer_arn, "(plan)")
            .map_err(|e| Error::Config(e.to_string()))?;
        for (title, p) in [
            ("Step 1: rebuild the replica", &target),
            ("Step 2: stop writes (quiesce the active region)", &quiesced),
            ("Step 3: switch back", &switched),
        ] {
            let desired = program_for(ws)(p)?;
            let (plan, _) =
                make_plan(&desired, &state, &providers, &ws.plan_config(), None).await?;
            println!("{}", style(title).bold());
            print!("{}", render::plan_text(&plan));
        }
        return Ok(Exit::Success);
    }
    if !yes {
        crate::workspace::confirm(&format!(
            "Fail back environment {} to {}?",
            ws.env.name, posture.standby_region
        ))?;
    }
    let audit = AuditLog::open(&audit_path(ws), "failback");
    let program = program_for(ws);
    let runner = Runner {
        store: &ws.store,
        lock: &lock,
        providers: &providers,
        plan_config: ws.plan_config(),
        program: &program,
        observer: Arc::new(Progress::new()),
        audit: &audit,
        parallel: 10,
        unreachable: ws.unreachable().await,
    };
    let (primary, secondary) = (&ws.env.primary_region, &ws.env.secondary_region);
    let (state, rebuilt) = if posture
        .transition
        .as_ref()
        .is_some_and(|t| t.kind == "failback")
    {
        (state, posture.clone())
    } else {
        failback_step(&runner, state, primary, secondary, FailbackStep::Rebuild).await?
    };
    // Wait until the new replica has caught up, then stop writes and let it drain the last ones.
    wait_for_replica(ws, &rebuilt, "catch up", Duration::from_secs(3600)).await?;
    let (state, quiesced) =
        failback_step(&runner, state, primary, secondary, FailbackStep::Quiesce).await?;
    let lag = wait_for_replica(ws, &quiesced, "drain", Duration::from_secs(900)).await?;
    println!(
        "  switching with writes stopped; replica lag {}",
        lag.map_or("not reported".to_string(), |l| format!("{l:.1} s"))
    );
    let (_, done) = failback_step(&runner, state, primary, secondary, FailbackStep::Switch).await?;
    println!(
        "{}",
        style(format!(
            "Failed back: {} is active again",
            done.active_region
        ))
        .green()
        .bold()
    );
    Ok(Exit::Success)
}

/// Runs one step of a failback and prints its phases.
async fn failback_step(
    runner: &Runner<'_>,
    state: State,
    primary: &str,
    secondary: &str,
    step: FailbackStep,
) -> Result<(State, Posture)> {
    let (state, phases, posture) = orchestrate::failback(runner, state, primary, secondary, step)
        .await
        .map_err(map_failover_error)?;
    for p in &phases {
        println!("  {:<16} {}", p.name, p.outcome);
    }
    Ok((state, posture))
}

/// Waits until the posture's replica lags less than a second (`what` it is waiting for: `catch up`
/// or `drain`), at most `limit`. The last lag seen, or `None` when the cloud reports none.
async fn wait_for_replica(
    ws: &Workspace,
    posture: &Posture,
    what: &str,
    limit: Duration,
) -> Result<Option<f64>> {
    let started = Instant::now();
    loop {
        match replica_lag(ws, posture).await {
            Some(lag) if lag >= 1.0 => {
                if started.elapsed() > limit {
                    return Err(Error::Failed(format!(
                        "the new replica still lags {lag:.0} s after {} min; failback stopped before the switch (rerun to continue)",
                        limit.as_secs() / 60
                    )));
                }
                println!("  waiting for the replica to {what}: lag {lag:.0} s");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
            Some(lag) => {
                println!("  replica {what}: done, lag {lag:.1} s");
                return Ok(Some(lag));
            }
            None => {
                println!("  replica lag not reported by the cloud; continuing");
                return Ok(None);
            }
        }
    }
}

/// Whether the Auto Scaling capacity of `region`, read from the cloud through its provider, is the
/// primary's. `None` when the stack declares no capacity resource there: nothing to check, and the
/// report says so instead of claiming the standby was scaled.
async fn capacity_is_primary(
    ws: &Workspace,
    providers: &Providers,
    state: &State,
    region: &str,
) -> Result<Option<bool>> {
    let want = i64::from(ws.env.sizes.primary_desired_capacity);
    let mut seen = None;
    for addr in state
        .resources
        .keys()
        .filter(|a| a.kind() == kinds::AUTOSCALING_GROUP_CAPACITY && a.region_str() == region)
    {
        let live = read_live(providers, state, addr)
            .await
            .map_err(|e| Error::Failed(e.to_string()))?;
        let desired = live.and_then(|o| o.outputs.get("desired_capacity").and_then(|v| v.as_i64()));
        seen = Some(seen.unwrap_or(true) && desired == Some(want));
    }
    Ok(seen)
}

/// `tandem check-health`.
pub async fn check_health(ws: &Workspace, json_out: bool) -> Result<Exit> {
    let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    let posture = ws.posture(&state)?;
    // Route 53's own verdict is asked for while the probes run (same order as the regions).
    let (results, r53_primary, r53_secondary) = tokio::join!(
        region_health(ws, &state, &posture, 3),
        route53_view(ws, &state, &ws.env.primary_region),
        route53_view(ws, &state, &ws.env.secondary_region),
    );
    let route53 = [r53_primary, r53_secondary];
    let active_ok = active_is_healthy(&results, &route53);
    if json_out {
        let j: Vec<_> = results
            .iter()
            .zip(&route53)
            .map(|(r, r53)| {
                json!({
                    "region": r.region, "role": r.role, "url": r.url, "healthy": r.healthy,
                    "probes": r.probes.iter().map(|p| json!({"healthy": p.healthy, "status": p.status, "latency_ms": p.latency.as_millis() as u64, "error": p.error})).collect::<Vec<_>>(),
                    "route53": r53.json(),
                    "route53_note": r53.note(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"active_region": posture.active_region, "regions": j})
            )?
        );
    } else {
        println!(
            "{:<12} {:<8} {:<9} {:<7} {:<15} ENDPOINT",
            "REGION", "ROLE", "VERDICT", "PROBES", "ROUTE53"
        );
        for (r, r53) in results.iter().zip(&route53) {
            let ok = r.probes.iter().filter(|p| p.healthy).count();
            let verdict = if r.healthy {
                style("healthy").green()
            } else {
                style("UNHEALTHY").red().bold()
            };
            println!(
                "{:<12} {:<8} {:<9} {:<7} {:<15} {}{}",
                r.region,
                r.role,
                verdict,
                format!("{ok}/{}", r.probes.len()),
                r53.column(),
                r.url.as_deref().unwrap_or("(not deployed)"),
                r.probes
                    .iter()
                    .rev()
                    .find_map(|p| p.error.clone())
                    .map(|e| format!("  ({e})"))
                    .unwrap_or_default()
            );
        }
        println!(
            "Probes: TCP connect within 4 s, HTTP 2xx/3xx within 2 s; verdict after 3 consecutive results, as Route 53."
        );
        println!(
            "ROUTE53: Route 53's own checkers (reporting success / all; healthy above 18 %), where the cloud gives it."
        );
        // One line per distinct note, naming its regions.
        let mut notes: Vec<(String, Vec<&str>)> = Vec::new();
        for (r, r53) in results.iter().zip(&route53) {
            let Some(note) = r53.note() else { continue };
            match notes.iter_mut().find(|(n, _)| *n == note) {
                Some((_, regions)) => regions.push(&r.region),
                None => notes.push((note, vec![&r.region])),
            }
        }
        for (note, regions) in notes {
            println!("  ROUTE53 {}: {note}", regions.join(", "));
        }
    }
    if active_ok {
        Ok(Exit::Success)
    } else {
        Err(Error::Unhealthy(format!(
            "the active region {} is unhealthy",
            posture.active_region
        )))
    }
}

/// `tandem simulate-outage`.
pub async fn simulate_outage(ws: &Workspace, region: Option<&str>, restore: bool) -> Result<Exit> {
    let providers = ws.providers();
    let (lock, mut state) = ws
        .lock("simulate-outage", Access::Cloud(&providers))
        .await?;
    let mut posture = ws.posture(&state)?;
    let region = region
        .map(str::to_string)
        .or_else(|| {
            if restore {
                posture.simulated_outage.clone()
            } else {
                None
            }
        })
        .unwrap_or_else(|| posture.active_region.clone());
    if region != ws.env.primary_region && region != ws.env.secondary_region {
        return Err(Error::Config(format!(
            "--region {region}: not a region of environment {}",
            ws.env.name
        )));
    }
    // The state records the outage only once the cloud has it.
    let recorded = posture.simulated_outage.clone();
    posture.simulated_outage = if restore { None } else { Some(region.clone()) };
    if let Some(lc) = &ws.env.local_cloud {
        let control =
            tandem_localcloud::GatewayControl::new(format!("http://127.0.0.1:{}", lc.control_port));
        let r = if restore {
            control.restore(&region).await
        } else {
            control
                .blackhole(&region, tandem_localcloud::BlackholeMode::Refuse)
                .await
        };
        r.map_err(|e| Error::Failed(format!("the region gateway did not answer ({e}); is the local cloud up? (`tandem local up`)")))?;
        posture.store(&mut state);
        ops::save_state(&ws.store, &lock, &mut state)?;
        println!(
            "{} region {region}: its API and its application are {} at the region gateway",
            if restore {
                "Restored"
            } else {
                "Simulated an outage of"
            },
            if restore {
                "reachable again"
            } else {
                "cut off"
            }
        );
    } else {
        // AWS: invert the region's health check (reversible). The program reads the posture, so
        // the plan is made from a state that has it; the apply records it.
        posture.store(&mut state);
        let desired = ws.desired(&state)?;
        let (mut plan, base) =
            make_plan(&desired, &state, &providers, &ws.plan_config(), None).await?;
        for w in &mut plan.waves {
            w.changes
                .retain(|c| c.addr.kind() == kinds::ROUTE53_HEALTH_CHECK);
        }
        plan.waves.retain(|w| !w.changes.is_empty());
        let report = ops::apply_plan(
            &ws.store,
            &lock,
            &plan,
            base,
            &desired.outputs,
            &providers,
            &Default::default(),
            Arc::new(Progress::new()),
            "simulate-outage",
        )
        .await?;
        if !report.succeeded() {
            // Whatever the apply recorded, the posture keeps the outage it had.
            let mut after = report.state;
            posture.simulated_outage = recorded;
            posture.store(&mut after);
            ops::save_state(&ws.store, &lock, &mut after)?;
            return Err(Error::Failed(format!(
                "the health check of {region} could not be {}",
                if restore { "restored" } else { "inverted" }
            )));
        }
        println!(
            "{} the health check of {region} (Route 53 now sees it {})",
            if restore { "Restored" } else { "Inverted" },
            if restore { "as it is" } else { "as failing" }
        );
    }
    Ok(Exit::Success)
}

/// `tandem status`.
pub async fn status(ws: &Workspace, json_out: bool) -> Result<Exit> {
    let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    let posture = ws.posture(&state)?;
    let health = region_health(ws, &state, &posture, 1).await;
    let lag = replica_lag(ws, &posture).await;
    let replication = state
        .resources
        .keys()
        .find(|a| a.kind() == kinds::S3_BUCKET_REPLICATION)
        .map(|a| {
            format!(
                "{} → {}",
                a.region_str(),
                ws.env.other_region(a.region_str())
            )
        });
    let j = json!({
        "environment": ws.env.name,
        "active_region": posture.active_region,
        "standby_region": posture.standby_region,
        "health": health.iter().map(|h| json!({"region": h.region, "role": h.role, "healthy": h.healthy})).collect::<Vec<_>>(),
        "database": {
            "writer": format!("{} ({})", db_addr(&posture.db.writer), if posture.db.writer.promoted { "promoted replica" } else { "primary" }),
            "replica": posture.db.replica.as_ref().map(|r| db_addr(r).to_string()),
            "replica_lag_seconds": lag,
        },
        "replication": replication,
        "deferred": posture.deferred.iter().map(|d| json!({"aspect": d.aspect, "waits_for": d.waits_for, "why": d.why})).collect::<Vec<_>>(),
        "simulated_outage": posture.simulated_outage,
        "quiesced": posture.quiesced,
        "transition": posture.transition.as_ref().map(|t| json!({"kind": t.kind, "from": t.from, "to": t.to, "done": t.done})),
        "failovers": posture.history.len(),
        "last_drill": posture.last_drill,
    });
    if json_out {
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(Exit::Success);
    }
    println!(
        "{}",
        style(format!(
            "Environment {}: active region {}",
            ws.env.name, posture.active_region
        ))
        .bold()
    );
    for h in &health {
        println!(
            "  {:<10} {:<8} {}",
            h.region,
            h.role,
            if h.healthy {
                style("healthy").green()
            } else {
                style("unhealthy").red()
            }
        );
    }
    println!(
        "  database   writer {}",
        j["database"]["writer"].as_str().unwrap_or_default()
    );
    println!(
        "  replica    {}",
        posture
            .db
            .replica
            .as_ref()
            .map_or("none (rebuild with `tandem failback`)".into(), |r| db_addr(
                r
            )
            .to_string())
    );
    println!(
        "  lag        {}",
        lag.map_or("not reported".into(), |l| format!("{l:.1} s"))
    );
    println!(
        "  assets     replication {}",
        replication.unwrap_or_else(|| "none".into())
    );
    if let Some(r) = &posture.simulated_outage {
        println!(
            "  {} simulated outage of {r} in effect (`tandem simulate-outage --restore`)",
            style("!").yellow()
        );
    }
    if let Some(r) = &posture.quiesced {
        println!(
            "  {} {r} is quiesced for a failback: its application is scaled to zero (`tandem failback` finishes the switch)",
            style("!").yellow()
        );
    }
    for d in &posture.deferred {
        println!(
            "  {} deferred: {} (waits for {})",
            style("!").yellow(),
            d.aspect.describe(),
            d.waits_for
        );
    }
    if let Some(t) = &posture.transition {
        println!(
            "  {} {} from {} to {} in progress (done: {})",
            style("!").yellow(),
            t.kind,
            t.from,
            t.to,
            t.done.join(", ")
        );
    }
    match &posture.last_drill {
        Some(d) => println!(
            "  last drill {}: RTO {} s ({}), RPO {}",
            d["finished_at"].as_str().unwrap_or("?"),
            d["rto_seconds"]
                .as_f64()
                .map_or("?".into(), |v| format!("{v:.1}")),
            if d["objectives_met"].as_bool() == Some(true) {
                "objectives met"
            } else {
                "objective missed"
            },
            d["rpo_seconds"]
                .as_f64()
                .map_or("not measured".into(), |v| format!("{v:.1} s")),
        ),
        None => println!("  no drill yet (`tandem drill`)"),
    }
    Ok(Exit::Success)
}

/// Seconds since the epoch as UTC text.
fn utc(t: f64) -> String {
    tandem_engine::store::utc_text(t as u64)
        + &format!(" (+{:03} ms)", ((t.fract()) * 1000.0) as u64)
}

/// `tandem drill`: outage → detection → failover → verification → restore → report.
pub async fn drill(ws: &Workspace, yes: bool, interval: Duration, threshold: u32) -> Result<Exit> {
    if !yes {
        crate::workspace::confirm(&format!(
            "Drill a failover of environment {} (it fails the active region over)?",
            ws.env.name
        ))?;
    }
    let total = Instant::now();
    let mut waited = Duration::ZERO;
    let clock = Arc::new(CloudClock::default());
    let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    let posture = ws.posture(&state)?;
    let (from, to) = (
        posture.active_region.clone(),
        posture.standby_region.clone(),
    );
    let health_url = app_health_url(ws, &state, &from)
        .ok_or_else(|| Error::Config(format!("{from} has no health endpoint: deploy first")))?;
    let lag_before = clock.time(replica_lag(ws, &posture)).await;

    // 1. Outage.
    let outage_at = epoch_now();
    clock.time(simulate_outage(ws, Some(&from), false)).await?;
    // 2. Detection: Route 53's own verdict where the cloud gives it (on AWS the outage is an
    // inverted health check, and the application itself still answers); otherwise consecutive
    // failed probes at the interval, as Route 53's checkers would.
    let cfg = ProbeConfig {
        interval,
        failure_threshold: threshold,
        ..ProbeConfig::default()
    };
    let detection = Instant::now();
    // Detection and failover; whatever stops them, the simulated outage is undone.
    let detected_and_failed_over = async {
        let mut verdict = Verdict::new(threshold);
        let (detected_at, detected_by) = loop {
            let (down, by) = match route53_view(ws, &state, &from).await.healthy() {
                Some(healthy) => (!healthy, "Route 53's health check"),
                None => {
                    let p = health::probe(&health_url, &cfg).await;
                    (
                        verdict.record(p.healthy) && !verdict.healthy,
                        "probes as Route 53's checkers",
                    )
                }
            };
            if down {
                break (epoch_now(), by);
            }
            if epoch_now() - outage_at > 600.0 {
                return Err(Error::Failed(
                    "the outage was not detected within 10 minutes".into(),
                ));
            }
            tokio::time::sleep(interval).await;
        };
        println!(
            "Detected the outage of {from} after {:.1} s (by {detected_by})",
            detected_at - outage_at
        );
        // 3. Failover.
        let detection_wait = detection.elapsed();
        let (_, report) = failover(
            ws,
            &FailoverArgs {
                to: Some(to.clone()),
                plan: false,
                yes: true,
                resume: false,
                force: false,
                drill: true,
                clock: Arc::clone(&clock),
            },
        )
        .await?;
        Ok::<_, Error>((detected_at, detected_by, detection_wait, report))
    }
    .await;
    let (detected_at, detected_by, detection_wait, report) = match detected_and_failed_over {
        Ok(done) => done,
        Err(e) => {
            match simulate_outage(ws, Some(&from), true).await {
                Ok(_) => eprintln!(
                    "{} the drill stopped; the outage of {from} was undone",
                    style("note:").yellow()
                ),
                Err(r) => eprintln!(
                    "{} the drill stopped and the outage of {from} could not be undone ({r}): run `tandem simulate-outage --region {from} --restore`",
                    style("warning:").yellow()
                ),
            }
            return Err(e);
        }
    };
    waited += detection_wait;
    let report = report.expect("a failover run returns its report");
    // 4. Verify: the DNS answer as Route 53 would give it, the database writable, the standby scaled.
    let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    // Each region's health as the records see it: a region is probed only when Route 53 gives
    // no verdict on it.
    let (from_health, to_health) = clock
        .time(async {
            tokio::join!(
                routing_health(ws, &state, &from),
                routing_health(ws, &state, &to)
            )
        })
        .await;
    let healthy = |r: &str| (r == from && from_health.0) || (r == to && to_health.0);
    let dns_answer = resolve_failover(&state, &healthy);
    let dns_ok = dns_answer.as_deref() == Some(to.as_str());
    let providers = ws.providers();
    let capacity_ok = clock
        .time(capacity_is_primary(ws, &providers, &state, &to))
        .await?;
    let recovered_at = epoch_now();
    // 5. Restore the region and complete the deferred work.
    clock.time(simulate_outage(ws, Some(&from), true)).await?;
    let restored_at = epoch_now();
    let (_code, _) = failover(
        ws,
        &FailoverArgs {
            to: None,
            plan: false,
            yes: true,
            resume: true,
            force: false,
            drill: true,
            clock: Arc::clone(&clock),
        },
    )
    .await?;

    let rto = recovered_at - outage_at;
    let rpo = report.promoted_at.and(lag_before);
    let rto_met = rto <= f64::from(ws.env.rto_minutes) * 60.0;
    let rpo_met = rpo.is_none_or(|r| r <= f64::from(ws.env.rpo_minutes) * 60.0);
    // The failover returned: it read the new writer back as a writable primary.
    let writable = true;
    let verified = dns_ok && capacity_ok != Some(false);
    // Tandem's own time: everything but detection intervals and calls to the cloud.
    let overhead = total
        .elapsed()
        .saturating_sub(waited)
        .saturating_sub(clock.total());
    let summary = json!({
        "environment": ws.env.name,
        "from": from, "to": to,
        "outage_at": outage_at, "detected_at": detected_at, "promoted_at": report.promoted_at,
        "dns_changed_at": report.dns_at, "recovered_at": recovered_at, "restored_at": restored_at,
        "finished_at": tandem_engine::store::utc_now_text(),
        "detection_seconds": detected_at - outage_at,
        "detected_by": detected_by,
        "rto_seconds": rto, "rto_objective_seconds": ws.env.rto_minutes * 60,
        "rpo_seconds": rpo, "rpo_objective_seconds": ws.env.rpo_minutes * 60,
        "rpo_note": if rpo.is_none() { "replica lag not reported by the cloud (no ReplicaLag datapoints)" } else { "replica lag at promotion" },
        "verified": {"database_writable": writable, "dns_answer": dns_answer, "dns_ok": dns_ok, "standby_scaled": capacity_ok},
        "deferred_during_failover": report.posture.deferred.iter().map(|d| d.aspect).collect::<Vec<Aspect>>(),
        "phases": report.phases.iter().map(|p| json!({"name": p.name, "seconds": p.finished - p.started, "outcome": p.outcome})).collect::<Vec<_>>(),
        "objectives_met": rto_met && rpo_met && verified,
        "tandem_overhead_ms": overhead.as_millis() as u64,
        "cloud_wait_ms": clock.total().as_millis() as u64,
        "detection_wait_ms": waited.as_millis() as u64,
    });
    let dir = ws.tandem_dir().join("reports");
    std::fs::create_dir_all(&dir)?;
    let stamp = tandem_engine::store::utc_now_text().replace([':', '-'], "");
    let json_path = dir.join(format!("drill-{}-{stamp}.json", ws.env.name));
    let md_path = json_path.with_extension("md");
    std::fs::write(&json_path, serde_json::to_string_pretty(&summary)? + "\n")?;
    let md = drill_markdown(&summary, &report);
    std::fs::write(&md_path, &md)?;
    // Record the result with the posture.
    {
        let (lock, mut state) = ws.lock("drill", Access::Cloud(&providers)).await?;
        let mut p = ws.posture(&state)?;
        p.last_drill = Some(summary.clone());
        p.store(&mut state);
        ops::save_state(&ws.store, &lock, &mut state)?;
    }
    println!("\n{md}");
    println!("Report: {} and {}", md_path.display(), json_path.display());
    if summary["objectives_met"] == true {
        Ok(Exit::Success)
    } else {
        Err(Error::Unhealthy(format!(
            "the drill missed an objective: see {}",
            md_path.display()
        )))
    }
}

/// The region the failover records answer with, given each region's health, as Route 53 does:
/// the PRIMARY record's target while its health check passes, else the SECONDARY's.
fn resolve_failover(state: &State, healthy: &dyn Fn(&str) -> bool) -> Option<String> {
    let records = state
        .resources
        .iter()
        .find(|(a, _)| a.kind() == kinds::ROUTE53_RECORD_SET)?
        .1;
    let list = records.inputs.get("records")?.as_list()?;
    let region_of = |role: &str| -> Option<String> {
        let r = list.iter().find(|r| {
            r.as_map()
                .and_then(|m| m.get("failover"))
                .and_then(|v| v.as_str())
                == Some(role)
        })?;
        let id = r.as_map()?.get("set_identifier")?.as_str()?;
        id.strip_prefix("app-").map(str::to_string)
    };
    let primary = region_of("PRIMARY")?;
    if healthy(&primary) {
        Some(primary)
    } else {
        region_of("SECONDARY")
    }
}

fn drill_markdown(s: &serde_json::Value, r: &FailoverReport) -> String {
    let secs = |k: &str| {
        s[k].as_f64()
            .map_or("n/a".to_string(), |v| format!("{v:.1} s"))
    };
    let at = |k: &str| s[k].as_f64().map_or("n/a".to_string(), utc);
    let mut md = String::new();
    md.push_str(&format!(
        "# Failover drill: {} → {}\n\n",
        s["from"].as_str().unwrap_or(""),
        s["to"].as_str().unwrap_or("")
    ));
    md.push_str(&format!(
        "**{}** — RTO {} (objective {} s), RPO {} (objective {} s)\n\n",
        if s["objectives_met"] == true {
            "Objectives met"
        } else {
            "Objective missed"
        },
        secs("rto_seconds"),
        s["rto_objective_seconds"],
        s["rpo_seconds"].as_f64().map_or(
            format!("not measured: {}", s["rpo_note"].as_str().unwrap_or("")),
            |v| format!("{v:.1} s")
        ),
        s["rpo_objective_seconds"]
    ));
    md.push_str("| event | time (UTC) |\n|---|---|\n");
    for (label, key) in [
        ("outage", "outage_at"),
        ("detection", "detected_at"),
        ("promotion", "promoted_at"),
        ("DNS change", "dns_changed_at"),
        ("recovery (verified)", "recovered_at"),
        ("region restored", "restored_at"),
    ] {
        md.push_str(&format!("| {label} | {} |\n", at(key)));
    }
    md.push_str(&format!(
        "\nDetection took {} (by {}).\n\n",
        secs("detection_seconds"),
        s["detected_by"].as_str().unwrap_or("probes")
    ));
    md.push_str("| phase | seconds | outcome |\n|---|---|---|\n");
    for p in &r.phases {
        md.push_str(&format!(
            "| {} | {:.2} | {} |\n",
            p.name,
            p.finished - p.started,
            p.outcome
        ));
    }
    let v = &s["verified"];
    md.push_str(&format!(
        "\nVerified: database writable {}, DNS answers {} ({}), standby scaled {}.\n",
        v["database_writable"],
        v["dns_answer"].as_str().unwrap_or("nothing"),
        if v["dns_ok"] == true { "ok" } else { "WRONG" },
        match v["standby_scaled"].as_bool() {
            Some(b) => b.to_string(),
            None => "not checked (the stack declares no capacity resource)".to_string(),
        }
    ));
    if !r.posture.deferred.is_empty() {
        md.push_str("\nDeferred during the failover (completed after the region was restored):\n");
        for d in &r.posture.deferred {
            md.push_str(&format!(
                "- {} (waited for {})\n",
                d.aspect.describe(),
                d.waits_for
            ));
        }
    }
    md
}

#[cfg(test)]
mod route53_tests {
    use super::*;

    fn region(role: &'static str, healthy: bool) -> RegionHealth {
        RegionHealth {
            region: format!("{role}-region"),
            role,
            url: None,
            healthy,
            probes: Vec::new(),
        }
    }

    fn reported(healthy: Option<bool>, ok: usize, of: usize) -> Route53View {
        Route53View {
            health_check_id: Some("hc".into()),
            report: Ok(CheckerReport {
                observations: of,
                reporting_healthy: ok,
                inverted: false,
                disabled: false,
                healthy,
                latest_status: None,
                latest_region: None,
                latest_checked: None,
            }),
        }
    }

    fn na() -> Route53View {
        Route53View::unavailable(None, "n/a", "not given".into())
    }

    #[test]
    fn route53_saying_unhealthy_makes_the_active_region_unhealthy() {
        let regions = [region("active", true), region("standby", true)];
        assert!(active_is_healthy(&regions, &[na(), na()]));
        assert!(active_is_healthy(
            &regions,
            &[reported(Some(true), 16, 16), na()]
        ));
        assert!(active_is_healthy(&regions, &[reported(None, 0, 0), na()]));
        assert!(!active_is_healthy(
            &regions,
            &[reported(Some(false), 0, 16), na()]
        ));
        // The standby's verdict does not decide.
        assert!(active_is_healthy(
            &regions,
            &[na(), reported(Some(false), 0, 16)]
        ));
        // Route 53 saying healthy does not overrule failing probes.
        let down = [region("active", false), region("standby", true)];
        assert!(!active_is_healthy(
            &down,
            &[reported(Some(true), 16, 16), na()]
        ));
    }

    #[test]
    fn a_preflight_refusal_exits_refused_and_names_the_override_once() {
        let e = map_failover_error(FailoverError::Preflight(
            "replica lag 900 s exceeds the RPO of 5 min".into(),
        ));
        assert_eq!(e.exit_code(), crate::error::code::REFUSED);
        let text = e.to_string();
        assert!(
            text.starts_with("preflight refused the failover: replica lag 900 s"),
            "{text}"
        );
        assert_eq!(text.matches("--force").count(), 1, "{text}");
    }

    #[test]
    fn the_column_and_the_json() {
        assert_eq!(
            reported(Some(true), 16, 16).column().to_string(),
            style("healthy 16/16").green().to_string()
        );
        assert!(
            reported(Some(false), 0, 16)
                .column()
                .to_string()
                .contains("UNHEALTHY 0/16")
        );
        assert_eq!(na().column().to_string(), "n/a");
        assert!(na().json().is_null());
        assert_eq!(na().note().as_deref(), Some("not given"));
        let j = reported(Some(false), 0, 16).json();
        assert_eq!(j["healthy"], false);
        assert_eq!(j["observations"], 16);
        assert_eq!(j["health_check_id"], "hc");
    }
}
