//! The local state store: one directory per stack, one state file per environment, written
//! atomically, guarded by an exclusive lock file, with a journal beside it.
//!
//! Layout under the store's root:
//! ```text
//! <stack>/<env>.state.json   the state (temp file, fsync, rename, fsync of the directory)
//! <stack>/<env>.journal      per-step records of the run in progress (see `journal`)
//! <stack>/<env>.lock         the lock, naming its holder
//! ```
//!
//! # Files and permissions
//! Everything Tandem writes — state, journal, lock, audit log, saved plans, previews, drill
//! reports, the local cloud's record and logs — goes through [`create_private_dir`],
//! [`open_private`], [`write_private`] or [`write_atomically`]: files are mode 0600 (a file written
//! anew included, whatever its mode was), the directories Tandem creates 0700. Unix only; elsewhere
//! the defaults apply.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::state::{State, StateDecodeError};

/// Errors of the state store. Each names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("state file {} is unreadable: {source}; it was left untouched", path.display())]
    Decode {
        path: PathBuf,
        source: StateDecodeError,
    },
    #[error("{}", locked_message(.path, .holder))]
    Locked {
        path: PathBuf,
        holder: Box<LockInfo>,
    },
    #[error("state file {} belongs to stack {found_stack:?} env {found_env:?}, not {stack:?} env {env:?}", path.display())]
    WrongStack {
        path: PathBuf,
        stack: String,
        env: String,
        found_stack: String,
        found_env: String,
    },
}

fn locked_message(path: &Path, h: &LockInfo) -> String {
    format!(
        "state is locked by {}@{} (pid {}) since {} for `{}` ({}); if that run is gone, use `tandem state unlock --force`",
        h.user,
        h.host,
        h.pid,
        h.time,
        h.operation,
        path.display()
    )
}

/// Who holds a lock.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
    pub operation: String,
}

impl LockInfo {
    pub fn current(operation: &str) -> LockInfo {
        LockInfo {
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            time: utc_now_text(),
            operation: operation.to_string(),
        }
    }

    fn is_dead_local_process(&self) -> bool {
        if self.host != hostname() || self.pid == std::process::id() {
            return false;
        }
        // SAFETY: kill with signal 0 only checks for the process's existence.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, 0) };
        rc != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
}

pub(crate) fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now_text() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    utc_text(secs)
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_text(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// A state store on the local file system.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

/// The files of one stack and environment.
#[derive(Clone, Debug)]
pub struct StatePaths {
    pub dir: PathBuf,
    pub state: PathBuf,
    pub journal: PathBuf,
    pub lock: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn paths(&self, stack: &str, env: &str) -> StatePaths {
        let dir = self.root.join(stack);
        StatePaths {
            state: dir.join(format!("{env}.state.json")),
            journal: dir.join(format!("{env}.journal")),
            lock: dir.join(format!("{env}.lock")),
            dir,
        }
    }

    /// Reads the state, or `None` when the stack has never been applied in this environment.
    pub fn load(&self, stack: &str, env: &str) -> Result<Option<State>, StoreError> {
        let path = self.paths(stack, env).state;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        let state = State::from_json_bytes(&bytes).map_err(|source| StoreError::Decode {
            path: path.clone(),
            source,
        })?;
        if state.stack != stack || state.env != env {
            return Err(StoreError::WrongStack {
                path,
                stack: stack.into(),
                env: env.into(),
                found_stack: state.stack,
                found_env: state.env,
            });
        }
        Ok(Some(state))
    }

    /// Writes the state atomically: a temporary file, fsync, rename over the old one, fsync of the
    /// directory. A crash at any point leaves either the old or the new state, whole.
    pub fn save(&self, state: &State) -> Result<(), StoreError> {
        let paths = self.paths(&state.stack, &state.env);
        write_atomically(&paths.state, &state.to_json_bytes())
    }

    /// Takes the exclusive lock for `operation`, or names its holder. A lock left by a process of
    /// this host that no longer exists is broken (and reported in [`StateLock::broke_stale`]).
    pub fn lock(&self, stack: &str, env: &str, operation: &str) -> Result<StateLock, StoreError> {
        let paths = self.paths(stack, env);
        create_dir(&paths.dir)?;
        let me = LockInfo::current(operation);
        let mut broke_stale = None;
        for _ in 0..2 {
            match open_private(&paths.lock, OpenOptions::new().write(true).create_new(true)) {
                Ok(mut f) => {
                    let body = serde_json::to_vec_pretty(&me).expect("lock info serializes");
                    f.write_all(&body)
                        .and_then(|_| f.sync_all())
                        .map_err(|source| StoreError::Io {
                            action: "write lock",
                            path: paths.lock.clone(),
                            source,
                        })?;
                    return Ok(StateLock {
                        path: paths.lock,
                        broke_stale,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = read_lock(&paths.lock)?;
                    match holder {
                        Some(h) if h.is_dead_local_process() && broke_stale.is_none() => {
                            let _ = fs::remove_file(&paths.lock);
                            broke_stale = Some(h);
                        }
                        Some(holder) => {
                            return Err(StoreError::Locked {
                                path: paths.lock,
                                holder: Box::new(holder),
                            });
                        }
                        None => continue, // released between our two calls
                    }
                }
                Err(source) => {
                    return Err(StoreError::Io {
                        action: "create lock",
                        path: paths.lock,
                        source,
                    });
                }
            }
        }
        Err(StoreError::Io {
            action: "create lock",
            path: paths.lock,
            source: io::Error::other("lock keeps reappearing"),
        })
    }

    /// Who holds the lock, if anyone.
    pub fn lock_holder(&self, stack: &str, env: &str) -> Result<Option<LockInfo>, StoreError> {
        read_lock(&self.paths(stack, env).lock)
    }

    /// Removes the lock whoever holds it. Returns the holder it removed.
    pub fn force_unlock(&self, stack: &str, env: &str) -> Result<Option<LockInfo>, StoreError> {
        let path = self.paths(stack, env).lock;
        let holder = read_lock(&path)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(holder),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io {
                action: "remove lock",
                path,
                source,
            }),
        }
    }
}

fn read_lock(path: &Path) -> Result<Option<LockInfo>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).unwrap_or(LockInfo {
            user: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            time: "unknown".into(),
            operation: "unknown (unreadable lock file)".into(),
        }))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io {
            action: "read lock",
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub(crate) fn create_dir(dir: &Path) -> Result<(), StoreError> {
    create_private_dir(dir).map_err(|source| StoreError::Io {
        action: "create directory",
        path: dir.to_path_buf(),
        source,
    })
}

/// The mode of the files Tandem writes.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// The mode of the directories Tandem creates.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each with mode 0700. Directories that exist already
/// are left as they are.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR_MODE)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Opens `path` with `options`: a file it creates has mode 0600, and an existing regular file it
/// opens is set to 0600 (a device such as `/dev/stdout` is left alone).
pub fn open_private(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = options.mode(PRIVATE_FILE_MODE).open(path)?;
        let meta = file.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o7777 != PRIVATE_FILE_MODE {
            file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

/// Writes `bytes` to `path` (created or truncated) with mode 0600, without fsync: for reports
/// and previews. The state and saved plans use [`write_atomically`].
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = open_private(
        path,
        OpenOptions::new().write(true).create(true).truncate(true),
    )?;
    file.write_all(bytes)
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename, fsync dir).
/// The file is mode 0600 (the temporary file is created so), a directory it creates 0700.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_dir(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let io_err = |action, source| StoreError::Io {
        action,
        path: tmp.clone(),
        source,
    };
    {
        let mut f = open_private(
            &tmp,
            OpenOptions::new().write(true).create(true).truncate(true),
        )
        .map_err(|e| io_err("create", e))?;
        f.write_all(bytes).map_err(|e| io_err("write", e))?;
        f.sync_all().map_err(|e| io_err("fsync", e))?;
    }
    fs::rename(&tmp, path).map_err(|source| StoreError::Io {
        action: "rename into place",
        path: path.to_path_buf(),
        source,
    })?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The held lock; released on drop.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    /// A lock of a dead process on this host that was broken to take this one.
    pub broke_stale: Option<LockInfo>,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Only remove a lock that is still ours: it may have been forced away and retaken.
        if let Ok(Some(holder)) = read_lock(&self.path)
            && holder.pid == std::process::id()
            && holder.host == hostname()
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}
