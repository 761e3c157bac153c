//! The failover and failback state machines, phase by phase.
//!
//! Failover: preflight (replica lag within the RPO, standby healthy) → promote → verify writable
//! → fence → scale → DNS → replication → converge → done. Failback: rebuild a replica in the
//! original region → (caller waits until it has caught up) → scale up the original region and
//! quiesce the active one (its application scaled to zero: writes stop) → (caller waits until the
//! replica has drained them) → promote → verify writable → fence → DNS → replication → converge
//! (a new replica in the region failed back from; the fenced old writer deleted; the quiesced
//! region back to the standby's capacity).
//!
//! The old writer is fenced right **after** the promotion, not before: AWS does not stop a DB
//! instance that still has a read replica, and promoting the replica is what detaches it. The
//! region failed away from keeps its capacity until the DNS phase has moved traffic; `converge`
//! lowers it.

use std::collections::BTreeSet;

use tandem_core::ResourceAddr;
use tandem_engine::{EngineError, State};

use crate::posture::{Aspect, DbKind, DbMember, Deferred, Posture, Transition};
use crate::run::{
    PhaseReport, RunError, Runner, Slice, epoch_now, now_text, read_live,
    tandem_schema_kinds as kinds,
};
use crate::transform::{self, TransformError, Unreachable};

/// What the caller measured before a failover.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Preflight {
    /// The replica's lag in seconds (`ReplicaLag`), when the cloud reports it.
    pub replica_lag_seconds: Option<f64>,
    pub standby_healthy: bool,
    pub standby_health: String,
    /// Regions (and `global`) whose control plane does not answer.
    pub unreachable: BTreeSet<String>,
}

/// What a failover did. A failover returns one only once the new writer has been read back as a
/// writable primary; what it deferred is in `posture.deferred`.
#[derive(Clone, Debug, PartialEq)]
pub struct FailoverReport {
    pub from: String,
    pub to: String,
    pub resumed: bool,
    pub phases: Vec<PhaseReport>,
    /// The posture the failover left.
    pub posture: Posture,
    /// When the promotion phase ended (epoch seconds).
    pub promoted_at: Option<f64>,
    /// When the DNS phase ended, if it changed the records.
    pub dns_at: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("preflight refused the failover: {0} (pass --force to fail over anyway)")]
    Preflight(String),
    #[error("{0}")]
    State(String),
}

/// The address a database member is declared at.
pub fn db_addr(m: &DbMember) -> ResourceAddr {
    let kind = match m.kind {
        DbKind::Instance => kinds::RDS_DB_INSTANCE,
        DbKind::Replica => kinds::RDS_DB_READ_REPLICA,
    };
    ResourceAddr::new(
        &tandem_core::Region::parse(&m.region).expect("posture regions are valid"),
        kind,
        &m.name,
    )
    .expect("posture names are valid")
}

/// The addresses of the retired (former) writers in `region`: what a fence phase stops.
fn retired_in(posture: &Posture, region: &str) -> Vec<ResourceAddr> {
    posture
        .db
        .retired
        .iter()
        .filter(|m| m.region == region)
        .map(db_addr)
        .collect()
}

fn posture_of(state: &State, primary: &str, secondary: &str) -> Result<Posture, FailoverError> {
    Posture::of(state, primary, secondary).map_err(FailoverError::State)
}

/// Fails over to `to` (default: the standby), or resumes a failover in progress.
#[expect(
    clippy::too_many_arguments,
    reason = "each is a distinct input of the decision"
)]
pub async fn failover(
    runner: &Runner<'_>,
    mut state: State,
    primary: &str,
    secondary: &str,
    to: Option<&str>,
    pre: &Preflight,
    rpo_minutes: u32,
    drill: bool,
    force: bool,
) -> Result<(State, FailoverReport), FailoverError> {
    let current = posture_of(&state, primary, secondary)?;
    let (mut target, resumed, from, to) = match &current.transition {
        Some(t) if t.kind == "failover" => (current.clone(), true, t.from.clone(), t.to.clone()),
        Some(t) => {
            return Err(FailoverError::State(format!(
                "a {} from {} to {} is in progress: run `tandem {}` to finish it",
                t.kind, t.from, t.to, t.kind
            )));
        }
        None => {
            let to = to.unwrap_or(&current.standby_region).to_string();
            if !force {
                if let Some(lag) = pre.replica_lag_seconds
                    && lag > f64::from(rpo_minutes) * 60.0
                {
                    return Err(FailoverError::Preflight(format!(
                        "replica lag {lag:.0} s exceeds the RPO of {rpo_minutes} min"
                    )));
                }
                if !pre.standby_healthy {
                    return Err(FailoverError::Preflight(format!(
                        "the standby {to} is not healthy: {}",
                        pre.standby_health
                    )));
                }
            }
            let old_writer_arn = state
                .output(&db_addr(&current.db.writer), "arn")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let unreachable = Unreachable {
                old_region: pre.unreachable.contains(&current.active_region),
                route53: pre.unreachable.contains("global"),
            };
            let mut t = transform::fail_over(
                &current,
                &to,
                unreachable,
                old_writer_arn,
                &now_text(),
                drill,
            )?;
            t.transition = Some(Transition {
                kind: "failover".into(),
                from: current.active_region.clone(),
                to: to.clone(),
                started_at: now_text(),
                done: Vec::new(),
                drill,
            });
            runner.audit.record(
                "preflight",
                "passed",
                &format!(
                    "lag {}, standby {}, unreachable [{}]",
                    pre.replica_lag_seconds
                        .map_or("unknown".into(), |l| format!("{l:.0} s")),
                    pre.standby_health,
                    pre.unreachable
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            runner.save_posture(&mut state, &t)?;
            (t, false, current.active_region.clone(), to)
        }
    };
    let old_writers = retired_in(&target, &from);
    let new_writer = db_addr(&target.db.writer);

    let (mut reports, mut promoted_at, mut dns_at) = (Vec::new(), None, None);
    let phases: Vec<(&str, Slice)> = vec![
        ("promote", Slice::Addresses(vec![new_writer.clone()])),
        ("fence", Slice::Addresses(old_writers)),
        (
            "scale",
            Slice::Kinds(vec![kinds::AUTOSCALING_GROUP_CAPACITY]),
        ),
        ("dns", Slice::Kinds(vec![kinds::ROUTE53_RECORD_SET])),
        (
            "replication",
            Slice::Kinds(vec![kinds::S3_BUCKET_REPLICATION]),
        ),
        ("converge", Slice::Rest),
    ];
    for (name, slice) in phases {
        // A phase a killed run finished is not run again — the DNS phase included: run again
        // while Route 53 does not answer, it would defer a swap that is already made.
        let done_before = target.transition.as_ref().is_some_and(|t| t.is_done(name));
        let r = if done_before {
            done_before_report(name)
        } else if name == "dns" {
            runner.dns_phase(&mut state, &mut target).await?
        } else {
            runner.phase(name, &mut state, &target, slice).await?
        };
        let r = label_deferred(r, name, &target);
        match name {
            "promote" => {
                promoted_at = Some(r.finished);
                let writable = verify_writable(runner, &state, &new_writer).await?;
                runner.audit.record(
                    "verify-writable",
                    if writable { "passed" } else { "failed" },
                    new_writer.as_str(),
                );
                if !writable {
                    return Err(FailoverError::Run(RunError::Phase {
                        phase: "verify-writable".into(),
                        message: format!("{new_writer} is not a writable primary after promotion"),
                    }));
                }
            }
            "dns" if r.outcome == "done" || r.outcome == "nothing to do" => {
                dns_at = Some(r.finished)
            }
            _ => {}
        }
        reports.push(r);
        if !done_before {
            if let Some(t) = target.transition.as_mut() {
                t.mark_done(name);
            }
            runner.save_posture(&mut state, &target)?;
        }
    }
    target.transition = None;
    runner.save_posture(&mut state, &target)?;
    runner
        .audit
        .record("failover", "done", &format!("{from} -> {to}"));
    let report = FailoverReport {
        from,
        to,
        resumed,
        phases: reports,
        posture: target,
        promoted_at,
        dns_at,
    };
    Ok((state, report))
}

/// The report of a phase that a previous, interrupted run completed.
fn done_before_report(name: &str) -> PhaseReport {
    let now = epoch_now();
    PhaseReport {
        name: name.into(),
        started: now,
        finished: now,
        changes: 0,
        outcome: "done before".into(),
    }
}

/// Says which part of a phase waits for an unreachable control plane.
fn label_deferred(mut r: PhaseReport, phase: &str, posture: &Posture) -> PhaseReport {
    let aspect = match phase {
        "fence" => Aspect::Fence,
        "scale" => Aspect::ScaleDown,
        "replication" => Aspect::Replication,
        _ => return r,
    };
    if let Some(d) = posture.deferred.iter().find(|d| d.aspect == aspect) {
        let what = format!("deferred: {} waits for {}", aspect.describe(), d.waits_for);
        r.outcome = if r.changes == 0 {
            what
        } else {
            format!("{}; {what}", r.outcome)
        };
    }
    r
}

/// Reads the new writer through its provider: it must exist and report itself promoted.
async fn verify_writable(
    runner: &Runner<'_>,
    state: &State,
    addr: &ResourceAddr,
) -> Result<bool, FailoverError> {
    let live = read_live(runner.providers, state, addr).await?;
    Ok(live.and_then(|o| o.inputs.get("promoted").and_then(|v| v.as_bool())) == Some(true))
}

/// Completes deferred aspects whose region answers again. Returns the phases applied.
pub async fn resume_deferred(
    runner: &Runner<'_>,
    mut state: State,
    primary: &str,
    secondary: &str,
) -> Result<(State, Vec<PhaseReport>, Vec<Deferred>), FailoverError> {
    let posture = posture_of(&state, primary, secondary)?;
    let ready: Vec<Aspect> = posture
        .deferred
        .iter()
        .filter(|d| !runner.unreachable.contains(&d.waits_for))
        .map(|d| d.aspect)
        .collect();
    if ready.is_empty() {
        return Ok((state, Vec::new(), posture.deferred));
    }
    let next = transform::complete_deferred(&posture, &ready);
    runner.save_posture(&mut state, &next)?;
    let mut phases = Vec::new();
    let mut done = Vec::new();
    for (name, aspect, slice) in [
        (
            "fence",
            Aspect::Fence,
            Slice::Kinds(vec![kinds::RDS_DB_INSTANCE, kinds::RDS_DB_READ_REPLICA]),
        ),
        (
            "scale",
            Aspect::ScaleDown,
            Slice::Kinds(vec![kinds::AUTOSCALING_GROUP_CAPACITY]),
        ),
        (
            "dns",
            Aspect::Dns,
            Slice::Kinds(vec![kinds::ROUTE53_RECORD_SET]),
        ),
        (
            "replication",
            Aspect::Replication,
            Slice::Kinds(vec![kinds::S3_BUCKET_REPLICATION]),
        ),
    ] {
        if !ready.contains(&aspect) {
            continue;
        }
        match runner.phase(name, &mut state, &next, slice).await {
            Ok(r) => {
                phases.push(r);
                done.push(aspect);
            }
            Err(e) => {
                // What did not complete stays deferred, for the next `--resume`.
                let mut kept = next.clone();
                kept.deferred.extend(
                    posture
                        .deferred
                        .iter()
                        .filter(|d| ready.contains(&d.aspect) && !done.contains(&d.aspect))
                        .cloned(),
                );
                runner.save_posture(&mut state, &kept)?;
                return Err(e.into());
            }
        }
    }
    runner.audit.record(
        "resume",
        "done",
        &format!("{} aspect(s) completed", ready.len()),
    );
    Ok((state, phases, next.deferred))
}

/// The two halves of a failback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailbackStep {
    /// Build the replica in the original region.
    Rebuild,
    /// Raise the original region to the primary's capacity and scale the active region's
    /// application to zero: writes stop, so that the replica can drain the last of them.
    Quiesce,
    /// Promote it and send traffic back.
    Switch,
}

/// Runs one step of a failback. The caller waits, after [`FailbackStep::Rebuild`], until the new
/// replica has caught up (replica lag ≈ 0), and again after [`FailbackStep::Quiesce`], until it
/// has drained the last writes, before [`FailbackStep::Switch`].
pub async fn failback(
    runner: &Runner<'_>,
    mut state: State,
    primary: &str,
    secondary: &str,
    step: FailbackStep,
) -> Result<(State, Vec<PhaseReport>, Posture), FailoverError> {
    let current = posture_of(&state, primary, secondary)?;
    if current.active_region == primary && current.transition.is_none() {
        return Err(TransformError::NotFailedOver(primary.to_string()).into());
    }
    let mut phases = Vec::new();
    match step {
        FailbackStep::Rebuild => {
            let target = transform::failback_rebuild(&current)?;
            runner.save_posture(&mut state, &target)?;
            phases.push(
                runner
                    .phase("rebuild-replica", &mut state, &target, Slice::Rest)
                    .await?,
            );
            Ok((state, phases, target))
        }
        FailbackStep::Quiesce => {
            if current.transition.is_some() {
                // A switch already under way: it has quiesced the region before.
                return Ok((state, phases, current));
            }
            let target = transform::failback_quiesce(&current)?;
            runner.save_posture(&mut state, &target)?;
            let capacity = kinds::AUTOSCALING_GROUP_CAPACITY;
            for (name, region) in [
                ("scale-up", &target.standby_region),
                ("quiesce", &target.active_region),
            ] {
                phases.push(
                    runner
                        .phase(
                            name,
                            &mut state,
                            &target,
                            Slice::KindIn(capacity, region.clone()),
                        )
                        .await?,
                );
            }
            runner.audit.record(
                "quiesce",
                "done",
                &format!("{} writes nothing", target.active_region),
            );
            Ok((state, phases, target))
        }
        FailbackStep::Switch => {
            let mut target = if current
                .transition
                .as_ref()
                .is_some_and(|t| t.kind == "failback")
            {
                current.clone()
            } else {
                let writer_arn = current
                    .db
                    .replica
                    .as_ref()
                    .and_then(|r| state.output(&db_addr(r), "arn"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                let mut t = transform::failback_switch(&current, writer_arn, &now_text())?;
                t.transition = Some(Transition {
                    kind: "failback".into(),
                    from: current.active_region.clone(),
                    to: current.standby_region.clone(),
                    started_at: now_text(),
                    done: Vec::new(),
                    drill: false,
                });
                t
            };
            runner.save_posture(&mut state, &target)?;
            let new_writer = db_addr(&target.db.writer);
            let from = target
                .transition
                .as_ref()
                .map_or(target.standby_region.clone(), |t| t.from.clone());
            let old_writers = retired_in(&target, &from);
            for (name, slice) in [
                (
                    "scale",
                    Slice::Kinds(vec![kinds::AUTOSCALING_GROUP_CAPACITY]),
                ),
                ("promote", Slice::Addresses(vec![new_writer.clone()])),
                ("fence", Slice::Addresses(old_writers.clone())),
                ("dns", Slice::Kinds(vec![kinds::ROUTE53_RECORD_SET])),
                (
                    "replication",
                    Slice::Kinds(vec![kinds::S3_BUCKET_REPLICATION]),
                ),
                ("converge", Slice::Rest),
            ] {
                if target.transition.as_ref().is_some_and(|t| t.is_done(name)) {
                    phases.push(done_before_report(name));
                    continue;
                }
                if name == "converge" {
                    // The fenced old writer goes; the new replica in its region replaces it.
                    target = transform::failback_retire(&target);
                    runner.save_posture(&mut state, &target)?;
                }
                phases.push(runner.phase(name, &mut state, &target, slice).await?);
                if name == "promote" && !verify_writable(runner, &state, &new_writer).await? {
                    return Err(FailoverError::Run(RunError::Phase {
                        phase: "verify-writable".into(),
                        message: format!("{new_writer} is not a writable primary after promotion"),
                    }));
                }
                if let Some(t) = target.transition.as_mut() {
                    t.mark_done(name);
                }
                runner.save_posture(&mut state, &target)?;
            }
            target.transition = None;
            runner.save_posture(&mut state, &target)?;
            runner
                .audit
                .record("failback", "done", &format!("-> {}", target.active_region));
            Ok((state, phases, target))
        }
    }
}
