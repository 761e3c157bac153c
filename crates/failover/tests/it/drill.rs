use std::sync::Arc;
use std::time::Duration;

use tandem_failover::drill::{DrillConfig, drill};
use tandem_failover::report::{CheckKind, Objective, Verdict};
use tandem_failover::signals::{FailoverRecord, Reading};
use tandem_failover::timed::CloudClock;
use tandem_failover::{ControlPlane, DrillOutcome};

use crate::support::*;

/// Drills the harness's stack with the fake outage simulator.
async fn drill_once(
    h: &Harness,
) -> Result<
    (tandem_engine::State, tandem_failover::drill::DrillReport),
    tandem_failover::FailoverError,
> {
    let outage = FakeOutage {
        probe: &h.probe,
        signals: &h.signals,
        fail: false,
    };
    let mut ctx = h.context(&[]);
    drill(
        &mut ctx,
        h.state(),
        &outage,
        &config(),
        Arc::new(CloudClock::default()),
    )
    .await
}

fn config() -> DrillConfig {
    DrillConfig {
        interval: Duration::from_millis(10),
        threshold: 2,
        rto_minutes: 15,
        rpo_minutes: 5,
        detection_limit: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_drill_measures_each_check_and_an_unmeasured_rpo_is_unverified() {
    let h = Harness::deployed().await;
    let (state, report) = drill_once(&h).await.unwrap();
    assert_eq!((report.from.as_str(), report.to.as_str()), (EAST, WEST));
    assert!(
        report.detected_by.contains("probes"),
        "{}",
        report.detected_by
    );
    assert!(matches!(report.rto, Objective::Met { .. }));
    assert!(
        matches!(report.rpo, Objective::Unverified { .. }),
        "{:?}",
        report.rpo
    );
    assert_eq!(report.outcome, DrillOutcome::Unverified);
    let kinds: Vec<CheckKind> = report.checks.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            CheckKind::DatabaseWritable,
            CheckKind::FormerWriterFenced,
            CheckKind::DnsAnswer,
            CheckKind::StandbyScaled
        ]
    );
    // The old region was cut off: its fence waited, and was completed after the restore.
    assert!(
        report
            .deferred
            .iter()
            .any(|d| d.waits_for == ControlPlane::Region(EAST.into()))
    );
    assert!(report.still_deferred.is_empty());
    assert!(!report.resumed.is_empty());
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    assert_eq!(p.last_drill.unwrap().outcome, DrillOutcome::Unverified);
    assert!(p.simulated_outage.is_none());
    // With a measured lag, everything is met.
    let h = Harness::deployed().await;
    *h.signals.lag.lock().unwrap() = Some(0.2);
    let (_, report) = drill_once(&h).await.unwrap();
    assert!(
        report.checks.iter().all(|c| c.verdict == Verdict::Passed),
        "{:?}",
        report.checks
    );
    assert_eq!(report.outcome, DrillOutcome::Met);
}

#[tokio::test]
async fn a_drill_whose_promotion_the_cloud_cannot_tell_is_not_reported_writable() {
    let h = Harness::deployed().await;
    *h.signals.lag.lock().unwrap() = Some(0.2);
    h.signals.set_role(
        "db-app-db-replica",
        Reading::NotVerifiable {
            why: "the emulator keeps the source".into(),
        },
    );
    let (_, report) = drill_once(&h).await.unwrap();
    assert!(matches!(
        report.checks[0].verdict,
        Verdict::NotVerifiable(_)
    ));
    assert_eq!(report.outcome, DrillOutcome::Unverified);
}

#[tokio::test]
async fn a_drill_with_the_secondary_record_gone_misses() {
    let h = Harness::deployed().await;
    *h.signals.lag.lock().unwrap() = Some(0.2);
    *h.signals.records.lock().unwrap() = Some(vec![FailoverRecord {
        set_identifier: format!("app-{EAST}"),
        primary: true,
        alias_target: Some(format!("{EAST}.elb.test")),
        health_check_id: None,
    }]);
    let (_, report) = drill_once(&h).await.unwrap();
    let dns = report
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::DnsAnswer)
        .unwrap();
    assert_eq!(dns.verdict, Verdict::Failed, "{dns:?}");
    assert_eq!(report.outcome, DrillOutcome::Missed);
}

#[tokio::test]
async fn a_drill_whose_failover_is_refused_undoes_its_outage() {
    let h = Harness::deployed().await;
    *h.signals.lag.lock().unwrap() = Some(9000.0);
    let e = drill_once(&h).await.unwrap_err();
    assert!(
        e.to_string().contains("exceeds the RPO") && e.to_string().contains("was undone"),
        "{e}"
    );
    assert!(
        h.probe.down.lock().unwrap().is_empty(),
        "the region is back"
    );
    let p = tandem_failover::context::posture_of(&h.state(), &regions()).unwrap();
    assert!(p.simulated_outage.is_none());
    assert_eq!(p.active_region, EAST);
}

#[tokio::test]
async fn an_outage_the_simulator_cannot_make_is_not_recorded() {
    let h = Harness::deployed().await;
    let outage = FakeOutage {
        probe: &h.probe,
        signals: &h.signals,
        fail: true,
    };
    let ctx = h.context(&[]);
    let mut state = h.state();
    let e = tandem_failover::outage::simulate_outage(&ctx, &mut state, &outage, None, false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("could not be simulated"), "{e}");
    let p = tandem_failover::context::posture_of(&h.state(), &regions()).unwrap();
    assert!(p.simulated_outage.is_none());
}
