//! Child processes: this test binary re-run with `--exact child::entry` and a role in the
//! environment, for the tests that need a second real process (locks, crashes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tandem_core::DesiredStack;
use tandem_engine::{ApplyOptions, Silent, ops, plan};

use crate::support::*;

const ROLE: &str = "TANDEM_IT_CHILD_ROLE";
const HOME: &str = "TANDEM_IT_CHILD_HOME";

/// What a child does.
#[derive(Clone, Copy, Debug)]
pub enum Role {
    /// Takes the lock, writes `locked`, applies the chain stack slowly, writes `applied`, and
    /// releases the lock once a `release` file appears.
    HoldLockAndApply,
    /// Recovers and applies the crash stack, slowly, as `tandem apply` does.
    ApplyCrashStack,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::HoldLockAndApply => "hold-lock-and-apply",
            Role::ApplyCrashStack => "apply-crash-stack",
        }
    }
}

/// Starts this binary as a child in `role`, working in `home`.
pub fn spawn(role: Role, home: &Path) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--exact", "child::entry", "--nocapture", "--test-threads=1"])
        .env(ROLE, role.name())
        .env(HOME, home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child test process")
}

/// Waits for a child and checks that it succeeded.
pub fn wait_ok(mut child: Child) {
    let status = child.wait().expect("wait for child");
    assert!(status.success(), "child process failed: {status}");
}

/// Waits until `path` exists, or fails after a generous time if the child never got there.
pub fn wait_for_file(path: &Path, child: &mut Child) {
    for _ in 0..3000 {
        if path.exists() {
            return;
        }
        if let Some(status) = child.try_wait().expect("poll child") {
            panic!("child exited ({status}) before {}", path.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{} never appeared", path.display());
}

/// The stack the lock test's holder applies: a short chain.
pub fn chain_stack() -> DesiredStack {
    stack((0..6).map(|i| {
        let d = decl(&format!("us-east-1/x:Thing/c{i}")).input("size", i);
        if i == 0 {
            d
        } else {
            d.input("prev", out(&format!("us-east-1/x:Thing/c{}", i - 1), "arn"))
        }
    }))
}

/// Forty resources over three waves, each referring to one or two earlier ones.
pub fn crash_stack() -> DesiredStack {
    let region = |i: usize| ["global", "us-east-1", "us-west-2"][i % 3];
    let name = |i: usize| format!("{}/x:Thing/r{i:02}", region(i));
    stack((0..40).map(|i| {
        let mut d = decl(&name(i)).input("size", i as i64);
        if i >= 3 {
            d = d.input("near", out(&name(i - 3), "arn"));
        }
        if i >= 7 && i % 2 == 1 {
            d = d.input("far", out(&name(i / 2), "id"));
        }
        d
    }))
}

/// The child's side. Run by the test harness like any test; does nothing without a role.
#[test]
fn entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let root = PathBuf::from(std::env::var(HOME).expect("child home"));
    let home = Home::at(&root);
    let rt = runtime();
    match role.as_str() {
        "hold-lock-and-apply" => {
            let lock = home
                .store
                .lock(STACK, ENV, "apply")
                .expect("child takes the lock");
            std::fs::write(root.join("locked"), b"").unwrap();
            home.cloud.set_delay(Duration::from_millis(20));
            rt.block_on(apply_under(&home, &lock, &chain_stack(), 1));
            std::fs::write(root.join("applied"), b"").unwrap();
            while !root.join("release").exists() {
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(lock);
        }
        "apply-crash-stack" => {
            home.cloud.set_delay(Duration::from_millis(15));
            let lock = home
                .store
                .lock(STACK, ENV, "apply")
                .expect("child takes the lock");
            rt.block_on(apply_under(&home, &lock, &crash_stack(), 4));
        }
        other => panic!("unknown child role {other:?}"),
    }
}

async fn apply_under(
    home: &Home,
    lock: &tandem_engine::StateLock,
    desired: &DesiredStack,
    parallel: usize,
) {
    let (state, _) = ops::recover(&home.store, lock, STACK, ENV, &home.providers)
        .await
        .expect("recover");
    let plan = plan(desired, &state, &home.providers, &config()).expect("plan");
    let report = ops::apply_plan(
        &home.store,
        lock,
        &plan,
        state,
        &desired.outputs,
        &home.providers,
        &ApplyOptions { parallel },
        Arc::new(Silent),
        "apply",
    )
    .await
    .expect("apply");
    assert!(report.succeeded(), "{:?}", report.results);
}
