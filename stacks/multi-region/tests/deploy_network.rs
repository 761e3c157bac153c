//! A deploy of the whole stack to the local cloud (moto, started by this test binary) puts every
//! database in its own region's VPC (the stack instance's DB subnet group and database security
//! group) with the TLS parameter group, and a destroy removes it all. The cloud is read with boto3
//! (`deploy_network.py`), independently of Tandem's own read code.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use tandem_aws::{AwsClients, ClientSettings, RetryPolicy, StaticCredentials, WaitPolicy};
use tandem_core::{DesiredStack, StackBuilder, evaluate};
use tandem_engine::{ApplyOptions, LocalStore, PlanConfig, Providers, Silent, State, ops};
use tandem_posture::Posture;
use tandem_stack_multi_region::{Environment, MultiRegion, STACK_NAME};

fn local() -> Environment {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    Environment::load(&dir, "local", &|_| None).unwrap()
}

/// Clients for this binary's moto, in every region of the environment, as the local cloud.
fn providers(endpoint: &str) -> Providers {
    let endpoints: HashMap<String, String> = ["global", "us-east-1", "us-west-2"]
        .into_iter()
        .map(|r| (r.to_string(), endpoint.to_string()))
        .collect();
    tandem_aws::providers(AwsClients::new(ClientSettings {
        endpoints,
        credentials: Some(StaticCredentials {
            access_key_id: tandem_testkit::TEST_ACCESS_KEY_ID.into(),
            secret_access_key: tandem_testkit::TEST_SECRET_ACCESS_KEY.into(),
            session_token: None,
        }),
        local_cloud: true,
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        },
        wait: WaitPolicy {
            first_interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(500),
            rds_timeout: Duration::from_secs(60),
            cloudformation_timeout: Duration::from_secs(120),
            route53_timeout: Duration::from_secs(60),
        },
        ..ClientSettings::default()
    }))
}

/// Plans `desired` against `state` and applies it; the state after. Fails on any failed step.
async fn apply(
    store: &LocalStore,
    desired: &DesiredStack,
    state: State,
    providers: &Providers,
    operation: &str,
) -> State {
    let config = PlanConfig {
        wave_order: local().wave_order(),
    };
    let plan = tandem_engine::plan(desired, &state, providers, &config).expect("plan");
    let lock = store.lock(STACK_NAME, "local", operation).unwrap();
    let report = ops::apply_plan(
        store,
        &lock,
        &plan,
        state,
        &desired.outputs,
        providers,
        &ApplyOptions::default(),
        Arc::new(Silent),
        operation,
    )
    .await
    .expect("apply");
    let failures: Vec<String> = report.failures().map(|f| format!("{f:?}")).collect();
    assert!(failures.is_empty(), "{operation} failed: {failures:#?}");
    report.state
}

/// The cloud as `deploy_network.py` reads it with boto3.
fn facts(endpoint: &str) -> Json {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/deploy_network.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg("local")
        .env("MOTO_ENDPOINT", endpoint)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_database_is_deployed_in_its_regions_vpc_with_tls_and_destroyed() {
    let endpoint = tandem_testkit::moto().endpoint();
    let providers = providers(&endpoint);
    let env = local();
    let posture = Posture::initial(&env.primary_region, &env.secondary_region);
    let program = MultiRegion::new(env, posture);
    let pg_name = program.db_parameter_group_name();
    let desired = evaluate(&program).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let state = State::new(STACK_NAME, "local", tandem_engine::ops::new_lineage());
    let state = apply(&store, &desired, state, &providers, "apply").await;

    let cloud = facts(&endpoint);
    for (region, db) in [
        ("us-east-1", "tandem-local-app"),
        ("us-west-2", "tandem-local-app-replica"),
    ] {
        let r = &cloud[region];
        let outputs = &r["outputs"];
        let d = &r["dbs"][db];
        assert!(d.is_object(), "{db} in {region}: {cloud:#}");
        // Deletion protection as the environment says (local: not protected, so that destroy
        // below can delete).
        assert_eq!(
            d["deletion_protection"],
            local().protect_stateful,
            "{db} in {region}: {cloud:#}"
        );
        // DescribeDBInstances: the region's subnet group and database security group alone.
        assert_eq!(d["subnet_group"], outputs["DbSubnetGroupName"], "{cloud:#}");
        assert_eq!(d["subnet_group"], "tandem-local-db");
        assert_eq!(
            d["security_groups"],
            serde_json::json!([outputs["DbSecurityGroupId"]]),
            "{db} in {region}: {cloud:#}"
        );
        assert_ne!(outputs["DbSecurityGroupId"], Json::Null);
        // The TLS parameter group, of the family of the version the databases run.
        assert_eq!(
            d["parameter_groups"],
            serde_json::json!([pg_name]),
            "{cloud:#}"
        );
        let pg = &r["parameter_groups"][&pg_name];
        assert_eq!(pg["family"], "postgres16");
        assert_eq!(pg["parameters"]["rds.force_ssl"], "1", "{cloud:#}");
        // The database security group admits PostgreSQL from the application's group only (the
        // local cloud does not peer the VPCs).
        assert_eq!(
            r["db_rules"],
            serde_json::json!([{
                "from": 5432,
                "to": 5432,
                "groups": [{
                    "vpc": outputs["VpcId"],
                    "description": "application: HTTP from the load balancer only",
                }],
                "cidrs": [],
            }]),
            "{cloud:#}"
        );
    }
    // The writer's subnet group is in its region's VPC. (moto resolves a cross-region replica's
    // subnet group by name in its source's region, so the replica's VPC there is not asserted: the
    // name, the same in both regions, is.)
    assert_eq!(
        cloud["us-east-1"]["dbs"]["tandem-local-app"]["vpc"],
        cloud["us-east-1"]["outputs"]["VpcId"]
    );
    // A second plan changes nothing: the placement reads back as declared.
    let config = PlanConfig {
        wave_order: local().wave_order(),
    };
    let (again, _) = ops::make_plan(&desired, &state, &providers, &config, Some(4))
        .await
        .unwrap();
    assert!(
        !again.has_changes() && again.drift.is_empty(),
        "changes after a deploy: {:#?} {:#?}",
        again.changes().map(|c| &c.addr).collect::<Vec<_>>(),
        again.drift
    );

    // Destroy: the databases, then their parameter groups and stacks.
    let empty = StackBuilder::new().finish().unwrap();
    apply(&store, &empty, state, &providers, "destroy").await;
    let cloud = facts(&endpoint);
    for region in ["us-east-1", "us-west-2"] {
        let r = &cloud[region];
        assert_eq!(r["dbs"], serde_json::json!({}), "{cloud:#}");
        assert_eq!(r["parameter_groups"], serde_json::json!({}), "{cloud:#}");
        assert_eq!(r["outputs"], serde_json::json!({}), "{cloud:#}");
    }
}
