//! Issue 13: the IAM coverage test. Every API action the local cloud's region gateway sees during a
//! deploy, a failover (and its resume once the region is back), a failback and a destroy must be
//! allowed by `tandem iam-policy`; the reads of `plan`, `status` and `check-health` by
//! `tandem iam-policy --read-only`.
//!
//! The gateway names each request's action from the wire (its call log, `GET /calls`), not from
//! Tandem's code; `tandem-aws`'s declared table says which IAM actions each API operation needs
//! (`s3:HeadBucket` is authorized by `s3:ListBucket`); the policy is what the command prints.

use std::collections::BTreeSet;

use serde_json::Value;
use tandem_localcloud::CallLogSnapshot;

use crate::failover::LocalCloud;

/// Whether an IAM action pattern matches `action` (case-insensitive; `*` any run, `?` one
/// character), written here again so that the check does not lean on Tandem's own.
fn matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

/// The `Sid` of a statement of `policy` that allows `action`, if any.
fn allowed_by(policy: &Value, action: &str) -> Option<String> {
    policy["Statement"].as_array()?.iter().find_map(|s| {
        let actions: Vec<&str> = match &s["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        (s["Effect"] == "Allow" && actions.iter().any(|p| matches(p, action)))
            .then(|| s["Sid"].as_str().unwrap_or("?").to_string())
    })
}

/// Checks every call of `log` against `policy`; returns what was checked, one line per API
/// operation, and what failed.
fn check(log: &CallLogSnapshot, policy: &Value) -> (Vec<String>, Vec<String>) {
    let mut seen = Vec::new();
    let mut failures = Vec::new();
    assert_eq!(log.dropped, 0, "the call log overflowed");
    let apis: BTreeSet<String> = log.calls.iter().map(|c| c.api()).collect();
    for c in &log.calls {
        if !["us-east-1", "us-west-2"].contains(&c.region.as_str()) {
            failures.push(format!(
                "{} in {}: not a region of the environment",
                c.api(),
                c.region
            ));
        }
    }
    for api in apis {
        let Some(declared) = tandem_aws::iam::api_action(&api) else {
            failures.push(format!(
                "{api}: not declared in tandem_aws::iam::API_ACTIONS"
            ));
            continue;
        };
        for action in declared.actions {
            match allowed_by(policy, action) {
                Some(sid) => seen.push(format!("{api} -> {action} ({sid})")),
                None => failures.push(format!("{api} -> {action}: not allowed by the policy")),
            }
        }
    }
    (seen, failures)
}

fn policy(c: &LocalCloud, args: &[&str]) -> Value {
    let printed = c.ok(&[&["iam-policy"], args].concat());
    serde_json::from_str(&printed.stdout).unwrap_or_else(|e| panic!("{e}: {}", printed.text()))
}

#[test]
fn every_call_of_a_deploy_failover_failback_and_destroy_is_in_the_iam_policy() {
    let _serial = crate::support::serial();
    let c = LocalCloud::new("iam");
    let control = c.gateway.control();
    let calls = || c.runtime.block_on(control.calls()).unwrap();
    let clear = || c.runtime.block_on(control.clear_calls()).unwrap();

    clear();
    c.ok(&["deploy", "all", "--yes"]);
    let deploy = calls();

    // Reads only, against the read-only policy.
    clear();
    c.ok(&["plan", "--detailed-exitcode"]);
    c.ok(&["status", "--json"]);
    c.ok(&["check-health"]);
    let reads = calls();
    let (read_seen, read_failures) = check(&reads, &policy(&c, &["--read-only"]));
    assert!(
        read_failures.is_empty(),
        "reads the read-only policy does not allow:\n{}",
        read_failures.join("\n")
    );

    // Failover while the primary is cut off, its resume once it is back, failback, destroy.
    c.ok(&["simulate-outage", "--region", "us-east-1"]);
    c.ok(&["failover", "--yes"]);
    c.ok(&["simulate-outage", "--region", "us-east-1", "--restore"]);
    c.ok(&["failover", "--resume", "--yes"]);
    c.ok(&["failback", "--yes"]);
    c.ok(&["destroy", "--yes"]);
    let rest = calls();

    let mut all = CallLogSnapshot::default();
    for log in [&deploy, &reads, &rest] {
        all.calls.extend(log.calls.iter().cloned());
        all.dropped += log.dropped;
    }
    let full = policy(&c, &[]);
    let (seen, failures) = check(&all, &full);
    let observed: BTreeSet<String> = all.calls.iter().map(|x| x.api()).collect();
    let declared: BTreeSet<&str> = tandem_aws::iam::API_ACTIONS.iter().map(|a| a.api).collect();
    let never: Vec<&&str> = declared
        .iter()
        .filter(|a| !observed.contains(**a))
        .collect();
    eprintln!(
        "IAM coverage: {} API operations observed ({} reads), {} checks against the policy's \
         {} statements; declared but not observed here: {never:?}\n{}",
        observed.len(),
        read_seen.len(),
        seen.len(),
        full["Statement"].as_array().map_or(0, Vec::len),
        seen.join("\n")
    );
    assert!(
        failures.is_empty(),
        "calls the policy does not allow:\n{}",
        failures.join("\n")
    );
    // The run did reach every service Tandem uses.
    for service in [
        "sts",
        "s3",
        "rds",
        "route53",
        "cloudformation",
        "cloudwatch",
        "autoscaling",
    ] {
        assert!(
            all.calls.iter().any(|x| x.service == service),
            "no {service} call observed: {observed:?}"
        );
    }
    drop(c.gateway);
    drop(c.runtime);
}

#[test]
fn the_check_fails_on_unknown_undeclared_and_disallowed_calls() {
    use tandem_localcloud::RecordedCall;
    let call = |service: &str, action: &str, region: &str| RecordedCall {
        service: service.into(),
        action: action.into(),
        region: region.into(),
        count: 1,
    };
    let log = CallLogSnapshot {
        calls: vec![
            call("s3", "HeadBucket", "us-east-1"),
            call("s3", "UNKNOWN PUT /b", "us-east-1"),
            call("rds", "DescribeDBInstances", "eu-west-1"),
            call("rds", "StopDBInstance", "us-east-1"),
        ],
        dropped: 0,
    };
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": ["s3:List*", "rds:Describe*"], "Resource": "*"},
    ]});
    let (seen, failures) = check(&log, &policy);
    assert_eq!(
        seen,
        [
            "rds:DescribeDBInstances -> rds:DescribeDBInstances (A)",
            "s3:HeadBucket -> s3:ListBucket (A)"
        ]
    );
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(failures[0].contains("eu-west-1"));
    assert!(failures[1].contains("rds:StopDBInstance: not allowed"));
    assert!(failures[2].contains("UNKNOWN PUT /b: not declared"));
}
