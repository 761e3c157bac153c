//! The local lock between real processes racing for it (issue 12, defect 3): exactly one winner,
//! whether the lock is free or a dead process's stale lock is to be broken; a lock file left
//! empty is recognised as stale; and the serial cannot overflow (defect 6).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tandem_engine::{
    ApplyOptions, LocalStore, LockInfo, Silent, StateBackend, StoreError, ops, plan,
};

use crate::support::*;

const RACE_DIR: &str = "TANDEM_IT_RACE_DIR";

/// A racer: this binary re-run with `--exact lock_race::racer`.
fn spawn_racer(dir: &Path) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args([
            "--exact",
            "lock_race::racer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RACE_DIR, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn a racer")
}

/// The racer's side: waits for `go`, tries the lock once, and writes what happened —
/// `won-PID` (holding it 300 ms, naming the stale lock it broke, if any) or `lost-PID` (naming the
/// holder it was refused by). Does nothing outside a race.
#[test]
fn racer() {
    let Ok(dir) = std::env::var(RACE_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    while !dir.join("go").exists() {
        std::thread::sleep(Duration::from_micros(200));
    }
    let store = LocalStore::new(dir.join("state"));
    let pid = std::process::id();
    match store.lock(STACK, ENV, "race") {
        Ok(lock) => {
            let broke = lock
                .broke_stale
                .as_ref()
                .map(|h| h.pid.to_string())
                .unwrap_or_default();
            std::fs::write(dir.join(format!("won-{pid}")), broke).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            drop(lock);
        }
        Err(StoreError::Locked { holder, .. }) => {
            std::fs::write(dir.join(format!("lost-{pid}")), holder.pid.to_string()).unwrap();
        }
        Err(e) => {
            std::fs::write(dir.join(format!("error-{pid}")), e.to_string()).unwrap();
        }
    }
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("run `true`");
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// One race of `racers` processes; returns the outcome files' names and contents.
fn race(racers: usize, stale: Option<&LockInfo>) -> Vec<(String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = LocalStore::new(dir.join("state"));
    let paths = store.paths(STACK, ENV);
    std::fs::create_dir_all(&paths.dir).unwrap();
    if let Some(h) = stale {
        std::fs::write(&paths.lock, serde_json::to_vec(h).unwrap()).unwrap();
    }
    let children: Vec<Child> = (0..racers).map(|_| spawn_racer(dir)).collect();
    // Let every racer start and wait for the signal, then start them together.
    std::thread::sleep(Duration::from_millis(400));
    std::fs::write(dir.join("go"), b"").unwrap();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a racer failed");
    }
    assert_eq!(
        store.lock_holder(STACK, ENV).unwrap(),
        None,
        "the winner released the lock"
    );
    let mut outcomes: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("won-") || n.starts_with("lost-") || n.starts_with("error-"))
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            (n, text)
        })
        .collect();
    outcomes.sort();
    // Nothing but the state directory's own files is left behind (no temporary lock file).
    let left: Vec<String> = std::fs::read_dir(&paths.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left in the state directory: {left:?}");
    outcomes
}

/// Exactly one `won-`, every other a `lost-` naming the winner.
fn check_one_winner(outcomes: &[(String, String)], racers: usize, stale: Option<u32>) {
    let won: Vec<_> = outcomes
        .iter()
        .filter(|(n, _)| n.starts_with("won-"))
        .collect();
    let lost: Vec<_> = outcomes
        .iter()
        .filter(|(n, _)| n.starts_with("lost-"))
        .collect();
    assert_eq!(won.len(), 1, "exactly one winner: {outcomes:?}");
    assert_eq!(lost.len(), racers - 1, "all others refused: {outcomes:?}");
    let winner = won[0].0.trim_start_matches("won-");
    for (_, holder) in &lost {
        assert_eq!(holder, winner, "a loser names the winner: {outcomes:?}");
    }
    let broke = stale.map(|p| p.to_string()).unwrap_or_default();
    assert_eq!(
        won[0].1, broke,
        "the stale lock the winner broke: {outcomes:?}"
    );
}

#[test]
fn two_processes_racing_for_a_free_lock_one_proceeds_ten_times() {
    for _ in 0..10 {
        let outcomes = race(2, None);
        check_one_winner(&outcomes, 2, None);
    }
}

#[test]
fn four_processes_breaking_a_dead_processs_lock_exactly_one_wins_ten_times() {
    for _ in 0..10 {
        let stale = LockInfo {
            pid: dead_pid(),
            ..LockInfo::current("apply")
        };
        let outcomes = race(4, Some(&stale));
        check_one_winner(&outcomes, 4, Some(stale.pid));
    }
}

#[test]
fn an_empty_lock_file_is_stale_once_its_grace_period_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let paths = store.paths(STACK, ENV);
    std::fs::create_dir_all(&paths.dir).unwrap();
    // Left by a run killed while writing it: empty, and just written.
    std::fs::write(&paths.lock, b"").unwrap();
    let err = store.lock(STACK, ENV, "apply").unwrap_err();
    let StoreError::Locked { holder, .. } = &err else {
        panic!("a fresh empty lock is held for its grace period: {err:?}");
    };
    assert!(
        holder.operation.contains("unreadable lock file of 0 bytes"),
        "{holder:?}"
    );

    // Older than the grace period: stale, broken and reported.
    let old = SystemTime::now() - tandem_engine::store::UNREADABLE_LOCK_GRACE * 2;
    std::fs::File::options()
        .write(true)
        .open(&paths.lock)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let lock = store
        .lock(STACK, ENV, "apply")
        .expect("a stale empty lock is broken");
    let broke = lock.broke_stale.as_ref().expect("reported");
    assert!(
        broke.operation.contains("unreadable lock file"),
        "{broke:?}"
    );
    // The lock now in place is whole, and names this run.
    let held: LockInfo = serde_json::from_slice(&std::fs::read(&paths.lock).unwrap()).unwrap();
    assert_eq!(held, lock.holder);
    drop(lock);
    assert!(!paths.lock.exists());
}

#[test]
fn a_lock_retaken_after_a_force_is_not_released_by_the_former_holder() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let first = store.lock(STACK, ENV, "apply").unwrap();
    let removed = StateBackend::force_unlock(&store, STACK, ENV)
        .unwrap()
        .unwrap();
    assert_eq!(removed.holder, first.holder);
    assert_eq!(
        removed.what,
        store.paths(STACK, ENV).lock.display().to_string()
    );
    // The same process takes it again: only the nonce tells the two apart.
    let second = store.lock(STACK, ENV, "state unlock").unwrap();
    drop(first);
    assert_eq!(
        store.lock_holder(STACK, ENV).unwrap(),
        Some(second.holder.clone())
    );
    drop(second);
    assert_eq!(store.lock_holder(STACK, ENV).unwrap(), None);
}

#[test]
fn a_state_at_the_largest_serial_is_a_clear_error_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let first = stack([decl("us-east-1/x:Thing/a").input("size", 1)]);
    runtime().block_on(home.up(&first, 2));
    let mut state = home.state();
    state.serial = u64::MAX;
    home.store.save(&state).unwrap();

    // save_state (refresh, state rm, failover's posture): an error, the state untouched.
    let lock = home.store.lock(STACK, ENV, "refresh").unwrap();
    let mut copy = state.clone();
    let err = ops::save_state(&home.store, &lock, &mut copy).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SerialOverflow {
                serial: u64::MAX,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("18446744073709551615"), "{err}");
    assert_eq!(home.state().serial, u64::MAX);

    // apply_plan: refused before the journal is created or the cloud is asked anything.
    let second = stack([
        decl("us-east-1/x:Thing/a").input("size", 1),
        decl("us-east-1/x:Thing/b").input("size", 2),
    ]);
    let p = plan(&second, &state, &home.providers, &config()).unwrap();
    assert!(p.has_changes());
    let err = runtime()
        .block_on(ops::apply_plan(
            &home.store,
            &lock,
            &p,
            state.clone(),
            &second.outputs,
            &home.providers,
            &ApplyOptions { parallel: 2 },
            Arc::new(Silent),
            "apply",
        ))
        .unwrap_err();
    assert!(err.to_string().contains("largest there is"), "{err}");
    assert!(!home.store.paths(STACK, ENV).journal.exists());
    assert_eq!(home.cloud.resources().len(), 1, "nothing was created");
    assert_eq!(home.state().serial, u64::MAX);
}
