//! Failback, a planned switchover back to the environment's primary region: rebuild a replica
//! there → wait until it has caught up → raise the region failed back to to the primary's
//! capacity and quiesce the active one (its application scaled to zero: writes stop) → wait
//! until the replica has drained them → promote → read the new writer back → fence the old
//! writer → DNS → replication → converge (a new replica in the region failed back from; the
//! fenced old writer deleted with a final snapshot, or kept where the environment protects its
//! databases).
//!
//! # Guarantees
//! Each step is saved as it completes; rerunning `failback` resumes where a killed run stopped.
//! A waiting step returns an error naming what it waited for when its limit passes, with nothing
//! switched.

use std::time::{Duration, Instant, SystemTime};

use tandem_engine::State;
use tandem_posture::transform;
use tandem_posture::{DbMember, Phase, Posture, Role, Transition, TransitionKind};

use crate::context::{Context, Event, FailoverError, Slice, epoch_now, now_text, posture_of};
use crate::report::{Check, PhaseOutcome, PhaseReport};
use crate::signals::{LagSample, Reading};
use crate::verify::writer_check;

/// How long a failback waits for its replica, and how often it looks.
#[derive(Clone, Copy, Debug)]
pub struct FailbackWaits {
    /// Until the new replica has caught up.
    pub catch_up: Duration,
    /// Until it has drained the last writes, once they stopped.
    pub drain: Duration,
    pub poll: Duration,
}

impl Default for FailbackWaits {
    fn default() -> FailbackWaits {
        FailbackWaits {
            catch_up: Duration::from_secs(3600),
            drain: Duration::from_secs(900),
            poll: Duration::from_secs(10),
        }
    }
}

/// What a failback did.
#[derive(Clone, Debug, PartialEq)]
pub struct FailbackReport {
    pub to: String,
    pub phases: Vec<PhaseReport>,
    /// The replica's lag when the switch began (writes stopped), or why it is not known.
    pub drained: Reading<LagSample>,
    /// The new writer, read back from the cloud after the promotion.
    pub writer: Option<Check>,
    /// Former writers kept (fenced) because the environment protects its databases.
    pub kept: Vec<DbMember>,
    pub posture: Posture,
}

/// The postures a failback moves through, for `failback --plan`: rebuild, quiesce, switch.
/// `None` when there is nothing to fail back (the primary region is active).
pub fn planned_steps(
    ctx_topology: &dyn tandem_posture::Topology,
    state: &State,
    current: &Posture,
    primary: &str,
) -> Result<Option<Vec<(&'static str, Posture)>>, FailoverError> {
    if current.active_region == primary && current.transition.is_none() {
        return Ok(None);
    }
    let protected = ctx_topology.protects_databases();
    let rebuilt = transform::failback_rebuild(current, protected)?;
    let quiesced = transform::failback_quiesce(&rebuilt)?;
    // Planned against today's state, where the new replica does not exist yet: it shows as
    // created from the current writer (its source after the first step).
    let writer_arn = current_writer_arn(ctx_topology, state, current);
    let switched = transform::failback_switch(&quiesced, writer_arn, "(plan)")?;
    let retired = transform::failback_retire(&switched, protected);
    Ok(Some(vec![
        ("Step 1: rebuild the replica", rebuilt),
        ("Step 2: stop writes (quiesce the active region)", quiesced),
        ("Step 3: switch back", retired),
    ]))
}

fn current_writer_arn(
    topology: &dyn tandem_posture::Topology,
    state: &State,
    p: &Posture,
) -> Option<String> {
    state
        .output(&topology.database(&p.db.writer), "arn")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Fails back to the environment's primary region, or resumes a failback in progress.
pub async fn failback(
    ctx: &Context<'_>,
    mut state: State,
    waits: &FailbackWaits,
) -> Result<(State, FailbackReport), FailoverError> {
    let primary = ctx.regions[0].clone();
    let current = posture_of(&state, &ctx.regions)?;
    if current.active_region == primary && current.transition.is_none() {
        return Err(tandem_posture::TransformError::NotFailedOver(primary).into());
    }
    if let Some(t) = &current.transition
        && t.kind != TransitionKind::Failback
    {
        return Err(FailoverError::State(format!(
            "a {} from {} to {} is in progress: run `tandem {}` to finish it",
            t.kind, t.from, t.to, t.kind
        )));
    }
    let protected = ctx.cloud.topology.protects_databases();
    let mut phases = Vec::new();
    let mut drained = Reading::NotMeasured {
        why: "the switch had begun before this run".into(),
    };
    let mut posture = current.clone();
    if current.transition.is_none() {
        // 1. Rebuild a replica in the region failed back to.
        posture = transform::failback_rebuild(&current, protected)?;
        ctx.save_posture(&mut state, &posture)?;
        phases.push(
            ctx.phase(Phase::RebuildReplica, &mut state, &mut posture, Slice::Rest)
                .await?,
        );
        wait_for_replica(ctx, &posture, "catch up", waits.catch_up, waits.poll).await?;
        // 2. Stop writes: the region failed back to takes the traffic, the active one is quiesced.
        posture = transform::failback_quiesce(&posture)?;
        ctx.save_posture(&mut state, &posture)?;
        for (phase, region) in [
            (Phase::ScaleUp, posture.standby_region.clone()),
            (Phase::Quiesce, posture.active_region.clone()),
        ] {
            phases.push(
                ctx.phase(
                    phase,
                    &mut state,
                    &mut posture,
                    Slice::RoleIn(Role::Capacity, region),
                )
                .await?,
            );
        }
        ctx.audit.record(
            "quiesce",
            "done",
            &format!("{} writes nothing", posture.active_region),
        );
        drained = wait_for_replica(ctx, &posture, "drain", waits.drain, waits.poll).await?;
        // 3. The switch, saved as a transition before its first change.
        let writer_arn = posture
            .db
            .replica
            .as_ref()
            .and_then(|r| state.output(&ctx.cloud.topology.database(r), "arn"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let from = posture.active_region.clone();
        posture = transform::failback_switch(&posture, writer_arn, &now_text())?;
        posture.transition = Some(Transition::new(
            TransitionKind::Failback,
            &from,
            &posture.active_region,
            &now_text(),
            false,
        ));
        ctx.save_posture(&mut state, &posture)?;
    }
    let topology = ctx.cloud.topology;
    let new_writer = posture.db.writer.clone();
    let from = posture
        .transition
        .as_ref()
        .map_or(posture.standby_region.clone(), |t| t.from.clone());
    let old_writers: Vec<_> = posture
        .db
        .retired
        .iter()
        .filter(|m| m.region == from)
        .map(|m| topology.database(m))
        .collect();
    let mut writer = None;
    for phase in [
        Phase::Scale,
        Phase::Promote,
        Phase::Fence,
        Phase::Dns,
        Phase::Replication,
        Phase::Converge,
    ] {
        if posture
            .transition
            .as_ref()
            .is_some_and(|t| t.is_done(phase))
        {
            let now = epoch_now();
            phases.push(PhaseReport {
                phase,
                started: now,
                finished: now,
                outcome: PhaseOutcome::DoneBefore,
            });
            continue;
        }
        let slice = match phase {
            Phase::Scale => Slice::Role(Role::Capacity),
            Phase::Promote => Slice::Addresses(vec![topology.database(&new_writer)]),
            Phase::Fence => Slice::Addresses(old_writers.clone()),
            Phase::Dns => Slice::Role(Role::FailoverRecords),
            Phase::Replication => Slice::Role(Role::Replication),
            _ => Slice::Rest,
        };
        if phase == Phase::Converge {
            // The fenced old writer goes (with a final snapshot) unless protected; the new
            // replica in its region replaces it.
            posture = transform::failback_retire(&posture, protected);
            ctx.save_posture(&mut state, &posture)?;
        }
        phases.push(ctx.phase(phase, &mut state, &mut posture, slice).await?);
        if phase == Phase::Promote {
            let check = writer_check(&ctx.cloud, &new_writer).await;
            if check.verdict.failed() {
                return Err(FailoverError::Phase {
                    phase,
                    message: format!(
                        "the cloud does not say the new writer is one: {}; nothing was fenced (rerun `tandem failback` to resume)",
                        check.observed
                    ),
                });
            }
            writer = Some(check);
        }
        if let Some(t) = posture.transition.as_mut() {
            t.mark_done(phase);
        }
        ctx.save_posture(&mut state, &posture)?;
    }
    posture.transition = None;
    ctx.save_posture(&mut state, &posture)?;
    ctx.audit
        .record("failback", "done", &format!("-> {}", posture.active_region));
    let kept = posture.db.retired.clone();
    Ok((
        state,
        FailbackReport {
            to: posture.active_region.clone(),
            phases,
            drained,
            writer,
            kept,
            posture,
        },
    ))
}

/// Waits until the posture's replica lags less than a second (`what` it waits for: `catch up` or
/// `drain`), at most `limit`. The last lag read, or why there is none (then it goes on: the cloud
/// reports no lag to wait on, which the report says).
async fn wait_for_replica(
    ctx: &Context<'_>,
    posture: &Posture,
    what: &'static str,
    limit: Duration,
    poll: Duration,
) -> Result<Reading<LagSample>, FailoverError> {
    let Some(replica) = &posture.db.replica else {
        return Ok(Reading::NotMeasured {
            why: "there is no replica".into(),
        });
    };
    let id = ctx.cloud.topology.database_identifier(replica);
    let started = Instant::now();
    loop {
        let lag = ctx
            .cloud
            .signals
            .replica_lag(&replica.region, &id, SystemTime::now())
            .await;
        match lag.value() {
            Some(s) if s.seconds >= 1.0 || s.seconds < 0.0 => {
                if started.elapsed() > limit {
                    return Err(FailoverError::Phase {
                        phase: Phase::Promote,
                        message: format!(
                            "the new replica {id} still lags {:.0} s after {} min; failback stopped before the switch (rerun to continue)",
                            s.seconds,
                            limit.as_secs() / 60
                        ),
                    });
                }
                ctx.events.event(Event::WaitingForReplica {
                    what,
                    lag: Some(s.seconds),
                });
                tokio::time::sleep(poll).await;
            }
            Some(_) => return Ok(lag),
            None => {
                ctx.events.event(Event::Note(format!(
                    "replica {what}: {}; continuing",
                    lag.why_not().unwrap_or_default()
                )));
                return Ok(lag);
            }
        }
    }
}
