//! The state backends through the binary: two `tandem refresh` processes started together
//! against the same stack — exactly one proceeds, the other exits 4 at once naming the holder —
//! ten races each on the local and the S3 backend; a run killed between lock and release leaves
//! its lock, reported (stale: its process is gone) until `state unlock --force` removes it; and
//! `state init` then `state migrate` local → S3 → local keeping lineage and serial; and a
//! pull request's preview against the shared S3 state, read-only, showing only its change.
//!
//! The runs reach moto through a proxy that delays each request by [`DELAY`], so that a run holds
//! the lock long enough (its preflight, recovery and refresh) for the race to be a race.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tandem_aws::state_s3::{S3Backend, S3Location};
use tandem_engine::StateBackend;

use crate::support::{Run, Scratch, environments, serial};

const DELAY: Duration = Duration::from_millis(150);
const STACK: &str = "multi-region";

/// A TCP proxy to `upstream` that holds each chunk from the client for [`DELAY`]. Runs until
/// the test binary exits.
fn slow_proxy(upstream: &str) -> String {
    let target = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let target = target.clone();
            std::thread::spawn(move || {
                let Ok(server) = TcpStream::connect(&target) else {
                    return;
                };
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        std::thread::sleep(DELAY);
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut s_read, &mut c_write);
                let _ = c_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    url
}

/// An environments directory holding `local.toml` with `[state]` replaced by `state`.
fn environments_with_state(dir: &Path, state: &str) -> PathBuf {
    let envs = dir.join("environments");
    std::fs::create_dir_all(&envs).unwrap();
    let text = std::fs::read_to_string(environments().join("local.toml")).unwrap();
    let start = text.find("[state]").expect("local.toml has [state]");
    let end = start + text[start..].find("\n[").expect("a section after [state]") + 1;
    let edited = format!("{}{state}\n{}", &text[..start], &text[end..]);
    std::fs::write(envs.join("local.toml"), edited).unwrap();
    envs
}

fn s3_state(bucket: &str) -> String {
    format!(
        "[state]\nbackend = \"s3\"\nbucket = \"{bucket}\"\nprefix = \"teams/infra\"\nregion = \"us-west-2\"\npath = \".tandem/state\"\n"
    )
}

const LOCAL_STATE: &str = "[state]\nbackend = \"local\"\npath = \".tandem/state\"\n";

/// `tandem ARGS --env local` in the scratch directory, with `envs`, through `endpoint`.
fn command(s: &Scratch, envs: &Path, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
    cmd.current_dir(s.dir.path())
        .args(args)
        .args(["--env", "local", "--environments"])
        .arg(envs)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env_remove("TANDEM_ENV")
        .env_remove("PRIMARY_REGION")
        .env_remove("SECONDARY_REGION");
    for (k, v) in tandem_testkit::test_credentials_env() {
        cmd.env(k, v);
    }
    cmd
}

fn run(s: &Scratch, envs: &Path, endpoint: &str, args: &[&str]) -> Run {
    Run::of(&mut command(s, envs, endpoint, args))
}

fn spawn(s: &Scratch, envs: &Path, endpoint: &str, args: &[&str]) -> Child {
    command(s, envs, endpoint, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tandem")
}

fn finish(child: Child) -> (u32, Run) {
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    (
        pid,
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
    )
}

/// Ten races of two `tandem refresh` started together: one exits 0, the other 4 naming it.
fn ten_races(s: &Scratch, envs: &Path, endpoint: &str) {
    for round in 0..10 {
        let a = spawn(s, envs, endpoint, &["refresh"]);
        let b = spawn(s, envs, endpoint, &["refresh"]);
        let results = [finish(a), finish(b)];
        let won: Vec<_> = results.iter().filter(|(_, r)| r.code == 0).collect();
        let lost: Vec<_> = results.iter().filter(|(_, r)| r.code == 4).collect();
        let all = results
            .iter()
            .map(|(pid, r)| format!("pid {pid}: {}", r.text()))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!((won.len(), lost.len()), (1, 1), "round {round}:\n{all}");
        let text = &lost[0].1.stderr;
        assert!(
            text.contains("state is locked by")
                && text.contains(&format!("(pid {})", won[0].0))
                && text.contains("`refresh`"),
            "round {round}: the refused run names the holder:\n{all}"
        );
    }
}

#[test]
fn two_runs_on_the_local_backend_one_proceeds_the_other_exits_4_ten_times() {
    let _g = serial();
    let s = Scratch::new();
    let envs = environments_with_state(s.dir.path(), LOCAL_STATE);
    let proxy = slow_proxy(&s.endpoint);
    ten_races(&s, &envs, &proxy);
    let list = run(&s, &envs, &s.endpoint, &["state", "list"]);
    assert_eq!(list.code, 0, "{}", list.text());
}

fn s3_backend(s: &Scratch, bucket: &str) -> S3Backend {
    let clients = tandem_aws::AwsClients::local(&s.endpoint, "testing", "testing");
    S3Backend::new(
        &clients,
        S3Location {
            bucket: bucket.into(),
            prefix: "teams/infra".into(),
            region: "us-west-2".into(),
            kms_key: None,
        },
    )
    .unwrap()
}

#[test]
fn two_runs_on_the_s3_backend_one_proceeds_the_other_exits_4_ten_times() {
    let _g = serial();
    let s = Scratch::new();
    let bucket = tandem_testkit::unique_name("tstate-race");
    let envs = environments_with_state(s.dir.path(), &s3_state(&bucket));
    let init = run(&s, &envs, &s.endpoint, &["state", "init"]);
    assert_eq!(init.code, 0, "{}", init.text());
    assert!(
        init.stdout.contains("versioning: enabled"),
        "{}",
        init.text()
    );
    let again = run(&s, &envs, &s.endpoint, &["state", "init"]);
    assert_eq!(again.code, 0, "idempotent: {}", again.text());
    let proxy = slow_proxy(&s.endpoint);
    ten_races(&s, &envs, &proxy);
    // The lock lived in the bucket, not on the disk.
    assert!(!s.dir.path().join(".tandem/state").exists());
    let backend = s3_backend(&s, &bucket);
    assert_eq!(backend.lock_holder(STACK, "local").unwrap(), None);
}

#[test]
fn a_run_killed_between_lock_and_release_leaves_a_lock_reported_until_unlock_force() {
    let _g = serial();
    let s = Scratch::new();
    let bucket = tandem_testkit::unique_name("tstate-kill");
    let envs = environments_with_state(s.dir.path(), &s3_state(&bucket));
    assert_eq!(run(&s, &envs, &s.endpoint, &["state", "init"]).code, 0);
    let backend = s3_backend(&s, &bucket);
    let proxy = slow_proxy(&s.endpoint);
    let mut victim = spawn(&s, &envs, &proxy, &["refresh"]);
    let pid = victim.id();
    let mut held = false;
    for _ in 0..400 {
        if backend
            .lock_holder(STACK, "local")
            .unwrap()
            .is_some_and(|h| h.pid == pid)
        {
            held = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(held, "the run took the lock");
    victim.kill().unwrap(); // SIGKILL: no release
    victim.wait().unwrap();
    assert_eq!(
        backend.lock_holder(STACK, "local").unwrap().map(|h| h.pid),
        Some(pid),
        "the lock remains"
    );

    let next = run(&s, &envs, &s.endpoint, &["refresh"]);
    assert_eq!(next.code, 4, "{}", next.text());
    for part in [
        format!("(pid {pid})"),
        "`refresh`".to_string(),
        "looks stale".to_string(),
        "no longer runs on this host".to_string(),
        "tandem state unlock --force".to_string(),
        " ago".to_string(),
    ] {
        assert!(
            next.stderr.contains(&part),
            "{part:?} missing: {}",
            next.text()
        );
    }

    let unlock = run(&s, &envs, &s.endpoint, &["state", "unlock", "--force"]);
    assert_eq!(unlock.code, 0, "{}", unlock.text());
    assert!(
        unlock.stdout.contains(&format!("(pid {pid})"))
            && unlock.stdout.contains(&format!(
                "s3://{bucket}/teams/infra/{STACK}/local/lock.json (ETag "
            )),
        "names what it removed: {}",
        unlock.text()
    );
    let after = run(&s, &envs, &s.endpoint, &["refresh"]);
    assert_eq!(after.code, 0, "{}", after.text());
    assert_eq!(backend.lock_holder(STACK, "local").unwrap(), None);
}

#[test]
fn migrate_local_to_s3_and_back_keeps_lineage_and_serial() {
    let _g = serial();
    let s = Scratch::new();
    let local_envs = environments_with_state(&s.dir.path().join("a"), LOCAL_STATE);
    // A state three runs old.
    let local = tandem_engine::LocalStore::new(s.dir.path().join(".tandem/state"));
    let mut state = tandem_engine::State::new(STACK, "local", tandem_engine::ops::new_lineage());
    state.serial = 3;
    local.save(&state).unwrap();
    let r = run(&s, &local_envs, &s.endpoint, &["refresh"]);
    assert_eq!(r.code, 0, "{}", r.text());
    let state_file = s
        .dir
        .path()
        .join(".tandem/state/multi-region/local.state.json");
    let read_local = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap()
    };
    let before = read_local();
    assert_eq!(before["serial"], 3);

    let bucket = tandem_testkit::unique_name("tstate-mig");
    let envs = environments_with_state(&s.dir.path().join("b"), &s3_state(&bucket));
    assert_eq!(run(&s, &envs, &s.endpoint, &["state", "init"]).code, 0);
    let bad = run(
        &s,
        &envs,
        &s.endpoint,
        &["state", "migrate", "--to", "nowhere"],
    );
    assert_eq!(bad.code, 64, "{}", bad.text());
    let to_s3 = run(&s, &envs, &s.endpoint, &["state", "migrate", "--to", "s3"]);
    assert_eq!(to_s3.code, 0, "{}", to_s3.text());
    let lineage = before["lineage"].as_str().unwrap();
    assert!(
        to_s3
            .stdout
            .contains(&format!("lineage {lineage}, serial 3"))
            && to_s3.stdout.contains("source was left in place"),
        "{}",
        to_s3.text()
    );
    assert_eq!(read_local(), before, "the source is left as it was");

    // The copy is the state the S3 backend's runs use.
    let r = run(&s, &envs, &s.endpoint, &["refresh"]);
    assert_eq!(r.code, 0, "{}", r.text());
    let s3 = s3_backend(&s, &bucket);
    let mut on_s3 = s3.load(STACK, "local").unwrap().unwrap();
    assert_eq!((on_s3.lineage.as_str(), on_s3.serial), (lineage, 3));
    // A run there moves the serial on; migrating back brings it home.
    on_s3.serial = 4;
    s3.save(&on_s3).unwrap();
    let back = run(
        &s,
        &envs,
        &s.endpoint,
        &["state", "migrate", "--to", "local"],
    );
    assert_eq!(back.code, 0, "{}", back.text());
    let after = read_local();
    assert_eq!(
        (after["lineage"].as_str(), after["serial"].as_u64()),
        (Some(lineage), Some(4))
    );
}

/// Every object version in `bucket` (key, version id), read with boto3: what a run wrote there.
fn object_versions(endpoint: &str, bucket: &str) -> Vec<(String, String)> {
    let script = "import boto3, json, sys\n\
                  s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-west-2')\n\
                  pages = s3.get_paginator('list_object_versions').paginate(Bucket=sys.argv[2])\n\
                  print(json.dumps(sorted([v['Key'], v['VersionId']] for p in pages\n\
                      for v in p.get('Versions', []) + p.get('DeleteMarkers', []))))";
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script, endpoint, bucket]);
    serde_json::from_value(crate::support::python_json(
        "list_object_versions",
        cmd,
        endpoint,
    ))
    .expect("versions as pairs")
}

/// A pull request's preview against the environment's shared S3 state: it runs while another
/// run holds the lock (it takes none), writes no object (every version in the bucket as it was),
/// and lists only what the head changes.
#[test]
fn a_preview_against_the_shared_s3_state_shows_only_the_change_and_writes_nothing() {
    let _g = serial();
    let s = Scratch::new();
    let bucket = tandem_testkit::unique_name("tstate-preview");
    let envs = environments_with_state(s.dir.path(), &s3_state(&bucket));
    let init = run(&s, &envs, &s.endpoint, &["state", "init"]);
    assert_eq!(init.code, 0, "{}", init.text());
    // The base branch's program, deployed with its state in S3.
    let base = run(&s, &envs, &s.endpoint, &["deploy", "all", "--yes"]);
    assert_eq!(base.code, 0, "{}", base.text());
    // The head: one more instance in the primary region.
    let file = envs.join("local.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("primary_desired_capacity = 2"), "{text}");
    std::fs::write(
        &file,
        text.replace(
            "primary_desired_capacity = 2",
            "primary_desired_capacity = 3",
        ),
    )
    .unwrap();

    let backend = s3_backend(&s, &bucket);
    let held = backend.lock(STACK, "local", "apply").unwrap();
    let before = object_versions(&s.endpoint, &bucket);
    assert!(
        before.iter().any(|(k, _)| k.ends_with("state.json")),
        "{before:?}"
    );
    let preview = run(&s, &envs, &s.endpoint, &["preview", "--format", "json"]);
    assert_eq!(preview.code, 0, "{}", preview.text());
    assert_eq!(
        object_versions(&s.endpoint, &bucket),
        before,
        "the preview wrote to the state bucket"
    );
    let doc: serde_json::Value = serde_json::from_str(&preview.stdout).expect("preview JSON");
    assert_eq!(
        crate::preview_base_head::changes(&doc),
        [(
            "us-east-1/autoscaling:GroupCapacity/app".to_string(),
            "update".to_string()
        )],
        "{}",
        preview.stdout
    );
    drop(held);
    let destroy = run(&s, &envs, &s.endpoint, &["destroy", "--yes"]);
    assert_eq!(destroy.code, 0, "{}", destroy.text());
}
