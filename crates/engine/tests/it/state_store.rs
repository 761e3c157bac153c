//! The state file: round trip, secrets, and refusal of bad input without touching it; graph errors.

use std::path::Path;

use insta::assert_snapshot;
use tandem_core::{EvaluateError, Program, ProgramError, StackBuilder, Value, evaluate};
use tandem_engine::testing::FakeCloud;
use tandem_engine::{LocalStore, StoreError, ops, plan};

use crate::support::*;

fn sample_state() -> tandem_engine::State {
    let desired = stack_with_outputs(
        vec![
            decl("global/iam:Role/app").input("name", "app"),
            decl("us-east-1/rds:DbInstance/db")
                .input("engine", "postgres")
                .input("password", Value::secret(Value::str("hunter2-plaintext")))
                .input(
                    "settings",
                    tandem_core::map([("ssl", Value::from(true)), ("ratio", Value::Float(0.5))]),
                )
                .input("role", out("global/iam:Role/app", "arn")),
        ],
        [("db_arn", out("us-east-1/rds:DbInstance/db", "arn"))],
    );
    let mut state = recorded(&desired);
    state
        .outputs
        .insert("db_arn".into(), Value::str("arn:fake:rds:DbInstance:id-db"));
    state.extensions.insert(
        "failover".into(),
        serde_json::json!({"active": "us-east-1"}),
    );
    state
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn save_and_load_round_trip_with_secrets_as_digests() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let state = sample_state();

    store.save(&state).unwrap();

    let path = store.paths(STACK, ENV).state;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("hunter2-plaintext"),
        "plaintext secret in {text}"
    );
    assert!(text.contains("hmac-sha256:"));
    // Written atomically: no temporary file is left beside it.
    assert_eq!(files_in(&store.paths(STACK, ENV).dir), ["dev.state.json"]);

    let loaded = store.load(STACK, ENV).unwrap().expect("saved");
    let db = addr("us-east-1/rds:DbInstance/db");
    let password = &loaded.resources[&db].inputs["password"];
    assert_eq!(
        password,
        &Value::SecretDigest(tandem_core::secret_digest(
            &state.secret_key,
            &Value::str("hunter2-plaintext")
        ))
    );
    // Apart from the secret, now a digest, everything reads back as it was written.
    let mut expected = state.clone();
    expected
        .resources
        .get_mut(&db)
        .unwrap()
        .inputs
        .insert("password".into(), password.clone());
    assert_eq!(loaded, expected);
    // Saving what was loaded gives the same bytes.
    store.save(&loaded).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // The same secret declared again is no change; another one is an update.
    let cloud = FakeCloud::in_memory();
    let providers = providers(&cloud);
    let declare = |secret: &str| {
        stack(vec![
            decl("global/iam:Role/app").input("name", "app"),
            decl("us-east-1/rds:DbInstance/db")
                .input("engine", "postgres")
                .input("password", Value::secret(Value::str(secret)))
                .input(
                    "settings",
                    tandem_core::map([("ssl", Value::from(true)), ("ratio", Value::Float(0.5))]),
                )
                .input("role", out("global/iam:Role/app", "arn")),
        ])
    };
    let same = plan(
        &declare("hunter2-plaintext"),
        &loaded,
        &providers,
        &config(),
    )
    .unwrap();
    assert!(!same.has_changes(), "{}", render_plan(&same));
    let other = plan(&declare("rotated"), &loaded, &providers, &config()).unwrap();
    assert_eq!(other.summary().update, 1);
}

#[test]
fn a_missing_state_is_none() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        LocalStore::new(dir.path())
            .load(STACK, ENV)
            .unwrap()
            .is_none()
    );
}

/// Writes `bytes` as the state file, checks that loading, reading and recovering all refuse it with
/// one error naming the file, and that the file is untouched. Returns the error text, the path
/// replaced by `[STATE]`.
fn refused(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let path = home.store.paths(STACK, ENV).state;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();

    let load_err = home.store.load(STACK, ENV).unwrap_err();
    assert!(
        matches!(load_err, StoreError::Decode { .. }),
        "{load_err:?}"
    );
    let read_err = ops::read_state(&home.store, STACK, ENV).unwrap_err();
    let recover_err = home.recover().unwrap_err();
    let text = load_err.to_string();
    assert_eq!(read_err.to_string(), text);
    assert_eq!(recover_err.to_string(), text);
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the state file was modified"
    );
    assert_eq!(
        files_in(path.parent().unwrap()),
        ["dev.state.json"],
        "files were left beside the state"
    );
    text.replace(&path.display().to_string(), "[STATE]")
}

#[test]
fn bad_state_files_are_refused_and_left_untouched() {
    let good = sample_state().to_json_bytes();
    let truncated = refused(&good[..good.len() / 2]);
    let garbage = refused(b"\x00\x13garbage{{{ not json");
    let mut newer: serde_json::Value = serde_json::from_slice(&good).unwrap();
    newer["version"] = serde_json::json!(99);
    newer["a_field_from_the_future"] = serde_json::json!(true);
    let newer = refused(&serde_json::to_vec_pretty(&newer).unwrap());
    let mut wrong_kind: serde_json::Value = serde_json::from_slice(&good).unwrap();
    wrong_kind["resources"][0]["inputs"] = serde_json::json!({"x": {"$bogus": 1}});
    let bad_value = refused(&serde_json::to_vec_pretty(&wrong_kind).unwrap());
    assert_snapshot!(format!(
        "truncated: {truncated}\ngarbage: {garbage}\nnewer: {newer}\nbad value: {bad_value}"
    ));
}

#[test]
fn a_state_of_another_stack_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let mut state = sample_state();
    state.env = "prod".into();
    let bytes = state.to_json_bytes();
    let path = store.paths(STACK, ENV).state;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let err = store.load(STACK, ENV).unwrap_err();
    assert!(matches!(err, StoreError::WrongStack { .. }), "{err:?}");
    assert!(err.to_string().contains("\"prod\""), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// A program declaring whatever its closure declares.
struct Declares<F: Fn(&mut StackBuilder)>(F);

impl<F: Fn(&mut StackBuilder)> Program for Declares<F> {
    fn name(&self) -> &str {
        "bad"
    }
    fn run(&self, stack: &mut StackBuilder) -> Result<(), ProgramError> {
        (self.0)(stack);
        Ok(())
    }
    fn fingerprint(&self) -> String {
        "bad".into()
    }
}

#[test]
fn invalid_graphs_are_clear_errors() {
    let cycle = evaluate(&Declares(|s: &mut StackBuilder| {
        s.declare(decl("us-east-1/x:Thing/a").input("on", out("us-west-2/x:Thing/c", "id")));
        s.declare(decl("global/x:Thing/b").input("on", out("us-east-1/x:Thing/a", "id")));
        s.declare(decl("us-west-2/x:Thing/c").input("on", out("global/x:Thing/b", "arn")));
        s.declare(decl("us-west-2/x:Thing/outside").input("on", out("global/x:Thing/b", "arn")));
    }))
    .unwrap_err();
    let unknown = evaluate(&Declares(|s: &mut StackBuilder| {
        s.declare(decl("us-east-1/x:Thing/a").input("on", out("us-east-1/x:Thing/nope", "id")));
    }))
    .unwrap_err();
    let duplicate = evaluate(&Declares(|s: &mut StackBuilder| {
        s.declare(decl("us-east-1/x:Thing/a").input("size", 1));
        s.declare(decl("us-east-1/x:Thing/a").input("size", 2));
    }))
    .unwrap_err();
    let explicit = evaluate(&Declares(|s: &mut StackBuilder| {
        s.declare(decl("us-east-1/x:Thing/a").depends_on(&addr("us-east-1/x:Thing/a")));
    }))
    .unwrap_err();
    for e in [&cycle, &unknown, &duplicate, &explicit] {
        assert!(matches!(e, EvaluateError::Graph(_)), "{e:?}");
    }
    assert_snapshot!(format!(
        "cycle: {cycle}\nunknown: {unknown}\nduplicate: {duplicate}\nself: {explicit}"
    ));
}
