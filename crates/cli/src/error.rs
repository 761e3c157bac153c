//! The CLI's one error type and the exit codes: every way a command can fail is an [`Error`]
//! variant, and [`Error::exit_code`] maps each to its documented code in one match. A command that
//! ran to its end returns an [`Exit`] (0, or 2 for `plan --detailed-exitcode` with changes).
//! The codes are documented in [`EXIT_CODES_HELP`] (`tandem --help`) and in the README's table;
//! tests check that both list exactly the codes defined here.
//!
//! Messages are lowercase fragments; `main` prints them after `error:` with their causes.

use tandem_engine::planfile::PlanFileError;
use tandem_engine::{EngineError, ErrorClass, StoreError};

/// The documented exit codes, by name.
pub mod code {
    /// Success (`plan --detailed-exitcode`: no changes).
    pub const SUCCESS: u8 = 0;
    /// A run failed: a cloud error, a failed step, an unexpected condition.
    pub const FAILED: u8 = 1;
    /// `plan --detailed-exitcode`: there are changes (or drift).
    pub const CHANGES: u8 = 2;
    /// Invalid configuration, program or resource.
    pub const CONFIG: u8 = 3;
    /// The state cannot be used: locked, corrupted, of a newer format, a stale saved plan.
    pub const STATE: u8 = 4;
    /// Refused: confirmation declined, or needed with no terminal to ask on.
    pub const REFUSED: u8 = 5;
    /// The wrong account, or credentials missing or refused.
    pub const ACCOUNT: u8 = 6;
    /// `check-health`: the active region is unhealthy; `drill`: an objective was missed.
    pub const UNHEALTHY: u8 = 7;
    /// A drill or check completed, but an objective or verdict could not be measured here.
    pub const UNVERIFIED: u8 = 8;
    /// `apply`, `deploy`: the policy pack found a mandatory finding that is not suppressed.
    pub const POLICY: u8 = 9;
    /// A bad command line.
    pub const USAGE: u8 = 64;
}

/// What `tandem --help` shows after the options; the README's table says the same.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success (plan --detailed-exitcode: no changes)
  1   error: a cloud error or a failed step; plan/preview/apply: live state unreadable (named)
  2   plan --detailed-exitcode: there are changes
  3   invalid configuration, program or resource (file and key, or resource and region, named)
  4   state unusable: locked by another run, corrupted, newer format, or a stale saved plan
  5   refused: confirmation declined or impossible (no terminal; use --yes)
  6   wrong account or credentials refused
  7   check-health: the active region is unhealthy; drill: an objective was missed
  8   drill: nothing failed, but an objective or check could not be measured here (unverified)
  9   apply/deploy refused by the policy pack: a mandatory finding that is not suppressed
  64  bad command line";

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a command that ran to its end exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// `plan --detailed-exitcode`: there are changes (or drift).
    Changes,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => code::SUCCESS,
            Exit::Changes => code::CHANGES,
        }
    }
}

/// Every way a command fails. The message-only variants are named by their exit code; the others
/// wrap a library's error and take their code from it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A run failed: a cloud error, a failed step, an unexpected condition.
    #[error("{0}")]
    Failed(String),
    /// Invalid configuration, program, resource or argument value.
    #[error("{0}")]
    Config(String),
    /// The state cannot be used.
    #[error("{0}")]
    State(String),
    /// Confirmation declined or impossible, or a precondition refused the run.
    #[error("{0}")]
    Refused(String),
    /// The wrong account, or credentials missing or refused.
    #[error("{0}")]
    Account(String),
    /// `check-health`: the active region is unhealthy; `drill`: an objective was missed.
    #[error("{0}")]
    Unhealthy(String),
    /// A drill or check completed, but an objective or verdict could not be measured here: it is
    /// reported "unverified", never "met".
    #[error("{0}")]
    Unverified(String),
    /// `apply`, `deploy`: the policy pack found a mandatory finding that is not suppressed;
    /// nothing was changed.
    #[error("{0}")]
    Policy(String),
    /// A bad command line that clap could not refuse by itself.
    #[error("{0}")]
    Usage(String),
    /// `plan`, `preview`, `apply`: live state could not be read in these control planes (`global`
    /// for Route 53's, or a region), so no plan was made against the cloud.
    #[error(
        "cannot read live state in {}: no answer from its API, so the plan would not be checked \
         against the cloud (pass --no-refresh to plan from the recorded state)",
        .0.join(", ")
    )]
    LiveStateUnread(Vec<String>),
    /// The engine: program, plan, state, journal, provider.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The state store: unreadable, locked, of another stack.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The environment file.
    #[error(transparent)]
    Environment(#[from] tandem_stack_multi_region::ConfigError),
    /// A saved plan file (its message names the file and the cause).
    #[error("{0}")]
    PlanFile(PlanFileError),
    /// The failover library: a refused preflight, a phase that failed, a posture that cannot be
    /// used (an engine error inside it is [`Error::Engine`]).
    #[error(transparent)]
    Failover(tandem_failover::FailoverError),
    /// The local cloud: moto, the region gateway and its control API.
    #[error(transparent)]
    LocalCloud(#[from] tandem_localcloud::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<PlanFileError> for Error {
    fn from(e: PlanFileError) -> Error {
        Error::PlanFile(e)
    }
}

impl From<tandem_failover::FailoverError> for Error {
    fn from(e: tandem_failover::FailoverError) -> Error {
        match e {
            tandem_failover::FailoverError::Engine(e) => Error::Engine(e),
            other => Error::Failover(other),
        }
    }
}

impl Error {
    /// The documented exit code of this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Engine(EngineError::Provider { source, .. })
                if source.class == ErrorClass::AccessDenied =>
            {
                code::ACCOUNT
            }
            Error::Failed(_)
            | Error::LiveStateUnread(_)
            | Error::Io(_)
            | Error::Json(_)
            | Error::LocalCloud(_)
            | Error::PlanFile(PlanFileError::Io { .. })
            | Error::Engine(EngineError::Provider { .. } | EngineError::Internal(_)) => {
                code::FAILED
            }
            Error::Config(_)
            | Error::Environment(_)
            | Error::PlanFile(PlanFileError::Secret { .. })
            | Error::Engine(
                EngineError::Program(_) | EngineError::Plan(_) | EngineError::NoProvider { .. },
            ) => code::CONFIG,
            Error::State(_)
            | Error::Store(_)
            | Error::PlanFile(PlanFileError::Decode { .. })
            | Error::Engine(EngineError::Store(_) | EngineError::Journal(_)) => code::STATE,
            Error::Failover(f) => {
                use tandem_failover::FailoverError as F;
                match f {
                    F::Transform(_) | F::Protected(_) => code::CONFIG,
                    F::Preflight(_) => code::REFUSED,
                    F::State(_) => code::STATE,
                    F::Engine(_) | F::Phase { .. } | F::Apply { .. } | F::Outage(_) => code::FAILED,
                }
            }
            Error::Refused(_) => code::REFUSED,
            Error::Account(_) => code::ACCOUNT,
            Error::Unhealthy(_) => code::UNHEALTHY,
            Error::Unverified(_) => code::UNVERIFIED,
            Error::Policy(_) => code::POLICY,
            Error::Usage(_) => code::USAGE,
        }
    }

    /// The message and its causes, each after `: ` (what `main` prints after `error:`).
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }
}

#[cfg(test)]
mod tests;
