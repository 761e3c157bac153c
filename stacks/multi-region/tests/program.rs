//! The program declares the seed's architecture, and its graph is valid and ordered by region.

use std::path::Path;

use tandem_core::evaluate;
use tandem_posture::Posture;
use tandem_stack_multi_region::{Environment, MultiRegion};

fn local() -> Environment {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    Environment::load(&dir, "local", &|_| None).unwrap()
}

#[test]
fn the_architecture_is_declared() {
    let env = local();
    let posture = Posture::initial(&env.primary_region, &env.secondary_region);
    let desired = evaluate(&MultiRegion::new(env, posture)).unwrap();
    let addrs: Vec<String> = desired
        .graph
        .in_order()
        .map(|d| d.addr.to_string())
        .collect();
    for expected in [
        "global/cloudformation:StackSet/baseline",
        "us-east-1/cloudformation:StackInstance/baseline",
        "us-west-2/cloudformation:StackInstance/baseline",
        "us-east-1/rds:DbInstance/app-db",
        "us-west-2/rds:DbReadReplica/app-db-replica",
        "us-east-1/rds:DbParameterGroup/postgres-tls",
        "us-west-2/rds:DbParameterGroup/postgres-tls",
        "us-east-1/s3:Bucket/assets",
        "us-west-2/s3:Bucket/assets",
        "us-east-1/s3:BucketReplication/assets",
        "global/route53:HostedZone/zone",
        "global/route53:HealthCheck/app-us-east-1",
        "global/route53:HealthCheck/app-us-west-2",
        "global/route53:RecordSet/app",
        "us-west-2/cloudwatch:Alarm/replica-lag",
    ] {
        assert!(
            addrs.contains(&expected.to_string()),
            "{expected} missing from {addrs:#?}"
        );
    }
    // The replica refers to the primary's ARN: a dependency across regions.
    let replica = desired
        .graph
        .get(
            &"us-west-2/rds:DbReadReplica/app-db-replica"
                .parse()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        replica
            .dependencies()
            .iter()
            .filter(|d| d.kind() == "rds:DbInstance")
            .count(),
        1
    );
    for key in [
        "app_url",
        "alb_dns_us-east-1",
        "alb_dns_us-west-2",
        "db_primary_endpoint",
        "bucket_us-west-2",
    ] {
        assert!(desired.outputs.contains_key(key), "output {key} missing");
    }
}

#[test]
fn aws_environments_peer_the_two_vpcs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let env = Environment::load(&dir, "staging", &|_| None).unwrap();
    assert!(env.vpc_peering);
    let posture = Posture::initial(&env.primary_region, &env.secondary_region);
    let desired = evaluate(&MultiRegion::new(env, posture)).unwrap();
    let requester = desired
        .graph
        .get(
            &"us-east-1/cloudformation:Stack/vpc-peering"
                .parse()
                .unwrap(),
        )
        .unwrap();
    let template = requester.inputs["template_body"].as_str().unwrap();
    assert!(template.contains("AWS::EC2::VPCPeeringConnection") && template.contains("PeerRegion"));
    let accepter = desired
        .graph
        .get(
            &"us-west-2/cloudformation:Stack/vpc-peering-routes"
                .parse()
                .unwrap(),
        )
        .unwrap();
    assert!(
        accepter
            .dependencies()
            .iter()
            .any(|d| d.name() == "vpc-peering")
    );
    // The local cloud cannot: no peering there.
    assert!(!local().vpc_peering);
}

/// `${ADDR.output}` of a reference, for comparisons.
fn reference(v: &tandem_core::Value) -> String {
    match v {
        tandem_core::Value::Ref(r) => format!("{}.{}", r.addr, r.output),
        other => panic!("not a reference: {other:?}"),
    }
}

#[test]
fn every_database_is_in_its_own_regions_vpc_with_tls_required() {
    for posture in [
        Posture::initial("us-east-1", "us-west-2"),
        // After a failover the fenced former writer stays in us-east-1 and the writer is the
        // promoted replica of us-west-2: each still in its own region's network.
        tandem_posture::transform::fail_over(
            &Posture::initial("us-east-1", "us-west-2"),
            "us-west-2",
            tandem_posture::transform::Unreachable {
                old_region: false,
                route53: false,
            },
            Some("arn:aws:rds:us-east-1:123456789012:db:tandem-local-app".into()),
            "2026-01-01T00:00:00Z",
            false,
        )
        .unwrap(),
    ] {
        let desired = evaluate(&MultiRegion::new(local(), posture)).unwrap();
        let mut dbs = 0;
        for decl in desired.graph.in_order() {
            let kind = decl.addr.kind();
            if kind != "rds:DbInstance" && kind != "rds:DbReadReplica" {
                continue;
            }
            dbs += 1;
            let region = decl.addr.region().as_str().to_string();
            let stack = format!("{region}/cloudformation:StackInstance/baseline");
            let i = &decl.inputs;
            assert_eq!(
                reference(&i["db_subnet_group_name"]),
                format!("{stack}.DbSubnetGroupName"),
                "{}",
                decl.addr
            );
            let tandem_core::Value::List(groups) = &i["vpc_security_group_ids"] else {
                panic!("{}: no vpc_security_group_ids", decl.addr);
            };
            let groups: Vec<String> = groups.iter().map(reference).collect();
            assert_eq!(
                groups,
                [format!("{stack}.DbSecurityGroupId")],
                "{}",
                decl.addr
            );
            assert_eq!(
                reference(&i["fence_security_group_id"]),
                format!("{stack}.DbFenceSecurityGroupId")
            );
            assert_eq!(
                reference(&i["db_parameter_group_name"]),
                format!("{region}/rds:DbParameterGroup/postgres-tls.name"),
                "{}",
                decl.addr
            );
            if kind == "rds:DbInstance" {
                assert_eq!(
                    i["engine_version"].as_str(),
                    Some(tandem_stack_multi_region::program::POSTGRES_MAJOR_VERSION)
                );
            }
        }
        assert_eq!(dbs, 2);
        // One TLS parameter group per region, of the family of the databases' major version.
        for region in ["us-east-1", "us-west-2"] {
            let addr = format!("{region}/rds:DbParameterGroup/postgres-tls");
            let pg = desired.graph.get(&addr.parse().unwrap()).unwrap();
            assert_eq!(
                pg.inputs["family"].as_str(),
                Some(
                    format!(
                        "postgres{}",
                        tandem_stack_multi_region::program::POSTGRES_MAJOR_VERSION
                    )
                    .as_str()
                )
            );
            assert_eq!(
                pg.inputs["name"].as_str(),
                Some("tandem-local-postgres16-tls")
            );
            assert_eq!(
                pg.inputs["parameters"],
                tandem_core::map([("rds.force_ssl", "1")])
            );
        }
    }
}

#[test]
fn route53_checks_probe_what_the_target_group_checks() {
    use tandem_stack_multi_region::template;
    for name in ["local", "staging"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
        let env = Environment::load(&dir, name, &|_| None).unwrap();
        let posture = Posture::initial(&env.primary_region, &env.secondary_region);
        let (first, second) = (env.primary_region.clone(), env.secondary_region.clone());
        let http_only = env.http_only;
        let desired = evaluate(&MultiRegion::new(env, posture)).unwrap();
        let set = desired
            .graph
            .get(&"global/cloudformation:StackSet/baseline".parse().unwrap())
            .unwrap();
        let t: serde_json::Value =
            serde_json::from_str(set.inputs["template_body"].as_str().unwrap()).unwrap();
        let tg = &t["Resources"]["TargetGroup"]["Properties"];
        for region in [&first, &second] {
            let addr = format!("global/route53:HealthCheck/app-{region}");
            let check = &desired.graph.get(&addr.parse().unwrap()).unwrap().inputs;
            assert_eq!(
                check["resource_path"].as_str(),
                tg["HealthCheckPath"].as_str(),
                "{name}"
            );
            assert_eq!(check["resource_path"].as_str(), Some(template::HEALTH_PATH));
            assert_eq!(
                check["request_interval"].as_i64(),
                Some(i64::from(template::ROUTE53_REQUEST_INTERVAL_SECONDS))
            );
            assert_eq!(
                check["failure_threshold"].as_i64(),
                Some(i64::from(template::ROUTE53_FAILURE_THRESHOLD))
            );
            // The check reaches the listener that forwards to the target group.
            let (kind, port) = if http_only {
                ("HTTP", 80)
            } else {
                ("HTTPS", 443)
            };
            assert_eq!(check["type"].as_str(), Some(kind));
            assert_eq!(check["port"].as_i64(), Some(port));
        }
        // Each region's instance is told its peer region (the replication role's KMS grant) and
        // whether the VPCs are peered (the databases' peer rule).
        for (region, peer) in [(&first, &second), (&second, &first)] {
            let addr = format!("{region}/cloudformation:StackInstance/baseline");
            let inst = desired.graph.get(&addr.parse().unwrap()).unwrap();
            let tandem_core::Value::Map(p) = &inst.inputs["parameter_overrides"] else {
                panic!("no overrides");
            };
            assert_eq!(p["PeerRegion"].as_str(), Some(peer.as_str()));
            let peered = if name == "local" { "false" } else { "true" };
            assert_eq!(p["VpcPeering"].as_str(), Some(peered), "{name}");
        }
    }
}

/// The stack set's roles, as the program deploys them (the `stackset-roles` stack's template).
fn stackset_roles(name: &str) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let env = Environment::load(&dir, name, &|_| None).unwrap();
    let posture = Posture::initial(&env.primary_region, &env.secondary_region);
    let desired = evaluate(&MultiRegion::new(env, posture)).unwrap();
    let stack = desired
        .graph
        .get(
            &"global/cloudformation:Stack/stackset-roles"
                .parse()
                .unwrap(),
        )
        .unwrap();
    let body = stack.inputs["template_body"].as_str().unwrap();
    assert_eq!(
        body,
        tandem_stack_multi_region::program::stackset_roles_template()
    );
    serde_json::from_str(body).unwrap()
}

/// A statement's `Action` or `Resource`, one or many, as texts (`Fn::Sub` texts for resources).
fn texts(v: &serde_json::Value) -> Vec<String> {
    let one = |x: &serde_json::Value| match x {
        serde_json::Value::String(s) => s.clone(),
        other => other["Fn::Sub"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| other.to_string()),
    };
    match v {
        serde_json::Value::Array(a) => a.iter().map(one).collect(),
        other => vec![one(other)],
    }
}

#[test]
fn the_stackset_execution_role_may_do_only_what_the_template_needs() {
    use tandem_stack_multi_region::template::{ACCESS_LOG_BUCKET_PREFIX, IAM_PATH};
    for name in ["local", "prod"] {
        let t = stackset_roles(name);
        let role = &t["Resources"]["ExecutionRole"]["Properties"];
        // No managed policy (AdministratorAccess was one): an inline policy of its own.
        assert!(role.get("ManagedPolicyArns").is_none(), "{role}");
        assert!(!role.to_string().contains("AdministratorAccess"));
        let policies = role["Policies"].as_array().unwrap();
        assert_eq!(policies.len(), 1);
        let statements = policies[0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
        assert!(statements.len() >= 8, "{statements:#?}");
        let mut passes = 0;
        for st in statements {
            assert_eq!(st["Effect"], "Allow", "{st}");
            assert!(st.get("NotAction").is_none() && st.get("NotResource").is_none());
            let actions = texts(&st["Action"]);
            let resources = texts(&st["Resource"]);
            // No `*` action, and no whole service, on every resource.
            for a in &actions {
                assert_ne!(a, "*", "{st}");
                assert!(!a.ends_with(":*") || resources != ["*"], "{a} on * in {st}");
            }
            // Every resource is of this account (or AWS's public SSM parameters), or `*` for
            // the reads and the random-id services.
            for r in &resources {
                assert!(
                    r == "*"
                        || r.contains("${AWS::AccountId}")
                        || r.ends_with("::parameter/aws/service/*")
                        || r.starts_with(&format!(
                            "arn:${{AWS::Partition}}:s3:::{ACCESS_LOG_BUCKET_PREFIX}"
                        )),
                    "{r} in {st}"
                );
            }
            // IAM only on the template's path (and the services' linked roles).
            for a in actions.iter().filter(|a| a.starts_with("iam:")) {
                for r in &resources {
                    if a == "iam:CreateServiceLinkedRole" {
                        assert!(r.ends_with(":role/aws-service-role/*"), "{st}");
                        assert!(st["Condition"]["StringEquals"]["iam:AWSServiceName"].is_array());
                    } else {
                        assert!(
                            r.ends_with(&format!(":role{IAM_PATH}*"))
                                || r.ends_with(&format!(":instance-profile{IAM_PATH}*")),
                            "{a} on {r}"
                        );
                    }
                }
                assert_ne!(a, "iam:AttachRolePolicy", "{st}");
            }
            if actions.iter().any(|a| a == "iam:PassRole") {
                passes += 1;
                assert_eq!(actions, ["iam:PassRole"]);
                assert_eq!(
                    resources,
                    [format!(
                        "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{IAM_PATH}*"
                    )]
                );
            }
        }
        assert_eq!(passes, 1, "iam:PassRole in one statement");
        // It trusts the administration role alone.
        assert_eq!(
            role["AssumeRolePolicyDocument"]["Statement"],
            serde_json::json!([{
                "Effect": "Allow",
                "Principal": {"AWS": {"Fn::GetAtt": ["AdministrationRole", "Arn"]}},
                "Action": "sts:AssumeRole",
            }])
        );
    }
}

#[test]
fn the_stackset_administration_role_assumes_the_execution_role_of_this_account_only() {
    let t = stackset_roles("prod");
    let admin = &t["Resources"]["AdministrationRole"]["Properties"];
    let statements = admin["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"], "sts:AssumeRole");
    assert_eq!(
        texts(&statements[0]["Resource"]),
        ["arn:${AWS::Partition}:iam::${AWS::AccountId}:role/tandem-${EnvName}-StackSetExecution"]
    );
    assert!(!admin.to_string().contains("iam::*:"), "{admin}");
    assert_eq!(
        t["Resources"]["ExecutionRole"]["Properties"]["RoleName"],
        serde_json::json!({"Fn::Sub": "tandem-${EnvName}-StackSetExecution"})
    );
    // CloudFormation assumes it.
    assert_eq!(
        admin["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        serde_json::json!({"Service": "cloudformation.amazonaws.com"})
    );
}
