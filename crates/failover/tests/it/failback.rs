use std::time::Duration;

use tandem_core::Value;
use tandem_failover::failback::{FailbackWaits, failback, planned_steps};
use tandem_failover::failover::{FailoverRequest, failover, preflight};
use tandem_failover::report::Verdict;
use tandem_failover::{FailoverError, Phase, TransformError};

use crate::support::*;

async fn failed_over(h: &Harness) {
    let ctx = h.context(&[]);
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let pre = preflight(&ctx, &state, &p, WEST).await;
    let request = FailoverRequest {
        to: None,
        drill: false,
        force: false,
        rpo_minutes: 5,
    };
    failover(&ctx, state, &request, &pre).await.unwrap();
}

fn waits() -> FailbackWaits {
    FailbackWaits {
        catch_up: Duration::from_millis(200),
        drain: Duration::from_millis(200),
        poll: Duration::from_millis(20),
    }
}

#[tokio::test]
async fn a_failback_rebuilds_quiesces_switches_and_deletes_the_fenced_writers() {
    let h = Harness::deployed().await;
    failed_over(&h).await;
    let ctx = h.context(&[]);
    let (_, report) = failback(&ctx, h.state(), &waits()).await.unwrap();
    let phases: Vec<Phase> = report.phases.iter().map(|p| p.phase).collect();
    assert_eq!(
        phases,
        [
            Phase::RebuildReplica,
            Phase::ScaleUp,
            Phase::Quiesce,
            Phase::Scale,
            Phase::Promote,
            Phase::Fence,
            Phase::Dns,
            Phase::Replication,
            Phase::Converge
        ]
    );
    assert_eq!(report.to, EAST);
    assert_eq!(report.writer.as_ref().unwrap().verdict, Verdict::Passed);
    assert!(report.kept.is_empty());
    assert!(
        report.drained.value().is_none(),
        "the fake reports no lag: said, not assumed"
    );
    assert!(
        h.live(EAST, "rds:DbInstance", "app-db").is_none(),
        "the stale writer went"
    );
    assert!(
        h.live(WEST, "rds:DbReadReplica", "app-db-replica")
            .is_none()
    );
    let writer = h.live(EAST, "rds:DbReadReplica", "app-db-g2").unwrap();
    assert_eq!(writer.get("promoted"), Some(&Value::Bool(true)));
    assert!(
        h.live(WEST, "rds:DbReadReplica", "app-db-g3").is_some(),
        "a new replica"
    );
}

#[tokio::test]
async fn a_protected_environment_keeps_its_former_writers_and_says_so() {
    let mut h = Harness::deployed().await;
    failed_over(&h).await;
    h.topology.protected = true;
    let ctx = h.context(&[]);
    let (_, report) = failback(&ctx, h.state(), &waits()).await.unwrap();
    let kept: Vec<&str> = report.kept.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(kept, ["app-db", "app-db-replica"]);
    assert!(h.live(EAST, "rds:DbInstance", "app-db").is_some());
}

#[tokio::test]
async fn a_replica_that_does_not_catch_up_stops_the_failback_before_the_switch() {
    let h = Harness::deployed().await;
    failed_over(&h).await;
    *h.signals.lag.lock().unwrap() = Some(120.0);
    let ctx = h.context(&[]);
    let e = failback(&ctx, h.state(), &waits()).await.unwrap_err();
    assert!(e.to_string().contains("still lags 120 s"), "{e}");
    let p = tandem_failover::context::posture_of(&h.state(), &regions()).unwrap();
    assert_eq!(p.active_region, WEST, "nothing switched");
    assert!(p.quiesced.is_none(), "writes were not stopped");
}

#[tokio::test]
async fn failback_plan_has_three_steps_and_nothing_on_a_fresh_deploy() {
    let h = Harness::deployed().await;
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    assert!(
        planned_steps(&h.topology, &state, &p, EAST)
            .unwrap()
            .is_none()
    );
    failed_over(&h).await;
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let steps = planned_steps(&h.topology, &state, &p, EAST)
        .unwrap()
        .unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[2].1.active_region, EAST);
    let ctx = h.context(&[]);
    let e = failback(&ctx, h.state(), &waits()).await;
    assert!(e.is_ok());
    let e = failback(&ctx, h.state(), &waits()).await.unwrap_err();
    assert!(
        matches!(
            e,
            FailoverError::Transform(TransformError::NotFailedOver(_))
        ),
        "{e}"
    );
}
