//! Environment files: every invalid input gives one clear error naming the file and the key.

use std::path::Path;

mod common;

use common::GOOD;
use tandem_stack_multi_region::{ConfigError, Environment};

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Environment, ConfigError> {
    common::parse(text, vars)
}

/// A file's text, the variables set, and what the error must say.
type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);

fn error(text: &str, vars: &[(&str, &str)]) -> String {
    load(text, vars).unwrap_err().to_string()
}

#[test]
fn a_good_file_loads_with_defaults() {
    let e = load(GOOD, &[]).unwrap();
    assert_eq!(e.rto_minutes, 15);
    assert_eq!(e.rpo_minutes, 5);
    assert_eq!(e.stackset_admin_region, "us-west-2");
    assert_eq!(e.wave_order(), ["global", "us-east-1", "us-west-2"]);
}

#[test]
fn seed_variables_override_the_file() {
    let e = load(
        GOOD,
        &[
            ("PRIMARY_REGION", "eu-west-1"),
            ("SECONDARY_REGION", "eu-central-1"),
            ("DOMAIN_NAME", "other.example.org"),
            ("RTO_MINUTES", "30"),
            ("RPO_MINUTES", "2"),
        ],
    )
    .unwrap();
    assert_eq!(
        (e.primary_region.as_str(), e.secondary_region.as_str()),
        ("eu-west-1", "eu-central-1")
    );
    assert_eq!(e.domain_name, "other.example.org");
    assert_eq!((e.rto_minutes, e.rpo_minutes), (30, 2));
}

#[test]
fn each_invalid_input_is_named() {
    let cases: Vec<Case> = vec![
        (
            GOOD.replace("us-west-2", "us-moon-1"),
            vec![],
            "environments/test.toml: `secondary_region`: unknown AWS region \"us-moon-1\"",
        ),
        (
            GOOD.into(),
            vec![("PRIMARY_REGION", "mars-1")],
            "`primary_region` (from $PRIMARY_REGION): unknown AWS region \"mars-1\"",
        ),
        (
            GOOD.replace("us-west-2", "us-east-1"),
            vec![],
            "`secondary_region`: must differ from primary_region (both are \"us-east-1\")",
        ),
        (
            GOOD.replace("example.com", "not a domain"),
            vec![],
            "`domain_name`: invalid domain name \"not a domain\"",
        ),
        (
            GOOD.replace("example.com", "localhost"),
            vec![],
            "needs at least two labels",
        ),
        (
            GOOD.into(),
            vec![("RTO_MINUTES", "soon")],
            "`rto_minutes` (from $RTO_MINUTES): must be a whole number of minutes, got \"soon\"",
        ),
        (
            GOOD.into(),
            vec![("RPO_MINUTES", "0")],
            "`rpo_minutes` (from $RPO_MINUTES): must be a positive number of minutes",
        ),
        (
            format!("{GOOD}rto_minutes = -3\n"),
            vec![],
            "`rto_minutes`: must be a positive number of minutes (at most 10080), got -3",
        ),
        (
            format!("{GOOD}colour = \"blue\"\n"),
            vec![],
            "unknown field `colour`",
        ),
        (
            GOOD.replace("http_only = true", ""),
            vec![],
            "`certificates.us-east-1`: is required unless http_only = true",
        ),
        (
            format!("{GOOD}account_id = \"12\"\n"),
            vec![],
            "`account_id`: must be 12 digits",
        ),
        (
            format!("{GOOD}[health_endpoints]\neu-west-1 = \"http://127.0.0.1:1/\"\n"),
            vec![],
            "`health_endpoints.eu-west-1`: is neither `global` nor one of the environment's regions",
        ),
        (
            format!("{GOOD}[endpoints]\nus-east-2 = \"http://127.0.0.1:1/\"\n"),
            vec![],
            "`endpoints.us-east-2`: is neither `global`",
        ),
        (
            GOOD.replace("[environment]", "[environment\n"),
            vec![],
            "environments/test.toml:",
        ),
    ];
    for (text, vars, expected) in cases {
        let e = error(&text, &vars);
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
        assert!(
            e.contains("environments/test.toml"),
            "the file is not named: {e}"
        );
    }
}

#[test]
fn an_environment_name_is_checked_before_it_reaches_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).unwrap();
    std::fs::write(envs.join("prod-1.toml"), GOOD).unwrap();
    // A file outside the environments directory that `../x` would otherwise reach.
    std::fs::write(dir.path().join("x.toml"), GOOD).unwrap();
    assert_eq!(
        Environment::load(&envs, "prod-1", &|_| None).unwrap().name,
        "prod-1"
    );
    let long = "a".repeat(64);
    for bad in [
        "..",
        "../x",
        "a/b",
        "UPPER",
        "x y",
        "",
        "-a",
        "a-",
        long.as_str(),
    ] {
        let err = Environment::load(&envs, bad, &|_| None).unwrap_err();
        assert!(matches!(err, ConfigError::Name(_)), "{bad:?}: {err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("invalid environment name {bad:?}"))
                && text.contains(tandem_core::NAME_RULE),
            "{text}"
        );
        let parsed = Environment::parse(&envs.join("prod-1.toml"), bad, GOOD, &|_| None);
        assert!(matches!(parsed, Err(ConfigError::Name(_))), "{bad:?}");
    }
}

#[test]
fn the_shipped_environments_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    for name in ["local", "dev", "staging", "prod"] {
        let e = Environment::load(&dir, name, &|_| None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_ne!(e.primary_region, e.secondary_region);
    }
    let missing = Environment::load(&dir, "nope", &|_| None).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("environment \"nope\" not found"),
        "{missing}"
    );
    // A file that exists but cannot be read is not reported as missing.
    let odd = tempfile::tempdir().unwrap();
    std::fs::create_dir(odd.path().join("dir.toml")).unwrap();
    let unreadable = Environment::load(odd.path(), "dir", &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        unreadable.contains("dir.toml: cannot read it"),
        "{unreadable}"
    );
}
