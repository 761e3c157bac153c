//! `[state]` of an environment file: the local and S3 backends, and each bad entry's one clear
//! error naming the file and the key.

mod common;

use std::path::Path;

use common::GOOD;
use tandem_stack_multi_region::config::StateBackendConfig;
use tandem_stack_multi_region::{ConfigError, Environment};

fn load(state: &str) -> Result<Environment, ConfigError> {
    common::parse(&format!("{GOOD}\n[state]\n{state}\n"), &[])
}

#[test]
fn local_is_the_default_and_s3_reads_its_settings() {
    assert_eq!(load("").unwrap().state_backend, StateBackendConfig::Local);
    assert_eq!(
        load(r#"backend = "local""#).unwrap().state_backend,
        StateBackendConfig::Local
    );
    let e = load(
        r#"backend = "s3"
bucket = "acme-tandem-state"
prefix = "/teams/infra/"
region = "eu-central-1"
kms_key = "alias/tandem-state"
path = "backup/state""#,
    )
    .unwrap();
    assert_eq!(
        e.state_backend,
        StateBackendConfig::S3 {
            bucket: "acme-tandem-state".into(),
            prefix: "teams/infra".into(),
            region: "eu-central-1".into(),
            kms_key: Some("alias/tandem-state".into()),
        }
    );
    assert_eq!(
        e.state_dir,
        Path::new("backup/state"),
        "the local side of migrate"
    );
    let defaults =
        load("backend = \"s3\"\nbucket = \"acme-state\"\nregion = \"us-east-1\"").unwrap();
    assert!(matches!(
        defaults.state_backend,
        StateBackendConfig::S3 { ref prefix, kms_key: None, .. } if prefix == "tandem"
    ));
}

#[test]
fn bad_state_entries_are_clear_errors_naming_the_key() {
    let s3 = |rest: &str| format!("backend = \"s3\"\n{rest}");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "backend = \"dynamodb\"".into(),
            "`state.backend`",
            "unknown backend \"dynamodb\" (supported: \"local\", \"s3\")",
        ),
        (
            s3("region = \"us-east-1\""),
            "`state.bucket`",
            "is required",
        ),
        (s3("bucket = \"b-ok\""), "`state.region`", "is required"),
        (
            s3("bucket = \"Bad_Bucket\"\nregion = \"us-east-1\""),
            "`state.bucket`",
            "not a valid S3 bucket name",
        ),
        (
            s3("bucket = \"ab\"\nregion = \"us-east-1\""),
            "`state.bucket`",
            "not a valid S3 bucket name",
        ),
        (
            s3("bucket = \"192.168.1.1\"\nregion = \"us-east-1\""),
            "`state.bucket`",
            "not a valid S3 bucket name",
        ),
        (
            s3("bucket = \"ok-bucket\"\nregion = \"mars-north-1\""),
            "`state.region`",
            "unknown AWS region",
        ),
        (
            s3("bucket = \"ok-bucket\"\nregion = \"us-east-1\"\nprefix = \"a//b\""),
            "`state.prefix`",
            "not a usable key prefix",
        ),
        (
            s3("bucket = \"ok-bucket\"\nregion = \"us-east-1\"\nkms_key = \" \""),
            "`state.kms_key`",
            "not a KMS key",
        ),
        (
            "backend = \"local\"\nbucket = \"b-ok\"".into(),
            "`state.bucket`",
            "applies only to `backend = \"s3\"`",
        ),
        (
            "region = \"us-east-1\"".into(),
            "`state.region`",
            "applies only to `backend = \"s3\"`",
        ),
        (
            s3("bucket = \"ok-bucket\"\nregion = \"us-east-1\"\ntable = \"locks\""),
            "unknown field",
            "table",
        ),
    ];
    for (state, key, message) in cases {
        let err = load(&state).unwrap_err().to_string();
        assert!(err.contains("environments/test.toml"), "{state:?}: {err}");
        assert!(
            err.contains(key) && err.contains(message),
            "{state:?}: {err}"
        );
    }
    // A huge value is cut in the message.
    let long = "x".repeat(10_000);
    let err = load(&s3(&format!("bucket = \"{long}\"\nregion = \"us-east-1\"")))
        .unwrap_err()
        .to_string();
    assert!(err.len() < 600, "{} characters", err.len());
}
