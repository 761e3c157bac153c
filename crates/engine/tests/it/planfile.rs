//! Saved plans: `plan --out` then `apply FILE` applies exactly what was reviewed, and refuses a
//! plan whose state or program moved on.

use std::path::Path;
use std::sync::Arc;

use tandem_core::{DesiredStack, ResourceOptions, Value};
use tandem_engine::planfile::PlanDecodeError;
use tandem_engine::{
    ApplyOptions, ApplyReport, PlanFileError, SavedPlan, Silent, Stale, State, check_fresh,
    load_plan, ops, plan, save_plan,
};

use crate::support::*;

const FINGERPRINT: &str = "program-v1";

fn v1() -> DesiredStack {
    stack_with_outputs(
        vec![
            decl("global/iam:Role/app").input("name", "app"),
            decl("us-east-1/rds:DbInstance/db")
                .input("engine", "postgres")
                .input("role", out("global/iam:Role/app", "arn")),
            decl("us-east-1/x:Thing/old").input("size", 1),
            decl("us-west-2/x:Thing/replica")
                .input("size", 1)
                .input("source", out("us-east-1/rds:DbInstance/db", "arn")),
        ],
        [("db", out("us-east-1/rds:DbInstance/db", "arn"))],
    )
}

/// An update, a replacement (references to it unknown until apply), a create and a delete.
fn v2() -> DesiredStack {
    stack_with_outputs(
        vec![
            decl("global/iam:Role/app").input("name", "app"),
            decl("us-east-1/rds:DbInstance/db")
                .input("engine", "mysql")
                .input("role", out("global/iam:Role/app", "arn"))
                .options(ResourceOptions {
                    delete_before_replace: true,
                    ..ResourceOptions::default()
                }),
            decl("us-east-1/x:Thing/new").input("size", 3),
            decl("us-west-2/x:Thing/replica")
                .input("size", 2)
                .input("source", out("us-east-1/rds:DbInstance/db", "arn")),
        ],
        [
            ("db", out("us-east-1/rds:DbInstance/db", "arn")),
            ("new", out("us-east-1/x:Thing/new", "id")),
        ],
    )
}

/// What `tandem apply FILE` does: lock, recover, load, check, put back the secrets' digests the
/// file masks, apply the saved plan as it is.
pub(crate) async fn apply_saved(
    home: &Home,
    path: &Path,
    fingerprint: &str,
) -> Result<ApplyReport, String> {
    let lock = home.store.lock(STACK, ENV, "apply").expect("lock");
    let (state, _) = ops::recover(&home.store, &lock, STACK, ENV, &home.providers)
        .await
        .expect("recover");
    let mut saved = load_plan(path).map_err(|e| e.to_string())?;
    check_fresh(&saved, &state, fingerprint).map_err(|e| e.to_string())?;
    saved.restore_secrets(&state);
    let base = saved.base_state(state);
    Ok(ops::apply_plan(
        &home.store,
        &lock,
        &saved.plan,
        base,
        &saved.plan.outputs,
        &home.providers,
        &ApplyOptions { parallel: 1 },
        Arc::new(Silent),
        "apply",
    )
    .await
    .expect("apply"))
}

/// What `tandem plan --out FILE` does (without refresh).
fn plan_out(home: &Home, desired: &DesiredStack, path: &Path) {
    let p = home.plan(desired);
    save_plan(path, &p, FINGERPRINT).expect("save plan");
}

/// The cloud's resources and the state, as text, without what differs between two runs: the
/// lineage, the secret key and the fake cloud's ids (`fake-N-HASH`, the hash derived from the
/// lineage).
fn outcome(home: &Home) -> String {
    let mut cloud: Vec<String> = home
        .cloud
        .resources()
        .iter()
        .map(|(_, a, p)| format!("{a} {}", tandem_core::props_to_json(p)))
        .collect();
    cloud.sort();
    let mut state = home.state();
    state.lineage.clear();
    let text = format!(
        "{}\n{}",
        cloud.join("\n"),
        String::from_utf8(state.to_json_bytes())
            .unwrap()
            .replace(&state.secret_key.to_hex(), "[KEY]")
    );
    without_id_hashes(&text)
}

/// `fake-12-0a1b2c3d` becomes `fake-12`.
fn without_id_hashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("fake-") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..digits]);
        rest = &rest[digits..];
        let hash = rest
            .strip_prefix('-')
            .map(|r| r.bytes().take_while(u8::is_ascii_hexdigit).count())
            .unwrap_or(0);
        if digits > 0 && hash > 0 {
            rest = &rest[1 + hash..];
        }
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applies_like_a_fresh_one() {
    let (fresh_dir, saved_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let fresh = Home::in_memory(fresh_dir.path());
    let saved = Home::in_memory(saved_dir.path());
    let file = saved_dir.path().join("v1.plan.json");

    // First apply, from nothing: the saved plan's lineage becomes the state's.
    assert!(fresh.up(&v1(), 1).await.succeeded());
    plan_out(&saved, &v1(), &file);
    let planned_lineage = load_plan(&file).unwrap().plan.lineage;
    let report = apply_saved(&saved, &file, FINGERPRINT).await.unwrap();
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(saved.state().lineage, planned_lineage);
    assert_eq!(outcome(&saved), outcome(&fresh));

    // Then an update, a replacement, a create and a delete.
    let file = saved_dir.path().join("v2.plan.json");
    plan_out(&saved, &v2(), &file);
    let loaded = load_plan(&file).unwrap();
    assert_eq!(
        loaded.plan,
        saved.plan(&v2()),
        "the file holds the plan as made"
    );
    assert_eq!(loaded.plan.summary(), fresh.plan(&v2()).summary());
    assert!(fresh.up(&v2(), 1).await.succeeded());
    let report = apply_saved(&saved, &file, FINGERPRINT).await.unwrap();
    assert!(report.succeeded(), "{:?}", report.results);

    assert_eq!(outcome(&saved), outcome(&fresh));
    assert_eq!(saved.state().serial, 2);
    assert!(saved.plan(&v2()).waves.is_empty(), "nothing left to do");
    let new_id = &saved.state().resources[&addr("us-east-1/x:Thing/new")].id;
    assert_eq!(saved.state().outputs.get("new"), Some(&Value::str(new_id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let file = dir.path().join("plan.json");
    assert!(home.up(&v1(), 2).await.succeeded());
    plan_out(&home, &v2(), &file);

    // Someone else applies in between: the state's serial moves from 1 to 2.
    let mut other = v1();
    other = stack_with_outputs(
        other
            .graph
            .in_order()
            .cloned()
            .chain([decl("us-east-1/x:Thing/extra").input("size", 9)]),
        [],
    );
    assert!(home.up(&other, 2).await.succeeded());
    let before = home.cloud.resources();

    let err = apply_saved(&home, &file, FINGERPRINT).await.unwrap_err();

    assert_eq!(
        err,
        "stale plan: the state changed since the plan was made (serial 1 → 2); make a new plan"
    );
    assert_eq!(home.cloud.resources(), before, "the cloud was not touched");
    assert_eq!(home.state().serial, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_from_another_program_or_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let file = dir.path().join("plan.json");
    assert!(home.up(&v1(), 2).await.succeeded());
    plan_out(&home, &v2(), &file);

    let err = apply_saved(&home, &file, "program-v2").await.unwrap_err();
    assert!(
        err.starts_with("the program or configuration changed since the plan was made"),
        "{err}"
    );

    // The same serial on a state with another history (a state file replaced by hand).
    let mut replaced = home.state();
    replaced.lineage = "another-lineage".into();
    home.store.save(&replaced).unwrap();
    let err = apply_saved(&home, &file, FINGERPRINT).await.unwrap_err();
    assert!(
        err.starts_with("the plan was made on another state (lineage "),
        "{err}"
    );
    assert_eq!(home.cloud.resources().len(), 4, "the cloud was not touched");
}

#[test]
fn damaged_edited_and_newer_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let file = dir.path().join("plan.json");
    plan_out(&home, &v1(), &file);
    let good = std::fs::read_to_string(&file).unwrap();

    let cases = [
        ("truncated", good[..good.len() / 2].to_string()),
        ("edited", good.replace("postgres", "oracle")),
        (
            "newer",
            good.replace("\"format_version\": 1", "\"format_version\": 2"),
        ),
        ("a state file", home_state_text()),
    ];
    let mut messages = Vec::new();
    for (name, text) in cases {
        let path = dir.path().join(format!("{}.json", name.replace(' ', "-")));
        std::fs::write(&path, text).unwrap();
        let err = load_plan(&path).unwrap_err();
        let PlanFileError::Decode { source, .. } = &err else {
            panic!("{name}: {err}");
        };
        match name {
            "newer" => assert_eq!(source, &PlanDecodeError::NewerVersion(2)),
            "edited" => assert_eq!(source, &PlanDecodeError::Checksum),
            _ => assert!(matches!(source, PlanDecodeError::Corrupt(_)), "{name}"),
        }
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        messages.push(message.replace(&dir.path().display().to_string(), "DIR"));
    }
    insta::assert_snapshot!(messages.join("\n"));
    let missing = load_plan(&dir.path().join("nope.json")).unwrap_err();
    assert!(matches!(missing, PlanFileError::Io { .. }), "{missing}");
}

fn home_state_text() -> String {
    String::from_utf8(recorded(&v1()).to_json_bytes()).unwrap()
}

#[test]
fn a_plan_with_secret_inputs_is_not_saved() {
    let dir = tempfile::tempdir().unwrap();
    let desired = stack(vec![
        decl("us-east-1/rds:DbInstance/db")
            .input("engine", "postgres")
            .input("password", Value::secret(Value::str("hunter2"))),
    ]);
    let p = plan(
        &desired,
        &State::new(STACK, ENV, "l".into()),
        &{
            let cloud = tandem_engine::testing::FakeCloud::in_memory();
            providers(&cloud)
        },
        &config(),
    )
    .unwrap();
    let file = dir.path().join("plan.json");
    let err = save_plan(&file, &p, FINGERPRINT).unwrap_err();
    assert!(matches!(err, PlanFileError::Secret { .. }), "{err}");
    assert!(!file.exists());
    // A plan without secrets, saved and loaded, is the same plan.
    let plain = plan(
        &v1(),
        &State::new(STACK, ENV, "l".into()),
        &providers(&tandem_engine::testing::FakeCloud::in_memory()),
        &config(),
    )
    .unwrap();
    save_plan(&file, &plain, FINGERPRINT).unwrap();
    let back: SavedPlan = load_plan(&file).unwrap();
    assert_eq!(back.plan, plain);
    assert!(matches!(
        check_fresh(&back, &State::new(STACK, "prod", "l".into()), FINGERPRINT),
        Err(Stale::OtherStack { .. })
    ));
}
