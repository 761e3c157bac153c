//! The exit codes the enum maps to are exactly those `--help` and the README document.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tandem_engine::{EngineError, ErrorClass, PlanFileError, ProviderError, StoreError};

use super::{EXIT_CODES_HELP, Error, Exit, code};

/// One error of each variant (and of each arm of the wrapped errors' mapping).
fn one_of_each() -> Vec<Error> {
    let addr: tandem_core::ResourceAddr = "us-east-1/s3:Bucket/assets".parse().unwrap();
    let provider = |class| EngineError::Provider {
        addr: addr.clone(),
        region: "us-east-1".into(),
        operation: "create",
        source: ProviderError::new(class, "no"),
    };
    let all = vec![
        Error::Failed("failed".into()),
        Error::Config("config".into()),
        Error::State("state".into()),
        Error::Refused("refused".into()),
        Error::Account("account".into()),
        Error::Unhealthy("unhealthy".into()),
        Error::Unverified("unverified".into()),
        Error::Policy("policy".into()),
        Error::Usage("usage".into()),
        Error::LiveStateUnread(vec!["global".into(), "us-east-1".into()]),
        Error::Engine(provider(ErrorClass::Other)),
        Error::Engine(provider(ErrorClass::AccessDenied)),
        Error::Engine(EngineError::Internal("internal".into())),
        Error::Engine(EngineError::NoProvider {
            addr: addr.clone(),
            kind: "s3:Bucket".into(),
        }),
        Error::Store(StoreError::Io {
            action: "read",
            path: PathBuf::from("state.json"),
            source: std::io::Error::other("disk"),
        }),
        Error::Environment(tandem_stack_multi_region::ConfigError::NotFound {
            name: "nowhere".into(),
            path: PathBuf::from("environments/nowhere.toml"),
        }),
        Error::PlanFile(PlanFileError::Io {
            action: "read",
            path: PathBuf::from("plan.json"),
            source: std::io::Error::other("disk"),
        }),
        Error::PlanFile(PlanFileError::Secret {
            addr,
            property: "password".into(),
        }),
        Error::LocalCloud(tandem_localcloud::Error::Config("ports".into())),
        Error::Io(std::io::Error::other("disk")),
        Error::Json(serde_json::from_str::<u8>("x").unwrap_err()),
        Error::Failover(tandem_failover::FailoverError::Preflight("lag".into())),
        Error::Failover(tandem_failover::FailoverError::State("posture".into())),
        Error::Failover(tandem_failover::FailoverError::Transform(
            tandem_failover::TransformError::NoReplica("us-east-1".into()),
        )),
        Error::Failover(tandem_failover::FailoverError::Outage("gateway".into())),
    ];
    // A new variant does not compile here until it is listed above.
    for e in &all {
        match e {
            Error::Failed(_)
            | Error::Config(_)
            | Error::State(_)
            | Error::Refused(_)
            | Error::Account(_)
            | Error::Unhealthy(_)
            | Error::Unverified(_)
            | Error::Policy(_)
            | Error::Usage(_)
            | Error::LiveStateUnread(_)
            | Error::Engine(_)
            | Error::Store(_)
            | Error::Environment(_)
            | Error::PlanFile(_)
            | Error::LocalCloud(_)
            | Error::Io(_)
            | Error::Json(_)
            | Error::Failover(_) => {}
        }
    }
    all
}

/// Every code a run can exit with: the errors', the successes', and clap's usage error.
fn every_code() -> BTreeSet<u8> {
    let mut codes: BTreeSet<u8> = one_of_each().iter().map(Error::exit_code).collect();
    codes.extend([Exit::Success.code(), Exit::Changes.code(), code::USAGE]);
    codes
}

/// The codes of a list whose lines start with a code after `prefix` (`  3   ...`, `| 3 | ...`).
fn listed(lines: impl Iterator<Item = String>, prefix: &str) -> BTreeSet<u8> {
    lines
        .filter_map(|l| {
            l.strip_prefix(prefix)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn the_wrapped_errors_keep_their_codes() {
    let codes: Vec<u8> = one_of_each().iter().map(Error::exit_code).collect();
    assert_eq!(
        codes,
        [
            1, 3, 4, 5, 6, 7, 8, 9, 64, 1, 1, 6, 1, 3, 4, 3, 1, 3, 1, 1, 1, 5, 4, 3, 1
        ]
    );
}

#[test]
fn help_lists_every_exit_code_and_no_other() {
    let lines = EXIT_CODES_HELP
        .lines()
        .skip_while(|l| *l != "Exit codes:")
        .skip(1)
        .map(str::to_string);
    assert_eq!(listed(lines, "  "), every_code(), "{EXIT_CODES_HELP}");
}

#[test]
fn the_readme_table_lists_every_exit_code_and_no_other() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md is readable");
    let table = readme
        .lines()
        .skip_while(|l| *l != "### Exit codes")
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(str::to_string);
    assert_eq!(listed(table, "| "), every_code(), "{}", path.display());
}

#[test]
fn a_report_reads_as_anyhow_printed_it() {
    // `main` printed `{:#}` of an `anyhow::Error`: the message, then each cause after `: `.
    let store = || {
        Error::Store(StoreError::Io {
            action: "read",
            path: PathBuf::from("state.json"),
            source: std::io::Error::other("disk"),
        })
    };
    assert_eq!(
        store().report(),
        format!("{:#}", anyhow::Error::from(store()))
    );
    // A saved plan's error was flattened into its message.
    let e = Error::PlanFile(PlanFileError::Io {
        action: "read",
        path: PathBuf::from("plan.json"),
        source: std::io::Error::other("disk"),
    });
    assert_eq!(e.report(), "cannot read plan.json: disk");
}
