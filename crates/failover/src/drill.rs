//! A drill: simulated outage of the active region → detection → failover → verification, each
//! check read from the cloud → the region restored and the deferred work completed → a typed
//! report with the measured RTO and RPO against the objectives.
//!
//! # Guarantees
//! - Whatever stops the detection or the failover, the simulated outage is undone (or the error
//!   says it could not be, and how to undo it).
//! - An objective that was not measured is [`Objective::Unverified`], never met; a check the
//!   cloud cannot answer here is "not verifiable" or "not measured", never passed. The outcome is
//!   [`DrillOutcome::Missed`] when anything measured failed, else [`DrillOutcome::Unverified`]
//!   when anything could not be measured, else [`DrillOutcome::Met`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_engine::State;
use tandem_posture::{Deferred, DrillOutcome, DrillRecord};

use crate::context::{Context, FailoverError, epoch_now, now_text, posture_of, unreachable_now};
use crate::failover::{FailoverRequest, failover, preflight, resume_deferred};
use crate::health::{Streak, route53_view, routing_health};
use crate::outage::{OutageSimulator, simulate_outage};
use crate::report::{Check, CheckKind, Objective, PhaseReport, RecoveryPoint};
use crate::timed::CloudClock;
use crate::verify::{capacity_check, dns_check, fence_check};

/// How to drill.
#[derive(Clone, Debug)]
pub struct DrillConfig {
    /// Between health probes.
    pub interval: Duration,
    /// Consecutive failed probes that make the region unhealthy.
    pub threshold: u32,
    pub rto_minutes: u32,
    pub rpo_minutes: u32,
    /// Give up when the outage is not detected within this.
    pub detection_limit: Duration,
}

/// What a drill measured.
#[derive(Clone, Debug, PartialEq)]
pub struct DrillReport {
    pub from: String,
    pub to: String,
    /// How the outage was simulated.
    pub outage_method: String,
    /// Epoch seconds.
    pub outage_at: f64,
    pub detected_at: f64,
    /// What detected the outage: Route 53's verdict, or probes as its checkers.
    pub detected_by: String,
    pub promoted_at: Option<f64>,
    pub dns_changed_at: Option<f64>,
    /// When every check had been read.
    pub recovered_at: f64,
    pub restored_at: f64,
    /// UTC text.
    pub finished_at: String,
    pub rto: Objective,
    pub rpo: Objective,
    pub recovery_point: RecoveryPoint,
    pub checks: Vec<Check>,
    pub phases: Vec<PhaseReport>,
    /// What the failover deferred (completed once the region was restored).
    pub deferred: Vec<Deferred>,
    /// The deferred work completed after the restore.
    pub resumed: Vec<PhaseReport>,
    /// Deferred work still left after the restore.
    pub still_deferred: Vec<Deferred>,
    /// Why completing the deferred work after the restore failed, if it did.
    pub resume_error: Option<String>,
    pub outcome: DrillOutcome,
    /// Tandem's own time: everything but detection intervals and waiting on the cloud.
    pub overhead: Duration,
    pub cloud_wait: Duration,
    pub detection_wait: Duration,
}

impl DrillReport {
    /// The summary kept with the posture.
    pub fn record(&self) -> DrillRecord {
        DrillRecord {
            finished_at: self.finished_at.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            rto_seconds: self.rto.measured(),
            rpo_seconds: self.rpo.measured(),
            outcome: self.outcome,
        }
    }
}

/// The outcome of objectives and checks: missed when anything measured failed, unverified when
/// anything could not be measured, else met.
pub fn outcome(objectives: &[&Objective], checks: &[Check]) -> DrillOutcome {
    let missed = objectives
        .iter()
        .any(|o| matches!(o, Objective::Missed { .. }))
        || checks.iter().any(|c| c.verdict.failed());
    if missed {
        return DrillOutcome::Missed;
    }
    let unverified = objectives
        .iter()
        .any(|o| matches!(o, Objective::Unverified { .. }))
        || checks.iter().any(|c| !c.verdict.passed());
    if unverified {
        DrillOutcome::Unverified
    } else {
        DrillOutcome::Met
    }
}

/// Runs a drill of the active region's loss. `clock` is the clock the context's cloud is timed
/// with (for the overhead figure).
pub async fn drill(
    ctx: &mut Context<'_>,
    mut state: State,
    simulator: &dyn OutageSimulator,
    config: &DrillConfig,
    clock: Arc<CloudClock>,
) -> Result<(State, DrillReport), FailoverError> {
    let total = Instant::now();
    let posture = posture_of(&state, &ctx.regions)?;
    let (from, to) = (
        posture.active_region.clone(),
        posture.standby_region.clone(),
    );
    let health_url = ctx
        .cloud
        .topology
        .health_url(&from, &state.outputs)
        .ok_or_else(|| {
            FailoverError::State(format!("{from} has no health endpoint: deploy first"))
        })?;

    // 1. Outage.
    let outage_at = epoch_now();
    let outage = simulate_outage(ctx, &mut state, simulator, Some(&from), false).await?;
    // 2 and 3. Detection, then failover; whatever stops them, the outage is undone.
    let detection = Instant::now();
    let detected = detect(ctx, &state, &from, &health_url, config, outage_at).await;
    let detection_wait = detection.elapsed();
    let failed_over = match detected {
        Ok((detected_at, detected_by)) => {
            ctx.events.event(crate::context::Event::OutageDetected {
                after_seconds: detected_at - outage_at,
                by: detected_by.clone(),
            });
            ctx.unreachable = unreachable_now(ctx.cloud.signals, &ctx.regions).await;
            let pre = preflight(ctx, &state, &posture, &to).await;
            let request = FailoverRequest {
                to: Some(to.clone()),
                drill: true,
                force: false,
                rpo_minutes: config.rpo_minutes,
            };
            failover(ctx, state.clone(), &request, &pre)
                .await
                .map(|done| (detected_at, detected_by, done))
        }
        Err(e) => Err(e),
    };
    let (detected_at, detected_by, (after, report)) = match failed_over {
        Ok(done) => done,
        Err(e) => {
            // The failover saved what it did: continue from the saved state, not this copy.
            state = ctx.reload(&state)?;
            ctx.unreachable.clear();
            let undone = simulate_outage(ctx, &mut state, simulator, Some(&from), true).await;
            return Err(match undone {
                Ok(_) => FailoverError::State(format!(
                    "the drill stopped ({e}); the outage of {from} was undone"
                )),
                Err(r) => FailoverError::State(format!(
                    "the drill stopped ({e}), and the outage of {from} could not be undone ({r}): run `tandem simulate-outage --region {from} --restore`"
                )),
            });
        }
    };
    state = after;

    // 4. Verify, from the cloud: each region's health as the records see it, the DNS answer, the
    // new writer (read back by the failover), the fence, the standby's capacity.
    let (from_health, to_health) = tokio::join!(
        routing_health(&ctx.cloud, &state, &state.outputs, &from),
        routing_health(&ctx.cloud, &state, &state.outputs, &to)
    );
    let healthy = |r: &str| (r == from && from_health.0) || (r == to && to_health.0);
    let mut checks = vec![report.writer.clone()];
    checks.extend(report.fenced.iter().cloned());
    checks.push(dns_check(&ctx.cloud, &state, &ctx.regions, &to, &healthy).await);
    checks.push(capacity_check(&ctx.cloud, &state, &to).await);
    let recovered_at = epoch_now();

    // 5. Restore the region and complete the deferred work.
    simulate_outage(ctx, &mut state, simulator, Some(&from), true).await?;
    let restored_at = epoch_now();
    ctx.unreachable = unreachable_now(ctx.cloud.signals, &ctx.regions).await;
    // A resume that fails leaves its work deferred (the posture says what): the drill still
    // reports what it measured, and says so.
    let (resumed, still_deferred, resume_error) = match resume_deferred(ctx, state.clone()).await {
        Ok((after, resumed, still)) => {
            state = after;
            (resumed, still, None)
        }
        Err(e) => {
            state = ctx.reload(&state)?;
            let still = posture_of(&state, &ctx.regions)?.deferred;
            (Vec::new(), still, Some(e.to_string()))
        }
    };
    // A fence deferred during the outage is verified once it was made, after the restore.
    if checks
        .iter()
        .any(|c| c.kind == CheckKind::FormerWriterFenced && !c.verdict.passed())
    {
        let p = posture_of(&state, &ctx.regions)?;
        checks.retain(|c| c.kind != CheckKind::FormerWriterFenced);
        for m in p.db.retired.iter().filter(|m| m.region == from) {
            let mut c = fence_check(&ctx.cloud, m).await;
            c.observed.push_str(" (read after the region was restored)");
            checks.insert(1, c);
        }
    }

    let rto = Objective::judge(
        Some(recovered_at - outage_at),
        f64::from(config.rto_minutes) * 60.0,
        String::new,
    );
    let rpo = Objective::judge(
        report.recovery_point.seconds(),
        f64::from(config.rpo_minutes) * 60.0,
        || report.recovery_point.why_not(),
    );
    let outcome = outcome(&[&rto, &rpo], &checks);
    let overhead = total
        .elapsed()
        .saturating_sub(detection_wait)
        .saturating_sub(clock.total());
    let drill = DrillReport {
        from,
        to,
        outage_method: outage.method,
        outage_at,
        detected_at,
        detected_by,
        promoted_at: report.promoted_at,
        dns_changed_at: report.dns_at,
        recovered_at,
        restored_at,
        finished_at: now_text(),
        rto,
        rpo,
        recovery_point: report.recovery_point.clone(),
        checks,
        phases: report.phases.clone(),
        deferred: report.posture.deferred.clone(),
        resumed,
        still_deferred,
        resume_error,
        outcome,
        overhead,
        cloud_wait: clock.total(),
        detection_wait,
    };
    // Record the result with the posture.
    let mut p = posture_of(&state, &ctx.regions)?;
    p.last_drill = Some(drill.record());
    ctx.save_posture(&mut state, &p)?;
    Ok((state, drill))
}

/// Waits until the outage of `region` is detected: by Route 53's own verdict where the cloud
/// gives one (on AWS the outage is an inverted health check, and the application itself still
/// answers), else by `threshold` consecutive failed probes at the interval, as Route 53's
/// checkers would.
async fn detect(
    ctx: &Context<'_>,
    state: &State,
    region: &str,
    health_url: &str,
    config: &DrillConfig,
    outage_at: f64,
) -> Result<(f64, String), FailoverError> {
    let mut streak = Streak::new(config.threshold);
    loop {
        let (down, by) = match route53_view(&ctx.cloud, state, region)
            .await
            .verdict
            .value()
        {
            Some(healthy) => (!healthy, "Route 53's health check".to_string()),
            None => {
                let p = ctx.cloud.probe.probe(health_url).await;
                (
                    streak.record(p.healthy) && !streak.healthy,
                    format!("probes of {health_url} as Route 53's checkers"),
                )
            }
        };
        if down {
            return Ok((epoch_now(), by));
        }
        if epoch_now() - outage_at > config.detection_limit.as_secs_f64() {
            return Err(FailoverError::State(format!(
                "the outage of {region} was not detected within {} s",
                config.detection_limit.as_secs()
            )));
        }
        tokio::time::sleep(config.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn check(verdict: Verdict) -> Check {
        Check {
            kind: CheckKind::DatabaseWritable,
            verdict,
            observed: String::new(),
            source: None,
        }
    }

    #[test]
    fn an_unmeasured_objective_is_unverified_never_met() {
        let met = Objective::judge(Some(10.0), 900.0, String::new);
        let unmeasured = Objective::judge(None, 300.0, || "no ReplicaLag datapoints".into());
        assert!(matches!(unmeasured, Objective::Unverified { .. }));
        assert_eq!(
            outcome(&[&met, &unmeasured], &[check(Verdict::Passed)]),
            DrillOutcome::Unverified
        );
        assert_eq!(
            outcome(&[&met, &met], &[check(Verdict::Passed)]),
            DrillOutcome::Met
        );
    }

    #[test]
    fn a_check_not_verifiable_here_is_not_passed_and_a_failed_one_misses() {
        let met = Objective::judge(Some(1.0), 900.0, String::new);
        assert_eq!(
            outcome(&[&met], &[check(Verdict::NotVerifiable("emulator".into()))]),
            DrillOutcome::Unverified
        );
        assert_eq!(
            outcome(
                &[&met],
                &[
                    check(Verdict::NotVerifiable("emulator".into())),
                    check(Verdict::Failed)
                ]
            ),
            DrillOutcome::Missed
        );
        let late = Objective::judge(Some(1000.0), 900.0, String::new);
        assert_eq!(
            outcome(&[&late], &[check(Verdict::Passed)]),
            DrillOutcome::Missed
        );
    }
}
