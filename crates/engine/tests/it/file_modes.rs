//! Everything the engine writes is private to its user: files 0600, the directories it creates
//! 0700, an existing file written anew included.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tandem_core::Value;
use tandem_engine::store::{create_private_dir, open_private, write_atomically, write_private};
use tandem_engine::{Journal, JournalRecord, save_plan};

use crate::support::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn assert_mode(path: &Path, expected: u32) {
    assert_eq!(
        mode(path),
        expected,
        "{} is {:o}, not {expected:o}",
        path.display(),
        mode(path)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_journal_lock_and_saved_plan_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path());
    let desired = stack(vec![
        decl("us-east-1/x:Thing/a")
            .input("size", 1)
            .input("token", Value::secret(Value::str("s3cret"))),
    ]);
    assert!(home.up(&desired, 1).await.succeeded());
    let paths = home.store.paths(STACK, ENV);
    // The store's directories, each created by the engine.
    for d in [home.store.root(), &paths.dir] {
        assert_mode(d, 0o700);
    }
    assert_mode(&paths.state, 0o600);

    // The lock, while held.
    let lock = home.store.lock(STACK, ENV, "test").unwrap();
    assert_mode(&paths.lock, 0o600);
    drop(lock);

    // A journal, as a run begins it.
    let journal = Journal::create(
        &paths.journal,
        JournalRecord::Begin {
            lineage: "l".into(),
            base_serial: 1,
            operation: "apply".into(),
            secret_key: None,
        },
    )
    .unwrap();
    assert_mode(&paths.journal, 0o600);
    drop(journal);
    std::fs::remove_file(&paths.journal).unwrap();

    // A saved plan, in a directory the save creates.
    let changed = stack(vec![decl("us-east-1/x:Thing/a").input("size", 2)]);
    let file = dir.path().join("plans/next.plan.json");
    save_plan(&file, &home.plan(&changed), "fp").unwrap();
    assert_mode(&file, 0o600);
    assert_mode(file.parent().unwrap(), 0o700);
}

#[test]
fn a_file_written_anew_becomes_private_whatever_its_mode_was() {
    let dir = tempfile::tempdir().unwrap();
    let open = |p: &Path| {
        std::fs::write(p, b"old").unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    let atomic = dir.path().join("state.json");
    open(&atomic);
    write_atomically(&atomic, b"new").unwrap();
    assert_mode(&atomic, 0o600);
    assert_eq!(std::fs::read(&atomic).unwrap(), b"new");

    let report = dir.path().join("report.md");
    open(&report);
    write_private(&report, b"new").unwrap();
    assert_mode(&report, 0o600);
    assert_eq!(std::fs::read(&report).unwrap(), b"new");

    let log = dir.path().join("audit.jsonl");
    open(&log);
    drop(open_private(&log, std::fs::OpenOptions::new().append(true)).unwrap());
    assert_mode(&log, 0o600);
    assert_eq!(std::fs::read(&log).unwrap(), b"old");

    // A new file in new directories: 0600 in 0700s; an existing directory is left as it is.
    let nested = dir.path().join("a/b/c");
    create_private_dir(&nested).unwrap();
    for d in ["a", "a/b", "a/b/c"] {
        assert_mode(&dir.path().join(d), 0o700);
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    create_private_dir(dir.path()).unwrap();
    assert_mode(dir.path(), 0o755);
    let fresh = nested.join("report.json");
    write_private(&fresh, b"{}").unwrap();
    assert_mode(&fresh, 0o600);
}
