//! The S3 state backend against the local cloud: the bucket `state init` makes, the state's
//! round trip, the conditional-write lock (races, a stale lock reported and never taken, a lock
//! left by a holder that never released it, `unlock --force`), the per-batch journal, and
//! `state migrate` both ways keeping lineage and serial.

use std::sync::{Arc, Barrier};

use tandem_aws::state_s3::{S3Backend, S3Location};
use tandem_engine::journal::OpKind;
use tandem_engine::{
    JournalRecord, LocalStore, LockInfo, State, StateBackend, StoreError, migrate,
};

use crate::{clients, unique};

const STACK: &str = "demo";
const ENV: &str = "dev";

/// A backend on a fresh bucket of its own, made by `state init`.
fn backend() -> S3Backend {
    let b = S3Backend::new(
        &clients(),
        S3Location {
            bucket: unique("tstate"),
            prefix: "tandem".into(),
            region: "us-west-2".into(),
            kms_key: None,
        },
    )
    .unwrap();
    b.init().expect("state init");
    b
}

/// Another backend (its own runtime and connections) on the same bucket: a second run.
fn same_bucket(b: &S3Backend) -> S3Backend {
    S3Backend::new(&clients(), b.location().clone()).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn lock_key(b: &S3Backend) -> String {
    format!("{}/{STACK}/{ENV}/lock.json", b.location().prefix)
}

/// Writes a lock object behind the backend's back (as a run on another machine would have).
fn plant_lock(b: &S3Backend, holder: &LockInfo) {
    let bucket = b.location().bucket.clone();
    let key = lock_key(b);
    let body = serde_json::to_vec(holder).unwrap();
    rt().block_on(async {
        let s3 = clients().s3("us-west-2").await;
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    });
}

fn sample_state(serial: u64) -> State {
    let mut s = State::new(STACK, ENV, tandem_engine::ops::new_lineage());
    s.serial = serial;
    s.outputs
        .insert("url".into(), tandem_core::Value::str("http://example"));
    s
}

#[test]
fn init_is_idempotent_and_the_state_round_trips_encrypted_and_versioned() {
    let b = backend();
    let again = b.init().expect("a second init converges");
    assert!(
        again.steps.iter().any(|s| s.contains("exists")),
        "{again:?}"
    );
    assert!(
        again
            .steps
            .iter()
            .any(|s| s.contains("not set") && s.contains("plain HTTP")),
        "the TLS-only policy is not set on the local cloud, and the report says so: {again:?}"
    );
    assert_eq!(b.load(STACK, ENV).unwrap(), None);
    let mut state = sample_state(3);
    b.save(&state).unwrap();
    assert_eq!(b.load(STACK, ENV).unwrap().as_ref(), Some(&state));
    state.serial = 4;
    b.save(&state).unwrap();
    assert_eq!(b.load(STACK, ENV).unwrap().unwrap().serial, 4);

    let bucket = b.location().bucket.clone();
    rt().block_on(async {
        let s3 = clients().s3("us-west-2").await;
        let key = format!("tandem/{STACK}/{ENV}/state.json");
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.server_side_encryption().map(|e| e.as_str()),
            Some("aws:kms"),
            "the state is written with SSE-KMS"
        );
        let versions = s3
            .list_object_versions()
            .bucket(&bucket)
            .prefix(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            versions.versions().len(),
            2,
            "versioned: both saves are kept"
        );
        let enc = s3
            .get_bucket_encryption()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
        assert_eq!(
            rule.apply_server_side_encryption_by_default()
                .unwrap()
                .sse_algorithm()
                .as_str(),
            "aws:kms"
        );
        let pab = s3
            .get_public_access_block()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        let c = pab.public_access_block_configuration().unwrap();
        assert_eq!(
            (
                c.block_public_acls(),
                c.ignore_public_acls(),
                c.block_public_policy(),
                c.restrict_public_buckets()
            ),
            (Some(true), Some(true), Some(true), Some(true))
        );
    });
}

#[test]
fn two_runs_racing_for_the_lock_exactly_one_wins_ten_times() {
    let first = backend();
    let second = same_bucket(&first);
    for round in 0..10 {
        let barrier = Arc::new(Barrier::new(2));
        let done = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [first.clone(), second.clone()]
            .into_iter()
            .map(|b| {
                let (barrier, done) = (Arc::clone(&barrier), Arc::clone(&done));
                std::thread::spawn(move || {
                    barrier.wait();
                    let taken = b.lock(STACK, ENV, "race");
                    // Hold a won lock until both have tried.
                    done.wait();
                    taken.map(|lock| {
                        let me = lock.holder.clone();
                        drop(lock);
                        me
                    })
                })
            })
            .collect();
        let results: Vec<Result<LockInfo, StoreError>> =
            racers.into_iter().map(|t| t.join().unwrap()).collect();
        let won: Vec<&LockInfo> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(
            won.len(),
            1,
            "round {round}: exactly one winner: {results:?}"
        );
        let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        let StoreError::Locked { holder, .. } = lost else {
            panic!("round {round}: the loser is told who holds it: {lost:?}");
        };
        assert_eq!(
            holder.nonce, won[0].nonce,
            "round {round}: names the winner"
        );
        assert!(
            lost.to_string().contains("tandem state unlock --force"),
            "{lost}"
        );
        assert_eq!(first.lock_holder(STACK, ENV).unwrap(), None, "released");
    }
}

#[test]
fn a_stale_lock_is_reported_with_holder_and_age_and_never_taken() {
    let b = backend();
    // A run of this host whose process is gone.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let gone = LockInfo {
        pid: dead_pid,
        ..LockInfo::current("apply")
    };
    plant_lock(&b, &gone);
    let err = b.lock(STACK, ENV, "apply").unwrap_err();
    let StoreError::StaleLock { holder, reason, .. } = &err else {
        panic!("expected a stale lock: {err:?}");
    };
    assert_eq!(**holder, gone);
    assert!(reason.contains(&format!("pid {dead_pid}")), "{reason}");
    let text = err.to_string();
    assert!(text.contains("not taken automatically"), "{text}");
    assert!(text.contains("tandem state unlock --force"), "{text}");
    assert_eq!(
        b.lock_holder(STACK, ENV).unwrap(),
        Some(gone.clone()),
        "left as it was"
    );

    // A run of another host, seven hours ago: older than the threshold.
    let old = LockInfo {
        host: "ci-runner-7.example".into(),
        time: tandem_engine::store::utc_text(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                - 7 * 3600,
        ),
        ..gone
    };
    plant_lock(&b, &old);
    let err = b.lock(STACK, ENV, "apply").unwrap_err();
    assert!(
        matches!(&err, StoreError::StaleLock { reason, .. } if reason.contains("older than 6h")),
        "{err:?}"
    );
    assert!(err.to_string().contains("7h 0m ago"), "{err}");

    // A recent one of another host: held, not stale.
    let recent = LockInfo {
        time: tandem_engine::store::utc_now_text(),
        ..old
    };
    plant_lock(&b, &recent);
    let err = b.lock(STACK, ENV, "apply").unwrap_err();
    assert!(
        matches!(&err, StoreError::Locked { holder, .. } if **holder == recent),
        "{err:?}"
    );
}

#[test]
fn a_lock_never_released_stays_and_unlock_force_removes_exactly_it() {
    let b = backend();
    let lock = b.lock(STACK, ENV, "apply").unwrap();
    let holder = lock.holder.clone();
    // The holder dies between lock and release: nothing releases it.
    std::mem::forget(lock);
    let other = same_bucket(&b);
    let err = other.lock(STACK, ENV, "plan").unwrap_err();
    assert!(
        matches!(&err, StoreError::Locked { holder: h, .. } if **h == holder),
        "{err:?}"
    );
    assert_eq!(other.lock_holder(STACK, ENV).unwrap(), Some(holder.clone()));

    let removed = other
        .force_unlock(STACK, ENV)
        .unwrap()
        .expect("a lock was removed");
    assert_eq!(removed.holder, holder);
    assert!(
        removed.what.starts_with(&format!(
            "s3://{}/tandem/{STACK}/{ENV}/lock.json (ETag ",
            b.location().bucket
        )),
        "{}",
        removed.what
    );
    assert_eq!(other.force_unlock(STACK, ENV).unwrap(), None);
    let mine = other.lock(STACK, ENV, "plan").expect("free once forced");
    assert_eq!(
        other.lock_holder(STACK, ENV).unwrap(),
        Some(mine.holder.clone())
    );
    drop(mine);
    assert_eq!(other.lock_holder(STACK, ENV).unwrap(), None);
}

#[test]
fn the_journal_is_per_batch_objects_read_back_in_order_and_removed() {
    let b = backend();
    let begin = JournalRecord::Begin {
        lineage: "l-1".into(),
        base_serial: 2,
        operation: "apply".into(),
        secret_key: None,
    };
    let journal = b.create_journal(STACK, ENV, &begin).unwrap();
    let mut records = vec![begin];
    for seq in 0..5u64 {
        let r = JournalRecord::Intent {
            seq,
            addr: "us-east-1/x:Thing/a".parse().unwrap(),
            op: OpKind::Create,
            token: format!("t{seq}"),
            id: None,
            inputs: None,
            dependencies: Vec::new(),
            protect: false,
            retain_on_delete: false,
        };
        journal.append_blocking(&r).unwrap();
        records.push(r);
    }
    drop(journal);
    assert_eq!(b.read_journal(STACK, ENV).unwrap(), records);
    let bucket = b.location().bucket.clone();
    let list = |bucket: String| {
        rt().block_on(async move {
            let s3 = clients().s3("us-west-2").await;
            s3.list_objects_v2()
                .bucket(bucket)
                .prefix(format!("tandem/{STACK}/{ENV}/journal/"))
                .send()
                .await
                .unwrap()
                .contents()
                .len()
        })
    };
    assert_eq!(
        list(bucket.clone()),
        6,
        "the Begin record and one object per batch"
    );
    // A new run's journal replaces the old one.
    let next = JournalRecord::Begin {
        lineage: "l-1".into(),
        base_serial: 3,
        operation: "apply".into(),
        secret_key: None,
    };
    drop(b.create_journal(STACK, ENV, &next).unwrap());
    assert_eq!(b.read_journal(STACK, ENV).unwrap(), vec![next]);
    b.remove_journal(STACK, ENV).unwrap();
    assert_eq!(b.read_journal(STACK, ENV).unwrap(), Vec::new());
    assert_eq!(list(bucket), 0);
}

#[test]
fn migrate_local_to_s3_and_back_keeps_lineage_and_serial() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalStore::new(dir.path().join("state"));
    let s3 = backend();
    let state = sample_state(41);
    local.save(&state).unwrap();

    // Refused while a run holds the source's lock, or its journal is pending.
    let held = local.lock(STACK, ENV, "apply").unwrap();
    let err = migrate(&local, &s3, STACK, ENV).unwrap_err();
    assert!(err.to_string().contains("locked"), "{err}");
    drop(held);
    let journal = StateBackend::create_journal(
        &local,
        STACK,
        ENV,
        &JournalRecord::Begin {
            lineage: state.lineage.clone(),
            base_serial: 41,
            operation: "apply".into(),
            secret_key: None,
        },
    )
    .unwrap();
    drop(journal);
    let err = migrate(&local, &s3, STACK, ENV).unwrap_err();
    assert!(err.to_string().contains("interrupted run"), "{err}");
    assert_eq!(s3.load(STACK, ENV).unwrap(), None, "nothing was copied");
    StateBackend::remove_journal(&local, STACK, ENV).unwrap();

    let moved = migrate(&local, &s3, STACK, ENV).unwrap();
    assert_eq!((&moved.lineage, moved.serial), (&state.lineage, 41));
    assert_eq!(s3.load(STACK, ENV).unwrap().as_ref(), Some(&state));
    assert_eq!(
        local.load(STACK, ENV).unwrap().as_ref(),
        Some(&state),
        "source left"
    );
    assert_eq!(s3.lock_holder(STACK, ENV).unwrap(), None, "locks released");
    assert_eq!(local.lock_holder(STACK, ENV).unwrap(), None);

    // Back to another local directory, after a run on S3 moved the serial on.
    let mut later = state.clone();
    later.serial = 42;
    s3.save(&later).unwrap();
    let back_dir = tempfile::tempdir().unwrap();
    let back = LocalStore::new(back_dir.path().join("state"));
    migrate(&s3, &back, STACK, ENV).unwrap();
    assert_eq!(back.load(STACK, ENV).unwrap().as_ref(), Some(&later));

    // A destination holding another lineage is never overwritten.
    let other = sample_state(1);
    let third_dir = tempfile::tempdir().unwrap();
    let third = LocalStore::new(third_dir.path().join("state"));
    third.save(&other).unwrap();
    let err = migrate(&s3, &third, STACK, ENV).unwrap_err();
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    assert_eq!(third.load(STACK, ENV).unwrap().as_ref(), Some(&other));
}

/// An apply through the S3 backend (a bucket, on moto): the journal goes to S3 during the run and
/// is removed after; the state is saved there. Then a run killed after its create left a journal
/// in S3: reading the state folds it, and recovery under the lock saves it and removes the
/// journal.
#[test]
fn apply_and_recovery_journal_through_s3() {
    use tandem_aws::s3::BucketProvider;
    use tandem_core::StackBuilder;
    use tandem_engine::{ApplyOptions, PlanConfig, Providers, Silent, ops, plan};
    use tandem_schema::s3::Bucket;

    let b = backend();
    let mut providers = Providers::new();
    providers.add(Arc::new(BucketProvider::new(clients())));
    let config = PlanConfig {
        wave_order: vec!["global".into(), "us-east-1".into(), "us-west-2".into()],
    };
    let mut stack = StackBuilder::new();
    let name = unique("tstate-app");
    stack.declare(
        Bucket::new(&tandem_core::Region::named("us-east-1"), "assets")
            .unwrap()
            .bucket(name.as_str())
            .versioning(true)
            .deny_insecure_transport(false),
    );
    let desired = stack.finish().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let lock = b.lock(STACK, ENV, "apply").unwrap();
    let (state, _) = rt
        .block_on(ops::recover(&b, &lock, STACK, ENV, &providers))
        .unwrap();
    let p = plan(&desired, &state, &providers, &config).unwrap();
    let report = rt
        .block_on(ops::apply_plan(
            &b,
            &lock,
            &p,
            state,
            &desired.outputs,
            &providers,
            &ApplyOptions { parallel: 2 },
            Arc::new(Silent),
            "apply",
        ))
        .unwrap();
    assert!(report.succeeded());
    drop(lock);
    let saved = b.load(STACK, ENV).unwrap().unwrap();
    assert_eq!(saved.serial, 1);
    assert_eq!(saved.resources.len(), 1);
    assert_eq!(
        b.read_journal(STACK, ENV).unwrap(),
        Vec::new(),
        "journal removed"
    );

    // A run killed after its step was done (`state rm`'s Forget here) left its journal in S3,
    // no state saved.
    let addr = saved.resources.keys().next().unwrap();
    let killed = b
        .create_journal(
            STACK,
            ENV,
            &JournalRecord::Begin {
                lineage: saved.lineage.clone(),
                base_serial: saved.serial,
                operation: "apply".into(),
                secret_key: Some(saved.secret_key.to_hex()),
            },
        )
        .unwrap();
    killed
        .append_blocking(&JournalRecord::Forget { addr: addr.clone() })
        .unwrap();
    drop(killed);
    let (read, pending) = ops::read_state(&b, STACK, ENV).unwrap();
    assert_eq!(pending, 0);
    assert!(
        read.resources.is_empty(),
        "the journal's Forget is folded in"
    );
    assert_eq!(
        b.load(STACK, ENV).unwrap().unwrap().resources.len(),
        1,
        "not saved yet"
    );
    let lock = b.lock(STACK, ENV, "apply").unwrap();
    let (recovered, _) = rt
        .block_on(ops::recover(&b, &lock, STACK, ENV, &providers))
        .unwrap();
    drop(lock);
    assert!(recovered.resources.is_empty());
    let now = b.load(STACK, ENV).unwrap().unwrap();
    assert_eq!(
        (now.serial, now.resources.len()),
        (2, 0),
        "recovered and saved"
    );
    assert_eq!(b.read_journal(STACK, ENV).unwrap(), Vec::new());
}
