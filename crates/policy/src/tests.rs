//! One test per rule: a small stack with a resource that passes and one that fails; then
//! suppressions and the report's order.

use serde_json::{Value as Json, json};
use tandem_core::{
    DesiredStack, ResourceAddr, ResourceDecl, ResourceOptions, StackBuilder, Value, map,
};

use crate::template::deployments;
use crate::{Context, RULES, Report, Severity, Suppression, evaluate};

fn addr(text: &str) -> ResourceAddr {
    text.parse().unwrap()
}

fn decl(text: &str) -> ResourceDecl {
    ResourceDecl::new(addr(text))
}

/// The stack instance of `region`, whose `KmsKeyArn` output is the region's key.
fn instance(region: &str) -> ResourceDecl {
    decl(&format!("{region}/cloudformation:StackInstance/baseline"))
}

fn key_of(region: &str) -> Value {
    Value::reference(
        addr(&format!("{region}/cloudformation:StackInstance/baseline")),
        "KmsKeyArn",
    )
}

fn stack(decls: Vec<ResourceDecl>) -> DesiredStack {
    let mut b = StackBuilder::new();
    for d in decls {
        b.declare(d);
    }
    b.finish().unwrap()
}

fn context() -> Context {
    Context {
        env: "test".into(),
        regions: vec!["us-east-1".into(), "us-west-2".into()],
        protect_stateful: false,
        http_only: false,
    }
}

/// A context without regions: no region needs a health check (TP012), for tests of other rules.
fn without_regions() -> Context {
    Context {
        regions: Vec::new(),
        ..context()
    }
}

fn report_in(decls: Vec<ResourceDecl>, ctx: &Context) -> Report {
    evaluate(&stack(decls), ctx, &[])
}

/// The findings of `rule`: `severity address (region)[ subject]`.
fn found_in(decls: Vec<ResourceDecl>, ctx: &Context, rule: &str) -> Vec<String> {
    report_in(decls, ctx)
        .findings
        .iter()
        .filter(|f| f.rule.id == rule)
        .map(|f| {
            let subject = f
                .subject
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            format!("{} {} ({}){subject}", f.severity, f.addr, f.region)
        })
        .collect()
}

fn found(decls: Vec<ResourceDecl>, rule: &str) -> Vec<String> {
    found_in(decls, &context(), rule)
}

fn db(region: &str, name: &str) -> ResourceDecl {
    decl(&format!("{region}/rds:DbInstance/{name}"))
        .input("storage_encrypted", true)
        .input("kms_key_id", key_of(region))
        .input("publicly_accessible", false)
        .input("backup_retention_period", 7)
        .input("db_subnet_group_name", "tandem-db")
}

fn replica(region: &str, name: &str) -> ResourceDecl {
    decl(&format!("{region}/rds:DbReadReplica/{name}"))
        .input("kms_key_id", key_of(region))
        .input("publicly_accessible", false)
        .input("backup_retention_period", 7)
        .input("db_subnet_group_name", "tandem-db")
}

fn bucket(region: &str, name: &str) -> ResourceDecl {
    decl(&format!("{region}/s3:Bucket/{name}")).input("kms_key_arn", key_of(region))
}

fn instances() -> Vec<ResourceDecl> {
    vec![instance("us-east-1"), instance("us-west-2")]
}

fn with_instances(mut decls: Vec<ResourceDecl>) -> Vec<ResourceDecl> {
    decls.extend(instances());
    decls
}

#[test]
fn tp001_databases_are_encrypted_with_their_own_regions_key() {
    let good = db("us-east-1", "good");
    let other_region = db("us-east-1", "cross").input("kms_key_id", key_of("us-west-2"));
    let plain = db("us-east-1", "plain").input("storage_encrypted", false);
    let replica_without_key = replica("us-west-2", "replica").input("kms_key_id", Value::Null);
    let arn_elsewhere = replica("us-west-2", "arn")
        .input("kms_key_id", "arn:aws:kms:us-east-1:123456789012:key/abcd");
    let alias = db("us-west-2", "alias").input("kms_key_id", "alias/tandem");
    assert_eq!(
        found(
            with_instances(vec![
                good,
                other_region,
                plain,
                replica_without_key,
                arn_elsewhere,
                alias
            ]),
            "TP001"
        ),
        [
            "mandatory us-east-1/rds:DbInstance/cross (us-east-1)",
            "mandatory us-east-1/rds:DbInstance/plain (us-east-1)",
            "mandatory us-west-2/rds:DbReadReplica/arn (us-west-2)",
            "mandatory us-west-2/rds:DbReadReplica/replica (us-west-2)",
        ]
    );
    let r = report_in(
        with_instances(vec![
            db("us-east-1", "x").input("kms_key_id", key_of("us-west-2")),
        ]),
        &context(),
    );
    let f = r.findings.iter().find(|f| f.rule.id == "TP001").unwrap();
    assert!(
        f.message
            .contains("a key of us-west-2, not of the database's region us-east-1")
    );
    assert!(f.fix.contains("KmsKeyArn"), "{}", f.fix);
}

#[test]
fn tp002_buckets_use_sse_kms_with_their_own_regions_key() {
    assert_eq!(
        found(
            with_instances(vec![
                bucket("us-east-1", "good"),
                bucket("us-east-1", "cross").input("kms_key_arn", key_of("us-west-2")),
                decl("us-west-2/s3:Bucket/sse-s3"),
            ]),
            "TP002"
        ),
        [
            "mandatory us-east-1/s3:Bucket/cross (us-east-1)",
            "mandatory us-west-2/s3:Bucket/sse-s3 (us-west-2)",
        ]
    );
}

fn secret(region: &str, name: &str) -> ResourceDecl {
    decl(&format!("{region}/secretsmanager:DatabaseSecret/{name}"))
        .input("name", format!("tandem/test/{name}"))
        .input("kms_key_id", key_of(region))
}

fn secret_replica(region: &str, name: &str, key: Value) -> ResourceDecl {
    decl(&format!("{region}/secretsmanager:SecretReplica/{name}"))
        .input(
            "secret_arn",
            format!(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:tandem/test/{name}-a1b2c3"
            ),
        )
        .input("kms_key_id", key)
}

#[test]
fn tp016_database_secrets_and_their_replicas_use_their_own_regions_key() {
    let good = secret("us-east-1", "good");
    let good_replica = secret_replica("us-west-2", "good", key_of("us-west-2"));
    let mapped = secret("us-east-1", "mapped").input(
        "replica_regions",
        map([
            ("us-west-2", key_of("us-west-2")),
            (
                "eu-west-1",
                Value::from("arn:aws:kms:eu-west-1:123456789012:key/e"),
            ),
        ]),
    );
    // Failing: no key (the AWS managed key), a key of the other region, a replica with the
    // primary's key, a replica region mapped to another region's key.
    let managed = secret("us-east-1", "managed").input("kms_key_id", Value::Null);
    let cross = secret("us-west-2", "cross").input("kms_key_id", key_of("us-east-1"));
    let replica_with_primary_key = secret_replica("us-west-2", "primary-key", key_of("us-east-1"));
    let mapped_wrong = secret("us-east-1", "mapped-wrong")
        .input("replica_regions", map([("us-west-2", key_of("us-east-1"))]));
    let unknown = secret("us-east-1", "unknown").input("kms_key_id", Value::Unknown);
    assert_eq!(
        found(
            with_instances(vec![
                good,
                good_replica,
                mapped,
                managed,
                cross,
                replica_with_primary_key,
                mapped_wrong,
                unknown,
            ]),
            "TP016"
        ),
        [
            "mandatory us-east-1/secretsmanager:DatabaseSecret/managed (us-east-1)",
            "mandatory us-east-1/secretsmanager:DatabaseSecret/mapped-wrong (us-west-2) \
             replica_regions.us-west-2",
            "mandatory us-east-1/secretsmanager:DatabaseSecret/unknown (us-east-1)",
            "mandatory us-west-2/secretsmanager:DatabaseSecret/cross (us-west-2)",
            "mandatory us-west-2/secretsmanager:SecretReplica/primary-key (us-west-2)",
        ]
    );
    let r = report_in(
        with_instances(vec![secret_replica("us-west-2", "x", key_of("us-east-1"))]),
        &context(),
    );
    let f = r.findings.iter().find(|f| f.rule.id == "TP016").unwrap();
    assert!(
        f.message.contains(
            "the secret's replica is encrypted with a key of us-east-1, not of us-west-2"
        ),
        "{}",
        f.message
    );
    assert!(f.fix.contains("replica's own region"), "{}", f.fix);
    assert!(f.blocks());
    let r = report_in(
        with_instances(vec![
            secret("us-east-1", "x").input("kms_key_id", Value::Null),
        ]),
        &context(),
    );
    let f = r.findings.iter().find(|f| f.rule.id == "TP016").unwrap();
    assert!(f.message.contains("aws/secretsmanager"), "{}", f.message);
}

/// A stack set of `resources` (and `conditions`) with one instance per region, each given its
/// `HttpOnly` parameter.
fn stack_set(resources: Json, conditions: Json, http_only: &[(&str, &str)]) -> Vec<ResourceDecl> {
    let template = json!({
        "Parameters": {"HttpOnly": {"Type": "String", "Default": "false"}},
        "Conditions": conditions,
        "Resources": resources,
    });
    let set = decl("global/cloudformation:StackSet/baseline")
        .input("region", "us-west-2")
        .input("stack_set_name", "tandem-test-baseline")
        .input("template_body", template.to_string())
        .input("parameters", map([("EnvName", "test")]));
    let set_addr = set.addr.clone();
    let mut decls = vec![set];
    for (region, value) in http_only {
        decls.push(
            instance(region)
                .input(
                    "stack_set_name",
                    Value::reference(set_addr.clone(), "stack_set_name"),
                )
                .input("parameter_overrides", map([("HttpOnly", *value)])),
        );
    }
    decls
}

fn both_regions() -> [(&'static str, &'static str); 2] {
    [("us-east-1", "false"), ("us-west-2", "false")]
}

#[test]
fn tp003_log_groups_are_encrypted_with_the_templates_key() {
    let resources = json!({
        "KmsKey": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Good": {"Type": "AWS::Logs::LogGroup",
                 "Properties": {"KmsKeyId": {"Fn::GetAtt": ["KmsKey", "Arn"]}}},
        "Plain": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
        "Elsewhere": {"Type": "AWS::Logs::LogGroup",
                      "Properties": {"KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k"}},
    });
    assert_eq!(
        found(stack_set(resources, json!({}), &both_regions()), "TP003"),
        [
            "mandatory us-east-1/cloudformation:StackInstance/baseline (us-east-1) Plain",
            "mandatory us-west-2/cloudformation:StackInstance/baseline (us-west-2) Elsewhere",
            "mandatory us-west-2/cloudformation:StackInstance/baseline (us-west-2) Plain",
        ]
    );
}

#[test]
fn tp004_buckets_refuse_plain_http() {
    assert_eq!(
        found(
            with_instances(vec![
                bucket("us-east-1", "default"),
                bucket("us-east-1", "explicit").input("deny_insecure_transport", true),
                bucket("us-east-1", "open").input("deny_insecure_transport", false),
            ]),
            "TP004"
        ),
        ["mandatory us-east-1/s3:Bucket/open (us-east-1)"]
    );
}

#[test]
fn tp005_buckets_block_public_access() {
    assert_eq!(
        found(
            with_instances(vec![
                bucket("us-west-2", "blocked").input("block_public_access", true),
                bucket("us-west-2", "public").input("block_public_access", false),
            ]),
            "TP005"
        ),
        ["mandatory us-west-2/s3:Bucket/public (us-west-2)"]
    );
}

#[test]
fn template_buckets_are_judged_too() {
    let resources = json!({
        "KmsKey": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Good": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "KmsKey"}}}]}}},
        "GoodPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Good"},
            "PolicyDocument": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
        "Bad": {"Type": "AWS::S3::Bucket", "Properties": {
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": false}}},
    });
    let decls = stack_set(resources, json!({}), &[("us-east-1", "false")]);
    let at = "mandatory us-east-1/cloudformation:StackInstance/baseline (us-east-1) Bad";
    for rule in ["TP002", "TP004", "TP005"] {
        assert_eq!(found(decls.clone(), rule), [at], "{rule}");
    }
}

#[test]
fn a_load_balancers_access_log_bucket_takes_sse_s3() {
    let sse_s3 = json!({"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]});
    let resources = json!({
        "LoadBalancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "LoadBalancerAttributes": [{"Key": "access_logs.s3.bucket",
                "Value": {"Fn::If": ["ServeHttps", {"Ref": "AccessLogs"}, ""]}}]}},
        "AccessLogs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketEncryption": sse_s3}},
        "Other": {"Type": "AWS::S3::Bucket", "Properties": {"BucketEncryption": sse_s3}},
        "Plain": {"Type": "AWS::S3::Bucket", "Properties": {}},
    });
    let conditions = json!({"ServeHttps": {"Fn::Equals": [{"Ref": "HttpOnly"}, "false"]}});
    assert_eq!(
        found(
            stack_set(resources, conditions, &[("us-east-1", "false")]),
            "TP002"
        ),
        [
            "mandatory us-east-1/cloudformation:StackInstance/baseline (us-east-1) Other",
            "mandatory us-east-1/cloudformation:StackInstance/baseline (us-east-1) Plain",
        ]
    );
}

#[test]
fn tp006_databases_are_private() {
    assert_eq!(
        found(
            with_instances(vec![
                db("us-east-1", "private"),
                db("us-east-1", "public").input("publicly_accessible", true),
                replica("us-west-2", "public-replica").input("publicly_accessible", true),
            ]),
            "TP006"
        ),
        [
            "mandatory us-east-1/rds:DbInstance/public (us-east-1)",
            "mandatory us-west-2/rds:DbReadReplica/public-replica (us-west-2)",
        ]
    );
}

#[test]
fn tp007_databases_are_in_the_stacks_vpc() {
    let subnet_group = Value::reference(
        addr("us-west-2/cloudformation:StackInstance/baseline"),
        "DbSubnetGroupName",
    );
    assert_eq!(
        found(
            with_instances(vec![
                db("us-east-1", "placed"),
                replica("us-west-2", "by-reference").input("db_subnet_group_name", subnet_group),
                db("us-east-1", "default-vpc").input("db_subnet_group_name", Value::Null),
            ]),
            "TP007"
        ),
        ["mandatory us-east-1/rds:DbInstance/default-vpc (us-east-1)"]
    );
}

#[test]
fn tp008_writers_keep_a_week_of_backups() {
    assert_eq!(
        found(
            with_instances(vec![
                db("us-east-1", "week"),
                db("us-east-1", "default").input("backup_retention_period", Value::Null),
                db("us-east-1", "day").input("backup_retention_period", 1),
                replica("us-west-2", "promoted-default")
                    .input("promoted", true)
                    .input("backup_retention_period", Value::Null),
                replica("us-west-2", "standby-week"),
                replica("us-west-2", "standby-day").input("backup_retention_period", 3),
            ]),
            "TP008"
        ),
        [
            "mandatory us-east-1/rds:DbInstance/day (us-east-1)",
            "mandatory us-west-2/rds:DbReadReplica/promoted-default (us-west-2)",
            "mandatory us-west-2/rds:DbReadReplica/standby-day (us-west-2)",
        ]
    );
}

fn protect() -> ResourceOptions {
    ResourceOptions {
        protect: true,
        ..ResourceOptions::default()
    }
}

fn protected_context() -> Context {
    Context {
        protect_stateful: true,
        ..context()
    }
}

#[test]
fn tp009_a_protected_environment_protects_its_stateful_resources() {
    let decls = || {
        with_instances(vec![
            db("us-east-1", "protected").options(protect()),
            db("us-east-1", "rds-protected").input("deletion_protection", true),
            db("us-east-1", "bare"),
            bucket("us-east-1", "kept")
                .input("force_destroy", false)
                .options(protect()),
            bucket("us-east-1", "emptied")
                .input("force_destroy", true)
                .options(protect()),
            decl("global/route53:HostedZone/zone"),
        ])
    };
    assert_eq!(
        found_in(decls(), &protected_context(), "TP009"),
        [
            "mandatory global/route53:HostedZone/zone (global)",
            "mandatory us-east-1/rds:DbInstance/bare (us-east-1)",
            "mandatory us-east-1/s3:Bucket/emptied (us-east-1)",
        ]
    );
    assert_eq!(found(decls(), "TP009"), Vec::<String>::new());
}

#[test]
fn tp010_a_protected_environment_turns_on_rds_deletion_protection() {
    let decls = || {
        with_instances(vec![
            db("us-east-1", "on")
                .input("deletion_protection", true)
                .options(protect()),
            replica("us-west-2", "off").options(protect()),
        ])
    };
    assert_eq!(
        found_in(decls(), &protected_context(), "TP010"),
        ["advisory us-west-2/rds:DbReadReplica/off (us-west-2)"]
    );
    assert_eq!(found(decls(), "TP010"), Vec::<String>::new());
}

fn health_check(region: &str) -> ResourceDecl {
    decl(&format!("global/route53:HealthCheck/app-{region}")).input(
        "fqdn",
        Value::reference(
            addr(&format!("{region}/cloudformation:StackInstance/baseline")),
            "AlbDnsName",
        ),
    )
}

fn record(region: &str, role: &str, check: Option<&str>) -> Value {
    let mut fields = vec![
        ("set_identifier", Value::str(format!("app-{region}"))),
        ("failover", Value::str(role)),
        (
            "alias",
            map([(
                "dns_name",
                Value::reference(
                    addr(&format!("{region}/cloudformation:StackInstance/baseline")),
                    "AlbDnsName",
                ),
            )]),
        ),
    ];
    if let Some(c) = check {
        fields.push((
            "health_check_id",
            Value::reference(
                addr(&format!("global/route53:HealthCheck/app-{c}")),
                "health_check_id",
            ),
        ));
    }
    map(fields)
}

#[test]
fn tp011_failover_records_are_checked_in_their_own_region() {
    let records = |secondary: Value| {
        with_instances(vec![
            health_check("us-east-1"),
            health_check("us-west-2"),
            decl("global/route53:RecordSet/app").input(
                "records",
                Value::List(vec![
                    record("us-east-1", "PRIMARY", Some("us-east-1")),
                    secondary,
                ]),
            ),
        ])
    };
    let good = record("us-west-2", "SECONDARY", Some("us-west-2"));
    assert_eq!(found(records(good), "TP011"), Vec::<String>::new());
    let unchecked = record("us-west-2", "SECONDARY", None);
    assert_eq!(
        found(records(unchecked), "TP011"),
        ["mandatory global/route53:RecordSet/app (us-west-2) app-us-west-2"]
    );
    let crossed = record("us-west-2", "SECONDARY", Some("us-east-1"));
    let r = report_in(records(crossed), &context());
    let f = r.findings.iter().find(|f| f.rule.id == "TP011").unwrap();
    assert!(f.message.contains("watches us-east-1"), "{}", f.message);
}

#[test]
fn tp012_every_region_has_a_health_check() {
    let checked = with_instances(vec![health_check("us-east-1"), health_check("us-west-2")]);
    assert_eq!(found(checked, "TP012"), Vec::<String>::new());
    let disabled = with_instances(vec![
        health_check("us-east-1"),
        health_check("us-west-2").input("disabled", true),
    ]);
    assert_eq!(
        found(disabled, "TP012"),
        ["mandatory us-west-2/cloudformation:StackInstance/baseline (us-west-2)"]
    );
}

fn role(statement: Json) -> Json {
    json!({"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "ec2.amazonaws.com"}}]},
        "Policies": [{"PolicyName": "app", "PolicyDocument": {"Statement": [statement]}}]}})
}

#[test]
fn tp013_no_statement_allows_everything() {
    let resources = json!({
        "Scoped": role(json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"})),
        "Denied": role(json!({"Effect": "Deny", "Action": "*", "Resource": "*"})),
        "Admin": role(json!({"Sid": "All", "Effect": "Allow", "Action": ["*"], "Resource": ["*"]})),
        "Managed": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
            "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}}},
    });
    assert_eq!(
        found(
            stack_set(resources, json!({}), &[("us-east-1", "false")]),
            "TP013"
        ),
        [
            "mandatory us-east-1/cloudformation:StackInstance/baseline (us-east-1) Admin",
            "mandatory us-east-1/cloudformation:StackInstance/baseline (us-east-1) Managed",
        ]
    );
}

#[test]
fn tp014_no_role_is_an_administrator() {
    let admin = json!({"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"}]}});
    let reader = json!({"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": [
        "arn:aws:iam::aws:policy/ReadOnlyAccess"]}});
    let template = json!({"Resources": {"Admin": admin, "Reader": reader}});
    let roles = decl("global/cloudformation:Stack/roles")
        .input("region", "us-west-2")
        .input("template_body", template.to_string());
    assert_eq!(
        found(vec![roles], "TP014"),
        ["advisory global/cloudformation:Stack/roles (us-west-2) Admin"]
    );
}

#[test]
fn tp015_listeners_serve_tls_1_2_and_http_only_redirects() {
    let listener = |protocol: &str, extra: Json| {
        let mut props = json!({"Protocol": protocol, "Port": 443});
        props
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": props})
    };
    let resources = json!({
        "Modern": listener("HTTPS", json!({"SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"})),
        "Legacy": listener("HTTPS", json!({"SslPolicy": "ELBSecurityPolicy-2016-08"})),
        "Unset": listener("HTTPS", json!({})),
        "Redirect": listener("HTTP", json!({"DefaultActions": {"Fn::If": ["ServeHttps",
            [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443"}}],
            [{"Type": "forward", "TargetGroupArn": "tg"}]]}})),
    });
    let conditions = json!({"ServeHttps": {"Fn::Equals": [{"Ref": "HttpOnly"}, "false"]}});
    // HTTPS served: the HTTP listener redirects; two HTTPS listeners fail.
    assert_eq!(
        found(
            stack_set(
                resources.clone(),
                conditions.clone(),
                &[("us-east-1", "false")]
            ),
            "TP015"
        ),
        [
            "mandatory us-east-1/cloudformation:StackInstance/baseline (us-east-1) Legacy",
            "mandatory us-east-1/cloudformation:StackInstance/baseline (us-east-1) Unset",
        ]
    );
    // HTTP only: the HTTP listener forwards, which is mandatory to fix unless the environment
    // is `http_only`.
    let http = stack_set(
        json!({"Redirect": resources["Redirect"]}),
        conditions,
        &[("us-west-2", "true")],
    );
    let at = "us-west-2/cloudformation:StackInstance/baseline (us-west-2) Redirect";
    assert_eq!(found(http.clone(), "TP015"), [format!("mandatory {at}")]);
    let http_only = Context {
        http_only: true,
        ..context()
    };
    assert_eq!(
        found_in(http, &http_only, "TP015"),
        [format!("advisory {at}")]
    );
}

#[test]
fn tls_versions_are_read_from_policy_names() {
    use crate::rules::min_tls_minor;
    for (policy, minor) in [
        ("ELBSecurityPolicy-TLS13-1-2-2021-06", Some(2)),
        ("ELBSecurityPolicy-TLS13-1-3-2021-06", Some(3)),
        ("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", Some(2)),
        ("ELBSecurityPolicy-TLS13-1-0-2021-06", Some(0)),
        ("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", Some(2)),
        ("ELBSecurityPolicy-TLS-1-1-2017-01", Some(1)),
        ("ELBSecurityPolicy-FS-1-2-Res-2020-10", Some(2)),
        ("ELBSecurityPolicy-FS-2018-06", Some(0)),
        ("ELBSecurityPolicy-2016-08", Some(0)),
        ("my-own-policy", None),
    ] {
        assert_eq!(min_tls_minor(policy), minor, "{policy}");
    }
}

#[test]
fn templates_are_read_per_stack_instance_with_its_parameters() {
    let decls = stack_set(
        json!({"Https": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Condition": "ServeHttps",
            "Properties": {"Protocol": "HTTPS"}}}),
        json!({"ServeHttps": {"Fn::Not": [{"Fn::Equals": [{"Ref": "HttpOnly"}, "true"]}]}}),
        &[("us-east-1", "false"), ("us-west-2", "true")],
    );
    let s = stack(decls);
    let ds = deployments(&s);
    let listeners: Vec<(String, usize)> = ds
        .iter()
        .map(|d| (d.region.clone(), d.resources().len()))
        .collect();
    assert_eq!(
        listeners,
        [("us-east-1".to_string(), 1), ("us-west-2".to_string(), 0)]
    );
}

#[test]
fn suppressions_mark_findings_without_hiding_them() {
    let decls = || {
        with_instances(vec![
            db("us-east-1", "app").input("backup_retention_period", 1),
            db("us-east-1", "other").input("backup_retention_period", 1),
        ])
    };
    let suppress = |resource: Option<&str>| Suppression {
        rule: "TP008".into(),
        reason: "test data only".into(),
        resource: resource.map(str::to_string),
    };
    let ctx = without_regions();
    let r = evaluate(&stack(decls()), &ctx, &[suppress(Some("*/rds:*/app"))]);
    assert!(r.is_blocking(), "`other` is not suppressed");
    let states: Vec<(&str, Option<&str>)> = r
        .findings
        .iter()
        .map(|f| (f.addr.name(), f.suppressed.as_deref()))
        .collect();
    assert_eq!(states, [("other", None), ("app", Some("test data only"))]);
    assert_eq!(r.counts(), (1, 0, 1));

    let all = evaluate(&stack(decls()), &ctx, &[suppress(None)]);
    assert!(!all.is_blocking());
    assert!(all.unused_suppressions.is_empty());

    let stale = evaluate(&stack(decls()), &ctx, &[suppress(Some("*/s3:Bucket/*"))]);
    assert_eq!(stale.unused_suppressions, [suppress(Some("*/s3:Bucket/*"))]);
}

#[test]
fn findings_are_ordered_blocking_first_then_by_rule_and_address() {
    let r = report_in(
        with_instances(vec![
            db("us-west-2", "b").input("db_subnet_group_name", Value::Null),
            db("us-east-1", "a")
                .input("publicly_accessible", true)
                .input("backup_retention_period", 1),
        ]),
        &without_regions(),
    );
    let order: Vec<(Severity, &str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.severity, f.rule.id, f.addr.name()))
        .collect();
    assert_eq!(
        order,
        [
            (Severity::Mandatory, "TP006", "a"),
            (Severity::Mandatory, "TP007", "b"),
            (Severity::Mandatory, "TP008", "a"),
        ]
    );
}

#[test]
fn rule_ids_are_unique_and_well_formed() {
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    assert!(ids.iter().all(|id| id.len() == 5 && id.starts_with("TP")));
    ids.dedup();
    assert_eq!(ids.len(), RULES.len());
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
}

#[test]
fn the_readme_documents_every_rule_with_its_severity() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let rows: Vec<(String, String)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() > 3 && cells[1].starts_with("TP"))
                .then(|| (cells[1].to_string(), cells[2].to_string()))
        })
        .collect();
    let rules: Vec<(String, String)> = RULES
        .iter()
        .map(|r| (r.id.to_string(), r.severity.to_string()))
        .collect();
    assert_eq!(rows, rules, "the README's Policy table");
}
