//! The declared calls against this crate's own sources, and the shape of the policy made from
//! them.

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;

/// Every source file of this crate but `call.rs` and this module, without their test modules:
/// read from the disk, so that a new file is scanned too.
fn sources() -> Vec<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || ["call.rs", "iam.rs"].contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or(&text)
            .to_string();
        out.push((name, code));
    }
    assert!(
        out.len() > 10,
        "the sources were not found in {}",
        src.display()
    );
    out
}

/// The start of each `call(` that is not part of a longer name.
fn call_sites(text: &str) -> Vec<usize> {
    text.match_indices("call(")
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = text[..i].chars().next_back();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                && !text[..i].ends_with("fn ")
        })
        .collect()
}

/// The operation each `call(POLICY, OPERATION, ...)` names: its second argument, a string literal
/// or a `const` of the same file.
fn called_operations() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (file, text) in sources() {
        let text = text.as_str();
        for at in call_sites(text) {
            let rest = &text[at + "call(".len()..];
            let second = rest[rest.find(',').expect("call has arguments") + 1..].trim_start();
            let op = if let Some(literal) = second.strip_prefix('"') {
                literal[..literal.find('"').unwrap()].to_string()
            } else {
                let ident: String = second
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let decl = format!("const {ident}: &str = \"");
                let at = text.find(&decl).unwrap_or_else(|| {
                    panic!("{file}: call names {ident}, not a literal or const")
                });
                let value = &text[at + decl.len()..];
                value[..value.find('"').unwrap()].to_string()
            };
            let (service, name) = op
                .split_once(':')
                .unwrap_or_else(|| panic!("{file}: call names {op:?}, not SERVICE:Operation"));
            assert!(
                !service.is_empty()
                    && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && name.chars().all(|c| c.is_ascii_alphanumeric()),
                "{file}: call names {op:?}, not SERVICE:Operation"
            );
            out.insert(op);
        }
    }
    out
}

#[test]
fn every_sdk_request_goes_through_call() {
    // So that the scan below sees every request: each `.send()` is inside one `call`.
    for (file, text) in sources() {
        let sends = text.matches(".send()").count();
        assert_eq!(
            sends,
            call_sites(&text).len(),
            "{file}: {sends} SDK requests but a different number of `call`s"
        );
    }
}

#[test]
fn every_operation_the_code_calls_is_declared_and_every_declared_one_is_called() {
    let called = called_operations();
    let declared: BTreeSet<String> = CALLS
        .iter()
        .flat_map(|s| s.apis.iter().map(|a| a.to_string()))
        .collect();
    let missing: Vec<_> = called.difference(&declared).collect();
    assert!(missing.is_empty(), "called but not in CALLS: {missing:?}");
    let stale: Vec<_> = declared.difference(&called).collect();
    assert!(stale.is_empty(), "in CALLS but called nowhere: {stale:?}");
    let with_iam: BTreeSet<String> = API_ACTIONS.iter().map(|a| a.api.to_string()).collect();
    let no_iam: Vec<_> = declared.difference(&with_iam).collect();
    assert!(no_iam.is_empty(), "no IAM actions declared for {no_iam:?}");
    let unused: Vec<_> = with_iam.difference(&declared).collect();
    assert!(
        unused.is_empty(),
        "API_ACTIONS for operations never called: {unused:?}"
    );
    assert_eq!(
        API_ACTIONS.len(),
        with_iam.len(),
        "an API operation is declared twice"
    );
}

#[test]
fn every_provider_is_declared_with_each_of_its_operations() {
    let providers = crate::providers(crate::AwsClients::local("http://127.0.0.1:9", "a", "b"));
    let kinds: BTreeSet<&str> = providers.kinds().collect();
    let declared: BTreeSet<&str> = CALLS
        .iter()
        .map(|s| s.user)
        .filter(|u| !u.contains("::"))
        .collect();
    assert_eq!(kinds, declared);
    for kind in kinds {
        let ops: BTreeSet<Operation> = CALLS
            .iter()
            .filter(|s| s.user == kind)
            .map(|s| s.operation)
            .collect();
        for op in [Read, Create, Update, Find] {
            assert!(ops.contains(&op), "{kind}: no {} declared", op.as_str());
        }
    }
}

#[test]
fn actions_flattens_each_use_with_its_resources() {
    let uses = actions();
    let head = uses
        .iter()
        .find(|u| u.kind == kinds::S3_BUCKET && u.api == "s3:HeadBucket")
        .unwrap();
    assert_eq!(head.actions, ["s3:ListBucket"]);
    assert_eq!(head.resources, ["arn:${Partition}:s3:::tandem-${Env}-*"]);
    assert!(
        uses.iter()
            .any(|u| u.kind == "rds::promote_read_replica" && u.operation == Update)
    );
}

fn target() -> PolicyTarget {
    PolicyTarget {
        env: "staging".into(),
        account: "111122223333".into(),
        primary_region: "eu-west-1".into(),
        secondary_region: "eu-central-1".into(),
        stackset_region: "eu-central-1".into(),
        domain: "Staging.Example.com.".into(),
        vpc_peering: true,
        read_only: false,
        state_bucket: Some("tandem-state-111122223333".into()),
    }
}

fn statements(p: &Value) -> Vec<Value> {
    p["Statement"].as_array().unwrap().clone()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => panic!("{v}"),
    }
}

/// The regions named by an ARN (`arn:PARTITION:SERVICE:REGION:...`); `None` for a global one.
fn region_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

#[test]
fn the_policy_is_least_privilege_and_fully_resolved() {
    let p = policy(&target());
    assert_eq!(p["Version"], "2012-10-17");
    let text = p.to_string();
    assert!(!text.contains("${"), "an unresolved placeholder: {text}");
    let mut sids = BTreeSet::new();
    for s in statements(&p) {
        let sid = s["Sid"].as_str().unwrap();
        assert!(sid.chars().all(|c| c.is_ascii_alphanumeric()), "{sid}");
        assert!(sids.insert(sid.to_string()), "Sid {sid} twice");
        assert_eq!(s["Effect"], "Allow");
        for action in strings(&s["Action"]) {
            let (service, name) = action.split_once(':').unwrap();
            assert!(
                !action.contains('*') && !service.is_empty() && !name.is_empty(),
                "{action}"
            );
        }
        let resources = strings(&s["Resource"]);
        let scope = [
            Scope::StsAny,
            Scope::Route53Any,
            Scope::CloudWatchAnyInRegions,
            Scope::AutoScalingAnyInRegions,
            Scope::SecretsManagerAnyInRegions,
            Scope::Ec2DescribeViaCloudFormation,
        ]
        .into_iter()
        .find(|sc| sc.sid() == sid);
        if resources.iter().any(|r| r == "*") {
            let scope = scope.unwrap_or_else(|| panic!("{sid} has a * resource"));
            assert!(scope.why_wide().is_some(), "{sid}");
            assert!(
                sid.contains("No"),
                "{sid} does not say why its resource is *"
            );
            assert_eq!(resources, ["*"]);
        }
        for r in &resources {
            if r == "*" {
                continue;
            }
            assert!(r.starts_with("arn:aws:"), "{r}");
            assert!(!r.ends_with(":*:*") || r.contains("stackset/"), "{r}");
            if let Some(region) = region_of_arn(r) {
                let allowed = ["eu-west-1", "eu-central-1"].contains(&region)
                    || (region == ROUTE53_METRICS_REGION && r.contains(":cloudwatch:"));
                assert!(allowed, "{sid}: {r} is outside the environment's regions");
            }
            let account = r.split(':').nth(4).unwrap_or_default();
            assert!(
                ["", "111122223333"].contains(&account) || r.contains(":type/resource/"),
                "{r}"
            );
        }
        for condition in s.get("Condition").into_iter() {
            for region in condition["StringEquals"]["aws:RequestedRegion"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert!(["eu-west-1", "eu-central-1"].contains(&region.as_str().unwrap()));
            }
        }
    }
    // The names: every bucket, database, stack, stack set and alarm of the environment only.
    let named = |sid: &str| strings(&find(&p, sid)["Resource"]);
    assert_eq!(named("S3Buckets"), ["arn:aws:s3:::tandem-staging-*"]);
    assert!(
        named("RdsInstances")
            .contains(&"arn:aws:rds:eu-west-1:111122223333:db:tandem-staging-*".to_string())
    );
    assert_eq!(
        named("CloudFormationStackSet"),
        ["arn:aws:cloudformation:eu-central-1:111122223333:stackset/tandem-staging-*:*"]
    );
    assert!(
        named("CloudWatchAlarms").contains(
            &"arn:aws:cloudwatch:us-east-1:111122223333:alarm:tandem-staging-*".to_string()
        ),
        "the Route 53 health alarms live in us-east-1"
    );
    assert_eq!(
        find(&p, "Route53DomainRecordsOnly")["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"],
        serde_json::json!(["staging.example.com"])
    );
    assert_eq!(
        find(&p, "PassStackSetAdminRole")["Resource"],
        "arn:aws:iam::111122223333:role/tandem-staging-StackSetAdministration"
    );
    assert!(allows(&p, "sts:GetCallerIdentity"));
    assert!(allows(&p, "iam:PassRole"));
    assert!(allows(&p, "cloudformation:CreateStackSet"));
}

fn find(p: &Value, sid: &str) -> Value {
    statements(p)
        .into_iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}: {p:#}"))
}

fn allows(p: &Value, action: &str) -> bool {
    statements(p).iter().any(|s| {
        strings(&s["Action"])
            .iter()
            .any(|a| action_matches(a, action))
    })
}

#[test]
fn the_policy_allows_every_declared_action() {
    let p = policy(&target());
    for u in actions() {
        for a in &u.actions {
            assert!(allows(&p, a), "{a} ({} of {})", u.api, u.kind);
        }
    }
    for d in DEPENDENT {
        for a in d.actions {
            assert!(allows(&p, a), "{a}: {}", d.because);
        }
    }
}

#[test]
fn the_read_only_policy_reads_and_covers_every_read() {
    let p = policy(&PolicyTarget {
        read_only: true,
        ..target()
    });
    for s in statements(&p) {
        for action in strings(&s["Action"]) {
            let name = action.split_once(':').unwrap().1;
            assert!(
                ["Describe", "Get", "List"]
                    .iter()
                    .any(|v| name.starts_with(v)),
                "{action} is not a read"
            );
        }
    }
    for u in actions().iter().filter(|u| u.operation.reads_only()) {
        for a in &u.actions {
            assert!(allows(&p, a), "{a} ({} of {})", u.api, u.kind);
        }
    }
    assert!(!allows(&p, "iam:PassRole"));
}

#[test]
fn without_peering_no_ec2_and_the_partition_follows_the_region() {
    let p = policy(&PolicyTarget {
        vpc_peering: false,
        primary_region: "us-gov-west-1".into(),
        secondary_region: "us-gov-east-1".into(),
        stackset_region: "us-gov-east-1".into(),
        ..target()
    });
    assert!(!p.to_string().contains("\"ec2:"));
    assert_eq!(
        strings(&find(&p, "S3Buckets")["Resource"]),
        ["arn:aws-us-gov:s3:::tandem-staging-*"]
    );
}

#[test]
fn the_policy_fits_an_inline_role_policy() {
    // IAM's limits, whitespace not counted: 10,240 characters for a role's inline policies, 6,144
    // for a managed policy (which this document exceeds: attach it inline, or split it).
    for (admin, peering) in [("eu-central-1", false), ("eu-west-2", true)] {
        let p = policy(&PolicyTarget {
            stackset_region: admin.into(),
            vpc_peering: peering,
            env: "production-eu".into(),
            domain: "a-rather-long-application-name.example.com".into(),
            // The S3 state backend's two statements (about 300 characters) come on top: with
            // them, attach the state's statements as a second inline policy (README).
            state_bucket: None,
            ..target()
        });
        let size = p.to_string().chars().filter(|c| !c.is_whitespace()).count();
        assert!(size <= 10_240, "{size} characters with {admin}");
        // The administration region holds the stack set and its roles' stack, nothing else.
        for s in statements(&p) {
            for r in strings(&s["Resource"]) {
                if region_of_arn(&r) == Some("eu-west-2") {
                    assert!(r.starts_with("arn:aws:cloudformation:"), "{r}");
                }
            }
        }
        assert!(
            size > 6_144,
            "{size}: the README says it exceeds a managed policy"
        );
    }
}

#[test]
fn action_patterns_match_as_iam_does() {
    assert!(action_matches("rds:Describe*", "rds:DescribeDBInstances"));
    assert!(action_matches("S3:listbucket", "s3:ListBucket"));
    assert!(action_matches("s3:*", "s3:ListBucket"));
    assert!(action_matches("s3:Get?ucketTagging", "s3:GetBucketTagging"));
    assert!(!action_matches("rds:Describe*", "rds:DeleteDBInstance"));
    assert!(!action_matches("s3:ListBucket", "s3:ListBucketVersions"));
}
