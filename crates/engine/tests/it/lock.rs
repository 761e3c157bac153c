//! The state lock, between real processes.

use std::process::Command;

use tandem_engine::{LockInfo, StoreError};

use crate::child::{Role, chain_stack, spawn, wait_for_file, wait_ok};
use crate::support::*;

#[test]
fn a_second_process_is_refused_while_the_first_applies() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut child = spawn(Role::HoldLockAndApply, root);
    wait_for_file(&root.join("locked"), &mut child);
    let home = Home::at(root);

    let err = home.store.lock(STACK, ENV, "plan").unwrap_err();

    let StoreError::Locked { holder, path } = &err else {
        panic!("expected a lock error, got {err:?}");
    };
    let me = LockInfo::current("plan");
    assert_eq!(holder.pid, child.id());
    assert_eq!(holder.operation, "apply");
    assert_eq!((&holder.user, &holder.host), (&me.user, &me.host));
    assert_eq!(path, &home.store.paths(STACK, ENV).lock);
    let text = err.to_string();
    for part in [
        format!("{}@{}", me.user, me.host),
        format!("pid {}", child.id()),
        "`apply`".to_string(),
        "tandem state unlock --force".to_string(),
    ] {
        assert!(text.contains(&part), "{part:?} missing from: {text}");
    }
    // The refused attempt left the holder's lock as it was.
    assert_eq!(
        home.store.lock_holder(STACK, ENV).unwrap().as_ref(),
        Some(&**holder)
    );

    std::fs::write(root.join("release"), b"").unwrap();
    wait_ok(child);

    assert!(root.join("applied").exists());
    assert_eq!(
        home.store.lock_holder(STACK, ENV).unwrap(),
        None,
        "released on exit"
    );
    let lock = home
        .store
        .lock(STACK, ENV, "plan")
        .expect("free once the holder is done");
    assert!(lock.broke_stale.is_none());
    let desired = chain_stack();
    assert_eq!(home.state().resources.len(), desired.graph.len());
    assert!(!home.plan(&desired).has_changes());
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("run `true`");
    let pid = c.id();
    c.wait().unwrap();
    pid
}

#[test]
fn a_lock_of_a_dead_process_on_this_host_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let paths = home.store.paths(STACK, ENV);
    std::fs::create_dir_all(&paths.dir).unwrap();
    let stale = LockInfo {
        pid: dead_pid(),
        ..LockInfo::current("apply")
    };
    std::fs::write(&paths.lock, serde_json::to_vec(&stale).unwrap()).unwrap();

    let lock = home
        .store
        .lock(STACK, ENV, "apply")
        .expect("a stale lock is broken");
    assert_eq!(lock.broke_stale.as_ref(), Some(&stale));
    let holder = home.store.lock_holder(STACK, ENV).unwrap().unwrap();
    assert_eq!(holder.pid, std::process::id());
    drop(lock);
    assert!(!paths.lock.exists());

    // Of another host, nothing can be known: the lock stands.
    let elsewhere = LockInfo {
        host: "another-host.example".into(),
        ..stale
    };
    std::fs::write(&paths.lock, serde_json::to_vec(&elsewhere).unwrap()).unwrap();
    let err = home.store.lock(STACK, ENV, "apply").unwrap_err();
    assert!(matches!(&err, StoreError::Locked { holder, .. } if **holder == elsewhere));
    assert!(paths.lock.exists());
}

#[test]
fn force_unlock_removes_a_live_lock() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut child = spawn(Role::HoldLockAndApply, root);
    wait_for_file(&root.join("locked"), &mut child);
    let home = Home::at(root);

    let removed = home.store.force_unlock(STACK, ENV).unwrap();
    assert_eq!(removed.map(|h| h.pid), Some(child.id()));
    let mine = home
        .store
        .lock(STACK, ENV, "state unlock")
        .expect("free after force");

    std::fs::write(root.join("release"), b"").unwrap();
    wait_ok(child);
    // The former holder, on its way out, did not remove a lock that is no longer its own.
    let holder = home.store.lock_holder(STACK, ENV).unwrap().unwrap();
    assert_eq!(holder.pid, std::process::id());
    assert_eq!(holder.operation, "state unlock");
    drop(mine);
    assert_eq!(home.store.lock_holder(STACK, ENV).unwrap(), None);
    assert_eq!(home.store.force_unlock(STACK, ENV).unwrap(), None);
}
