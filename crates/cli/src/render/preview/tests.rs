//! Snapshots of the three renderings for each kind of plan a reviewer meets. The plans are built
//! directly: the renderers are pure functions of them.

use std::collections::BTreeMap;

use tandem_core::{Props, ResourceAddr, Value};
use tandem_engine::{
    Action, Drift, DriftKind, Plan, PropertyChange, ResourceChange, ResourceState, Wave,
};

use super::*;

fn addr(t: &str) -> ResourceAddr {
    t.parse().expect("test addresses are valid")
}

fn props<const N: usize>(pairs: [(&str, Value); N]) -> Props {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn recorded(a: &str, inputs: Props) -> ResourceState {
    let id = format!("id-{}", addr(a).name());
    ResourceState {
        outputs: props([("arn", Value::str(format!("arn:aws:{id}")))]),
        id,
        inputs,
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
    }
}

fn create(a: &str, inputs: Props) -> ResourceChange {
    ResourceChange {
        addr: addr(a),
        action: Action::Create,
        changes: inputs
            .iter()
            .map(|(k, v)| PropertyChange {
                name: k.clone(),
                old: None,
                new: Some(v.clone()),
                forces_replacement: false,
            })
            .collect(),
        replace_reasons: Vec::new(),
        inputs: Some(inputs),
        prior: None,
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
    }
}

/// A change from `old` to `new` inputs; the properties in `forcing` force a replacement.
fn change(a: &str, action: Action, old: Props, new: Props, forcing: &[&str]) -> ResourceChange {
    let mut changes = Vec::new();
    let mut reasons = Vec::new();
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        let (o, n) = (old.get(name), new.get(name));
        if o == n {
            continue;
        }
        let forces = forcing.contains(&name.as_str());
        if forces {
            reasons.push(format!(
                "changing `{name}` forces replacement ({} cannot change it in place)",
                addr(a).kind()
            ));
        }
        changes.push(PropertyChange {
            name: name.clone(),
            old: o.cloned(),
            new: n.cloned(),
            forces_replacement: forces,
        });
    }
    ResourceChange {
        addr: addr(a),
        action,
        changes,
        replace_reasons: reasons,
        inputs: Some(new),
        prior: Some(recorded(a, old)),
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
    }
}

fn delete(a: &str, old: Props) -> ResourceChange {
    ResourceChange {
        addr: addr(a),
        action: Action::Delete,
        changes: Vec::new(),
        replace_reasons: Vec::new(),
        inputs: None,
        prior: Some(recorded(a, old)),
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
    }
}

fn wave(name: &str, changes: Vec<ResourceChange>) -> Wave {
    Wave {
        name: name.to_string(),
        changes,
        moved: BTreeMap::new(),
    }
}

fn plan(env: &str, waves: Vec<Wave>, unchanged: usize) -> Plan {
    Plan {
        stack: "multi-region".into(),
        env: env.into(),
        lineage: "0f1e2d3c-0000-4000-8000-000000000001".into(),
        base_serial: 4,
        waves,
        unchanged,
        drift: Vec::new(),
        outputs: BTreeMap::new(),
    }
}

fn policy(actions: &[&str]) -> Value {
    Value::str(
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": actions,
                "Resource": "arn:aws:s3:::app-logs/*",
            }],
        })
        .to_string(),
    )
}

fn template(instance_type: &str, desired: i64) -> Value {
    Value::str(format!(
        "AWSTemplateFormatVersion: '2010-09-09'\n\
         Description: Tandem regional stack\n\
         Parameters:\n  InstanceType:\n    Type: String\n    Default: {instance_type}\n\
         Resources:\n  Group:\n    Type: AWS::AutoScaling::AutoScalingGroup\n    Properties:\n\
         \x20     MinSize: 1\n      MaxSize: 4\n      DesiredCapacity: {desired}\n\
         \x20 Balancer:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n\
         Outputs:\n  Dns:\n    Value: !GetAtt Balancer.DNSName\n"
    ))
}

// ---- the cases ----

fn no_changes() -> Vec<Plan> {
    vec![plan("staging", Vec::new(), 23)]
}

fn creates_only() -> Vec<Plan> {
    let bucket = "us-east-1/s3:Bucket/app-logs";
    vec![plan(
        "local",
        vec![
            wave(
                "global",
                vec![create(
                    "global/route53:HealthCheck/primary",
                    props([
                        ("fqdn", Value::str("primary.app.example")),
                        ("port", 443.into()),
                    ]),
                )],
            ),
            wave(
                "us-east-1",
                vec![
                    create(bucket, props([("bucket", Value::str("app-logs"))])),
                    create(
                        "us-east-1/s3:BucketPolicy/app-logs",
                        props([
                            ("bucket", Value::reference(addr(bucket), "name")),
                            ("policy", policy(&["s3:PutObject"])),
                        ]),
                    ),
                ],
            ),
        ],
        0,
    )]
}

fn in_place_update() -> Vec<Plan> {
    let a = "us-east-1/cloudformation:StackInstance/regional";
    let mut p = plan(
        "prod",
        vec![wave(
            "us-east-1",
            vec![change(
                a,
                Action::Update,
                props([
                    ("template", template("t3.small", 2)),
                    ("tags", tandem_core::map([("team", "web")])),
                    ("policy", policy(&["s3:GetObject"])),
                ]),
                props([
                    ("template", template("t3.large", 3)),
                    ("tags", tandem_core::map([("team", "web"), ("cost", "app")])),
                    ("policy", policy(&["s3:GetObject", "s3:PutObject"])),
                ]),
                &[],
            )],
        )],
        17,
    );
    p.outputs
        .insert("url".into(), Value::str("https://app.example"));
    vec![p]
}

fn database_replacement() -> Vec<Plan> {
    let db = "us-east-1/rds:DbInstance/app-db";
    let replica = "us-west-2/rds:DbReadReplica/app-db-replica";
    let mut replica_change = change(
        replica,
        Action::Update,
        props([("source", Value::str("arn:aws:id-app-db"))]),
        props([("source", Value::reference(addr(db), "arn"))]),
        &[],
    );
    replica_change.dependencies = vec![addr(db)];
    let mut west = wave("us-west-2", vec![replica_change]);
    west.moved
        .insert(addr(replica), format!("after {db}, which it depends on"));
    vec![plan(
        "prod",
        vec![
            wave(
                "us-east-1",
                vec![change(
                    db,
                    Action::ReplaceDeleteFirst,
                    props([
                        ("engine", Value::str("postgres")),
                        ("instance_class", Value::str("db.r6g.large")),
                        ("storage_encrypted", false.into()),
                    ]),
                    props([
                        ("engine", Value::str("postgres")),
                        ("instance_class", Value::str("db.r6g.xlarge")),
                        ("storage_encrypted", true.into()),
                    ]),
                    &["storage_encrypted"],
                )],
            ),
            west,
        ],
        30,
    )]
}

fn deletes() -> Vec<Plan> {
    let mut forget = delete(
        "us-west-2/s3:Bucket/archive",
        props([("bucket", Value::str("archive"))]),
    );
    forget.action = Action::Forget;
    forget.retain_on_delete = true;
    vec![plan(
        "dev",
        vec![wave(
            "us-west-2",
            vec![
                delete(
                    "us-west-2/cloudwatch:Alarm/replica-lag",
                    props([
                        ("metric", Value::str("ReplicaLag")),
                        ("threshold", 300.into()),
                    ]),
                ),
                delete(
                    "us-west-2/s3:Bucket/app-logs-replica",
                    props([
                        ("bucket", Value::str("app-logs-replica")),
                        ("versioning", true.into()),
                    ]),
                ),
                forget,
            ],
        )],
        12,
    )]
}

fn drift() -> Vec<Plan> {
    let alarm = "us-east-1/cloudwatch:Alarm/db-cpu";
    let mut p = plan(
        "prod",
        vec![wave(
            "us-east-1",
            vec![
                change(
                    alarm,
                    Action::Update,
                    props([("threshold", 95.into())]),
                    props([("threshold", 80.into())]),
                    &[],
                ),
                create(
                    "us-east-1/route53:HealthCheck/web",
                    props([("fqdn", Value::str("web.app.example"))]),
                ),
            ],
        )],
        20,
    );
    p.drift = vec![
        Drift {
            addr: addr(alarm),
            kind: DriftKind::Changed(vec![PropertyChange {
                name: "threshold".into(),
                old: Some(80.into()),
                new: Some(95.into()),
                forces_replacement: false,
            }]),
        },
        Drift {
            addr: addr("us-east-1/route53:HealthCheck/web"),
            kind: DriftKind::Deleted,
        },
    ];
    vec![p]
}

fn secret() -> Vec<Plan> {
    let db = "us-east-1/rds:DbInstance/app-db";
    vec![plan(
        "prod",
        vec![wave(
            "us-east-1",
            vec![
                change(
                    db,
                    Action::Update,
                    props([(
                        "master_password",
                        Value::SecretDigest(tandem_core::secret_digest(
                            &tandem_core::SecretKey::from_bytes([7; 32]),
                            &Value::str("old-pw"),
                        )),
                    )]),
                    props([(
                        "master_password",
                        Value::secret(Value::str("correct horse battery staple")),
                    )]),
                    &[],
                ),
                create(
                    "us-east-1/x:ApiKey/partner",
                    props([
                        ("name", Value::str("partner")),
                        (
                            "settings",
                            tandem_core::map([
                                ("key", Value::secret(Value::str("sk_live_hunter2"))),
                                ("rate", Value::from(10)),
                            ]),
                        ),
                    ]),
                ),
            ],
        )],
        9,
    )]
}

fn two_environments() -> Vec<Plan> {
    let mut plans = creates_only();
    plans.push(database_replacement().remove(0));
    plans.push(no_changes().remove(0));
    plans
}

/// Many regions' worth of long templates, several replaced databases and deleted buckets: far
/// more than one comment holds.
fn too_large() -> Vec<Plan> {
    let mut waves = Vec::new();
    for region in ["us-east-1", "us-west-2"] {
        let mut changes = Vec::new();
        for i in 0..40 {
            changes.push(change(
                &format!("{region}/cloudformation:Stack/service-{i:02}"),
                Action::Update,
                props([("template", template("t3.small", i))]),
                props([("template", template("t3.large", i + 1))]),
                &[],
            ));
            changes.push(create(
                &format!("{region}/cloudformation:Stack/new-service-{i:02}"),
                props([
                    ("template", template("m7g.large", i)),
                    ("policy", policy(&["s3:GetObject", "s3:PutObject"])),
                ]),
            ));
        }
        for i in 0..3 {
            changes.push(change(
                &format!("{region}/rds:DbInstance/shard-{i}"),
                Action::ReplaceCreateFirst,
                props([("engine_version", Value::str("15.4"))]),
                props([("engine_version", Value::str("16.1"))]),
                &["engine_version"],
            ));
            changes.push(delete(
                &format!("{region}/s3:Bucket/scratch-{i}"),
                props([("bucket", Value::str(format!("scratch-{i}")))]),
            ));
        }
        waves.push(wave(region, changes));
    }
    vec![plan("prod", waves, 5)]
}

// ---- the tests ----

/// Each rendering of a case, snapshotted under `NAME.md`, `NAME.txt`, `NAME.json`.
fn check(name: &str, plans: &[Plan]) {
    let md = markdown(plans, &[]);
    assert!(md.starts_with(MARKER), "{md}");
    assert!(md.len() <= GITHUB_COMMENT_LIMIT, "{} bytes", md.len());
    insta::assert_snapshot!(format!("{name}.md"), md);
    insta::assert_snapshot!(format!("{name}.txt"), text(plans, &[], false));
    insta::assert_snapshot!(
        format!("{name}.json"),
        serde_json::to_string_pretty(&json(plans, &[])).unwrap()
    );
}

#[test]
fn no_changes_preview() {
    check("no_changes", &no_changes());
}

#[test]
fn creates_only_preview() {
    check("creates_only", &creates_only());
}

#[test]
fn in_place_update_preview() {
    check("in_place_update", &in_place_update());
}

#[test]
fn database_replacement_preview() {
    let plans = database_replacement();
    let md = markdown(&plans, &[]);
    assert!(md.contains("> [!CAUTION]"), "{md}");
    assert!(md.contains("changing `storage_encrypted` forces replacement"));
    check("database_replacement", &plans);
}

#[test]
fn deletes_preview() {
    let md = markdown(&deletes(), &[]);
    assert!(
        md.contains("> [!CAUTION]") && md.contains("> [!WARNING]"),
        "{md}"
    );
    check("deletes", &deletes());
}

#[test]
fn drift_preview() {
    check("drift", &drift());
}

#[test]
fn secret_preview() {
    let plans = secret();
    for rendered in [
        markdown(&plans, &[]),
        text(&plans, &[], false),
        serde_json::to_string(&json(&plans, &[])).unwrap(),
    ] {
        assert!(!rendered.contains("hunter2"), "{rendered}");
        assert!(!rendered.contains("correct horse"), "{rendered}");
        assert!(!rendered.contains("sha256:"), "a digest leaked: {rendered}");
        assert!(!rendered.contains("hmac-"), "a digest leaked: {rendered}");
    }
    check("secret", &plans);
}

/// A stack with a planted secret applied through the engine (FakeCloud): its state records the
/// secret's keyed digest. The next plan — the secret rotated beside another change, a resource
/// holding it deleted — previews (and prints, as `plan` and `plan --json` do) neither the secret
/// nor its digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_secret_and_its_digest_never_reach_a_preview() {
    use std::sync::Arc;

    use tandem_core::{ResourceDecl, StackBuilder};
    use tandem_engine::testing::FakeCloud;
    use tandem_engine::{ApplyOptions, LocalStore, PlanConfig, Providers, Silent, ops};

    const SECRET: &str = "hunter2-planted";
    const ROTATED: &str = "correct-horse-rotated";
    let cloud = FakeCloud::in_memory();
    let providers = Providers::new()
        .with(cloud.provider("rds:DbInstance", &["engine"]))
        .with(cloud.provider("x:ApiKey", &[]));
    let desired = |password: &str, size: i64, with_key: bool| {
        let mut b = StackBuilder::new();
        b.declare(
            ResourceDecl::new(addr("us-east-1/rds:DbInstance/app-db"))
                .input("engine", "postgres")
                .input("size", size)
                .input("master_password", Value::secret(Value::str(password))),
        );
        if with_key {
            b.declare(
                ResourceDecl::new(addr("us-east-1/x:ApiKey/partner"))
                    .input("key", Value::secret(Value::str(SECRET))),
            );
        }
        b.export("password", Value::secret(Value::str(password)));
        b.finish().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let config = PlanConfig {
        wave_order: vec!["global".into(), "us-east-1".into()],
    };
    let first = desired(SECRET, 1, true);
    let lock = store.lock("demo", "prod", "apply").unwrap();
    let (state, _) = ops::read_state(&store, "demo", "prod").unwrap();
    let plan = tandem_engine::plan(&first, &state, &providers, &config).unwrap();
    let report = ops::apply_plan(
        &store,
        &lock,
        &plan,
        state,
        &first.outputs,
        &providers,
        &ApplyOptions::default(),
        Arc::new(Silent),
        "apply",
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{:?}", report.results);
    drop(lock);
    let (state, _) = ops::read_state(&store, "demo", "prod").unwrap();
    let digest = tandem_core::secret_digest(&state.secret_key, &Value::str(SECRET));
    let state_file = std::fs::read_to_string(store.paths("demo", "prod").state).unwrap();
    assert!(state_file.contains(&digest), "the state records the digest");

    let next =
        tandem_engine::plan(&desired(ROTATED, 2, false), &state, &providers, &config).unwrap();
    assert_eq!((next.summary().update, next.summary().delete), (1, 1));
    let plans = [next];
    let preview_file = dir.path().join("preview.json");
    let json_text = serde_json::to_string_pretty(&json(&plans, &[])).unwrap();
    // As `preview --out` writes it.
    tandem_engine::store::write_private(&preview_file, json_text.as_bytes()).unwrap();
    for rendered in [
        markdown(&plans, &[]),
        text(&plans, &[], false),
        std::fs::read_to_string(&preview_file).unwrap(),
        crate::render::plan_text(&plans[0]),
        serde_json::to_string(&crate::render::plan_json(&plans[0])).unwrap(),
        format!("{:?}", plans[0]),
    ] {
        for leak in [SECRET, ROTATED, digest.as_str(), "hmac-sha256:"] {
            assert!(!rendered.contains(leak), "{leak} leaked: {rendered}");
        }
    }
}

#[test]
fn two_environments_preview() {
    check("two_environments", &two_environments());
}

#[test]
fn a_plan_too_large_for_one_comment_keeps_its_summary_and_banners() {
    let plans = too_large();
    let whole = markdown_within(&plans, &[], usize::MAX);
    assert!(
        whole.len() > 2 * GITHUB_COMMENT_LIMIT,
        "{} bytes",
        whole.len()
    );
    let md = markdown(&plans, &[]);
    assert!(md.len() <= GITHUB_COMMENT_LIMIT, "{} bytes", md.len());
    assert!(
        md.len() > GITHUB_COMMENT_LIMIT - 4096,
        "wasted room: {}",
        md.len()
    );
    // The head of the whole document (marker, summary, banners) survives intact.
    let head_end = whole.find("<details>").unwrap();
    assert!(md.starts_with(&whole[..head_end]));
    assert!(md.contains("> [!CAUTION]\n> **12 stateful resource(s)"));
    assert!(md.contains("This preview was cut to fit GitHub's 65,535-character limit"));
    assert!(md.contains("`prod` · us-west-2"));
    assert!(md.ends_with("</sub>\n"));
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    // The snapshot shows the structure; the code blocks' bodies are elided.
    insta::assert_snapshot!("too_large.md", elide_code(&md));
    let text = text(&plans, &[], false);
    insta::assert_snapshot!(
        "too_large.txt",
        format!(
            "{} bytes, {} lines; the last:\n{}",
            text.len(),
            text.lines().count(),
            text.lines().last().unwrap()
        )
    );
    let j = json(&plans, &[]);
    insta::assert_snapshot!(
        "too_large.json",
        serde_json::to_string_pretty(&j["summary"]).unwrap()
    );
}

#[test]
fn a_small_limit_cuts_the_last_region_first_and_keeps_part_of_what_fits() {
    let plans = database_replacement();
    let whole = markdown_within(&plans, &[], usize::MAX);
    let md = markdown_within(&plans, &[], whole.len() - 10);
    assert!(md.len() <= whole.len() - 10);
    assert!(md.contains("details were cut: `prod` · us-west-2"), "{md}");
    assert!(md.contains("<code>prod</code> · <b>us-east-1</b>"), "{md}");
    // Even a limit smaller than the head gives a bounded document.
    let tiny = markdown_within(&plans, &[], 300);
    assert!(tiny.len() <= 300, "{}", tiny.len());
    assert!(tiny.starts_with(MARKER));
}

#[test]
fn renderings_are_byte_identical_across_runs() {
    for plans in [too_large(), drift(), secret(), two_environments()] {
        let again = plans.clone();
        assert_eq!(
            markdown(&plans, &[]).as_bytes(),
            markdown(&again, &[]).as_bytes()
        );
        assert_eq!(text(&plans, &[], false), text(&again, &[], false));
        assert_eq!(
            serde_json::to_vec(&json(&plans, &[])).unwrap(),
            serde_json::to_vec(&json(&again, &[])).unwrap()
        );
    }
}

/// Replaces the body of each fenced block by a count of its lines.
fn elide_code(md: &str) -> String {
    let mut out = String::new();
    let mut inside = 0;
    for line in md.lines() {
        let fence = line.starts_with("```");
        if fence && inside == 0 {
            out.push_str(line);
            out.push('\n');
            inside = 1;
        } else if fence {
            out.push_str(&format!("({} lines)\n{line}\n", inside - 1));
            inside = 0;
        } else if inside > 0 {
            inside += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The policy pack's reports on two environments: one with a finding that blocks `apply` (a
/// database with one day of backups), one whose only mandatory finding is suppressed, and an
/// advisory one (no RDS deletion protection in a protected environment).
fn policy_reports() -> Vec<tandem_policy::Report> {
    use tandem_core::{ResourceDecl, StackBuilder};
    use tandem_policy::{Context, Suppression, evaluate};
    let db = || {
        ResourceDecl::new(addr("us-east-1/rds:DbInstance/app-db"))
            .input("kms_key_id", "alias/tandem")
            .input("db_subnet_group_name", "tandem-db")
            .input("backup_retention_period", 1)
    };
    let stack = |decl: ResourceDecl| {
        let mut b = StackBuilder::new();
        b.declare(decl);
        b.finish().unwrap()
    };
    let context = Context {
        env: "dev".into(),
        ..Context::default()
    };
    let suppressed = [Suppression {
        rule: "TP008".into(),
        reason: "test data only".into(),
        resource: Some("*/rds:DbInstance/*".into()),
    }];
    let protected = Context {
        protect_stateful: true,
        ..context.clone()
    };
    let kept = tandem_core::ResourceOptions {
        protect: true,
        ..Default::default()
    };
    vec![
        evaluate(&stack(db()), &context, &[]),
        evaluate(&stack(db().options(kept)), &protected, &suppressed),
    ]
}

#[test]
fn policy_findings_preview() {
    let mut plans = two_environments();
    plans.truncate(2);
    let policies = policy_reports();
    let md = markdown(&plans, &policies);
    insta::assert_snapshot!("policy_findings.md", md);
    insta::assert_snapshot!("policy_findings.txt", text(&plans, &policies, false));
    insta::assert_snapshot!(
        "policy_findings.json",
        serde_json::to_string_pretty(&json(&plans, &policies)).unwrap()
    );
    // The banner of blocking findings is in the head: never cut.
    let whole = markdown_within(&plans, &policies, usize::MAX);
    let tiny = markdown_within(&plans, &policies, 2_000);
    assert!(tiny.len() <= 2_000 && tiny.len() < whole.len());
    assert!(
        tiny.contains("**Policy: 1 mandatory finding(s)")
            && tiny.contains("`local` · **TP008** `us-east-1/rds:DbInstance/app-db`"),
        "{tiny}"
    );
}
