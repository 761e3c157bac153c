//! The executor against `FakeCloud`: parallelism, failure handling, wave gates, references.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tandem_core::{ResourceDecl, ResourceOptions, Value};
use tandem_engine::{Action, Outcome, StepResult};

use crate::support::*;

fn outcome_of<'a>(results: &'a [StepResult], text: &str) -> &'a Outcome {
    let a = addr(text);
    &results
        .iter()
        .find(|r| r.addr == a)
        .unwrap_or_else(|| panic!("no result for {text}"))
        .outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    home.cloud.set_delay(Duration::from_millis(30));
    let desired =
        stack((0..30).map(|i| decl(&format!("us-east-1/x:Thing/t{i:02}")).input("size", i)));

    let report = home.up(&desired, 4).await;

    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(report.results.len(), 30);
    assert_eq!(home.cloud.peak_in_flight.load(Ordering::SeqCst), 4);
    assert_eq!(home.cloud.resources().len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_skips_its_dependents_and_the_rest_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    home.cloud.fail_on("root");
    let desired = stack(vec![
        decl("us-east-1/x:Thing/root").input("size", 1),
        decl("us-east-1/x:Thing/child").input("on", out("us-east-1/x:Thing/root", "arn")),
        decl("us-east-1/x:Thing/grandchild").input("on", out("us-east-1/x:Thing/child", "arn")),
        decl("us-east-1/x:Thing/other").input("size", 1),
        decl("us-east-1/x:Thing/after-other").input("on", out("us-east-1/x:Thing/other", "arn")),
    ]);

    let report = home.up(&desired, 4).await;

    let r = &report.results;
    assert!(
        matches!(outcome_of(r, "us-east-1/x:Thing/root"), Outcome::Failed(e) if e.contains("injected failure for root"))
    );
    for skipped in ["us-east-1/x:Thing/child", "us-east-1/x:Thing/grandchild"] {
        assert!(
            matches!(outcome_of(r, skipped), Outcome::Skipped(why) if why.contains("us-east-1/x:Thing/root failed")),
            "{skipped}: {:?}",
            outcome_of(r, skipped)
        );
    }
    assert_eq!(outcome_of(r, "us-east-1/x:Thing/other"), &Outcome::Done);
    assert_eq!(
        outcome_of(r, "us-east-1/x:Thing/after-other"),
        &Outcome::Done
    );
    assert_eq!(report.failures().count(), 1);
    assert!(!report.succeeded());
    // The cloud and the saved state hold exactly what was done.
    let held: Vec<String> = home
        .cloud
        .resources()
        .iter()
        .map(|(_, a, _)| a.name().to_string())
        .collect();
    let mut held_sorted = held.clone();
    held_sorted.sort();
    assert_eq!(held_sorted, ["after-other", "other"]);
    let saved: Vec<String> = home
        .state()
        .resources
        .keys()
        .map(|a| a.name().to_string())
        .collect();
    assert_eq!(saved, ["after-other", "other"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_provider_panics_fails_and_skips_its_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    home.cloud.panic_on("root");
    let desired = stack(vec![
        decl("us-east-1/x:Thing/root").input("size", 1),
        decl("us-east-1/x:Thing/child").input("on", out("us-east-1/x:Thing/root", "arn")),
        decl("us-east-1/x:Thing/other").input("size", 1),
    ]);

    let report = home.up(&desired, 4).await;

    let r = &report.results;
    assert!(
        matches!(outcome_of(r, "us-east-1/x:Thing/root"), Outcome::Failed(e) if e.contains("stopped unexpectedly")),
        "{:?}",
        outcome_of(r, "us-east-1/x:Thing/root")
    );
    assert!(
        matches!(outcome_of(r, "us-east-1/x:Thing/child"), Outcome::Skipped(why) if why.contains("us-east-1/x:Thing/root failed")),
        "{:?}",
        outcome_of(r, "us-east-1/x:Thing/child")
    );
    assert_eq!(outcome_of(r, "us-east-1/x:Thing/other"), &Outcome::Done);
    assert!(!report.succeeded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_wave_stops_the_run_before_the_next_region() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    home.cloud.fail_on("east-broken");
    let desired = stack(vec![
        decl("global/x:Thing/edge").input("size", 1),
        decl("us-east-1/x:Thing/east-ok").input("size", 1),
        decl("us-east-1/x:Thing/east-broken").input("size", 1),
        decl("us-west-2/x:Thing/west-a").input("size", 1),
        decl("us-west-2/x:Thing/west-b").input("size", 1),
    ]);

    let report = home.up(&desired, 4).await;

    assert_eq!(report.not_started, ["us-west-2"]);
    assert!(!report.succeeded());
    assert_eq!(
        outcome_of(&report.results, "global/x:Thing/edge"),
        &Outcome::Done
    );
    assert_eq!(
        outcome_of(&report.results, "us-east-1/x:Thing/east-ok"),
        &Outcome::Done
    );
    assert!(report.results.iter().all(|r| r.wave != "us-west-2"));
    let regions: Vec<String> = home
        .cloud
        .resources()
        .iter()
        .map(|(_, a, _)| a.region_str().to_string())
        .collect();
    assert!(!regions.iter().any(|r| r == "us-west-2"), "{regions:?}");
    assert_eq!(regions.len(), 2);

    // Once the failure is gone, the next run does the rest.
    home.cloud.fail.lock().unwrap().clear();
    let retry = home.up(&desired, 4).await;
    assert!(retry.succeeded(), "{:?}", retry.results);
    assert_eq!(home.cloud.resources().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_values_are_filled_from_completed_steps() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let desired = stack_with_outputs(
        vec![
            decl("global/iam:Role/app").input("name", "app"),
            decl("us-east-1/s3:Bucket/assets")
                .input("bucket", "assets")
                .input("role", out("global/iam:Role/app", "arn"))
                .input(
                    "grants",
                    Value::from(vec![out("global/iam:Role/app", "id"), Value::str("public")]),
                ),
        ],
        [("role_arn", out("global/iam:Role/app", "arn"))],
    );

    let report = home.up(&desired, 2).await;
    assert!(report.succeeded(), "{:?}", report.results);

    let state = home.state();
    let role = &state.resources[&addr("global/iam:Role/app")];
    let role_arn = role.outputs["arn"].as_str().unwrap().to_string();
    assert_eq!(role_arn, format!("arn:fake:iam:Role:{}", role.id));
    let (_, _, bucket) = home
        .cloud
        .resources()
        .into_iter()
        .find(|(_, a, _)| a.name() == "assets")
        .unwrap();
    assert_eq!(bucket["role"], Value::str(&role_arn));
    assert_eq!(
        bucket["grants"],
        Value::from(vec![Value::str(&role.id), Value::str("public")])
    );
    assert_eq!(state.outputs["role_arn"], Value::str(&role_arn));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_before_delete_replacement_leaves_one_resource() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let v = |engine: &str| {
        stack(vec![
            decl("us-east-1/rds:DbInstance/db").input("engine", engine),
            decl("us-east-1/x:Thing/client").input("db", out("us-east-1/rds:DbInstance/db", "arn")),
        ])
    };
    assert!(home.up(&v("postgres"), 4).await.succeeded());
    let db = addr("us-east-1/rds:DbInstance/db");
    let old_id = home.state().resources[&db].id.clone();
    home.cloud.calls.lock().unwrap().clear();

    let report = home.up(&v("mysql"), 4).await;

    assert!(report.succeeded(), "{:?}", report.results);
    let actions: Vec<Action> = report.results.iter().map(|r| r.action).collect();
    assert_eq!(actions, [Action::ReplaceCreateFirst, Action::Update]);
    assert_eq!(home.cloud.count(&db), 1);
    let state = home.state();
    let new = &state.resources[&db];
    assert_ne!(new.id, old_id);
    assert_eq!(new.inputs["engine"], Value::str("mysql"));
    // The new one is created, the dependent repointed, then the old one deleted.
    let calls = home.cloud.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [
            "create us-east-1/rds:DbInstance/db",
            "update us-east-1/x:Thing/client",
            "delete us-east-1/rds:DbInstance/db",
        ]
    );
    let client = &state.resources[&addr("us-east-1/x:Thing/client")];
    assert_eq!(client.inputs["db"], new.outputs["arn"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_before_create_replacement_deletes_first() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let v = |name: &str| {
        stack(vec![
            decl("global/iam:Role/app")
                .input("name", name)
                .options(ResourceOptions {
                    delete_before_replace: true,
                    ..ResourceOptions::default()
                }),
        ])
    };
    assert!(home.up(&v("one"), 4).await.succeeded());
    home.cloud.calls.lock().unwrap().clear();
    assert!(home.up(&v("two"), 4).await.succeeded());
    let calls = home.cloud.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        ["delete global/iam:Role/app", "create global/iam:Role/app"]
    );
    assert_eq!(home.cloud.count(&addr("global/iam:Role/app")), 1);
}

fn app() -> Vec<ResourceDecl> {
    vec![
        decl("global/route53:Zone/main").input("domain", "example.com"),
        decl("us-east-1/elb:LoadBalancer/web").input("subnets", Value::from(vec!["a", "b"])),
        decl("global/route53:Record/www")
            .input("zone", out("global/route53:Zone/main", "id"))
            .input("target", out("us-east-1/elb:LoadBalancer/web", "arn")),
        decl("us-east-1/rds:DbInstance/db")
            .input("engine", "postgres")
            .input("password", Value::secret(Value::str("hunter2"))),
        decl("us-west-2/rds:DbInstance/replica")
            .input("engine", "postgres")
            .input("source", out("us-east-1/rds:DbInstance/db", "arn")),
        decl("us-west-2/x:Thing/archive")
            .input("size", 1)
            .options(ResourceOptions {
                retain_on_delete: true,
                ..ResourceOptions::default()
            }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_then_plan_again_has_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let desired = stack(app());
    assert!(home.up(&desired, 3).await.succeeded());

    let again = home.plan(&desired);
    assert!(!again.has_changes(), "{}", render_plan(&again));
    assert_eq!(again.unchanged, 6);

    // Removing everything deletes what is not retained, and leaves the retained one in the cloud.
    assert!(home.up(&stack([]), 3).await.succeeded());
    assert!(home.state().resources.is_empty());
    let left: Vec<String> = home
        .cloud
        .resources()
        .iter()
        .map(|(_, a, _)| a.to_string())
        .collect();
    assert_eq!(left, ["us-west-2/x:Thing/archive"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_waits_for_the_resources_that_stop_using_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let v1 = stack(vec![
        decl("us-east-1/x:Thing/old-group").input("size", 1),
        decl("us-east-1/x:Thing/server").input("group", out("us-east-1/x:Thing/old-group", "id")),
    ]);
    assert!(home.up(&v1, 4).await.succeeded());
    // The server moves off the old group, which is no longer declared; the move fails.
    home.cloud.fail_on("server");
    let v2 = stack(vec![
        decl("us-east-1/x:Thing/server").input("group", "default"),
    ]);

    let report = home.up(&v2, 4).await;

    let r = &report.results;
    assert!(matches!(
        outcome_of(r, "us-east-1/x:Thing/server"),
        Outcome::Failed(_)
    ));
    assert!(
        matches!(outcome_of(r, "us-east-1/x:Thing/old-group"), Outcome::Skipped(why) if why.contains("server failed")),
        "{r:?}"
    );
    // Still in use, so still there.
    assert_eq!(home.cloud.count(&addr("us-east-1/x:Thing/old-group")), 1);
    assert!(
        home.state()
            .resources
            .contains_key(&addr("us-east-1/x:Thing/old-group"))
    );

    home.cloud.fail.lock().unwrap().clear();
    home.cloud.calls.lock().unwrap().clear();
    assert!(home.up(&v2, 4).await.succeeded());
    let calls = home.cloud.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [
            "update us-east-1/x:Thing/server",
            "delete us-east-1/x:Thing/old-group"
        ]
    );
}
