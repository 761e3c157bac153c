//! Where a stack's state lives: the [`StateBackend`] trait, which the operations ([`crate::ops`]),
//! the CLI and the failover library work through, and its local implementation
//! ([`LocalStore`]). The S3 backend lives in the AWS crate (`tandem_aws::state_s3`): the engine
//! knows no cloud service.
//!
//! A backend keeps, per stack and environment: the state (read and written whole, atomically),
//! the lock (taken atomically by one run, naming its holder; released by that holder only;
//! forced away by `state unlock --force`), and the journal of the run in progress (created with
//! its `Begin` record, appended with group commit, read back in order by recovery, removed once
//! the state is saved).
//!
//! The methods block: the local backend does file I/O, a remote one waits for its requests (on
//! its own runtime, so that it can be called from any context — inside or outside an async
//! runtime — including a lock released by `Drop`). They are called a few times per command,
//! never per step: a run's steps only append to the journal, from its writer thread.

use std::path::PathBuf;

use crate::journal::{Journal, JournalError, JournalRecord, read_journal, remove_journal};
use crate::state::State;
use crate::store::{LocalStore, LockInfo, StateLock, StoreError, create_dir};

/// A lock removed by `state unlock --force`: whose it was, and exactly what was removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedLock {
    pub holder: LockInfo,
    /// The file, or the object and its ETag, that was removed.
    pub what: String,
}

/// Where a stack's state, lock and journal live.
pub trait StateBackend: Send + Sync + std::fmt::Debug {
    /// Where the state of `stack`/`env` lives, for messages (a path, or `s3://bucket/key`).
    fn state_location(&self, stack: &str, env: &str) -> PathBuf;

    /// Where the journal of `stack`/`env` lives, for messages.
    fn journal_location(&self, stack: &str, env: &str) -> PathBuf;

    /// Reads the state, or `None` when the stack has never been applied in this environment.
    fn load(&self, stack: &str, env: &str) -> Result<Option<State>, StoreError>;

    /// Writes the state whole: a reader sees the old state or the new one, never a mix.
    fn save(&self, state: &State) -> Result<(), StoreError>;

    /// Takes the exclusive lock for `operation`, or fails at once with
    /// [`StoreError::Locked`] (or [`StoreError::StaleLock`]) naming the holder and its age.
    fn lock(&self, stack: &str, env: &str, operation: &str) -> Result<StateLock, StoreError>;

    /// Who holds the lock, if anyone.
    fn lock_holder(&self, stack: &str, env: &str) -> Result<Option<LockInfo>, StoreError>;

    /// Removes the lock whoever holds it (`state unlock --force`): exactly the lock it read, and
    /// says what it removed.
    fn force_unlock(&self, stack: &str, env: &str) -> Result<Option<RemovedLock>, StoreError>;

    /// Starts the journal of a new run with its `Begin` record (a journal left before is
    /// replaced: recovery has folded it by then).
    fn create_journal(
        &self,
        stack: &str,
        env: &str,
        begin: &JournalRecord,
    ) -> Result<Journal, JournalError>;

    /// Every record of the journal, in order (none when there is no journal).
    fn read_journal(&self, stack: &str, env: &str) -> Result<Vec<JournalRecord>, JournalError>;

    /// Removes the journal once its records are in a saved state.
    fn remove_journal(&self, stack: &str, env: &str) -> Result<(), JournalError>;
}

impl StateBackend for LocalStore {
    fn state_location(&self, stack: &str, env: &str) -> PathBuf {
        self.paths(stack, env).state
    }

    fn journal_location(&self, stack: &str, env: &str) -> PathBuf {
        self.paths(stack, env).journal
    }

    fn load(&self, stack: &str, env: &str) -> Result<Option<State>, StoreError> {
        LocalStore::load(self, stack, env)
    }

    fn save(&self, state: &State) -> Result<(), StoreError> {
        LocalStore::save(self, state)
    }

    fn lock(&self, stack: &str, env: &str, operation: &str) -> Result<StateLock, StoreError> {
        LocalStore::lock(self, stack, env, operation)
    }

    fn lock_holder(&self, stack: &str, env: &str) -> Result<Option<LockInfo>, StoreError> {
        LocalStore::lock_holder(self, stack, env)
    }

    fn force_unlock(&self, stack: &str, env: &str) -> Result<Option<RemovedLock>, StoreError> {
        let what = self.paths(stack, env).lock.display().to_string();
        Ok(LocalStore::force_unlock(self, stack, env)?.map(|holder| RemovedLock { holder, what }))
    }

    fn create_journal(
        &self,
        stack: &str,
        env: &str,
        begin: &JournalRecord,
    ) -> Result<Journal, JournalError> {
        let paths = self.paths(stack, env);
        create_dir(&paths.dir).map_err(|e| JournalError::Io {
            action: "create",
            path: paths.journal.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Journal::create(&paths.journal, begin.clone())
    }

    fn read_journal(&self, stack: &str, env: &str) -> Result<Vec<JournalRecord>, JournalError> {
        read_journal(&self.paths(stack, env).journal)
    }

    fn remove_journal(&self, stack: &str, env: &str) -> Result<(), JournalError> {
        remove_journal(&self.paths(stack, env).journal)
    }
}

/// A boxed backend is one: `&Box<dyn StateBackend>` passes where `&dyn StateBackend` is asked.
impl<B: StateBackend + ?Sized> StateBackend for Box<B> {
    fn state_location(&self, stack: &str, env: &str) -> PathBuf {
        (**self).state_location(stack, env)
    }
    fn journal_location(&self, stack: &str, env: &str) -> PathBuf {
        (**self).journal_location(stack, env)
    }
    fn load(&self, stack: &str, env: &str) -> Result<Option<State>, StoreError> {
        (**self).load(stack, env)
    }
    fn save(&self, state: &State) -> Result<(), StoreError> {
        (**self).save(state)
    }
    fn lock(&self, stack: &str, env: &str, operation: &str) -> Result<StateLock, StoreError> {
        (**self).lock(stack, env, operation)
    }
    fn lock_holder(&self, stack: &str, env: &str) -> Result<Option<LockInfo>, StoreError> {
        (**self).lock_holder(stack, env)
    }
    fn force_unlock(&self, stack: &str, env: &str) -> Result<Option<RemovedLock>, StoreError> {
        (**self).force_unlock(stack, env)
    }
    fn create_journal(
        &self,
        stack: &str,
        env: &str,
        begin: &JournalRecord,
    ) -> Result<Journal, JournalError> {
        (**self).create_journal(stack, env, begin)
    }
    fn read_journal(&self, stack: &str, env: &str) -> Result<Vec<JournalRecord>, JournalError> {
        (**self).read_journal(stack, env)
    }
    fn remove_journal(&self, stack: &str, env: &str) -> Result<(), JournalError> {
        (**self).remove_journal(stack, env)
    }
}

/// Which backend an environment keeps its state in (`[state]` of its file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Local,
    S3,
}

impl BackendKind {
    pub fn parse(text: &str) -> Option<BackendKind> {
        match text {
            "local" => Some(BackendKind::Local),
            "s3" => Some(BackendKind::S3),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::S3 => "s3",
        }
    }
}

/// Copies the state of `stack`/`env` from `from` to `to` (`state migrate`), keeping its lineage
/// and serial, under both backends' locks; the source is left in place.
///
/// Refused when the source's lock is held, when the source has a journal (an interrupted run:
/// `apply` or `refresh` reconciles it first), when the source has no state, and when the
/// destination already holds a state of another lineage or of a later serial, or a journal.
pub fn migrate(
    from: &dyn StateBackend,
    to: &dyn StateBackend,
    stack: &str,
    env: &str,
) -> Result<State, MigrateError> {
    let source_lock = from.lock(stack, env, "state migrate")?;
    let target_lock = to.lock(stack, env, "state migrate")?;
    let records = from.read_journal(stack, env)?;
    if !records.is_empty() {
        return Err(MigrateError::Refused(format!(
            "{} holds the journal of an interrupted run ({} records): run `tandem apply` or \
             `tandem refresh` first, so that it is reconciled with the cloud",
            from.journal_location(stack, env).display(),
            records.len()
        )));
    }
    let state = from.load(stack, env)?.ok_or_else(|| {
        MigrateError::Refused(format!(
            "there is no state to migrate at {}",
            from.state_location(stack, env).display()
        ))
    })?;
    if !state.unreconciled.is_empty() {
        return Err(MigrateError::Refused(format!(
            "the state at {} has {} operation(s) not yet reconciled with the cloud: run \
             `tandem apply` or `tandem refresh` first",
            from.state_location(stack, env).display(),
            state.unreconciled.len()
        )));
    }
    if !to.read_journal(stack, env)?.is_empty() {
        return Err(MigrateError::Refused(format!(
            "the destination holds the journal of an interrupted run ({}): recover it there first",
            to.journal_location(stack, env).display()
        )));
    }
    if let Some(existing) = to.load(stack, env)? {
        let same = existing.lineage == state.lineage && existing.serial <= state.serial;
        if !same {
            return Err(MigrateError::Refused(format!(
                "the destination {} already holds a state (lineage {}, serial {}) that is not an \
                 earlier copy of this one (lineage {}, serial {}): refusing to overwrite it",
                to.state_location(stack, env).display(),
                existing.lineage,
                existing.serial,
                state.lineage,
                state.serial
            )));
        }
    }
    to.save(&state)?;
    let back = to.load(stack, env)?;
    if back.as_ref().map(|s| (&s.lineage, s.serial)) != Some((&state.lineage, state.serial)) {
        return Err(MigrateError::Refused(format!(
            "the state read back from {} is not the one written",
            to.state_location(stack, env).display()
        )));
    }
    drop(target_lock);
    drop(source_lock);
    Ok(state)
}

/// Why `state migrate` did not move the state.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("state migrate refused: {0}")]
    Refused(String),
}
