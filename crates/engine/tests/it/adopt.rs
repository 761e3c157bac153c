//! Nothing made twice, nothing forgotten: a create adopts what its kind's names or tags identify,
//! a create that failed after making its resource records it, a replacement that keeps its name
//! deletes the old one first, and a replaced resource is deleted only after what used it changed.

use std::sync::atomic::Ordering;

use tandem_core::{ResourceDecl, Value};
use tandem_engine::provider::Identity;
use tandem_engine::state::deposed_origin;
use tandem_engine::testing::FakeCloud;
use tandem_engine::{Action, Providers};

use crate::support::*;

/// Kinds like the AWS ones: a database named by its identifier, a health check found by its
/// tags, a hosted zone named by its domain and its records by zone and name.
fn aws_like(cloud: &std::sync::Arc<FakeCloud>) -> Providers {
    Providers::new()
        .with(cloud.provider_with(
            "rds:DbInstance",
            &["engine", "identifier"],
            Identity::Named(&["identifier"]),
        ))
        .with(cloud.provider_with(
            "rds:DbReadReplica",
            &["source"],
            Identity::Named(&["identifier"]),
        ))
        .with(cloud.provider_with("route53:HealthCheck", &["type"], Identity::Tagged))
        .with(cloud.provider_with("route53:Zone", &["domain"], Identity::Named(&["domain"])))
        .with(cloud.provider_with(
            "route53:Record",
            &["zone_id", "name"],
            Identity::Named(&["zone_id", "name"]),
        ))
        .with(cloud.provider("x:Thing", &[]))
}

fn home(dir: &std::path::Path) -> Home {
    let mut home = Home::in_memory(dir);
    home.providers = aws_like(&home.cloud);
    home
}

/// The resources the cloud holds of `kind` whose `prop` is `value`.
fn held(home: &Home, kind: &str, prop: &str, value: &str) -> usize {
    home.cloud
        .resources()
        .iter()
        .filter(|(_, a, p)| a.kind() == kind && p.get(prop) == Some(&Value::str(value)))
        .count()
}

/// Whether the cloud holds the resource `id`.
fn exists(home: &Home, id: &str) -> bool {
    home.cloud.resources().iter().any(|(i, _, _)| i == id)
}

fn databases() -> Vec<ResourceDecl> {
    vec![
        decl("us-east-1/rds:DbInstance/primary")
            .input("identifier", "app-primary")
            .input("engine", "postgres"),
        decl("us-west-2/rds:DbReadReplica/replica")
            .input("identifier", "app-replica")
            .input("source", out("us-east-1/rds:DbInstance/primary", "arn")),
    ]
}

/// Removes `addrs` from the saved state, as `tandem state rm` does.
fn state_rm(home: &Home, addrs: &[&str]) {
    let mut state = home.state();
    for a in addrs {
        state.resources.remove(&addr(a));
    }
    state.serial += 1;
    home.store.save(&state).expect("save");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_that_keeps_its_identifier_deletes_first_and_leaves_the_replica() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    let v = |primary: &str| {
        stack(vec![
            decl("us-east-1/rds:DbInstance/primary")
                .input("identifier", primary)
                .input("engine", "postgres"),
            decl("us-west-2/rds:DbReadReplica/replica")
                .input("identifier", "app-replica")
                .input("source", out("us-east-1/rds:DbInstance/primary", "arn")),
        ])
    };
    assert!(home.up(&v("app-primary"), 4).await.succeeded());

    // A new primary (another identifier): the replica must follow it, under the same name.
    let desired = v("app-primary-2");
    let plan = home.plan(&desired);
    let replica = plan
        .changes()
        .find(|c| c.addr == addr("us-west-2/rds:DbReadReplica/replica"))
        .expect("the replica is planned");
    assert_eq!(replica.action, Action::ReplaceDeleteFirst);
    let report = home.up(&desired, 4).await;
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(
        held(&home, "rds:DbReadReplica", "identifier", "app-replica"),
        1
    );
    let state = home.state();
    let replica = &state.resources[&addr("us-west-2/rds:DbReadReplica/replica")];
    let primary = &state.resources[&addr("us-east-1/rds:DbInstance/primary")];
    assert_eq!(replica.inputs["source"], primary.outputs["arn"]);
    assert!(
        exists(&home, &replica.id),
        "the replica the state records exists"
    );
    assert!(!home.plan(&desired).has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_primary_record_was_removed_is_kept_when_the_primary_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    let desired = stack(databases());
    assert!(home.up(&desired, 4).await.succeeded());
    state_rm(&home, &["us-east-1/rds:DbInstance/primary"]);
    home.cloud.calls.lock().unwrap().clear();

    let plan = home.plan(&desired);
    let replica = plan
        .changes()
        .find(|c| c.addr == addr("us-west-2/rds:DbReadReplica/replica"))
        .expect("the replica is planned");
    assert_eq!(replica.action, Action::ReplaceDeleteFirst);
    assert!(
        replica
            .replace_reasons
            .iter()
            .any(|r| r.contains("`identifier`") && r.contains("deleted first")),
        "{:?}",
        replica.replace_reasons
    );

    let report = home.up(&desired, 4).await;
    assert!(report.succeeded(), "{:?}", report.results);
    // The primary is adopted with its ARN: the replica's source is unchanged after all, and the
    // replica is neither deleted nor made again.
    let calls = home.cloud.calls.lock().unwrap().clone();
    assert!(calls.is_empty(), "{calls:?}");
    assert_eq!(
        held(&home, "rds:DbReadReplica", "identifier", "app-replica"),
        1
    );
    assert_eq!(
        held(&home, "rds:DbInstance", "identifier", "app-primary"),
        1
    );
    let state = home.state();
    let recorded = &state.resources[&addr("us-west-2/rds:DbReadReplica/replica")].id;
    assert!(
        exists(&home, recorded),
        "the replica the state records exists"
    );
    assert!(!home.plan(&desired).has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_fails_after_making_its_resource_records_it_and_the_next_run_adopts() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    let desired = stack(vec![
        decl("global/route53:HealthCheck/primary")
            .input("type", "HTTPS")
            .input("port", 443),
    ]);
    home.cloud.fail_after_create_on("primary");
    let report = home.up(&desired, 4).await;
    assert!(!report.succeeded());
    let failure = report.failures().next().expect("the create failed");
    assert!(
        matches!(&failure.outcome, tandem_engine::Outcome::Failed(m) if m.contains("is recorded in the state")),
        "{failure:?}"
    );
    let hc = addr("global/route53:HealthCheck/primary");
    assert!(home.state().resources.contains_key(&hc), "recorded");

    home.cloud.fail_after_create.lock().unwrap().clear();
    let report = home.up(&desired, 4).await;
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(home.cloud.count(&hc), 1, "not created a second time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_outcome_cannot_be_read_stays_open_and_the_next_run_adopts() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    // Found only by the token of its create: only the reconciliation of that create adopts it.
    let desired = stack(vec![decl("us-east-1/x:Thing/check").input("size", 1)]);
    home.cloud.fail_after_create_on("check");
    home.cloud.fail_find_on("check");
    let report = home.up(&desired, 4).await;
    assert!(!report.succeeded());
    let state = home.state();
    assert_eq!(
        state.unreconciled.len(),
        1,
        "the create's intent stays open"
    );

    home.cloud.fail_after_create.lock().unwrap().clear();
    home.cloud.fail_find.lock().unwrap().clear();
    let report = home.up(&desired, 4).await;
    assert!(report.succeeded(), "{:?}", report.results);
    let thing = addr("us-east-1/x:Thing/check");
    assert_eq!(home.cloud.count(&thing), 1, "not created a second time");
    assert!(home.state().resources.contains_key(&thing));
    assert!(home.state().unreconciled.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_state_adopts_what_names_and_tags_identify() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    let mut decls = databases();
    decls.push(decl("global/route53:HealthCheck/primary").input("type", "HTTPS"));
    let desired = stack(decls);
    assert!(home.up(&desired, 4).await.succeeded());
    let before = home.state();
    let all: Vec<String> = before.resources.keys().map(|a| a.to_string()).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    state_rm(&home, &all);
    home.cloud.calls.lock().unwrap().clear();

    let report = home.up(&desired, 4).await;
    assert!(report.succeeded(), "{:?}", report.results);
    let calls = home.cloud.calls.lock().unwrap().clone();
    assert!(
        !calls.iter().any(|c| c.starts_with("create")),
        "nothing created again: {calls:?}"
    );
    assert_eq!(home.cloud.resources().len(), 3);
    let after = home.state();
    for (a, r) in &before.resources {
        assert_eq!(after.resources[a].id, r.id, "{a} adopted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_resource_is_brought_to_the_program_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    let v = |size: i64| {
        stack(vec![
            decl("us-east-1/rds:DbInstance/primary")
                .input("identifier", "app-primary")
                .input("engine", "postgres")
                .input("size", size),
        ])
    };
    assert!(home.up(&v(1), 4).await.succeeded());
    state_rm(&home, &["us-east-1/rds:DbInstance/primary"]);
    home.cloud.calls.lock().unwrap().clear();

    let report = home.up(&v(2), 4).await;
    assert!(report.succeeded(), "{:?}", report.results);
    let calls = home.cloud.calls.lock().unwrap().clone();
    assert_eq!(calls, ["update us-east-1/rds:DbInstance/primary"]);
    let db = addr("us-east-1/rds:DbInstance/primary");
    assert_eq!(home.state().resources[&db].inputs["size"], Value::from(2));
    assert_eq!(home.cloud.count(&db), 1);
}

fn zone(domain: &str) -> Vec<ResourceDecl> {
    vec![
        decl("global/route53:Zone/main").input("domain", domain),
        decl("us-east-1/route53:Record/www")
            .input("zone_id", out("global/route53:Zone/main", "id"))
            .input("name", format!("www.{domain}")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_zone_is_deleted_after_its_records_in_a_later_wave_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    assert!(home.up(&stack(zone("one.example")), 4).await.succeeded());
    home.cloud
        .refuse_delete_in_use
        .store(true, Ordering::SeqCst);

    let desired = stack(zone("two.example"));
    let report = home.up(&desired, 4).await;
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(held(&home, "route53:Zone", "domain", "one.example"), 0);
    assert_eq!(held(&home, "route53:Zone", "domain", "two.example"), 1);
    assert_eq!(home.cloud.resources().len(), 2);
    let state = home.state();
    assert!(
        state.resources.keys().all(|a| deposed_origin(a).is_none()),
        "nothing left deposed: {:?}",
        state.resources.keys().collect::<Vec<_>>()
    );
    assert!(!home.plan(&desired).has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_resource_that_cannot_be_deleted_stays_in_the_state_until_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    let v = |domain: &str| {
        stack(vec![
            decl("global/route53:Zone/main").input("domain", domain),
            decl("global/x:Thing/user"),
        ])
    };
    assert!(home.up(&v("one.example"), 4).await.succeeded());
    let old = home.state().resources[&addr("global/route53:Zone/main")]
        .id
        .clone();
    // Something outside the stack still uses the old zone.
    let outsider = addr("global/x:Thing/outsider");
    let thing = home.providers.get("x:Thing").unwrap().clone();
    let ctx = tandem_engine::OpContext {
        addr: outsider.clone(),
        stack: STACK.into(),
        env: ENV.into(),
        token: "t".into(),
    };
    let mut props = tandem_core::Props::new();
    props.insert("zone".into(), Value::str(&old));
    let made = thing.create(&ctx, &props).await.unwrap();
    home.cloud
        .refuse_delete_in_use
        .store(true, Ordering::SeqCst);

    let desired = v("two.example");
    let report = home.up(&desired, 4).await;
    assert!(!report.succeeded());
    let state = home.state();
    let deposed: Vec<_> = state
        .resources
        .iter()
        .filter(|(a, _)| deposed_origin(a).is_some())
        .collect();
    assert_eq!(deposed.len(), 1, "the old zone is kept in the state");
    assert_eq!(deposed[0].1.id, old);

    // Once nothing uses it, the next apply deletes it.
    thing.delete(&ctx, &made.id, &props).await.unwrap();
    let report = home.up(&desired, 4).await;
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(held(&home, "route53:Zone", "domain", "one.example"), 0);
    assert!(
        home.state()
            .resources
            .keys()
            .all(|a| deposed_origin(a).is_none())
    );
    assert!(!home.plan(&desired).has_changes());
}

#[test]
fn a_replacement_killed_after_its_create_keeps_the_old_resource_for_the_next_apply_to_delete() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    let rt = runtime();
    let v = |domain: &str| {
        stack(vec![
            decl("global/route53:Zone/main").input("domain", domain),
        ])
    };
    assert!(rt.block_on(home.up(&v("one.example"), 2)).succeeded());
    let before = home.state();
    let zone = addr("global/route53:Zone/main");
    let old = before.resources[&zone].id.clone();

    // A run replacing the zone was killed once the new zone was made, before recording it.
    let mut inputs = tandem_core::Props::new();
    inputs.insert("domain".into(), Value::str("two.example"));
    let ctx = tandem_engine::OpContext {
        addr: zone.clone(),
        stack: STACK.into(),
        env: ENV.into(),
        token: "token-1".into(),
    };
    let zones = home.providers.get("route53:Zone").unwrap().clone();
    let made = rt.block_on(zones.create(&ctx, &inputs)).unwrap();
    let paths = home.store.paths(STACK, ENV);
    {
        let journal = tandem_engine::Journal::create(
            &paths.journal,
            tandem_engine::JournalRecord::Begin {
                lineage: before.lineage.clone(),
                base_serial: before.serial,
                operation: "apply".into(),
                secret_key: None,
            },
        )
        .unwrap();
        journal
            .append_blocking(&tandem_engine::JournalRecord::Intent {
                seq: 1,
                addr: zone.clone(),
                op: tandem_engine::OpKind::Create,
                token: "token-1".into(),
                id: None,
                inputs: Some(tandem_core::props_to_json(&inputs)),
                dependencies: Vec::new(),
                protect: false,
                retain_on_delete: false,
            })
            .unwrap();
    }

    let (state, notes) = home.recover().unwrap();
    assert_eq!(state.resources[&zone].id, made.id, "the new zone adopted");
    let kept = state
        .resources
        .iter()
        .find(|(a, _)| deposed_origin(a).as_ref() == Some(&zone))
        .expect("the old zone is kept in the state");
    assert_eq!(kept.1.id, old);
    assert!(
        notes[0]
            .finding
            .contains(&format!("{old}) is kept as {}", kept.0)),
        "{}",
        notes[0].finding
    );

    let desired = v("two.example");
    let report = rt.block_on(home.up(&desired, 2));
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(held(&home, "route53:Zone", "domain", "one.example"), 0);
    assert_eq!(home.cloud.resources().len(), 1);
    assert!(!home.plan(&desired).has_changes());
}
