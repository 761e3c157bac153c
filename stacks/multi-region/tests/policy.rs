//! The policy pack on the real program: the shipped environments pass every mandatory rule (the
//! local one with its documented suppression), before and after a failover; and the `[policy]`
//! section of an environment file is validated like the rest of it.

use std::fmt::Write as _;
use std::path::Path;

use tandem_core::evaluate;
use tandem_policy::Report;
use tandem_posture::Posture;
use tandem_posture::transform::{self, Unreachable};
use tandem_stack_multi_region::{Environment, MultiRegion, policy};

mod common;
use common::GOOD;

fn environment(name: &str) -> Environment {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    Environment::load(&dir, name, &|_| None).unwrap()
}

fn report(env: &Environment, posture: Posture) -> Report {
    let desired = evaluate(&MultiRegion::new(env.clone(), posture)).unwrap();
    policy::evaluate(env, &desired)
}

fn initial(env: &Environment) -> Posture {
    Posture::initial(&env.primary_region, &env.secondary_region)
}

/// One line per finding: `RULE severity address (region) [subject]`, and a suppression's reason.
fn lines(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let _ = write!(
            out,
            "{} {} {} ({})",
            f.rule.id, f.severity, f.addr, f.region
        );
        if let Some(s) = &f.subject {
            let _ = write!(out, " [{s}]");
        }
        if let Some(reason) = &f.suppressed {
            let _ = write!(out, " suppressed: {reason}");
        }
        out.push('\n');
    }
    out
}

fn assert_passes(name: &str, report: &Report) {
    let blocking: Vec<String> = report.blocking().map(ToString::to_string).collect();
    assert!(
        blocking.is_empty(),
        "{name} fails mandatory rules:\n{}",
        blocking.join("\n")
    );
}

#[test]
fn prod_passes_every_mandatory_rule() {
    let env = environment("prod");
    let r = report(&env, initial(&env));
    assert_passes("prod", &r);
    assert!(r.unused_suppressions.is_empty());
    insta::assert_snapshot!(lines(&r));
}

#[test]
fn prod_after_a_failover_passes_every_mandatory_rule() {
    let env = environment("prod");
    let failed_over = transform::fail_over(
        &initial(&env),
        &env.secondary_region,
        Unreachable {
            old_region: false,
            route53: false,
        },
        Some("arn:aws:rds:us-east-1:111122223333:db:tandem-prod-app".into()),
        "2026-01-01T00:00:00Z",
        false,
    )
    .expect("fail over");
    let r = report(&env, failed_over);
    assert_passes("prod after a failover", &r);
    // The promoted replica is the writer now: held to the writers' rules.
    assert!(
        !lines(&r).contains("TP008"),
        "the promoted replica keeps a week of backups:\n{}",
        lines(&r)
    );
}

#[test]
fn every_shipped_aws_environment_passes() {
    for name in ["staging", "prod"] {
        let env = environment(name);
        assert_passes(name, &report(&env, initial(&env)));
    }
    // dev keeps one day of backups and says why in its suppression: the finding is shown, not
    // blocking, and the suppression is used.
    let env = environment("dev");
    let dev = report(&env, initial(&env));
    assert_passes("dev", &dev);
    assert!(dev.unused_suppressions.is_empty());
    let suppressed: Vec<String> = dev
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some())
        .map(|f| format!("{} {}", f.rule.id, f.addr))
        .collect();
    assert_eq!(
        suppressed,
        [
            "TP008 us-east-1/rds:DbInstance/app-db",
            "TP008 us-west-2/rds:DbReadReplica/app-db-replica"
        ],
        "{}",
        lines(&dev)
    );
}

#[test]
fn the_local_cloud_passes_with_its_suppression() {
    let env = environment("local");
    let r = report(&env, initial(&env));
    assert_passes("local", &r);
    let text = lines(&r);
    assert!(
        text.contains("TP008 mandatory us-east-1/rds:DbInstance/app-db (us-east-1) suppressed:"),
        "{text}"
    );
    // HTTP only: the listener that forwards plain HTTP is advisory there.
    assert!(
        text.contains("TP015 advisory us-east-1/cloudformation:StackInstance/baseline (us-east-1) [HttpListener]"),
        "{text}"
    );
}

fn parse(policy: &str) -> Result<Environment, String> {
    Environment::parse(
        Path::new("environments/test.toml"),
        "test",
        &format!("{GOOD}\n[policy]\n{policy}\n"),
        &|_| None,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn suppressions_are_read_and_each_bad_one_is_named() {
    let env = parse(
        r#"suppress = [
  { rule = "TP007", reason = "the databases move into the VPC in the next release" },
  { rule = "TP008", reason = "test data", resource = "*/rds:DbInstance/*" },
]"#,
    )
    .unwrap();
    let rules: Vec<(&str, Option<&str>)> = env
        .policy_suppressions
        .iter()
        .map(|s| (s.rule.as_str(), s.resource.as_deref()))
        .collect();
    assert_eq!(
        rules,
        [("TP007", None), ("TP008", Some("*/rds:DbInstance/*"))]
    );
    for (policy, error) in [
        (
            r#"suppress = [{ rule = "TP001", reason = "ok" }, { rule = "TP007" }]"#,
            "environments/test.toml: `policy.suppress[1]`: the suppression of TP007 has no reason",
        ),
        (
            r#"suppress = [{ rule = "TP007", reason = "  " }]"#,
            "`policy.suppress[0]`: the suppression of TP007 has no reason",
        ),
        (
            r#"suppress = [{ rule = "TP999", reason = "x" }]"#,
            "`policy.suppress[0]`: unknown rule \"TP999\" (the pack's rules: TP001,",
        ),
        (
            r#"suppress = [{ reason = "x" }]"#,
            "`policy.suppress[0]`: needs `rule`",
        ),
        (
            r#"suppress = [{ rule = "TP007", reason = "x", resource = "app-db" }]"#,
            "`policy.suppress[0]`: `resource` \"app-db\" is neither a resource address",
        ),
        (
            r#"suppress = [{ rule = "TP007", reason = "x", until = "2027" }]"#,
            "unknown field `until`",
        ),
    ] {
        let e = parse(policy).unwrap_err();
        assert!(e.contains(error), "{policy}: {e}");
    }
}
