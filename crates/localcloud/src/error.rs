//! The crate's error type: every variant names the port, region, URL or file it is about.

use std::path::PathBuf;

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the gateway, its control client or the local cloud daemons.
///
/// Messages are lowercase fragments that read well after "failed to ...".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is inconsistent (lengths, names, URLs).
    #[error("invalid local cloud configuration: {0}")]
    Config(String),

    /// A port is already taken by another process: `holder` names it when this machine says
    /// (`pid 123 (its command line)`), else "an unknown process".
    #[error("port {port} ({purpose}) is already in use by {holder}")]
    PortInUse {
        port: u16,
        purpose: String,
        holder: String,
    },

    /// Binding a listener failed for another reason.
    #[error("cannot listen on 127.0.0.1:{port} ({purpose})")]
    Bind {
        port: u16,
        purpose: String,
        #[source]
        source: std::io::Error,
    },

    /// The region is not one of the gateway's regions.
    #[error("unknown region {region:?} (the gateway serves {known})")]
    UnknownRegion { region: String, known: String },

    /// A fault is invalid (rate outside 0.0..=1.0, empty service, ...).
    #[error("invalid fault for region {region}: {reason}")]
    InvalidFault { region: String, reason: String },

    /// The gateway's control API could not be reached or answered badly.
    #[error("gateway control request {method} {url} failed: {reason}")]
    Control {
        method: String,
        url: String,
        reason: String,
    },

    /// Reading or writing a file failed.
    #[error("cannot access {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The local cloud record is not valid JSON of the expected shape.
    #[error("cannot parse the local cloud record {}", path.display())]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// There is no local cloud record in the state directory.
    #[error("no local cloud is recorded in {} (run `tandem local up`)", path.display())]
    NotRecorded { path: PathBuf },

    /// Starting a program failed.
    #[error("cannot start {program}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    /// moto is not installed and installing it failed.
    #[error("cannot install moto with `{command}`: {reason}")]
    MotoInstall { command: String, reason: String },

    /// A daemon exited before it answered.
    #[error("{what} exited during start-up ({status}); see its log {}", log.display())]
    DaemonExited {
        what: String,
        status: String,
        log: PathBuf,
    },

    /// A daemon did not answer in time.
    #[error("{what} did not answer on port {port} within {secs} s; see its log {}", log.display())]
    DaemonNotReady {
        what: String,
        port: u16,
        secs: u64,
        log: PathBuf,
    },

    /// A daemon did not stop after SIGTERM and SIGKILL.
    #[error("{what} (pid {pid}) did not stop")]
    Stop { what: String, pid: u32 },

    /// Waiting for a termination signal failed.
    #[error("cannot wait for termination signals")]
    Signal(#[source] std::io::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
