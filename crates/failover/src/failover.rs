//! Failover: preflight (replica lag within the RPO, standby healthy) → promote (and read the new
//! writer back from the cloud) → fence → scale → DNS → replication → converge → done.
//!
//! The old writer is fenced right **after** the promotion, not before: AWS does not stop a DB
//! instance that still has a read replica, and promoting the replica is what detaches it. The
//! region failed away from keeps its capacity until the DNS phase has moved traffic; `converge`
//! lowers it.
//!
//! # Guarantees
//! - The target posture is saved before any change, with the transition marked in progress; each
//!   phase is recorded done as it completes, so a run killed at any point resumes where it was.
//! - A change whose control plane does not answer is never attempted: its aspect is deferred (in
//!   the posture, which `status` and `plan` show) and `resume_deferred` completes it later.
//! - The promotion stops the run before any fence unless the cloud says the new writer is one;
//!   where the cloud cannot tell, the report says so.

use std::collections::BTreeSet;
use std::time::SystemTime;

use tandem_engine::State;
use tandem_posture::transform::{self, Unreachable};
use tandem_posture::{
    Aspect, ControlPlane, Deferred, Phase, Posture, Role, Transition, TransitionKind,
};

use crate::context::{Context, FailoverError, Slice, epoch_now, now_text, posture_of};
use crate::health::routing_health;
use crate::report::{Check, PhaseOutcome, PhaseReport, RecoveryPoint, Verdict};
use crate::signals::{LagSample, Reading};
use crate::verify::{fence_check, writer_check};

/// What a failover asks for.
#[derive(Clone, Debug, Default)]
pub struct FailoverRequest {
    /// The region to fail over to (default: the standby).
    pub to: Option<String>,
    pub drill: bool,
    /// Fail over even when the preflight refuses.
    pub force: bool,
    pub rpo_minutes: u32,
}

/// What was measured before a failover.
#[derive(Clone, Debug, PartialEq)]
pub struct Preflight {
    /// The replica's lag, when the cloud reports it.
    pub lag: Reading<LagSample>,
    pub standby_healthy: bool,
    /// What said the standby is (un)healthy.
    pub standby_health: String,
    pub unreachable: BTreeSet<ControlPlane>,
}

/// What a failover did.
#[derive(Clone, Debug, PartialEq)]
pub struct FailoverReport {
    pub from: String,
    pub to: String,
    pub resumed: bool,
    pub phases: Vec<PhaseReport>,
    /// The posture the failover left (what it deferred is in `posture.deferred`).
    pub posture: Posture,
    /// When the promotion phase ended (epoch seconds).
    pub promoted_at: Option<f64>,
    /// When the DNS phase ended, if it changed or confirmed the records.
    pub dns_at: Option<f64>,
    /// The replica's lag observed at the promotion.
    pub recovery_point: RecoveryPoint,
    /// The new writer, read back from the cloud after the promotion.
    pub writer: Check,
    /// Each former writer the fence phase stopped, read back (or why not).
    pub fenced: Vec<Check>,
}

/// Measures what a failover to `to` decides on: the replica's lag now, and the standby's health
/// as the failover records see it.
pub async fn preflight(ctx: &Context<'_>, state: &State, posture: &Posture, to: &str) -> Preflight {
    let lag = async {
        match &posture.db.replica {
            Some(r) => {
                let id = ctx.cloud.topology.database_identifier(r);
                ctx.cloud
                    .signals
                    .replica_lag(&r.region, &id, SystemTime::now())
                    .await
            }
            None => Reading::NotMeasured {
                why: "there is no replica".into(),
            },
        }
    };
    let (lag, (standby_healthy, standby_health)) =
        tokio::join!(lag, routing_health(&ctx.cloud, state, &state.outputs, to));
    Preflight {
        lag,
        standby_healthy,
        standby_health,
        unreachable: ctx.unreachable.clone(),
    }
}

/// The posture a failover from `current` to `to` moves to (what `failover --plan` shows, and what
/// `failover` saves): the old writer's ARN comes from the state, so that the promoted replica
/// keeps naming its source.
pub fn target_posture(
    ctx_unreachable: &BTreeSet<ControlPlane>,
    topology: &dyn tandem_posture::Topology,
    state: &State,
    current: &Posture,
    to: &str,
    drill: bool,
) -> Result<Posture, FailoverError> {
    let writer = topology.database(&current.db.writer);
    if !state.resources.contains_key(&writer) {
        return Err(FailoverError::State(format!(
            "nothing to fail over: the writer database {writer} is not deployed (`tandem deploy all` first)"
        )));
    }
    let old_writer_arn = state
        .output(&writer, "arn")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let unreachable = Unreachable {
        old_region: ctx_unreachable.contains(&ControlPlane::of(&current.active_region)),
        route53: ctx_unreachable.contains(&ControlPlane::Route53),
    };
    Ok(transform::fail_over(
        current,
        to,
        unreachable,
        old_writer_arn,
        &now_text(),
        drill,
    )?)
}

/// Fails over (to `request.to`, default the standby), or resumes a failover in progress.
pub async fn failover(
    ctx: &Context<'_>,
    mut state: State,
    request: &FailoverRequest,
    pre: &Preflight,
) -> Result<(State, FailoverReport), FailoverError> {
    let current = posture_of(&state, &ctx.regions)?;
    let (mut target, resumed) = match &current.transition {
        Some(t) if t.kind == TransitionKind::Failover => (current.clone(), true),
        Some(t) => {
            return Err(FailoverError::State(format!(
                "a {} from {} to {} is in progress: run `tandem {}` to finish it",
                t.kind, t.from, t.to, t.kind
            )));
        }
        None => {
            let to = request
                .to
                .clone()
                .unwrap_or_else(|| current.standby_region.clone());
            if !request.force {
                refuse_unless_ready(pre, &to, request.rpo_minutes)?;
            }
            let mut t = target_posture(
                &ctx.unreachable,
                ctx.cloud.topology,
                &state,
                &current,
                &to,
                request.drill,
            )?;
            t.transition = Some(Transition::new(
                TransitionKind::Failover,
                &current.active_region,
                &to,
                &now_text(),
                request.drill,
            ));
            ctx.audit.record(
                "preflight",
                "passed",
                &format!(
                    "lag {}, standby {}, unreachable [{}]",
                    pre.lag
                        .value()
                        .map_or("not reported".into(), |l| format!("{:.0} s", l.seconds)),
                    pre.standby_health,
                    pre.unreachable
                        .iter()
                        .map(|p| p.as_str().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            ctx.save_posture(&mut state, &t)?;
            (t, false)
        }
    };
    let transition = target.transition.clone().expect("set above");
    let (from, to) = (transition.from.clone(), transition.to.clone());
    let new_writer = target.db.writer.clone();
    let old_writers: Vec<_> = target
        .db
        .retired
        .iter()
        .filter(|m| m.region == from)
        .cloned()
        .collect();
    let topology = ctx.cloud.topology;

    let mut phases = Vec::new();
    let (mut promoted_at, mut dns_at) = (None, None);
    let mut recovery_point = None;
    let mut writer = None;
    let mut fenced = Vec::new();
    for phase in [
        Phase::Promote,
        Phase::Fence,
        Phase::Scale,
        Phase::Dns,
        Phase::Replication,
        Phase::Converge,
    ] {
        let slice = match phase {
            Phase::Promote => Slice::Addresses(vec![topology.database(&new_writer)]),
            Phase::Fence => {
                Slice::Addresses(old_writers.iter().map(|m| topology.database(m)).collect())
            }
            Phase::Scale => Slice::Role(Role::Capacity),
            Phase::Dns => Slice::Role(Role::FailoverRecords),
            Phase::Replication => Slice::Role(Role::Replication),
            _ => Slice::Rest,
        };
        if phase == Phase::Promote {
            // The recovery point: the replica's last lag before it stops replicating.
            recovery_point = Some(lag_at(ctx, &new_writer).await);
        }
        let done_before = target.transition.as_ref().is_some_and(|t| t.is_done(phase));
        if phase == Phase::Replication && !done_before && ctx.is_unreachable(&from) {
            // Replication from the new active region writes into the old one (its destination
            // bucket and key): it waits for that region, whichever region its resource is in.
            target.defer(
                Aspect::Replication,
                ControlPlane::Region(from.clone()),
                format!("the replication's destination in {from} does not answer"),
            );
            ctx.save_posture(&mut state, &target)?;
        }
        let report = if done_before {
            done_before_report(phase)
        } else if phase == Phase::Dns {
            dns_phase(ctx, &mut state, &mut target, slice).await?
        } else {
            ctx.phase(phase, &mut state, &mut target, slice).await?
        };
        match phase {
            Phase::Promote => {
                promoted_at = Some(report.finished);
                let check = writer_check(&ctx.cloud, &new_writer).await;
                ctx.audit.record(
                    "verify-writable",
                    &check.verdict.to_string(),
                    &check.observed,
                );
                if check.verdict.failed() {
                    return Err(FailoverError::Phase {
                        phase: Phase::Promote,
                        message: format!(
                            "the cloud does not say the new writer is one: {}; nothing was fenced (rerun `tandem failover` to resume)",
                            check.observed
                        ),
                    });
                }
                writer = Some(check);
            }
            Phase::Fence => {
                for m in &old_writers {
                    fenced.push(match target.deferred_for(Aspect::Fence) {
                        Some(d) => Check {
                            kind: crate::report::CheckKind::FormerWriterFenced,
                            verdict: Verdict::NotMeasured(format!(
                                "deferred: {} does not answer",
                                d.waits_for
                            )),
                            observed: format!("{} not fenced yet", topology.database_identifier(m)),
                            source: None,
                        },
                        None => fence_check(&ctx.cloud, m).await,
                    });
                }
            }
            Phase::Dns if report.outcome.is_complete() => dns_at = Some(report.finished),
            _ => {}
        }
        phases.push(report);
        if !done_before {
            if let Some(t) = target.transition.as_mut() {
                t.mark_done(phase);
            }
            ctx.save_posture(&mut state, &target)?;
        }
    }
    target.transition = None;
    ctx.save_posture(&mut state, &target)?;
    ctx.audit
        .record("failover", "done", &format!("{from} -> {to}"));
    let report = FailoverReport {
        from,
        to,
        resumed,
        phases,
        posture: target,
        promoted_at,
        dns_at,
        recovery_point: recovery_point.expect("the promote phase ran"),
        writer: writer.expect("the promote phase ran"),
        fenced,
    };
    Ok((state, report))
}

/// The preflight's refusal, if any: a lag beyond the RPO, or an unhealthy standby.
fn refuse_unless_ready(pre: &Preflight, to: &str, rpo_minutes: u32) -> Result<(), FailoverError> {
    if let Some(lag) = pre.lag.value()
        && lag.seconds > f64::from(rpo_minutes) * 60.0
    {
        return Err(FailoverError::Preflight(format!(
            "replica lag {:.0} s exceeds the RPO of {rpo_minutes} min",
            lag.seconds
        )));
    }
    if !pre.standby_healthy {
        return Err(FailoverError::Preflight(format!(
            "the standby {to} is not healthy: {}",
            pre.standby_health
        )));
    }
    Ok(())
}

/// The last lag sample of the replica `member` now, with its age.
async fn lag_at(ctx: &Context<'_>, member: &tandem_posture::DbMember) -> RecoveryPoint {
    let now = SystemTime::now();
    let id = ctx.cloud.topology.database_identifier(member);
    let lag = ctx
        .cloud
        .signals
        .replica_lag(&member.region, &id, now)
        .await;
    let age_seconds = lag.value().map(|s| s.age_at(now));
    RecoveryPoint { lag, age_seconds }
}

/// The report of a phase that a previous, interrupted run completed.
fn done_before_report(phase: Phase) -> PhaseReport {
    let now = epoch_now();
    PhaseReport {
        phase,
        started: now,
        finished: now,
        outcome: PhaseOutcome::DoneBefore,
    }
}

/// The DNS phase: best effort. When Route 53's control plane does not answer or refuses, the
/// swap is deferred — the pre-built failover records already move traffic — and the run goes on.
async fn dns_phase(
    ctx: &Context<'_>,
    state: &mut State,
    posture: &mut Posture,
    slice: Slice,
) -> Result<PhaseReport, FailoverError> {
    let started = epoch_now();
    match ctx.phase(Phase::Dns, state, posture, slice).await {
        Ok(r) => Ok(r),
        Err(FailoverError::Phase { message, .. }) => {
            posture.defer(
                Aspect::Dns,
                ControlPlane::Route53,
                format!("the record change failed: {message}"),
            );
            ctx.save_posture(state, posture)?;
            Ok(PhaseReport {
                phase: Phase::Dns,
                started,
                finished: epoch_now(),
                outcome: PhaseOutcome::DeferredAfterFailure {
                    waits_for: ControlPlane::Route53,
                    error: message,
                },
            })
        }
        Err(e) => Err(e),
    }
}

/// Completes deferred aspects whose control plane answers again. Returns the phases applied and
/// what is still deferred.
pub async fn resume_deferred(
    ctx: &Context<'_>,
    mut state: State,
) -> Result<(State, Vec<PhaseReport>, Vec<Deferred>), FailoverError> {
    let posture = posture_of(&state, &ctx.regions)?;
    let ready: Vec<Aspect> = posture
        .deferred
        .iter()
        .filter(|d| !ctx.unreachable.contains(&d.waits_for))
        .map(|d| d.aspect)
        .collect();
    if ready.is_empty() {
        return Ok((state, Vec::new(), posture.deferred));
    }
    let mut next = transform::complete_deferred(&posture, &ready);
    ctx.save_posture(&mut state, &next)?;
    let mut phases = Vec::new();
    let mut done = Vec::new();
    for aspect in [
        Aspect::Fence,
        Aspect::ScaleDown,
        Aspect::Dns,
        Aspect::Replication,
        Aspect::Converge,
    ] {
        if !ready.contains(&aspect) {
            continue;
        }
        let slice = match aspect {
            Aspect::Fence => Slice::Role(Role::Database),
            Aspect::ScaleDown => Slice::Role(Role::Capacity),
            Aspect::Dns => Slice::Role(Role::FailoverRecords),
            Aspect::Replication => Slice::Role(Role::Replication),
            Aspect::Converge => Slice::Rest,
        };
        match ctx
            .phase(aspect.phase(), &mut state, &mut next, slice)
            .await
        {
            Ok(r) => {
                phases.push(r);
                done.push(aspect);
            }
            Err(e) => {
                // What did not complete stays deferred, for the next `--resume`.
                for d in posture
                    .deferred
                    .iter()
                    .filter(|d| ready.contains(&d.aspect) && !done.contains(&d.aspect))
                {
                    next.defer(d.aspect, d.waits_for.clone(), d.why.clone());
                }
                ctx.save_posture(&mut state, &next)?;
                return Err(e);
            }
        }
    }
    ctx.audit.record(
        "resume",
        "done",
        &format!("{} aspect(s) completed", done.len()),
    );
    Ok((state, phases, next.deferred))
}
