use tandem_core::Value;
use tandem_failover::Topology;
use tandem_failover::context::Slice;
use tandem_failover::failover::{FailoverRequest, failover, preflight, resume_deferred};
use tandem_failover::report::{PhaseOutcome, Verdict};
use tandem_failover::signals::{DbRole, DbState, Reading, Source};
use tandem_failover::{Aspect, ControlPlane, FailoverError, Phase, Transition, TransitionKind};

use crate::support::*;

/// A failover to the west as a run saves it before its first phase: the target posture, with the
/// transition under way.
fn started_failover(h: &Harness) -> (tandem_engine::State, tandem_failover::Posture) {
    let mut state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let mut target = tandem_failover::failover::target_posture(
        &Default::default(),
        &h.topology,
        &state,
        &p,
        WEST,
        false,
    )
    .unwrap();
    target.transition = Some(Transition::new(
        TransitionKind::Failover,
        EAST,
        WEST,
        "T",
        false,
    ));
    h.context(&[]).save_posture(&mut state, &target).unwrap();
    (state, target)
}

fn request() -> FailoverRequest {
    FailoverRequest {
        to: None,
        drill: false,
        force: false,
        rpo_minutes: 5,
    }
}

#[tokio::test]
async fn a_failover_promotes_reads_the_writer_back_fences_scales_and_swaps() {
    let h = Harness::deployed().await;
    *h.signals.lag.lock().unwrap() = Some(0.4);
    let ctx = h.context(&[]);
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let pre = preflight(&ctx, &state, &p, WEST).await;
    let (_, report) = failover(&ctx, state, &request(), &pre).await.unwrap();

    let phases: Vec<Phase> = report.phases.iter().map(|p| p.phase).collect();
    assert_eq!(
        phases,
        [
            Phase::Promote,
            Phase::Fence,
            Phase::Scale,
            Phase::Dns,
            Phase::Replication,
            Phase::Converge
        ]
    );
    assert!(
        report.phases.iter().all(|p| p.outcome.is_complete()),
        "{:?}",
        report.phases
    );
    assert_eq!(report.writer.verdict, Verdict::Passed);
    assert_eq!(
        report
            .writer
            .source
            .as_ref()
            .map(|s| s.to_string())
            .as_deref(),
        Some("rds:DescribeDBInstances in us-west-2"),
        "the verdict says what it read, from where"
    );
    assert_eq!(report.fenced.len(), 1);
    assert_eq!(report.fenced[0].verdict, Verdict::Passed);
    assert_eq!(report.recovery_point.seconds(), Some(0.4));
    assert!(report.recovery_point.age_seconds.unwrap() >= 30.0);
    // The cloud: replica promoted, old writer fenced, west serving, records swapped.
    let promoted = h.live(WEST, "rds:DbReadReplica", "app-db-replica").unwrap();
    assert_eq!(promoted.get("promoted"), Some(&Value::Bool(true)));
    let old = h.live(EAST, "rds:DbInstance", "app-db").unwrap();
    assert_eq!(old.get("fenced"), Some(&Value::Bool(true)));
    let cap = |r| {
        h.live(r, "autoscaling:GroupCapacity", "app")
            .unwrap()
            .get("desired_capacity")
            .cloned()
    };
    assert_eq!(
        (cap(WEST), cap(EAST)),
        (Some(Value::Int(2)), Some(Value::Int(1)))
    );
    let records = h.live("global", "route53:RecordSet", "app").unwrap();
    assert_eq!(records.get("primary"), Some(&Value::str(WEST)));
    assert!(report.posture.transition.is_none() && report.posture.deferred.is_empty());
}

#[tokio::test]
async fn a_promotion_the_cloud_does_not_confirm_stops_before_the_fence() {
    let h = Harness::deployed().await;
    h.signals.set_role(
        "db-app-db-replica",
        Reading::read(
            DbState {
                role: DbRole::Replica {
                    source: "db-app-db".into(),
                },
                status: "available".into(),
            },
            Source::new("rds:DescribeDBInstances", WEST),
        ),
    );
    let ctx = h.context(&[]);
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let pre = preflight(&ctx, &state, &p, WEST).await;
    let e = failover(&ctx, state, &request(), &pre).await.unwrap_err();
    assert!(
        matches!(&e, FailoverError::Phase { phase: Phase::Promote, message } if message.contains("still a replica")),
        "{e}"
    );
    let old = h.live(EAST, "rds:DbInstance", "app-db").unwrap();
    assert_eq!(
        old.get("fenced"),
        Some(&Value::Bool(false)),
        "nothing was fenced"
    );
    // The transition is recorded, promote not done: a rerun resumes there.
    let t = tandem_failover::context::posture_of(&h.state(), &regions())
        .unwrap()
        .transition
        .unwrap();
    assert!(!t.is_done(Phase::Promote));
}

#[tokio::test]
async fn a_writer_the_cloud_cannot_tell_is_not_verifiable_never_passed() {
    let h = Harness::deployed().await;
    h.signals.set_role(
        "db-app-db-replica",
        Reading::NotVerifiable {
            why: "the emulator keeps ReadReplicaSourceDBInstanceIdentifier".into(),
        },
    );
    let ctx = h.context(&[]);
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let pre = preflight(&ctx, &state, &p, WEST).await;
    let (_, report) = failover(&ctx, state, &request(), &pre).await.unwrap();
    assert!(
        matches!(report.writer.verdict, Verdict::NotVerifiable(_)),
        "{:?}",
        report.writer
    );
    assert!(!report.writer.verdict.passed());
}

#[tokio::test]
async fn the_preflight_refuses_a_lag_beyond_the_rpo_and_an_unhealthy_standby() {
    let h = Harness::deployed().await;
    *h.signals.lag.lock().unwrap() = Some(900.0);
    let ctx = h.context(&[]);
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let pre = preflight(&ctx, &state, &p, WEST).await;
    let e = failover(&ctx, state.clone(), &request(), &pre)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("replica lag 900 s exceeds the RPO of 5 min"),
        "{e}"
    );
    *h.signals.lag.lock().unwrap() = None;
    h.probe.down.lock().unwrap().insert(WEST.into());
    let pre = preflight(&ctx, &state, &p, WEST).await;
    let e = failover(&ctx, state, &request(), &pre).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("the standby us-west-2 is not healthy"),
        "{e}"
    );
}

#[tokio::test]
async fn with_the_old_region_down_its_changes_are_deferred_then_resumed() {
    let h = Harness::deployed().await;
    let east = ControlPlane::Region(EAST.into());
    let ctx = h.context(&[east.clone(), ControlPlane::Route53]);
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let pre = preflight(&ctx, &state, &p, WEST).await;
    let (state, report) = failover(&ctx, state, &request(), &pre).await.unwrap();
    let deferred: Vec<Aspect> = report.posture.deferred.iter().map(|d| d.aspect).collect();
    assert!(
        deferred.contains(&Aspect::Fence) && deferred.contains(&Aspect::Dns),
        "{deferred:?}"
    );
    let dns = report
        .phases
        .iter()
        .find(|p| p.phase == Phase::Dns)
        .unwrap();
    assert!(
        matches!(
            dns.outcome,
            PhaseOutcome::Deferred {
                waits_for: ControlPlane::Route53,
                ..
            }
        ),
        "{:?}",
        dns.outcome
    );
    assert!(matches!(report.fenced[0].verdict, Verdict::NotMeasured(_)));
    assert_eq!(
        h.live(EAST, "rds:DbInstance", "app-db")
            .unwrap()
            .get("fenced"),
        Some(&Value::Bool(false)),
        "nothing was attempted in the region that does not answer"
    );
    // Back: the deferred work completes.
    let ctx = h.context(&[]);
    let (_, phases, still) = resume_deferred(&ctx, state).await.unwrap();
    assert!(still.is_empty(), "{still:?}");
    assert!(!phases.is_empty());
    assert_eq!(
        h.live(EAST, "rds:DbInstance", "app-db")
            .unwrap()
            .get("fenced"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        h.live("global", "route53:RecordSet", "app")
            .unwrap()
            .get("primary"),
        Some(&Value::str(WEST))
    );
}

#[tokio::test]
async fn a_failover_killed_before_its_fence_resumes_with_the_old_region_down_and_defers_the_fence()
{
    let h = Harness::deployed().await;
    // The killed run: the target saved, the promotion done, then killed.
    let (mut state, mut target) = started_failover(&h);
    let ctx = h.context(&[]);
    let writer = h.topology.database(&target.db.writer);
    ctx.phase(
        Phase::Promote,
        &mut state,
        &mut target,
        Slice::Addresses(vec![writer]),
    )
    .await
    .unwrap();
    target
        .transition
        .as_mut()
        .unwrap()
        .mark_done(Phase::Promote);
    ctx.save_posture(&mut state, &target).unwrap();
    // Rerun with the old region cut off.
    let ctx = h.context(&[ControlPlane::Region(EAST.into())]);
    let pre = preflight(&ctx, &state, &target, WEST).await;
    let (_, report) = failover(&ctx, state, &request(), &pre).await.unwrap();
    assert!(report.resumed);
    assert_eq!(report.phases[0].outcome, PhaseOutcome::DoneBefore);
    let fence = &report.phases[1];
    assert!(
        matches!(&fence.outcome, PhaseOutcome::Deferred { waits_for: ControlPlane::Region(r), changes: 1 } if r == EAST),
        "{:?}",
        fence.outcome
    );
    let deferred = report
        .posture
        .deferred_for(Aspect::Fence)
        .expect("the fence waits");
    assert_eq!(deferred.waits_for, ControlPlane::Region(EAST.into()));
    assert!(
        report.posture.transition.is_none(),
        "the failover completed what it could"
    );
}

#[tokio::test]
async fn a_failback_in_progress_is_not_resumed_by_failover() {
    let h = Harness::deployed().await;
    let mut state = h.state();
    let mut p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    p.transition = Some(Transition::new(
        TransitionKind::Failback,
        WEST,
        EAST,
        "T",
        false,
    ));
    let ctx = h.context(&[]);
    ctx.save_posture(&mut state, &p).unwrap();
    let pre = preflight(&ctx, &state, &p, WEST).await;
    let e = failover(&ctx, state, &request(), &pre).await.unwrap_err();
    assert!(
        e.to_string().contains("run `tandem failback` to finish it"),
        "{e}"
    );
}

#[tokio::test]
async fn a_resumed_failover_defers_replication_while_its_destination_does_not_answer() {
    let h = Harness::deployed().await;
    // Started while every region answered...
    let (state, target) = started_failover(&h);
    // ...resumed once the old region is gone.
    let ctx = h.context(&[ControlPlane::Region(EAST.into())]);
    let pre = preflight(&ctx, &state, &target, WEST).await;
    let (_, report) = failover(&ctx, state, &request(), &pre).await.unwrap();
    let replication = report
        .phases
        .iter()
        .find(|p| p.phase == Phase::Replication)
        .unwrap();
    assert!(
        matches!(&replication.outcome, PhaseOutcome::Deferred { waits_for: ControlPlane::Region(r), .. } if r == EAST),
        "{:?}",
        replication.outcome
    );
    assert!(report.posture.is_deferred(Aspect::Replication));
    assert!(
        h.live(EAST, "s3:BucketReplication", "assets").is_some(),
        "replication still runs from the old region until it answers"
    );
}
