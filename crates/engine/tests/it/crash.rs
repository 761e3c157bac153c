//! A run killed at any instant is finished by the next one: no duplicate, no lost resource.

use std::path::Path;
use std::time::Duration;

use crate::child::{Role, crash_stack, spawn, wait_ok};
use crate::support::*;

/// Starts an apply of the crash stack and SIGKILLs it after `ms` milliseconds.
fn kill_after(root: &Path, ms: u64) {
    let mut child = spawn(Role::ApplyCrashStack, root);
    std::thread::sleep(Duration::from_millis(ms));
    // SAFETY: sends a signal to our own child, which has not been reaped yet.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    let status = child.wait().unwrap();
    let home = Home::at(root);
    eprintln!(
        "killed after {ms} ms ({status}): {} resources in the cloud, journal left: {}",
        home.cloud.resources().len(),
        home.store.paths(STACK, ENV).journal.exists()
    );
}

/// Checks that the stack is fully and exactly applied.
fn converged(root: &Path) {
    let home = Home::at(root);
    let desired = crash_stack();
    let state = home.state();
    assert!(!home.store.paths(STACK, ENV).journal.exists());
    for d in desired.graph.in_order() {
        assert_eq!(home.cloud.count(&d.addr), 1, "{} in the cloud", d.addr);
        let id = &state.resources[&d.addr].id;
        let in_cloud = home.cloud.resources();
        assert!(
            in_cloud.iter().any(|(i, a, _)| i == id && a == &d.addr),
            "{}",
            d.addr
        );
    }
    assert_eq!(home.cloud.resources().len(), desired.graph.len());
    assert_eq!(state.resources.len(), desired.graph.len());
    let again = home.plan(&desired);
    assert!(!again.has_changes(), "{}", render_plan(&again));
}

fn killed_then_converges(ms: u64) {
    let dir = tempfile::tempdir().unwrap();
    kill_after(dir.path(), ms);
    wait_ok(spawn(Role::ApplyCrashStack, dir.path()));
    converged(dir.path());
}

#[test]
fn killed_after_50ms_then_converges() {
    killed_then_converges(50);
}

#[test]
fn killed_after_150ms_then_converges() {
    killed_then_converges(150);
}

#[test]
fn killed_after_300ms_then_converges() {
    killed_then_converges(300);
}

#[test]
fn killed_after_450ms_then_converges() {
    killed_then_converges(450);
}

#[test]
fn killed_repeatedly_then_converges() {
    let dir = tempfile::tempdir().unwrap();
    for ms in [60, 90, 120, 200] {
        kill_after(dir.path(), ms);
    }
    wait_ok(spawn(Role::ApplyCrashStack, dir.path()));
    converged(dir.path());
}
