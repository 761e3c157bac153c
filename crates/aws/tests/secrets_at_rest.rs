//! No file Tandem writes holds a database password: the state, the journal, saved plans and the
//! log of a run that creates, re-plans and destroys a `secretsmanager:DatabaseSecret` and the DB
//! instance made with its password, against the local cloud (moto).
//!
//! A test binary of its own: it installs the process's global log subscriber at every level, so
//! that every event of the run (on any thread, the SDK's included) is in the file searched.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tandem_aws::secretsmanager::read_credentials;
use tandem_aws::{AwsClients, ClientSettings, RetryPolicy, StaticCredentials};
use tandem_core::{StackBuilder, Value};
use tandem_engine::{
    ApplyOptions, Journal, JournalRecord, LocalStore, PlanConfig, Silent, State, apply, ops,
    save_plan,
};
use tandem_schema::rds::DbInstance;
use tandem_schema::secretsmanager::{DatabaseSecret, SecretReplica};
use tandem_testkit::{TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};

/// Clients for this binary's moto, as the local cloud.
fn local_clients() -> AwsClients {
    let endpoint = tandem_testkit::moto().endpoint();
    let mut endpoints = std::collections::HashMap::new();
    endpoints.insert("global".to_string(), endpoint.clone());
    endpoints.insert("*".to_string(), endpoint);
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
            base: std::time::Duration::from_millis(20),
            cap: std::time::Duration::from_millis(200),
        },
        ..ClientSettings::default()
    })
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Applies `desired` over `state` through the engine, with a journal kept at `journal` (the CLI
/// removes its journal after a run: this one stays, to be searched), and saves the state.
async fn apply_keeping_journal(
    store: &LocalStore,
    desired: &tandem_core::DesiredStack,
    state: State,
    journal: &Path,
) -> State {
    let providers = tandem_aws::providers(local_clients());
    let config = PlanConfig {
        wave_order: vec!["global".into(), "us-east-1".into(), "us-west-2".into()],
    };
    let (p, base) = ops::make_plan(desired, &state, &providers, &config, Some(4))
        .await
        .unwrap();
    save_plan(&journal.with_extension("plan.json"), &p, "it-fingerprint").unwrap();
    let j = Arc::new(
        Journal::create(
            journal,
            JournalRecord::Begin {
                lineage: base.lineage.clone(),
                base_serial: base.serial,
                operation: "apply".into(),
                secret_key: None,
            },
        )
        .unwrap(),
    );
    let report = apply(
        &p,
        base,
        &providers,
        j,
        &ApplyOptions { parallel: 4 },
        Arc::new(Silent),
    )
    .await;
    if let Some(f) = report.failures().next() {
        panic!("a step failed: {f:?}");
    }
    let mut state = report.state;
    state.serial += 1;
    store.save(&state).unwrap();
    state
}

/// The secret and a DB instance, applied, re-planned after a refresh and destroyed through the
/// engine into a temporary directory, with the log (every level, Tandem's and the SDK's) written
/// there too: the password (read back with GetSecretValue) appears in no file there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_tandem_wrote_holds_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("tandem.log")).unwrap();
    // The process's one subscriber (this binary has this one test): every thread's events.
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(Mutex::new(log))
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish(),
    )
    .unwrap();

    let store = LocalStore::new(dir.path().join("state"));
    let mut stack = StackBuilder::new();
    let unique = tandem_testkit::unique_name("nofile");
    let region = tandem_core::Region::named("us-east-1");
    let s = stack.declare(
        DatabaseSecret::new(&region, "app-db")
            .unwrap()
            .name(format!("it/{unique}/credentials"))
            .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/secret-east")
            .force_delete_without_recovery(true),
    );
    let replica = stack.declare(
        SecretReplica::new(&tandem_core::Region::named("us-west-2"), "app-db")
            .unwrap()
            .secret_arn(s.output("arn"))
            .kms_key_id("arn:aws:kms:us-west-2:123456789012:key/secret-west"),
    );
    stack.declare(
        DbInstance::new(&region, "app-db")
            .unwrap()
            .identifier(format!("db-{unique}"))
            .engine("postgres")
            .instance_class("db.t3.micro")
            .allocated_storage(20)
            .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/source-key")
            .backup_retention_period(1)
            .skip_final_snapshot(true)
            .master_username("tandem")
            .master_user_secret_arn(s.output("arn"))
            .master_password_generation(0),
    );
    stack.export("db_secret_arn_us-west-2", replica.output("arn"));
    let desired = stack.finish().unwrap();
    let _lock = store.lock("it", "local", "apply").unwrap();
    let state = State::new("it", "local", ops::new_lineage());
    let state = apply_keeping_journal(&store, &desired, state, &dir.path().join("j1")).await;
    let secret_addr = s.addr().clone();
    let arn = state
        .output(&secret_addr, "arn")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let password = read_credentials(&local_clients(), &arn)
        .await
        .unwrap()
        .password;

    // Re-planned after a refresh: nothing to do (both read back as declared).
    let providers = tandem_aws::providers(local_clients());
    let config = PlanConfig {
        wave_order: vec!["global".into(), "us-east-1".into(), "us-west-2".into()],
    };
    let (again, _) = ops::make_plan(&desired, &state, &providers, &config, Some(4))
        .await
        .unwrap();
    assert!(!again.has_changes(), "no drift after apply");
    save_plan(&dir.path().join("again.plan.json"), &again, "it").unwrap();

    // Destroyed: an empty stack.
    let empty = StackBuilder::new().finish().unwrap();
    let state = apply_keeping_journal(&store, &empty, state, &dir.path().join("j2")).await;
    assert!(state.resources.is_empty());

    let files = files_under(dir.path());
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["tandem.log", "j1", "j1.plan.json", "j2", "again.plan.json"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert!(
        files
            .iter()
            .any(|f| f.starts_with(dir.path().join("state"))),
        "a state file in {names:?}"
    );
    let log_text = std::fs::read_to_string(dir.path().join("tandem.log")).unwrap();
    let lines = |what: &str| log_text.lines().filter(|l| l.contains(what)).count();
    eprintln!(
        "log: {} lines, {} on CreateSecret, {} naming the secret's ARN, {} on CreateDBInstance",
        log_text.lines().count(),
        lines("CreateSecret"),
        lines(&arn),
        lines("CreateDBInstance")
    );
    assert!(lines("CreateSecret") > 0, "the log covers the run");
    let needle = password.expose().as_bytes();
    let mut found = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let n = bytes.windows(needle.len()).filter(|w| *w == needle).count();
        if n > 0 {
            found.push((f.clone(), n));
        }
    }
    assert_eq!(found, Vec::new(), "files holding the password");
}
