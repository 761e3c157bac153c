//! The S3 state backend (`[state] backend = "s3"`): the engine's
//! [`StateBackend`](tandem_engine::StateBackend) on a versioned, SSE-KMS, TLS-only bucket.
//!
//! Layout, under `<prefix>/<stack>/<env>/` in the bucket:
//! ```text
//! state.json                      the state, written whole (PutObject, SSE-KMS), read back
//! lock.json                       the lock: its holder (user, host, pid, command, since, nonce)
//! journal/<run>/<seq>.json        the journal of the run in progress, one object per batch
//! ```
//!
//! # The lock
//! Taken with a conditional write: `PutObject` with `If-None-Match: *` succeeds for exactly one
//! writer while no lock object exists (AWS answers the others `412 Precondition Failed`, or
//! `409 Conflict` for a concurrent one). The lock is then read back and held only if it carries
//! this run's random nonce: on AWS that is belt and braces; the local cloud (moto) checks and
//! writes in two steps, so two concurrent writers could both be told yes, and the read back
//! leaves exactly one of them holding it. Released with `DeleteObject` and `If-Match: <its ETag>`,
//! so that a lock forced away and taken by another run is never removed by the former holder.
//!
//! A lock held by another run fails at once with [`StoreError::Locked`], naming the holder and the
//! lock's age. A **stale** lock — its process no longer runs on this host, or it is older than
//! [`STALE_LOCK_AGE`] — is reported as such ([`StoreError::StaleLock`]) and never taken: only
//! `tandem state unlock --force` removes it, and exactly the object it read (its ETag).
//!
//! # The journal
//! A run's records go to one object per group-committed batch (`journal/<run>/<seq>.json`, the
//! `Begin` record as sequence 0): no whole-state rewrite per step. Recovery lists them and reads
//! them back in key order. They are removed once the state is saved.
//!
//! # Blocking
//! The engine's trait is synchronous (it is called a few times per command, and from `Drop`):
//! each request runs on this backend's own small runtime and the caller waits for its answer.
//! That works from any context — inside an async runtime of either flavour, or outside one —
//! and keeps the SDK's connections on the runtime that made them.

use std::future::Future;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, Delete, ObjectIdentifier, ServerSideEncryption};
use tandem_engine::journal::{JournalError, JournalWriter, parse_journal, record_line};
use tandem_engine::store::{LockInfo, ReleaseLock, age_text, decode_state, utc_text};
use tandem_engine::{
    Journal, JournalRecord, RemovedLock, State, StateBackend, StateLock, StoreError,
};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::CallError;

/// A lock older than this is reported as stale (with its holder and age) instead of as held:
/// longer than any run of the stack takes (a cross-region database replica is the slowest step,
/// well under an hour), short enough that an abandoned lock is recognised the same day.
pub const STALE_LOCK_AGE: Duration = Duration::from_secs(6 * 3600);

/// Where the state lives in S3 (`[state]` of the environment file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// The bucket's region: independent of the stack's regions.
    pub region: String,
    /// The KMS key (id, ARN or alias) of the state's encryption; `None`: the AWS-managed `aws/s3`.
    pub kms_key: Option<String>,
}

impl S3Location {
    pub fn new(bucket: &str, prefix: &str, region: &str, kms_key: Option<&str>) -> S3Location {
        S3Location {
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').into(),
            region: region.into(),
            kms_key: kms_key.map(str::to_string),
        }
    }
}

/// The S3 state backend. Cheap to clone.
#[derive(Clone)]
pub struct S3Backend {
    shared: Arc<Shared>,
}

struct Shared {
    location: S3Location,
    clients: AwsClients,
    runtime: BackendRuntime,
    stale_after: Duration,
}

/// The backend's own runtime, shut down without waiting when the backend is dropped — from a
/// thread of its own, since the last reference may go from inside a runtime, this one included.
struct BackendRuntime(Option<tokio::runtime::Runtime>);

impl Drop for BackendRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            std::thread::spawn(move || rt.shutdown_background());
        }
    }
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("location", &self.shared.location)
            .finish_non_exhaustive()
    }
}

/// What `tandem state init` did to the bucket, one line each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitReport {
    pub steps: Vec<String>,
}

impl S3Backend {
    /// The backend at `location`, reaching S3 as `clients` would (the same endpoint overrides:
    /// `AWS_ENDPOINT_URL`, the environment's local-cloud endpoints; the same credentials).
    pub fn new(clients: &AwsClients, location: S3Location) -> std::io::Result<S3Backend> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tandem-state-s3")
            .enable_all()
            .build()?;
        Ok(S3Backend {
            shared: Arc::new(Shared {
                location,
                // Its own clients: their connections live on this backend's runtime.
                clients: AwsClients::new(clients.settings().clone()),
                runtime: BackendRuntime(Some(runtime)),
                stale_after: STALE_LOCK_AGE,
            }),
        })
    }

    pub fn location(&self) -> &S3Location {
        &self.shared.location
    }

    /// Creates the state bucket if it does not exist and sets what it must have: versioning,
    /// default SSE-KMS, the public access block and the TLS-only bucket policy. Idempotent.
    ///
    /// On a plain-HTTP endpoint (the local cloud) the TLS-only policy is not set — it would deny
    /// every request made there — and the report says so.
    pub fn init(&self) -> Result<InitReport, StoreError> {
        let shared = Arc::clone(&self.shared);
        let location = self.url("");
        self.shared
            .run(async move { shared.init().await })
            .and_then(|r| r.map_err(|e| backend_error(&location, e)))
    }

    fn url(&self, key: &str) -> String {
        self.shared.url(key)
    }
}

impl Shared {
    /// Runs `fut` on the backend's runtime and waits for its answer.
    fn run<T, F>(&self, fut: F) -> Result<T, StoreError>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let rt = self
            .runtime
            .0
            .as_ref()
            .expect("the runtime lives as long as the backend");
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| StoreError::Backend {
            location: self.url(""),
            message: "the state backend's request was abandoned".into(),
        })
    }

    fn key(&self, stack: &str, env: &str, name: &str) -> String {
        let p = &self.location.prefix;
        if p.is_empty() {
            format!("{stack}/{env}/{name}")
        } else {
            format!("{p}/{stack}/{env}/{name}")
        }
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.location.bucket)
    }

    async fn client(&self) -> aws_sdk_s3::Client {
        self.clients.s3(&self.location.region).await
    }

    /// The object's bytes, ETag and age in seconds, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Object>, CallError> {
        let s3 = self.client().await;
        let bucket = &self.location.bucket;
        let out = match call(self.clients.retry(), "s3:GetObject", || {
            s3.get_object().bucket(bucket).key(key).send()
        })
        .await
        {
            Ok(o) => o,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let etag = out.e_tag().map(str::to_string);
        let modified = out.last_modified().map(|t| t.secs().max(0) as u64);
        let bytes = out.body.collect().await.map_err(|e| {
            CallError::new(
                "s3:GetObject",
                tandem_engine::ErrorClass::Retryable,
                format!("reading the body of {key}: {e}"),
            )
        })?;
        Ok(Some(Object {
            bytes: bytes.into_bytes().to_vec(),
            etag,
            modified,
        }))
    }

    /// Writes the object with SSE-KMS; with `create_only`, only if no object exists there
    /// (`If-None-Match: *`). Returns its ETag.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        create_only: bool,
    ) -> Result<Option<String>, CallError> {
        let s3 = self.client().await;
        let bucket = &self.location.bucket;
        let kms = self.location.kms_key.clone();
        let out = call(self.clients.retry(), "s3:PutObject", || {
            let mut req = s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/json")
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(kms.clone())
                .body(ByteStream::from(body.clone()));
            if create_only {
                req = req.if_none_match("*");
            }
            req.send()
        })
        .await?;
        Ok(out.e_tag().map(str::to_string))
    }

    /// Deletes the object only while its ETag is `etag` (`If-Match`).
    async fn delete_if_match(&self, key: &str, etag: &str) -> Result<(), CallError> {
        let s3 = self.client().await;
        let bucket = &self.location.bucket;
        call(self.clients.retry(), "s3:DeleteObject", || {
            s3.delete_object()
                .bucket(bucket)
                .key(key)
                .if_match(etag)
                .send()
        })
        .await
        .map(|_| ())
    }

    /// The keys under `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let s3 = self.client().await;
        let bucket = &self.location.bucket;
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = call(self.clients.retry(), "s3:ListObjectsV2", || {
                s3.list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.clone())
                    .send()
            })
            .await?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Deletes `keys` (1000 a request).
    async fn delete_keys(&self, keys: &[String]) -> Result<(), CallError> {
        let s3 = self.client().await;
        let bucket = &self.location.bucket;
        for chunk in keys.chunks(1000) {
            let ids = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid_request("s3:DeleteObjects", e))?;
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| invalid_request("s3:DeleteObjects", e))?;
            let out = call(self.clients.retry(), "s3:DeleteObjects", || {
                s3.delete_objects()
                    .bucket(bucket)
                    .delete(delete.clone())
                    .send()
            })
            .await?;
            if let Some(e) = out.errors().first() {
                return Err(CallError::new(
                    "s3:DeleteObjects",
                    tandem_engine::ErrorClass::Other,
                    format!(
                        "{}: {} {}",
                        e.key().unwrap_or("?"),
                        e.code().unwrap_or("?"),
                        e.message().unwrap_or("")
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn init(&self) -> Result<InitReport, CallError> {
        let s3 = self.client().await;
        let r = self.clients.retry();
        let bucket = self.location.bucket.as_str();
        let region = self.location.region.as_str();
        let mut steps = Vec::new();
        match call(r, "s3:HeadBucket", || {
            s3.head_bucket().bucket(bucket).send()
        })
        .await
        {
            Ok(_) => steps.push(format!("bucket {bucket} exists")),
            Err(e) if e.is_not_found() => {
                let created = crate::s3::create_bucket(&s3, r, bucket, region).await;
                match created {
                    Ok(_) => steps.push(format!("created bucket {bucket} in {region}")),
                    Err(e) if e.has_code("BucketAlreadyOwnedByYou") => {
                        steps.push(format!("bucket {bucket} exists"))
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        crate::s3::put_versioning(&s3, r, bucket, BucketVersioningStatus::Enabled).await?;
        steps.push("versioning: enabled".into());
        crate::s3::put_sse_kms(&s3, r, bucket, self.location.kms_key.clone()).await?;
        steps.push(format!(
            "default encryption: SSE-KMS with {}",
            self.location
                .kms_key
                .as_deref()
                .unwrap_or("the AWS-managed key aws/s3")
        ));
        crate::s3::block_public_access(&s3, r, bucket).await?;
        steps.push("public access: blocked (all four settings)".into());
        let plain_http = self
            .clients
            .endpoint_for(region)
            .is_some_and(|u| u.starts_with("http://"));
        if plain_http {
            steps.push(
                "bucket policy: not set — the endpoint is plain HTTP (the local cloud), which the \
                 TLS-only policy would deny; on AWS it denies every request with \
                 aws:SecureTransport false"
                    .into(),
            );
        } else {
            let policy = crate::s3::deny_insecure_policy(region, bucket);
            call(r, "s3:PutBucketPolicy", || {
                s3.put_bucket_policy().bucket(bucket).policy(&policy).send()
            })
            .await?;
            steps.push("bucket policy: every request without TLS denied".into());
        }
        Ok(InitReport { steps })
    }

    /// Judges the holder of a lock this run could not take.
    fn refused(&self, path: PathBuf, holder: LockInfo) -> StoreError {
        let reason = if holder.is_dead_local_process() {
            Some(format!(
                "its process (pid {}) no longer runs on this host",
                holder.pid
            ))
        } else {
            holder
                .age_secs()
                .filter(|age| *age > self.stale_after.as_secs())
                .map(|_| format!("it is older than {}", age_text(self.stale_after.as_secs())))
        };
        match reason {
            Some(reason) => StoreError::StaleLock {
                path,
                holder: Box::new(holder),
                reason,
            },
            None => StoreError::Locked {
                path,
                holder: Box::new(holder),
            },
        }
    }
}

/// An object as read.
struct Object {
    bytes: Vec<u8>,
    etag: Option<String>,
    /// Last modified, seconds since the epoch.
    modified: Option<u64>,
}

impl Object {
    /// The lock's holder; a body that is not one reads as an unknown holder since its last change.
    fn holder(&self) -> LockInfo {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|_| LockInfo {
            user: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            time: self
                .modified
                .map(utc_text)
                .unwrap_or_else(|| "unknown".into()),
            operation: format!(
                "unknown (unreadable lock object of {} bytes)",
                self.bytes.len()
            ),
            nonce: String::new(),
        })
    }
}

fn invalid_request(operation: &'static str, e: impl std::fmt::Display) -> CallError {
    CallError::new(
        operation,
        tandem_engine::ErrorClass::Invalid,
        format!("could not build the request: {e}"),
    )
}

fn backend_error(location: &str, e: CallError) -> StoreError {
    StoreError::Backend {
        location: location.to_string(),
        message: e.to_string(),
    }
}

fn journal_error(location: &str, e: impl std::fmt::Display) -> JournalError {
    JournalError::Io {
        action: "use",
        path: PathBuf::from(location),
        source: std::io::Error::other(e.to_string()),
    }
}

impl StateBackend for S3Backend {
    fn state_location(&self, stack: &str, env: &str) -> PathBuf {
        PathBuf::from(self.url(&self.shared.key(stack, env, "state.json")))
    }

    fn journal_location(&self, stack: &str, env: &str) -> PathBuf {
        PathBuf::from(self.url(&self.shared.key(stack, env, "journal/")))
    }

    fn load(&self, stack: &str, env: &str) -> Result<Option<State>, StoreError> {
        let key = self.shared.key(stack, env, "state.json");
        let location = self.state_location(stack, env);
        let shared = Arc::clone(&self.shared);
        let got = {
            let key = key.clone();
            self.shared.run(async move { shared.get(&key).await })?
        };
        match got.map_err(|e| backend_error(&self.url(&key), e))? {
            None => Ok(None),
            Some(o) => decode_state(&o.bytes, &location, stack, env).map(Some),
        }
    }

    fn save(&self, state: &State) -> Result<(), StoreError> {
        let key = self.shared.key(&state.stack, &state.env, "state.json");
        let url = self.url(&key);
        let body = state.to_json_bytes();
        let shared = Arc::clone(&self.shared);
        let written = body.clone();
        let back = self.shared.run(async move {
            shared.put(&key, written, false).await?;
            shared.get(&key).await
        })?;
        match back.map_err(|e| backend_error(&url, e))? {
            Some(o) if o.bytes == body => Ok(()),
            _ => Err(StoreError::Backend {
                location: url,
                message: "the state read back is not the one written".into(),
            }),
        }
    }

    fn lock(&self, stack: &str, env: &str, operation: &str) -> Result<StateLock, StoreError> {
        let key = self.shared.key(stack, env, "lock.json");
        let url = self.url(&key);
        let me = LockInfo::current(operation);
        let body = serde_json::to_vec_pretty(&me).expect("lock info serializes");
        for _ in 0..3 {
            let shared = Arc::clone(&self.shared);
            let (k, b) = (key.clone(), body.clone());
            let answer = self.shared.run(async move {
                let put = shared.put(&k, b, true).await;
                match put {
                    Ok(_) => {}
                    // Someone holds it (or a concurrent conditional write won): see who.
                    Err(e)
                        if e.has_code("PreconditionFailed")
                            || e.has_code("ConditionalRequestConflict") => {}
                    Err(e) => return Err(e),
                }
                shared.get(&k).await
            })?;
            let Some(object) = answer.map_err(|e| backend_error(&url, e))? else {
                continue; // released in between: try again
            };
            let holder = object.holder();
            if holder.nonce == me.nonce {
                let etag = object.etag.unwrap_or_default();
                return Ok(StateLock::new(
                    me,
                    None,
                    Box::new(S3Release {
                        shared: Arc::clone(&self.shared),
                        key,
                        etag,
                    }),
                ));
            }
            return Err(self.shared.refused(PathBuf::from(url), holder));
        }
        Err(StoreError::Backend {
            location: url,
            message: "the lock keeps appearing and disappearing: try again".into(),
        })
    }

    fn lock_holder(&self, stack: &str, env: &str) -> Result<Option<LockInfo>, StoreError> {
        let key = self.shared.key(stack, env, "lock.json");
        let url = self.url(&key);
        let shared = Arc::clone(&self.shared);
        let got = self.shared.run(async move { shared.get(&key).await })?;
        Ok(got.map_err(|e| backend_error(&url, e))?.map(|o| o.holder()))
    }

    fn force_unlock(&self, stack: &str, env: &str) -> Result<Option<RemovedLock>, StoreError> {
        let key = self.shared.key(stack, env, "lock.json");
        let url = self.url(&key);
        let shared = Arc::clone(&self.shared);
        let got = self.shared.run(async move {
            let Some(o) = shared.get(&key).await? else {
                return Ok(None);
            };
            let etag = o.etag.clone().unwrap_or_default();
            match shared.delete_if_match(&key, &etag).await {
                Ok(()) => Ok(Some((o.holder(), etag))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        match got {
            Ok(removed) => Ok(removed.map(|(holder, etag)| RemovedLock {
                holder,
                what: format!("{url} (ETag {etag})"),
            })),
            Err(e) if e.has_code("PreconditionFailed") => Err(StoreError::Backend {
                location: url,
                message: "the lock changed while it was being removed (another run took it): \
                          nothing was removed; look again with `tandem state unlock --force`"
                    .into(),
            }),
            Err(e) => Err(backend_error(&url, e)),
        }
    }

    fn create_journal(
        &self,
        stack: &str,
        env: &str,
        begin: &JournalRecord,
    ) -> Result<Journal, JournalError> {
        let prefix = self.shared.key(stack, env, "journal/");
        let label = self.url(&prefix);
        let nonce: [u8; 4] = rand::random();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let run = format!(
            "{prefix}{now:012}-{}/",
            nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let shared = Arc::clone(&self.shared);
        let (first, line) = (format!("{run}{:010}.json", 0), record_line(begin));
        let done = self
            .shared
            .run(async move {
                let old = shared.list(&prefix).await?;
                shared.delete_keys(&old).await?;
                shared.put(&first, line, false).await
            })
            .map_err(|e| journal_error(&label, e))?;
        done.map_err(|e| journal_error(&label, e))?;
        Ok(Journal::start(
            &PathBuf::from(&label),
            Box::new(S3JournalWriter {
                shared: Arc::clone(&self.shared),
                run,
                seq: 1,
            }),
        ))
    }

    fn read_journal(&self, stack: &str, env: &str) -> Result<Vec<JournalRecord>, JournalError> {
        let prefix = self.shared.key(stack, env, "journal/");
        let label = self.url(&prefix);
        let shared = Arc::clone(&self.shared);
        let bytes = self
            .shared
            .run(async move {
                let mut all = Vec::new();
                for key in shared.list(&prefix).await? {
                    if let Some(o) = shared.get(&key).await? {
                        all.extend_from_slice(&o.bytes);
                    }
                }
                Ok::<_, CallError>(all)
            })
            .map_err(|e| journal_error(&label, e))?
            .map_err(|e| journal_error(&label, e))?;
        parse_journal(&PathBuf::from(&label), Cursor::new(bytes))
    }

    fn remove_journal(&self, stack: &str, env: &str) -> Result<(), JournalError> {
        let prefix = self.shared.key(stack, env, "journal/");
        let label = self.url(&prefix);
        let shared = Arc::clone(&self.shared);
        self.shared
            .run(async move {
                let keys = shared.list(&prefix).await?;
                shared.delete_keys(&keys).await
            })
            .map_err(|e| journal_error(&label, e))?
            .map_err(|e| journal_error(&label, e))
    }
}

/// Writes each group-committed batch of a run's records as one object.
struct S3JournalWriter {
    shared: Arc<Shared>,
    /// `.../journal/<run>/`
    run: String,
    seq: u64,
}

impl JournalWriter for S3JournalWriter {
    fn write_batch(&mut self, lines: &[Vec<u8>]) -> std::io::Result<()> {
        let key = format!("{}{:010}.json", self.run, self.seq);
        let body = lines.concat();
        let shared = Arc::clone(&self.shared);
        self.shared
            .run(async move { shared.put(&key, body, false).await })
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.seq += 1;
        Ok(())
    }
}

/// Releases an S3 lock: `DeleteObject` with `If-Match` on the ETag it was taken with.
struct S3Release {
    shared: Arc<Shared>,
    key: String,
    etag: String,
}

impl ReleaseLock for S3Release {
    fn release(&mut self) {
        let shared = Arc::clone(&self.shared);
        let (key, etag) = (self.key.clone(), self.etag.clone());
        let done = self
            .shared
            .run(async move { shared.delete_if_match(&key, &etag).await });
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.is_not_found() => {}
            Ok(Err(e)) => tracing::warn!(
                lock = %self.shared.url(&self.key),
                error = %e,
                "the state lock was not released (it is no longer this run's, or S3 did not \
                 answer); the next run reports it"
            ),
            Err(e) => tracing::warn!(error = %e, "the state lock was not released"),
        }
    }
}
