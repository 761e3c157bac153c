use tandem_failover::health::check_health;
use tandem_failover::report::Verdict;
use tandem_failover::signals::FailoverRecord;
use tandem_failover::verify::{capacity_check, dns_check};

use crate::support::*;

fn record(region: &str, primary: bool) -> FailoverRecord {
    FailoverRecord {
        set_identifier: format!("app-{region}"),
        primary,
        alias_target: Some(format!("{region}.elb.test")),
        health_check_id: None,
    }
}

#[tokio::test]
async fn dns_read_back_from_route53_with_the_secondary_deleted_fails() {
    let h = Harness::deployed().await;
    let state = h.state();
    let east_down = |r: &str| r != EAST;
    let cloud = h.cloud_view();
    // Both records: the SECONDARY answers while the PRIMARY is down.
    let ok = dns_check(&cloud, &state, &regions(), WEST, &east_down).await;
    assert_eq!(ok.verdict, Verdict::Passed, "{ok:?}");
    assert_eq!(
        ok.source.unwrap().to_string(),
        "route53:ListResourceRecordSets in global"
    );
    assert!(
        ok.observed.contains("no DNS data plane here"),
        "{}",
        ok.observed
    );
    // The SECONDARY deleted in the cloud.
    *h.signals.records.lock().unwrap() = Some(vec![record(EAST, true)]);
    let bad = dns_check(&cloud, &state, &regions(), WEST, &east_down).await;
    assert_eq!(bad.verdict, Verdict::Failed, "{bad:?}");
    assert!(
        bad.observed.contains("SECONDARY missing"),
        "{}",
        bad.observed
    );
}

#[tokio::test]
async fn dns_from_the_data_plane_is_mapped_to_a_region_by_its_load_balancer() {
    let h = Harness::deployed().await;
    let state = h.state();
    let cloud = h.cloud_view();
    *h.signals.dns.lock().unwrap() = Some(vec!["10.0.0.2".parse().unwrap()]);
    let c = dns_check(&cloud, &state, &regions(), WEST, &|_| true).await;
    assert_eq!(c.verdict, Verdict::Passed, "{c:?}");
    assert!(
        c.observed.contains("10.0.0.2 (us-west-2)"),
        "{}",
        c.observed
    );
    *h.signals.dns.lock().unwrap() = Some(vec!["10.0.0.1".parse().unwrap()]);
    let c = dns_check(&cloud, &state, &regions(), WEST, &|_| true).await;
    assert_eq!(
        c.verdict,
        Verdict::Failed,
        "the data plane still answers the old region"
    );
    *h.signals.dns.lock().unwrap() = Some(vec!["192.0.2.9".parse().unwrap()]);
    let c = dns_check(&cloud, &state, &regions(), WEST, &|_| true).await;
    assert_eq!(c.verdict, Verdict::Failed);
    assert!(
        c.observed.contains("no load balancer of the stack"),
        "{}",
        c.observed
    );
}

#[tokio::test]
async fn capacity_is_read_through_the_provider() {
    let h = Harness::deployed().await;
    let state = h.state();
    let cloud = h.cloud_view();
    let east = capacity_check(&cloud, &state, EAST).await;
    assert_eq!(east.verdict, Verdict::Passed, "{east:?}");
    let west = capacity_check(&cloud, &state, WEST).await;
    assert_eq!(west.verdict, Verdict::Failed, "the standby runs 1, not 2");
    assert!(
        west.observed.contains("desired capacity 1"),
        "{}",
        west.observed
    );

    // The recorded group deleted behind Tandem's back: failed, and said so (not "capacity 0").
    let gone = cloud.topology.capacity(WEST);
    let record = &state.resources[&gone];
    let ctx = tandem_engine::OpContext {
        addr: gone.clone(),
        stack: "fake".into(),
        env: "test".into(),
        token: "test-delete".into(),
    };
    h.providers
        .get(gone.kind())
        .unwrap()
        .delete(&ctx, &record.id, &record.inputs)
        .await
        .unwrap();
    let west = capacity_check(&cloud, &state, WEST).await;
    assert_eq!(west.verdict, Verdict::Failed, "{west:?}");
    assert!(
        west.observed.contains("no Auto Scaling group") && !west.observed.contains("capacity 0"),
        "{}",
        west.observed
    );
}

#[tokio::test]
async fn health_is_the_probes_and_route53_where_it_gives_a_verdict() {
    let h = Harness::deployed().await;
    let state = h.state();
    let p = tandem_failover::context::posture_of(&state, &regions()).unwrap();
    let cloud = h.cloud_view();
    let r = check_health(&cloud, &state, &p, &regions(), 3).await;
    assert!(r.active_is_healthy());
    assert!(
        r.regions[0].route53.verdict.value().is_none(),
        "no deployed check id: not measured"
    );
    h.probe.down.lock().unwrap().insert(EAST.into());
    let r = check_health(&cloud, &state, &p, &regions(), 3).await;
    assert!(!r.active_is_healthy());
    assert_eq!(r.regions[0].probes.probes.len(), 3);
    h.probe.down.lock().unwrap().clear();
    *h.signals.route53.lock().unwrap() = Some(false);
    let r = check_health(&cloud, &state, &p, &regions(), 1).await;
    // The fake stack's health checks have ids (the fake cloud's): Route 53's verdict counts.
    assert_eq!(r.regions[0].route53.verdict.value(), Some(&false));
    assert!(
        !r.active_is_healthy(),
        "Route 53 saying unhealthy makes the active region unhealthy"
    );
}
