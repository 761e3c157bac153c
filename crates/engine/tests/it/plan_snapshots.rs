//! Diff and plan, one snapshot per action, option and ordering rule.

use insta::assert_snapshot;
use tandem_core::{ResourceDecl, ResourceOptions, Value};
use tandem_engine::testing::FakeCloud;
use tandem_engine::{PlanError, plan};

use crate::support::*;

fn opts(f: impl FnOnce(&mut ResourceOptions)) -> ResourceOptions {
    let mut o = ResourceOptions::default();
    f(&mut o);
    o
}

/// A small two-region application, as declared by version 1 of its program.
fn app_v1() -> Vec<ResourceDecl> {
    vec![
        decl("global/iam:Role/app").input("name", "app-role"),
        decl("us-east-1/s3:Bucket/assets")
            .input("bucket", "assets-use1")
            .input("versioning", true)
            .input("role", out("global/iam:Role/app", "arn")),
        db("postgres", 2, "hunter2"),
        db_replica(2),
    ]
}

/// The primary database of [`app_v1`], with these values.
fn db(engine: &str, size: i64, password: &str) -> ResourceDecl {
    decl("us-east-1/rds:DbInstance/db")
        .input("engine", engine)
        .input("size", size)
        .input("password", Value::secret(Value::str(password)))
}

/// The read replica of [`app_v1`], of this size.
fn db_replica(size: i64) -> ResourceDecl {
    decl("us-west-2/rds:DbInstance/db-replica")
        .input("engine", "postgres")
        .input("size", size)
        .input("source", out("us-east-1/rds:DbInstance/db", "arn"))
}

/// The stack of [`app_v1`], exporting the replica's ARN.
fn app_v1_stack() -> tandem_core::DesiredStack {
    stack_with_outputs(
        app_v1(),
        [(
            "replica_arn",
            out("us-west-2/rds:DbInstance/db-replica", "arn"),
        )],
    )
}

/// A change to [`app_v1`]: `app_v1` with `changed` in place of the declaration of its address, and
/// the state an apply of `app_v1` left.
fn v1_changed_to(changed: ResourceDecl) -> (tandem_core::DesiredStack, tandem_engine::State) {
    (stack(with(app_v1(), changed)), recorded(&stack(app_v1())))
}

/// Replaces the declaration of the same address in `decls`.
fn with(mut decls: Vec<ResourceDecl>, changed: ResourceDecl) -> Vec<ResourceDecl> {
    let slot = decls
        .iter_mut()
        .find(|d| d.addr == changed.addr)
        .expect("a declared address");
    *slot = changed;
    decls
}

#[test]
fn create_from_empty_state() {
    let desired = app_v1_stack();
    let empty = empty_state();
    assert_snapshot!(render_case(&desired, &empty));
}

#[test]
fn unchanged_stack_is_a_no_op() {
    let desired = app_v1_stack();
    let prior = recorded(&desired);
    assert_snapshot!(render_case(&desired, &prior));
}

#[test]
fn update_in_place() {
    let prior = recorded(&stack(app_v1()));
    let desired = stack(with(
        with(app_v1(), db("postgres", 4, "hunter3")),
        decl("us-east-1/s3:Bucket/assets")
            .input("bucket", "assets-use1")
            .input("role", out("global/iam:Role/app", "arn"))
            .input("tags", Value::from(vec!["prod"])),
    ));
    assert_snapshot!(render_case(&desired, &prior));
}

#[test]
fn replace_create_before_delete_for_a_provider_property() {
    let (desired, prior) = v1_changed_to(db("mysql", 2, "hunter2"));
    assert_snapshot!(render_case(&desired, &prior));
}

#[test]
fn replace_delete_before_create() {
    let (desired, prior) = v1_changed_to(
        decl("global/iam:Role/app")
            .input("name", "app-role-v2")
            .options(opts(|o| o.delete_before_replace = true)),
    );
    assert_snapshot!(render_case(&desired, &prior));
}

#[test]
fn replace_on_changes_option() {
    // `size` changes in place for the provider; the option makes it a replacement.
    let (desired, prior) =
        v1_changed_to(db_replica(8).options(opts(|o| o.replace_on_changes = vec!["size".into()])));
    assert_snapshot!(render_case(&desired, &prior));
}

#[test]
fn ignore_changes_option() {
    let prior = recorded(&stack(app_v1()));
    let ignore = || opts(|o| o.ignore_changes = vec!["size".into(), "engine".into()]);
    // Only ignored properties changed (one of them would force a replacement): nothing to do.
    let only_ignored = stack(with(app_v1(), db("mysql", 16, "hunter2").options(ignore())));
    // An ignored and a watched property changed: an update of the watched one only.
    let one_watched = stack(with(app_v1(), db("mysql", 16, "changed").options(ignore())));
    assert_snapshot!(format!(
        "== only ignored properties changed\n{}== an ignored and a watched property changed\n{}",
        render_case(&only_ignored, &prior),
        render_case(&one_watched, &prior)
    ));
}

#[test]
fn delete_and_retain_on_delete() {
    let mut v1 = app_v1();
    v1.push(
        decl("us-east-1/s3:Bucket/archive")
            .input("bucket", "archive-use1")
            .options(opts(|o| o.retain_on_delete = true)),
    );
    let prior = recorded(&stack(v1));
    // The replica and the archive bucket are no longer declared.
    let desired = stack(
        app_v1()
            .into_iter()
            .filter(|d| d.addr.name() != "db-replica"),
    );
    assert_snapshot!(render_case(&desired, &prior));
}

#[test]
fn protect_refuses_a_replace_and_a_delete() {
    let cloud = FakeCloud::in_memory();
    let providers = providers(&cloud);
    let protected = || opts(|o| o.protect = true);
    let v1 = with(app_v1(), db("postgres", 2, "hunter2").options(protected()));
    let prior = recorded(&stack(v1));

    let replace = stack(with(
        app_v1(),
        db("mysql", 2, "hunter2").options(protected()),
    ));
    let replace_err = plan(&replace, &prior, &providers, &config()).unwrap_err();
    assert!(matches!(replace_err, PlanError::Protected { .. }));

    let delete = stack(
        app_v1()
            .into_iter()
            .filter(|d| d.addr.name() != "db" && d.addr.name() != "db-replica"),
    );
    let delete_err = plan(&delete, &prior, &providers, &config()).unwrap_err();
    assert!(matches!(delete_err, PlanError::Protected { .. }));

    // An in-place update of a protected resource is allowed.
    let update = stack(with(
        app_v1(),
        db("postgres", 3, "hunter2").options(protected()),
    ));
    let update_plan = plan(&update, &prior, &providers, &config()).expect("an update is allowed");

    assert_snapshot!(format!(
        "replace: {replace_err}\ndelete: {delete_err}\n--- update\n{}",
        render_plan(&update_plan)
    ));
}

#[test]
fn references_known_after_apply_or_resolved_from_state() {
    let v1 = vec![
        decl("us-east-1/x:Thing/stable").input("size", 1),
        decl("us-east-1/x:Thing/replaced").input("size", 1),
        decl("us-east-1/s3:Bucket/bucket")
            .input("bucket", "b")
            .input("owner", out("us-east-1/x:Thing/stable", "arn")),
        decl("us-east-1/x:Thing/follows-replaced")
            .input("size", 1)
            .input("peer", out("us-east-1/x:Thing/replaced", "arn")),
    ];
    let prior = recorded(&stack(v1));
    let desired = stack(vec![
        decl("us-east-1/x:Thing/stable").input("size", 1),
        decl("us-east-1/x:Thing/replaced")
            .input("size", 2)
            .options(opts(|o| o.replace_on_changes = vec!["size".into()])),
        // Unchanged, referring to an unchanged resource: resolved from state, a no-op.
        decl("us-east-1/s3:Bucket/bucket")
            .input("bucket", "b")
            .input("owner", out("us-east-1/x:Thing/stable", "arn")),
        // Refers to a resource being replaced: its new arn is known only after apply.
        decl("us-east-1/x:Thing/follows-replaced")
            .input("size", 1)
            .input("peer", out("us-east-1/x:Thing/replaced", "arn")),
        // New, referring to an unchanged resource: resolved from state.
        decl("us-east-1/x:Thing/new-on-stable")
            .input("peer", out("us-east-1/x:Thing/stable", "id")),
        // New, referring to a new resource: known after apply.
        decl("us-east-1/x:Thing/new-on-new").input(
            "peers",
            Value::from(vec![
                out("us-east-1/x:Thing/new-on-stable", "arn"),
                out("us-east-1/x:Thing/stable", "arn"),
            ]),
        ),
    ]);
    assert_snapshot!(render_case(&desired, &prior));
}

/// One resource in each wave, plus a second region with no resource of its own in the order.
fn three_waves() -> Vec<ResourceDecl> {
    vec![
        decl("us-west-2/x:Thing/west").input("size", 1),
        decl("us-east-1/x:Thing/east").input("size", 1),
        decl("global/x:Thing/edge").input("size", 1),
        decl("eu-west-1/x:Thing/extra").input("size", 1),
    ]
}

#[test]
fn waves_run_global_then_primary_then_secondary() {
    let empty = empty_state();
    // Regions not in the configured order run after it, sorted.
    assert_snapshot!(render_case(&stack(three_waves()), &empty));
}

#[test]
fn wave_order_is_configurable() {
    let empty = empty_state();
    let west_first = wave_order(&["global", "us-west-2", "us-east-1"]);
    assert_snapshot!(render_case_with(&stack(three_waves()), &empty, &west_first));
}

#[test]
fn global_resource_on_a_regional_one_moves_to_the_later_wave() {
    let empty = empty_state();
    let desired = stack(vec![
        decl("global/route53:Zone/main").input("domain", "example.com"),
        decl("us-east-1/elb:LoadBalancer/web").input("subnets", Value::from(vec!["a", "b"])),
        decl("global/route53:Record/www")
            .input("zone", out("global/route53:Zone/main", "id"))
            .input("target", out("us-east-1/elb:LoadBalancer/web", "arn")),
        // Transitively moved: it depends on the moved record.
        decl("global/x:Thing/health").input("record", out("global/route53:Record/www", "id")),
    ]);
    assert_snapshot!(render_case(&desired, &empty));
}

#[test]
fn primary_resource_on_a_secondary_one_moves_to_the_secondary_wave() {
    let empty = empty_state();
    let desired = stack(vec![
        decl("us-west-2/s3:Bucket/replica").input("bucket", "replica-usw2"),
        decl("us-east-1/s3:Bucket/source")
            .input("bucket", "source-use1")
            .input("replicate_to", out("us-west-2/s3:Bucket/replica", "arn")),
        decl("us-east-1/x:Thing/independent").input("size", 1),
    ]);
    assert_snapshot!(render_case(&desired, &empty));
}

#[test]
fn deletes_run_in_reverse_dependency_order() {
    let v1 = vec![
        decl("global/route53:Zone/main").input("domain", "example.com"),
        decl("us-east-1/route53:Record/api").input("zone", out("global/route53:Zone/main", "id")),
        decl("us-east-1/x:Thing/a").input("size", 1),
        decl("us-east-1/x:Thing/b").input("on", out("us-east-1/x:Thing/a", "id")),
        decl("us-east-1/x:Thing/c")
            .input("on", out("us-east-1/x:Thing/b", "id"))
            .input("also", out("us-east-1/x:Thing/a", "id")),
        decl("us-west-2/x:Thing/keep").input("size", 1),
    ];
    let prior = recorded(&stack(v1));
    let desired = stack(vec![decl("us-west-2/x:Thing/keep").input("size", 1)]);
    let text = render_case(&desired, &prior);
    // Within a wave, a resource goes before what it depended on.
    let pos = |name: &str| {
        text.rfind(&format!("{name} (delete)"))
            .unwrap_or_else(|| panic!("{name} not deleted"))
    };
    assert!(pos("x:Thing/c") < pos("x:Thing/b") && pos("x:Thing/b") < pos("x:Thing/a"));
    assert!(pos("route53:Record/api") < pos("route53:Zone/main"));
    assert_snapshot!(text);
}

/// A fixed permutation of `items` for `seed` (a small linear congruential generator).
fn shuffled<T>(mut items: Vec<T>, seed: u64) -> Vec<T> {
    let mut x = seed;
    for i in (1..items.len()).rev() {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        items.swap(i, (x >> 33) as usize % (i + 1));
    }
    items
}

fn mixed_decls() -> Vec<ResourceDecl> {
    let mut v = app_v1();
    v.extend(three_waves());
    v.push(decl("us-east-1/elb:LoadBalancer/web").input("subnets", Value::from(vec!["a", "b"])));
    v.push(
        decl("global/route53:Record/www")
            .input("target", out("us-east-1/elb:LoadBalancer/web", "arn")),
    );
    v
}

#[test]
fn plans_are_deterministic() {
    let cloud = FakeCloud::in_memory();
    let providers = providers(&cloud);
    // A prior state with a resource to update, one to replace and one to delete.
    let mut old = mixed_decls();
    old.push(decl("us-west-2/x:Thing/gone").input("on", out("us-west-2/x:Thing/west", "id")));
    let prior = recorded(&stack(old));
    let current = || {
        with(
            with(
                mixed_decls(),
                decl("us-east-1/x:Thing/east").input("size", 2),
            ),
            db("mysql", 2, "hunter2"),
        )
    };

    let first = plan(&stack(current()), &prior, &providers, &config()).unwrap();
    let again = plan(&stack(current()), &prior, &providers, &config()).unwrap();
    assert_eq!(first, again);
    assert_eq!(render_plan(&first), render_plan(&again));
    for seed in 1..=5 {
        let other = plan(
            &stack(shuffled(current(), seed)),
            &prior,
            &providers,
            &config(),
        )
        .unwrap();
        assert_eq!(
            first, other,
            "declaration order (seed {seed}) changed the plan"
        );
    }
    assert!(first.summary().update >= 1 && first.summary().replace >= 1);
    assert!(first.summary().create == 0 && first.summary().delete == 1);
}

#[test]
fn a_delete_waits_for_the_wave_of_a_former_user() {
    let prior = recorded(&stack(vec![
        decl("us-east-1/x:Thing/group").input("size", 1),
        decl("us-west-2/x:Thing/server").input("group", out("us-east-1/x:Thing/group", "id")),
    ]));
    // The server, in the later wave, stops using the group, which is no longer declared.
    let desired = stack(vec![
        decl("us-west-2/x:Thing/server").input("group", "default"),
    ]);
    assert_snapshot!(render_case(&desired, &prior));
}
