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

/// Errors of the state store. Each names the file (or object) concerned.
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
    /// A lock that looks abandoned (its holder's process is gone, or it is older than the
    /// backend's threshold): reported, never taken silently.
    #[error("{}", stale_message(.path, .holder, .reason))]
    StaleLock {
        path: PathBuf,
        holder: Box<LockInfo>,
        reason: String,
    },
    #[error("state file {} belongs to stack {found_stack:?} env {found_env:?}, not {stack:?} env {env:?}", path.display())]
    WrongStack {
        path: PathBuf,
        stack: String,
        env: String,
        found_stack: String,
        found_env: String,
    },
    /// The serial cannot be increased: saving would wrap it around.
    #[error(
        "the state of {} is at serial {serial}, the largest there is: nothing was changed; \
         start a new lineage (a new state) to go on",
        path.display()
    )]
    SerialOverflow { path: PathBuf, serial: u64 },
    /// A remote backend's request failed (the message names the request and the object).
    #[error("state backend {location}: {message}")]
    Backend { location: String, message: String },
}

/// `user@host (pid N) since TIME, AGE ago for `operation``.
impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} (pid {}) since {}{} for `{}`",
            self.user,
            self.host,
            self.pid,
            self.time,
            self.ago(),
            self.operation
        )
    }
}

fn locked_message(path: &Path, h: &LockInfo) -> String {
    format!(
        "state is locked by {} ({}); if that run is gone, use `tandem state unlock --force`",
        h,
        path.display()
    )
}

fn stale_message(path: &Path, h: &LockInfo, reason: &str) -> String {
    format!(
        "state is locked by {} ({}), and the lock looks stale: {reason}. It is not taken \
         automatically: once you are sure that run is gone, `tandem state unlock --force` removes it",
        h,
        path.display()
    )
}

/// A duration in seconds as `3h 2m`, `5m 7s` or `42s`.
pub fn age_text(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if secs >= 86_400 {
        format!("{}d {}h", secs / 86_400, h % 24)
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// The serial after `serial`, or [`StoreError::SerialOverflow`] naming `location`: every save
/// that moves the serial on goes through it, so that a state at `u64::MAX` is an error, never a
/// panic or a wrap-around.
pub fn next_serial(serial: u64, location: &Path) -> Result<u64, StoreError> {
    serial
        .checked_add(1)
        .ok_or_else(|| StoreError::SerialOverflow {
            path: location.to_path_buf(),
            serial,
        })
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
    /// Random, one per lock taken: tells this holder's lock from a later one of the same process.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nonce: String,
}

impl LockInfo {
    pub fn current(operation: &str) -> LockInfo {
        let nonce: [u8; 12] = rand::random();
        LockInfo {
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            time: utc_now_text(),
            operation: operation.to_string(),
            nonce: nonce.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// Seconds since the lock was taken, when its time is readable.
    pub fn age_secs(&self) -> Option<u64> {
        let since = parse_utc_text(&self.time)?;
        Some(now_secs().saturating_sub(since))
    }

    /// `, 3m 2s ago` after the lock's time, or nothing when its time is unreadable.
    pub fn ago(&self) -> String {
        self.age_secs()
            .map(|s| format!(", {} ago", age_text(s)))
            .unwrap_or_default()
    }

    /// Whether the holder is a process of this host that no longer exists.
    pub fn is_dead_local_process(&self) -> bool {
        if self.host != hostname() || self.pid == std::process::id() || self.pid == 0 {
            return false;
        }
        // SAFETY: kill with signal 0 only checks for the process's existence.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, 0) };
        rc != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }

    /// The stand-in holder of a lock file that cannot be read.
    fn unreadable(len: u64) -> LockInfo {
        LockInfo {
            user: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            time: "unknown".into(),
            operation: format!("unknown (unreadable lock file of {len} bytes)"),
            nonce: String::new(),
        }
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
    utc_text(now_secs())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads `YYYY-MM-DDTHH:MM:SSZ` (as [`utc_text`] writes it) back into seconds since the epoch.
pub fn parse_utc_text(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days-from-civil (Howard Hinnant's algorithm), the inverse of `utc_text`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
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

/// Decodes the state read from `path` (a file, or a backend's object), refusing one of another
/// stack or environment.
pub fn decode_state(
    bytes: &[u8],
    path: &Path,
    stack: &str,
    env: &str,
) -> Result<State, StoreError> {
    let state = State::from_json_bytes(bytes).map_err(|source| StoreError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    if state.stack != stack || state.env != env {
        return Err(StoreError::WrongStack {
            path: path.to_path_buf(),
            stack: stack.into(),
            env: env.into(),
            found_stack: state.stack,
            found_env: state.env,
        });
    }
    Ok(state)
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
        decode_state(&bytes, &path, stack, env).map(Some)
    }

    /// Writes the state atomically: a temporary file, fsync, rename over the old one, fsync of the
    /// directory. A crash at any point leaves either the old or the new state, whole.
    pub fn save(&self, state: &State) -> Result<(), StoreError> {
        let paths = self.paths(&state.stack, &state.env);
        write_atomically(&paths.state, &state.to_json_bytes())
    }

    /// Takes the exclusive lock for `operation`, or names its holder. A lock left by a process of
    /// this host that no longer exists, or a lock file that cannot be read and is older than
    /// [`UNREADABLE_LOCK_GRACE`], is broken and reported in [`StateLock::broke_stale`].
    ///
    /// Atomic, with exactly one winner among any number of processes: the whole decision —
    /// create, or read the holder, judge it stale, remove it and create — is made under an
    /// advisory `flock(2)` of the stack's directory (held for microseconds; the kernel releases
    /// it when its process dies, so it is never left behind). The lock file itself never appears
    /// empty: its content is written to a temporary file and fsynced, then hard-linked into place,
    /// which fails if a lock exists.
    pub fn lock(&self, stack: &str, env: &str, operation: &str) -> Result<StateLock, StoreError> {
        let paths = self.paths(stack, env);
        create_dir(&paths.dir)?;
        let me = LockInfo::current(operation);
        let _guard = DirGuard::take(&paths.dir)?;
        let tmp = paths
            .dir
            .join(format!(".{env}.lock.{}.{}", me.pid, me.nonce));
        let io_err = |action, path: &Path, source| StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        {
            let mut f = open_private(&tmp, OpenOptions::new().write(true).create_new(true))
                .map_err(|e| io_err("create lock", &tmp, e))?;
            let body = serde_json::to_vec_pretty(&me).expect("lock info serializes");
            f.write_all(&body)
                .and_then(|_| f.sync_all())
                .map_err(|e| io_err("write lock", &tmp, e))?;
        }
        let taken = self.link_lock(&tmp, &paths.lock, &me);
        let _ = fs::remove_file(&tmp);
        sync_dir(&paths.dir);
        taken
    }

    /// Under the directory's guard: links `tmp` into place as the lock, breaking a stale one once.
    fn link_lock(&self, tmp: &Path, lock: &Path, me: &LockInfo) -> Result<StateLock, StoreError> {
        let mut broke_stale = None;
        for _ in 0..3 {
            match fs::hard_link(tmp, lock) {
                Ok(()) => {
                    return Ok(StateLock::new(
                        me.clone(),
                        broke_stale,
                        Box::new(LocalRelease {
                            path: lock.to_path_buf(),
                            nonce: me.nonce.clone(),
                        }),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        action: "create lock",
                        path: lock.to_path_buf(),
                        source,
                    });
                }
            }
            let stale = match read_lock_file(lock)? {
                LockFile::Missing => continue,
                LockFile::Held(h) if h.is_dead_local_process() && broke_stale.is_none() => h,
                LockFile::Unreadable { len, age }
                    if age >= UNREADABLE_LOCK_GRACE && broke_stale.is_none() =>
                {
                    LockInfo::unreadable(len)
                }
                LockFile::Held(h) => {
                    return Err(StoreError::Locked {
                        path: lock.to_path_buf(),
                        holder: Box::new(h),
                    });
                }
                LockFile::Unreadable { len, .. } => {
                    return Err(StoreError::Locked {
                        path: lock.to_path_buf(),
                        holder: Box::new(LockInfo::unreadable(len)),
                    });
                }
            };
            match fs::remove_file(lock) {
                Ok(()) => broke_stale = Some(stale),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        action: "remove stale lock",
                        path: lock.to_path_buf(),
                        source,
                    });
                }
            }
        }
        Err(StoreError::Io {
            action: "create lock",
            path: lock.to_path_buf(),
            source: io::Error::other("lock keeps reappearing"),
        })
    }

    /// Who holds the lock, if anyone.
    pub fn lock_holder(&self, stack: &str, env: &str) -> Result<Option<LockInfo>, StoreError> {
        read_lock(&self.paths(stack, env).lock)
    }

    /// Removes the lock whoever holds it. Returns the holder it removed.
    pub fn force_unlock(&self, stack: &str, env: &str) -> Result<Option<LockInfo>, StoreError> {
        let paths = self.paths(stack, env);
        if !paths.dir.is_dir() {
            return Ok(None);
        }
        let _guard = DirGuard::take(&paths.dir)?;
        let holder = read_lock(&paths.lock)?;
        match fs::remove_file(&paths.lock) {
            Ok(()) => Ok(holder),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io {
                action: "remove lock",
                path: paths.lock,
                source,
            }),
        }
    }
}

/// How old an empty or unreadable lock file must be before it counts as stale. A lock this
/// version writes is never empty (written aside, then linked into place); an empty one was left by
/// an older version killed while writing it, or by someone else. The grace period leaves such a
/// writer, if it is still alive, the time to finish.
pub const UNREADABLE_LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// What a lock file holds.
enum LockFile {
    Missing,
    Held(LockInfo),
    /// Empty or not a lock: its size, and how long ago it was last written.
    Unreadable {
        len: u64,
        age: std::time::Duration,
    },
}

fn read_lock_file(path: &Path) -> Result<LockFile, StoreError> {
    let io_err = |source| StoreError::Io {
        action: "read lock",
        path: path.to_path_buf(),
        source,
    };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LockFile::Missing),
        Err(e) => return Err(io_err(e)),
    };
    match serde_json::from_slice::<LockInfo>(&bytes) {
        Ok(h) => Ok(LockFile::Held(h)),
        Err(_) => {
            let age = match fs::metadata(path) {
                Ok(m) => m
                    .modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LockFile::Missing),
                Err(e) => return Err(io_err(e)),
            };
            Ok(LockFile::Unreadable {
                len: bytes.len() as u64,
                age,
            })
        }
    }
}

fn read_lock(path: &Path) -> Result<Option<LockInfo>, StoreError> {
    Ok(match read_lock_file(path)? {
        LockFile::Missing => None,
        LockFile::Held(h) => Some(h),
        LockFile::Unreadable { len, .. } => Some(LockInfo::unreadable(len)),
    })
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// An exclusive `flock(2)` of a directory, for the few microseconds a lock decision takes.
/// Released when dropped, or by the kernel when the process dies.
struct DirGuard {
    _dir: File,
}

impl DirGuard {
    fn take(dir: &Path) -> Result<DirGuard, StoreError> {
        let io_err = |source| StoreError::Io {
            action: "guard the lock in",
            path: dir.to_path_buf(),
            source,
        };
        let file = File::open(dir).map_err(io_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            loop {
                // SAFETY: flock on a descriptor this function owns.
                let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
                if rc == 0 {
                    break;
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(io_err(e));
                }
            }
        }
        Ok(DirGuard { _dir: file })
    }
}

/// Releases a local lock: removes the file, only while it is still this holder's (it may have
/// been forced away and retaken), under the directory's guard.
struct LocalRelease {
    path: PathBuf,
    nonce: String,
}

impl ReleaseLock for LocalRelease {
    fn release(&mut self) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        let Ok(_guard) = DirGuard::take(dir) else {
            return;
        };
        if let Ok(LockFile::Held(holder)) = read_lock_file(&self.path)
            && holder.nonce == self.nonce
        {
            let _ = fs::remove_file(&self.path);
        }
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

/// What releases a held lock (the backend's part of a [`StateLock`]).
pub trait ReleaseLock: Send + Sync {
    /// Removes the lock if it is still this holder's. Best effort: a lock that cannot be removed
    /// stays, and is reported to the next run with its holder and age.
    fn release(&mut self);
}

/// The held lock; released on drop.
pub struct StateLock {
    /// This run, as the lock names it.
    pub holder: LockInfo,
    /// A stale lock that was broken to take this one (a dead process of this host, or an
    /// unreadable lock file), reported to the user.
    pub broke_stale: Option<LockInfo>,
    release: Option<Box<dyn ReleaseLock>>,
}

impl StateLock {
    /// A lock a backend took, with what releases it.
    pub fn new(
        holder: LockInfo,
        broke_stale: Option<LockInfo>,
        release: Box<dyn ReleaseLock>,
    ) -> StateLock {
        StateLock {
            holder,
            broke_stale,
            release: Some(release),
        }
    }

    /// Releases the lock now (as dropping it does).
    pub fn release(mut self) {
        if let Some(mut r) = self.release.take() {
            r.release();
        }
    }
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateLock")
            .field("holder", &self.holder)
            .field("broke_stale", &self.broke_stale)
            .finish_non_exhaustive()
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if let Some(mut r) = self.release.take() {
            r.release();
        }
    }
}
