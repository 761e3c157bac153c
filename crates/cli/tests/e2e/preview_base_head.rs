//! Issue 12, pull-request previews against the real state: the preview workflow's sequence on the
//! local cloud. The base branch's program is deployed (`deploy all`); the head changes the
//! environment as a pull request could (the primary region's capacity); `tandem preview` then
//! shows only that change, not the whole stack — and is read-only: it runs while another run holds
//! the state lock (which `apply` honours), and leaves every file of the state directory (state,
//! lock, audit log) byte-identical.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::failover::LocalCloud;

/// Every file under `dir` with its bytes, by path relative to `dir`.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Every file of `before` is in `after` with the same bytes, and no other.
fn assert_unchanged(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the preview created or removed a file of the state directory"
    );
    for (path, bytes) in before {
        assert!(after[path] == *bytes, "the preview changed {path}");
    }
}

/// The steps of a preview JSON document that change something: (address, action).
pub(crate) fn changes(preview: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for env in preview["environments"].as_array().unwrap() {
        for wave in env["waves"].as_array().unwrap() {
            for step in wave["steps"].as_array().unwrap() {
                let action = step["action"].as_str().unwrap();
                if !matches!(action, "noop" | "unchanged") {
                    out.push((
                        step["address"].as_str().unwrap().to_string(),
                        action.to_string(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn a_preview_of_the_head_shows_only_its_change_and_writes_nothing() {
    let _serial = crate::support::serial();
    let c = LocalCloud::new("pr");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| base_then_head(&c)));
    // Whatever happened, leave moto empty for the next test.
    let lock = c.dir.path().join(".tandem/state/multi-region/pr.lock");
    let _ = std::fs::remove_file(lock);
    let destroyed = c.tandem(&["destroy", "--yes"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert_eq!(destroyed.code, 0, "{}", destroyed.text());
}

fn base_then_head(c: &LocalCloud) {
    // The base branch's program, deployed.
    c.ok(&["deploy", "all", "--yes"]);
    let state_dir = c.dir.path().join(".tandem/state");

    // The head: the pull request raises the primary region's capacity.
    let env_file = c.dir.path().join("environments/pr.toml");
    let mut text = std::fs::read_to_string(&env_file).unwrap();
    assert!(!text.contains("[sizes]"), "{text}");
    text.push_str("\n[sizes]\nprimary_desired_capacity = 3\nstandby_desired_capacity = 1\n");
    std::fs::write(&env_file, text).unwrap();

    // Another run holds the state lock: a live process (this test) on this host.
    let lock = state_dir.join("multi-region/pr.lock");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let holder = serde_json::json!({
        "user": "reviewer",
        "host": host,
        "pid": std::process::id(),
        "time": "2026-01-01T00:00:00Z",
        "operation": "apply",
    });
    std::fs::write(&lock, serde_json::to_vec(&holder).unwrap()).unwrap();
    let refused = c.tandem(&["apply", "--yes"]);
    assert_eq!(
        refused.code,
        4,
        "apply honours the lock: {}",
        refused.text()
    );
    let before = snapshot(&state_dir);
    assert!(
        before.keys().any(|k| k.ends_with("pr.state.json")),
        "{before:?}"
    );

    let preview = c.ok(&["preview", "--format", "json"]);
    let markdown = c.ok(&["preview", "--format", "markdown", "--out", "preview.md"]);

    // Read-only: every file of the state directory as it was, the other run's lock included.
    assert_unchanged(&before, &snapshot(&state_dir));

    // Only the pull request's change: one update of the primary region's capacity, 2 → 3.
    let doc: Value = serde_json::from_str(&preview.stdout).expect("preview JSON");
    assert_eq!(
        changes(&doc),
        [(
            "us-east-1/autoscaling:GroupCapacity/app".to_string(),
            "update".to_string()
        )],
        "{}",
        preview.stdout
    );
    let summary = &doc["summary"];
    assert_eq!(
        (
            &summary["create"],
            &summary["update"],
            &summary["replace"],
            &summary["delete"]
        ),
        (&0.into(), &1.into(), &0.into(), &0.into()),
        "{summary}"
    );
    let step = doc["environments"][0]["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["steps"].as_array().unwrap())
        .find(|s| s["action"] == "update")
        .unwrap();
    let property = step["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "desired_capacity")
        .unwrap_or_else(|| panic!("the capacity changes: {step:#}"));
    assert_eq!((&property["old"], &property["new"]), (&2.into(), &3.into()));
    let md = std::fs::read_to_string(c.dir.path().join("preview.md")).unwrap();
    assert!(md.starts_with("<!-- tandem-preview -->"), "{md}");
    assert!(
        md.contains("GroupCapacity") && !md.contains("DatabaseSecret"),
        "the comment names the change and not the rest of the stack: {md}\n{}",
        markdown.text()
    );

    // The other run releases its lock, but was interrupted: its journal holds an update it had
    // begun. The preview folds it in memory (and says so), and leaves the journal in place for
    // the next apply to reconcile.
    std::fs::remove_file(&lock).unwrap();
    let journal = state_dir.join("multi-region/pr.journal");
    std::fs::write(&journal, pending_journal(&state_dir)).unwrap();
    let before = snapshot(&state_dir);
    let preview = c.ok(&["preview", "--format", "json"]);
    assert!(
        preview.stderr.contains("1 operation(s) pending"),
        "the preview read the journal: {}",
        preview.text()
    );
    assert_unchanged(&before, &snapshot(&state_dir));

    // The next apply reconciles the interrupted update and applies the change; the preview then
    // has nothing to show.
    c.ok(&["apply", "--yes"]);
    let preview = c.ok(&["preview", "--format", "json"]);
    let doc: Value = serde_json::from_str(&preview.stdout).unwrap();
    assert_eq!(changes(&doc), [], "{}", preview.stdout);
}

/// A journal an interrupted apply would leave: it began an update of the primary region's capacity
/// and did not say how it ended.
fn pending_journal(state_dir: &Path) -> String {
    let state: Value = serde_json::from_slice(
        &std::fs::read(state_dir.join("multi-region/pr.state.json")).unwrap(),
    )
    .unwrap();
    let addr = "us-east-1/autoscaling:GroupCapacity/app";
    let resources = &state["resources"];
    let record = match resources {
        Value::Object(map) => map.get(addr).cloned(),
        Value::Array(list) => list.iter().find(|r| r["addr"] == addr).cloned(),
        _ => None,
    }
    .unwrap_or_else(|| panic!("the state records {addr}: {resources:#}"));
    let id = record["id"].as_str().or(record["record"]["id"].as_str());
    let lines = [
        serde_json::json!({
            "t": "begin",
            "lineage": state["lineage"],
            "base_serial": state["serial"],
            "operation": "apply",
        }),
        serde_json::json!({
            "t": "intent",
            "seq": 1,
            "addr": addr,
            "op": "update",
            "token": "tandem-interrupted-1",
            "id": id,
        }),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}
