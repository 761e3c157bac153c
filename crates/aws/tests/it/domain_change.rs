//! Changing the domain through the engine on the local cloud: the old hosted zone is deleted,
//! after its records (replaced in a later, regional wave), never leaked nor forgotten.

use std::sync::Arc;

use tandem_aws::route53::{HostedZoneProvider, RecordSetProvider};
use tandem_aws::s3::BucketProvider;
use tandem_core::{DesiredStack, Region, StackBuilder, Value};
use tandem_engine::state::deposed_origin;
use tandem_engine::{
    ApplyOptions, ApplyReport, LocalStore, PlanConfig, Providers, Silent, State, ops, plan,
};
use tandem_schema::route53::{HostedZone, Record, RecordSet};
use tandem_schema::s3::Bucket;

use crate::{clients, unique, us_east_1};

const STACK: &str = "domain-change";
const ENV: &str = "local";

fn program(bucket: &str, domain: &str) -> DesiredStack {
    let mut stack = StackBuilder::new();
    // A regional resource the record waits for: the record runs in the regional wave, after the
    // global one that has the zone.
    let assets = stack.declare(Bucket::new(&us_east_1(), "assets").unwrap().bucket(bucket));
    let zone = stack.declare(
        HostedZone::new(&Region::Global, "main")
            .unwrap()
            .domain(domain),
    );
    stack.declare(
        tandem_core::ResourceDecl::from(
            RecordSet::new(&Region::Global, "www")
                .unwrap()
                .zone_id(zone.output("zone_id"))
                .name(format!("www.{domain}"))
                .record_type("A")
                .record(Record::simple(60, vec![Value::str("192.0.2.10")])),
        )
        .depends_on(assets.addr()),
    );
    stack.finish().unwrap()
}

async fn up(store: &LocalStore, providers: &Providers, desired: &DesiredStack) -> ApplyReport {
    let lock = store.lock(STACK, ENV, "apply").unwrap();
    let (state, _) = ops::recover(store, &lock, STACK, ENV, providers)
        .await
        .unwrap();
    let config = PlanConfig {
        wave_order: vec!["global".into(), "us-east-1".into()],
    };
    let p = plan(desired, &state, providers, &config).unwrap();
    ops::apply_plan(
        store,
        &lock,
        &p,
        state,
        &desired.outputs,
        providers,
        &ApplyOptions { parallel: 4 },
        Arc::new(Silent),
        "apply",
    )
    .await
    .unwrap()
}

/// The hosted zones of `domain` the local cloud holds.
async fn zones_of(domain: &str) -> usize {
    let r53 = clients().route53().await;
    let out = r53.list_hosted_zones().send().await.unwrap();
    out.hosted_zones()
        .iter()
        .filter(|z| z.name().trim_end_matches('.') == domain)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_domain_deletes_the_old_zone_after_its_records() {
    let providers = Providers::new()
        .with(Arc::new(HostedZoneProvider::new(clients())))
        .with(Arc::new(RecordSetProvider::new(clients())))
        .with(Arc::new(BucketProvider::new(clients())));
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let bucket = unique("dc-assets");
    let old = format!("{}.example.com", unique("old"));
    let new = format!("{}.example.com", unique("new"));

    let first = up(&store, &providers, &program(&bucket, &old)).await;
    assert!(first.succeeded(), "{:?}", first.results);
    assert_eq!(zones_of(&old).await, 1);

    let desired = program(&bucket, &new);
    let second = up(&store, &providers, &desired).await;
    assert!(second.succeeded(), "{:?}", second.results);
    assert_eq!(zones_of(&old).await, 0, "the old zone is deleted");
    assert_eq!(zones_of(&new).await, 1);
    let state: State = store.load(STACK, ENV).unwrap().unwrap();
    assert!(
        state.resources.keys().all(|a| deposed_origin(a).is_none()),
        "nothing left deposed"
    );

    // Clean up: an empty program deletes everything.
    let empty = StackBuilder::new().finish().unwrap();
    let last = up(&store, &providers, &empty).await;
    assert!(last.succeeded(), "{:?}", last.results);
    assert_eq!(zones_of(&new).await, 0);
}
