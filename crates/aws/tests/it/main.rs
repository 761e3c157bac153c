//! Integration tests of the AWS providers against the local cloud (moto), one module per area.
//! Every test uses names of its own, so they can share one moto server.

mod adoption;
mod autoscaling;
mod cloudformation;
mod cloudwatch;
mod dns;
mod domain_change;
mod failures;
mod rds;
mod rds_network;
mod route53;
mod route53_status;
mod s3;
mod secretsmanager;
mod state_s3;

use tandem_aws::{AwsClients, ClientSettings, RetryPolicy, StaticCredentials, WaitPolicy};
use tandem_core::{Props, Region, ResourceAddr, ResourceDecl};
use tandem_engine::provider::{Observed, OpContext, Provider};
use tandem_testkit::{TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};

/// Clients for the shared moto.
pub fn clients() -> AwsClients {
    clients_at(&tandem_testkit::moto().endpoint())
}

/// Clients for the shared moto that know it is the local cloud ([`ClientSettings::local_cloud`]).
pub fn local_clients() -> AwsClients {
    settings_at(&tandem_testkit::moto().endpoint(), true)
}

/// Clients for the moto at `endpoint`, with quick retries and waits.
pub fn clients_at(endpoint: &str) -> AwsClients {
    settings_at(endpoint, false)
}

fn settings_at(endpoint: &str, local_cloud: bool) -> AwsClients {
    let mut endpoints = std::collections::HashMap::new();
    endpoints.insert("global".to_string(), endpoint.to_string());
    for r in ["us-east-1", "us-west-2", "eu-west-1"] {
        endpoints.insert(r.to_string(), endpoint.to_string());
    }
    AwsClients::new(ClientSettings {
        endpoints,
        credentials: Some(StaticCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.into(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.into(),
            session_token: None,
        }),
        local_cloud,
        retry: RetryPolicy {
            attempts: 3,
            base: std::time::Duration::from_millis(20),
            cap: std::time::Duration::from_millis(200),
        },
        wait: WaitPolicy {
            first_interval: std::time::Duration::from_millis(100),
            max_interval: std::time::Duration::from_millis(500),
            rds_timeout: std::time::Duration::from_secs(30),
            cloudformation_timeout: std::time::Duration::from_secs(60),
            route53_timeout: std::time::Duration::from_secs(30),
        },
        ..ClientSettings::default()
    })
}

pub fn unique(prefix: &str) -> String {
    tandem_testkit::unique_name(prefix)
}

/// The operation context for a declared resource, with a fresh token.
pub fn ctx_for(decl: &ResourceDecl) -> OpContext {
    OpContext {
        addr: decl.addr.clone(),
        stack: "it".into(),
        env: "local".into(),
        token: format!("tandem-{}", unique("tok").replace('-', "")),
    }
}

pub fn us_east_1() -> Region {
    Region::named("us-east-1")
}

pub fn us_west_2() -> Region {
    Region::named("us-west-2")
}

/// Validates, then creates, as the engine does.
pub async fn validate_and_create(
    p: &dyn Provider,
    decl: &ResourceDecl,
) -> Result<Observed, String> {
    p.validate(&decl.addr, &decl.inputs)?;
    p.create(&ctx_for(decl), &decl.inputs)
        .await
        .map_err(|e| e.to_string())
}

pub fn addr(decl: &ResourceDecl) -> &ResourceAddr {
    &decl.addr
}

pub fn str_prop<'a>(props: &'a Props, name: &str) -> &'a str {
    props
        .get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no string property {name} in {props:?}"))
}

/// Reads the resource back: it exists and its inputs are `inputs` (no drift). Returns the read.
pub async fn reads_back(p: &dyn Provider, ctx: &OpContext, id: &str, inputs: &Props) -> Observed {
    let read = p
        .read(ctx, id, inputs)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{id} does not exist"));
    assert_eq!(&read.inputs, inputs, "{id} reads back as its inputs");
    read
}

/// Updates from `old` to `new`, then checks the resource [reads back](reads_back) as `new`.
/// Returns what the update reported.
pub async fn update_reads_back(
    p: &dyn Provider,
    ctx: &OpContext,
    id: &str,
    old: &Props,
    new: &Props,
) -> Observed {
    let updated = p.update(ctx, id, old, new).await.unwrap();
    reads_back(p, ctx, id, new).await;
    updated
}

/// The resource reads as absent.
pub async fn assert_gone(p: &dyn Provider, ctx: &OpContext, id: &str, inputs: &Props) {
    assert!(
        p.read(ctx, id, inputs).await.unwrap().is_none(),
        "{id} still exists"
    );
}

/// Deletes the resource, checks it is gone, and deletes it again: deleting what is gone is done.
pub async fn delete_for_good(p: &dyn Provider, ctx: &OpContext, id: &str, inputs: &Props) {
    p.delete(ctx, id, inputs).await.unwrap();
    assert_gone(p, ctx, id, inputs).await;
    p.delete(ctx, id, inputs).await.unwrap();
}
