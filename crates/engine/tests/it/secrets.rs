//! Secrets: each state keys its own digests (HMAC-SHA256 under its `secret_key`); nothing but the
//! state holds a digest; a saved plan holds neither a secret nor its digest.

use tandem_core::{DesiredStack, ResourceOptions, Value, secret_digest};
use tandem_engine::state::ResourceRecord;
use tandem_engine::{Journal, JournalRecord, OpKind, State, ops, save_plan};

use crate::planfile::apply_saved;
use crate::support::*;

const SECRET: &str = "hunter2-planted";

/// A database with a secret password, a thing keeping its secret token out of diffs
/// (`ignore_changes`), and a secret output.
fn with_secrets(token_size: i64, with_db: bool) -> DesiredStack {
    let mut decls = vec![
        decl("us-east-1/x:Thing/token")
            .input("size", token_size)
            .input("token", Value::secret(Value::str(SECRET)))
            .options(ResourceOptions {
                ignore_changes: vec!["token".into()],
                ..ResourceOptions::default()
            }),
    ];
    if with_db {
        decls.push(
            decl("us-east-1/rds:DbInstance/db")
                .input("engine", "postgres")
                .input("password", Value::secret(Value::str(SECRET))),
        );
    }
    stack_with_outputs(decls, [("secret", Value::secret(Value::str(SECRET)))])
}

/// The digests the state file holds.
fn digests(text: &str) -> Vec<String> {
    text.match_indices("hmac-sha256:")
        .map(|(at, _)| text[at..at + "hmac-sha256:".len() + 64].to_string())
        .collect()
}

fn state_text(home: &Home) -> String {
    std::fs::read_to_string(home.store.paths(STACK, ENV).state).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_state_keys_its_own_digests_and_plans_stay_deterministic() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (Home::at(a_dir.path()), Home::at(b_dir.path()));
    for home in [&a, &b] {
        assert!(home.up(&with_secrets(1, true), 1).await.succeeded());
    }
    let (a_text, b_text) = (state_text(&a), state_text(&b));
    for text in [&a_text, &b_text] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("sha256:") || text.contains("hmac-sha256:"));
    }
    // The same secret, under two states' keys: two digests, each the state's own.
    let (a_state, b_state) = (a.state(), b.state());
    let a_digest = secret_digest(&a_state.secret_key, &Value::str(SECRET));
    let b_digest = secret_digest(&b_state.secret_key, &Value::str(SECRET));
    assert_ne!(a_digest, b_digest);
    assert!(digests(&a_text).iter().all(|d| *d == a_digest), "{a_text}");
    assert!(digests(&b_text).iter().all(|d| *d == b_digest), "{b_text}");
    assert_eq!(
        digests(&a_text).len(),
        3,
        "password, token, output: {a_text}"
    );
    // Under one key, the same digest every time: nothing to do, and equal plans.
    let (first, second) = (
        a.plan(&with_secrets(1, true)),
        a.plan(&with_secrets(1, true)),
    );
    assert!(!first.has_changes(), "{}", render_plan(&first));
    assert_eq!(first, second);
    // A read of the cloud reports no drift: it gives back the recorded digests.
    let (refreshed, _) = ops::make_plan(
        &with_secrets(1, true),
        &a_state,
        &a.providers,
        &config(),
        Some(2),
    )
    .await
    .unwrap();
    assert!(refreshed.drift.is_empty(), "{:?}", refreshed.drift);
    // Another secret is an update.
    let rotated = stack(vec![
        decl("us-east-1/rds:DbInstance/db")
            .input("engine", "postgres")
            .input("password", Value::secret(Value::str("rotated"))),
    ]);
    let p = a.plan(&rotated);
    assert_eq!(p.summary().update, 1, "{}", render_plan(&p));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_holds_neither_the_secret_nor_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path());
    assert!(home.up(&with_secrets(1, true), 1).await.succeeded());
    let digest = secret_digest(&home.state().secret_key, &Value::str(SECRET));

    // The database (and its password) goes; the token's thing is updated, its secret kept.
    let file = dir.path().join("plan.json");
    let v2 = with_secrets(2, false);
    let made = home.plan(&v2);
    assert_eq!(made.summary().delete, 1);
    assert_eq!(made.summary().update, 1);
    save_plan(&file, &made, "fp").unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(SECRET), "the secret leaked: {text}");
    assert!(!text.contains(&digest), "its digest leaked: {text}");
    assert!(digests(&text).is_empty(), "{text}");
    assert!(text.contains(r#""$secret": "masked""#), "{text}");

    // Applied, it leaves the state's digests as they were, not masked.
    let report = apply_saved(&home, &file, "fp").await.unwrap();
    assert!(report.succeeded(), "{:?}", report.results);
    let state = home.state();
    let token = &state.resources[&addr("us-east-1/x:Thing/token")];
    assert_eq!(token.inputs["token"], Value::SecretDigest(digest.clone()));
    assert_eq!(token.inputs["size"], Value::from(2));
    assert!(!home.plan(&v2).has_changes());
}

#[test]
fn a_run_on_a_state_not_yet_saved_is_recovered_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let desired = stack(vec![
        decl("us-east-1/rds:DbInstance/db")
            .input("engine", "postgres")
            .input("password", Value::secret(Value::str(SECRET))),
    ]);
    // A first apply killed after its create: the journal, and no state file.
    let state = State::new(STACK, ENV, "lineage-0001".into());
    let paths = home.store.paths(STACK, ENV);
    std::fs::create_dir_all(&paths.dir).unwrap();
    let db = addr("us-east-1/rds:DbInstance/db");
    let recorded = recorded(&desired).resources[&db].clone();
    let journal = Journal::create(
        &paths.journal,
        JournalRecord::Begin {
            lineage: state.lineage.clone(),
            base_serial: 0,
            operation: "apply".into(),
            secret_key: Some(state.secret_key.to_hex()),
        },
    )
    .unwrap();
    for record in [
        JournalRecord::Intent {
            seq: 1,
            addr: db.clone(),
            op: OpKind::Create,
            token: "t".into(),
            id: None,
            inputs: Some(tandem_core::props_to_state_json(
                &recorded.inputs,
                &state.secret_key,
            )),
            dependencies: Vec::new(),
            protect: false,
            retain_on_delete: false,
        },
        JournalRecord::Done {
            seq: 1,
            addr: db.clone(),
            record: Some(ResourceRecord::from_state(
                &db,
                &recorded,
                &state.secret_key,
            )),
        },
    ] {
        journal.append_blocking(&record).unwrap();
    }
    drop(journal);
    let text = std::fs::read_to_string(&paths.journal).unwrap();
    assert!(!text.contains(SECRET), "{text}");

    let (read, _) = ops::read_state(&home.store, STACK, ENV).unwrap();
    assert_eq!(read.secret_key, state.secret_key);
    let p = tandem_engine::plan(&desired, &read, &home.providers, &config()).unwrap();
    assert!(!p.has_changes(), "{}", render_plan(&p));
    let (recovered, _) = home.recover().unwrap();
    assert_eq!(recovered.secret_key, state.secret_key);
    assert_eq!(home.state().secret_key, state.secret_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_from_before_keys_gets_one_and_updates_its_secrets_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let desired = with_secrets(1, true);
    assert!(home.up(&desired, 1).await.succeeded());
    // Rewrite the file as an older tandem wrote it: version 1, no key, unkeyed digests.
    let path = home.store.paths(STACK, ENV).state;
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    old["version"] = 1.into();
    old.as_object_mut().unwrap().remove("secret_key");
    let unkeyed = format!("sha256:{}", "ab".repeat(32));
    let text = serde_json::to_string_pretty(&old)
        .unwrap()
        .replace(&digests(&state_text(&home))[0], &unkeyed);
    std::fs::write(&path, text).unwrap();

    // One update of the database's password (the token's is ignored), then nothing.
    let p = home.plan(&desired);
    assert_eq!(p.summary().update, 1, "{}", render_plan(&p));
    assert!(home.up(&desired, 1).await.succeeded());
    let text = state_text(&home);
    assert!(text.contains("\"secret_key\""), "{text}");
    let state = home.state();
    let keyed = Value::SecretDigest(secret_digest(&state.secret_key, &Value::str(SECRET)));
    let db = &state.resources[&addr("us-east-1/rds:DbInstance/db")];
    assert_eq!(db.inputs["password"], keyed);
    // `ignore_changes` keeps what is recorded, the old digest included.
    let token = &state.resources[&addr("us-east-1/x:Thing/token")];
    assert_eq!(token.inputs["token"], Value::SecretDigest(unkeyed));
    assert!(!home.plan(&desired).has_changes());
}
