//! `make bench`: Tandem's engine path against plain boto3, creating S3 buckets in the local cloud.
//!
//! Starts its own moto on a free port, then, twice each (the best run counts):
//! - applies 200 independent `s3:Bucket` resources through the engine as `tandem apply` does
//!   (plan, then `ops::apply_plan` with a journal and a `LocalStore` in a temporary directory,
//!   the providers from `tandem_aws::providers`), 10 operations in flight;
//! - runs a python3 script (boto3, which ships with moto) that makes 200 other buckets with a
//!   `ThreadPoolExecutor` of 10, each with the same end state as Tandem's default bucket: created,
//!   tagged (the three `tandem:*` tags), all public access blocked, and the TLS-only bucket policy.
//!   The script's timer starts after its imports, as Tandem's starts after its process is up.
//!
//! Prints (stdout):
//! - `BENCH apply_200_buckets_ms <ms> ms`
//! - `BENCH boto3_200_buckets_ms <ms> ms`
//! - `BENCH apply_200_buckets_ratio <x> ratio` (Tandem time / script time)
//! - `BENCH boto3_200_buckets_create_only_ms <ms> ms`: the same script with `CreateBucket` alone,
//!   for scale (it leaves the buckets unconfigured, so it is not the ratio's denominator).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_aws::{AwsClients, ClientSettings, RetryPolicy, StaticCredentials};
use tandem_core::{Region, StackBuilder};
use tandem_engine::{ApplyOptions, LocalStore, PlanConfig, Silent, State, ops, plan};
use tandem_schema::s3::Bucket;
use tandem_testkit::{Moto, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, test_credentials_env};

const BUCKETS: usize = 200;
const PARALLEL: usize = 10;
const REPS: usize = 2;
const REGION: &str = "us-east-1";

const SCRIPT: &str = r#"
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config

endpoint, prefix, n, workers, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
start = time.perf_counter()
s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint,
                  config=Config(max_pool_connections=workers, s3={"addressing_style": "path"},
                                retries={"max_attempts": 1}))

def make(i):
    name = f"{prefix}-{i}"
    s3.create_bucket(Bucket=name)
    if mode == "create-only":
        return
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
        {"Key": "tandem:stack", "Value": "bench"},
        {"Key": "tandem:env", "Value": "local"},
        {"Key": "tandem:addr", "Value": f"us-east-1/s3:Bucket/b{i}"}]})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    arn = f"arn:aws:s3:::{name}"
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [arn, arn + "/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))

with ThreadPoolExecutor(max_workers=workers) as pool:
    list(pool.map(make, range(n)))
print((time.perf_counter() - start) * 1000.0)
"#;

fn clients(endpoint: &str) -> AwsClients {
    let mut endpoints = std::collections::HashMap::new();
    endpoints.insert("*".to_string(), endpoint.to_string());
    endpoints.insert("global".to_string(), endpoint.to_string());
    AwsClients::new(ClientSettings {
        endpoints,
        credentials: Some(StaticCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.into(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.into(),
            session_token: None,
        }),
        local_cloud: true,
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        },
        ..ClientSettings::default()
    })
}

/// One Tandem apply of `BUCKETS` new buckets named `prefix-i`; returns its duration.
fn tandem_run(rt: &tokio::runtime::Runtime, endpoint: &str, prefix: &str) -> Duration {
    let region = Region::named(REGION);
    let mut stack = StackBuilder::new();
    for i in 0..BUCKETS {
        let b = Bucket::new(&region, &format!("b{i}"))
            .expect("a valid name")
            .bucket(format!("{prefix}-{i}"));
        stack.declare(b);
    }
    let desired = stack.finish().expect("a valid stack");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = LocalStore::new(dir.path());
    rt.block_on(async {
        let start = Instant::now();
        let providers = tandem_aws::providers(clients(endpoint));
        let lock = store.lock("bench", "local", "apply").expect("the lock");
        let state = State::new("bench", "local", ops::new_lineage());
        let config = PlanConfig {
            wave_order: vec!["global".into(), REGION.into()],
        };
        let p = plan(&desired, &state, &providers, &config).expect("a plan");
        let report = ops::apply_plan(
            &store,
            &lock,
            &p,
            state,
            &desired.outputs,
            &providers,
            &ApplyOptions { parallel: PARALLEL },
            Arc::new(Silent),
            "apply",
        )
        .await
        .expect("apply runs");
        let took = start.elapsed();
        if let Some(f) = report.failures().next() {
            panic!("a bucket failed: {f:?}");
        }
        assert_eq!(report.state.resources.len(), BUCKETS);
        took
    })
}

/// One run of the boto3 script; returns the duration it measured.
fn script_run(script: &std::path::Path, endpoint: &str, prefix: &str, mode: &str) -> Duration {
    let out = Command::new("python3")
        .arg(script)
        .args([
            endpoint,
            prefix,
            &BUCKETS.to_string(),
            &PARALLEL.to_string(),
            mode,
        ])
        .envs(test_credentials_env())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the boto3 script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ms: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the script prints its time in ms");
    Duration::from_secs_f64(ms / 1000.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that does not match this bench skips it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "apply_buckets".contains(a.as_str())) {
        return;
    }
    let moto = Moto::start().unwrap_or_else(|e| panic!("{e}"));
    let endpoint = moto.endpoint();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("boto3_buckets.py");
    std::fs::write(&script, SCRIPT).expect("the script is written");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");

    let mut tandem = Duration::MAX;
    let mut boto3 = Duration::MAX;
    let mut create_only = Duration::MAX;
    for rep in 0..REPS {
        let t = tandem_run(&rt, &endpoint, &format!("tandem-bench-{rep}"));
        let b = script_run(
            &script,
            &endpoint,
            &format!("boto3-bench-{rep}"),
            "configured",
        );
        let c = script_run(
            &script,
            &endpoint,
            &format!("boto3-plain-{rep}"),
            "create-only",
        );
        eprintln!(
            "rep {rep}: tandem {:.0} ms, boto3 {:.0} ms, boto3 create-only {:.0} ms",
            ms(t),
            ms(b),
            ms(c)
        );
        tandem = tandem.min(t);
        boto3 = boto3.min(b);
        create_only = create_only.min(c);
    }
    println!("BENCH apply_200_buckets_ms {:.0} ms", ms(tandem));
    println!("BENCH boto3_200_buckets_ms {:.0} ms", ms(boto3));
    println!(
        "BENCH apply_200_buckets_ratio {:.2} ratio",
        ms(tandem) / ms(boto3)
    );
    println!(
        "BENCH boto3_200_buckets_create_only_ms {:.0} ms",
        ms(create_only)
    );
    drop(moto);
}
