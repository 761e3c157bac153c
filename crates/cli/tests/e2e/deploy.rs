//! Issue 4: deploying the multi-region stack to the local cloud, region by region.

use serde_json::Value;

use crate::support::Scratch;

fn assert_empty(inv: &Value) {
    assert_eq!(inv["stack_sets"], serde_json::json!([]), "{inv:#}");
    assert_eq!(inv["stack_instances"], serde_json::json!([]), "{inv:#}");
    assert_eq!(inv["buckets"], serde_json::json!([]), "{inv:#}");
    assert_eq!(inv["zones"], serde_json::json!([]), "{inv:#}");
    assert_eq!(inv["health_checks"], 0, "{inv:#}");
    for region in ["us-east-1", "us-west-2"] {
        assert_eq!(inv["stacks"][region], serde_json::json!([]), "{inv:#}");
        assert_eq!(inv["db"][region], serde_json::json!({}), "{inv:#}");
        assert_eq!(inv["alarms"][region], serde_json::json!([]), "{inv:#}");
    }
}

fn check_deployment(d: &Value) {
    // Both stack instances of the one stack set.
    let mut regions: Vec<&str> = d["stack_instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    regions.sort();
    assert_eq!(regions, ["us-east-1", "us-west-2"], "{d:#}");
    // The replica in us-west-2 replicates the primary of us-east-1, by ARN; both encrypted.
    let primary = &d["db"]["us-east-1"]["tandem-local-app"];
    let replica = &d["db"]["us-west-2"]["tandem-local-app-replica"];
    assert_eq!(replica["source"], primary["arn"], "{d:#}");
    assert!(primary["arn"].as_str().unwrap().contains(":us-east-1:"));
    assert_eq!(primary["encrypted"], true);
    assert_eq!(replica["encrypted"], true);
    assert!(
        replica["kms"].as_str().unwrap().contains(":us-west-2:"),
        "replica key must be in its own region: {d:#}"
    );
    // Replication from the primary's bucket to the secondary's, versioning on both.
    let buckets: Vec<&str> = d["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let (east, west) = (
        buckets.iter().find(|b| b.contains("us-east-1")).unwrap(),
        buckets.iter().find(|b| b.contains("us-west-2")).unwrap(),
    );
    assert_eq!(d["versioning"][east], "Enabled");
    assert_eq!(d["versioning"][west], "Enabled");
    assert_eq!(
        d["replication"][east],
        serde_json::json!([format!("arn:aws:s3:::{west}")]),
        "{d:#}"
    );
    // The failover pair: PRIMARY to us-east-1's ALB, SECONDARY to us-west-2's, a health check each.
    let records = d["failover_records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{d:#}");
    assert_eq!(records[0]["failover"], "PRIMARY");
    assert_eq!(records[1]["failover"], "SECONDARY");
    assert!(
        records[0]["alias"].as_str().unwrap().contains("us-east-1"),
        "{d:#}"
    );
    assert!(
        records[1]["alias"].as_str().unwrap().contains("us-west-2"),
        "{d:#}"
    );
    for r in records {
        assert!(
            r["health_check"].as_str().is_some_and(|h| !h.is_empty()),
            "{d:#}"
        );
        assert_eq!(r["evaluate_target_health"], true);
    }
    assert_eq!(d["health_checks"], 2);
    assert_eq!(d["stack_sets"].as_array().unwrap().len(), 1);
}

/// One test, in sequence, because every step uses the same physical names in the same moto.
#[test]
fn deploy_region_by_region_then_all_then_destroy() {
    let _serial = crate::support::serial();
    let s = Scratch::new();
    assert_empty(&s.verify("inventory"));

    // Bad environment input: one clear error, a documented exit code, nothing deployed.
    for (var, value, expected) in [
        ("PRIMARY_REGION", "us-moon-1", "unknown AWS region"),
        (
            "SECONDARY_REGION",
            "us-east-1",
            "must differ from primary_region",
        ),
        ("DOMAIN_NAME", "not a domain", "invalid domain name"),
        ("RTO_MINUTES", "soon", "must be a whole number of minutes"),
        ("RPO_MINUTES", "-5", "must be a positive number of minutes"),
    ] {
        let r = s.tandem(
            &["deploy", "all", "--env", "local", "--yes"],
            &[(var, value)],
        );
        assert_eq!(r.code, 3, "{var}={value}: {}", r.text());
        assert!(
            r.stderr.contains(expected) && r.stderr.contains("local.toml"),
            "{}",
            r.text()
        );
        assert_eq!(
            r.stderr.lines().filter(|l| l.contains("error")).count(),
            1,
            "{}",
            r.text()
        );
    }
    let unknown_env = s.tandem(&["plan", "--env", "nope"], &[]);
    assert_eq!(unknown_env.code, 3, "{}", unknown_env.text());
    assert_empty(&s.verify("inventory"));

    // A plan of a fresh environment has changes (exit 2); applying without --yes and without a
    // terminal to ask on is refused (exit 5), and changes nothing.
    let fresh = s.tandem(&["plan", "--env", "local", "--detailed-exitcode"], &[]);
    assert_eq!(fresh.code, 2, "{}", fresh.text());
    assert!(
        fresh.stdout.contains("Plan: 22 to create"),
        "{}",
        fresh.text()
    );
    let json = s.tandem(&["plan", "--env", "local", "--json"], &[]);
    let j: Value = serde_json::from_str(&json.stdout).expect("plan --json is JSON");
    assert_eq!(j["format_version"], 1);
    assert_eq!(j["summary"]["create"], 22);
    let unasked = s.tandem(&["apply", "--env", "local"], &[]);
    assert_eq!(unasked.code, 5, "{}", unasked.text());
    assert!(unasked.stderr.contains("no terminal"), "{}", unasked.text());
    assert_empty(&s.verify("inventory"));

    // The secondary is refused until the primary is deployed.
    let early = s.tandem(&["deploy", "secondary", "--env", "local", "--yes"], &[]);
    assert_eq!(early.code, 5, "{}", early.text());
    assert!(
        early
            .stderr
            .contains("primary region us-east-1 is not deployed"),
        "{}",
        early.text()
    );
    assert_empty(&s.verify("inventory"));

    // Primary, then secondary.
    let p = s.tandem(&["deploy", "primary", "--env", "local", "--yes"], &[]);
    assert_eq!(p.code, 0, "{}", p.text());
    let after_primary = s.verify("deployment");
    assert_eq!(
        after_primary["stack_instances"],
        serde_json::json!(["us-east-1"]),
        "{after_primary:#}"
    );
    assert_eq!(after_primary["db"]["us-west-2"], serde_json::json!({}));
    let sec = s.tandem(&["deploy", "secondary", "--env", "local", "--yes"], &[]);
    assert_eq!(sec.code, 0, "{}", sec.text());
    let stepwise = s.verify("deployment");
    check_deployment(&stepwise);
    let plan = s.tandem(&["plan", "--env", "local", "--detailed-exitcode"], &[]);
    assert_eq!(
        plan.code,
        0,
        "a fresh deployment must plan no changes: {}",
        plan.text()
    );
    let state_stepwise = s.tandem(&["state", "list", "--env", "local"], &[]).stdout;

    let d = s.tandem(&["destroy", "--env", "local", "--yes"], &[]);
    assert_eq!(d.code, 0, "{}", d.text());
    assert_empty(&s.verify("inventory"));

    // All at once reaches the same end state.
    let all = s.tandem(&["deploy", "all", "--env", "local", "--yes"], &[]);
    assert_eq!(all.code, 0, "{}", all.text());
    let at_once = s.verify("deployment");
    check_deployment(&at_once);
    let addresses = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    };
    let state_all = s.tandem(&["state", "list", "--env", "local"], &[]).stdout;
    assert_eq!(addresses(&state_stepwise), addresses(&state_all));
    assert_eq!(
        stepwise["failover_records"].as_array().unwrap().len(),
        at_once["failover_records"].as_array().unwrap().len()
    );
    let plan = s.tandem(&["plan", "--env", "local", "--detailed-exitcode"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.text());
    let out = s.tandem(&["output", "--env", "local", "app_url"], &[]);
    assert_eq!(out.stdout.trim(), "http://app.tandem-local.example/");

    let d = s.tandem(&["destroy", "--env", "local", "--yes"], &[]);
    assert_eq!(d.code, 0, "{}", d.text());
    assert_empty(&s.verify("inventory"));
}
