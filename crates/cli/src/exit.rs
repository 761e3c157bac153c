//! Exit codes. Every code is documented in the README and in `--help`.

use tandem_engine::{EngineError, StoreError};

pub const OK: u8 = 0;
/// A run failed: a cloud error, a failed step, an unexpected condition.
pub const ERROR: u8 = 1;
/// `plan --detailed-exitcode`: there are changes.
pub const CHANGES: u8 = 2;
/// Invalid configuration or program: environment file, graph (cycle, unknown reference, duplicate),
/// validation of a resource, a protected resource in the way.
pub const CONFIG: u8 = 3;
/// The state cannot be used: locked by another run, corrupted, of a newer format, stale plan.
pub const STATE: u8 = 4;
/// Refused: confirmation declined, or needed and no terminal to ask on.
pub const REFUSED: u8 = 5;
/// The account is not the one the environment names, or credentials are refused.
pub const ACCOUNT: u8 = 6;
/// Bad command line.
pub const USAGE: u8 = 64;

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success (plan --detailed-exitcode: no changes)
  1   error: a cloud error or a failed step
  2   plan --detailed-exitcode: there are changes
  3   invalid configuration, program or resource (file and key, or resource and region, named)
  4   state unusable: locked by another run, corrupted, newer format, or a stale saved plan
  5   refused: confirmation declined or impossible (no terminal; use --yes)
  6   wrong account or credentials refused
  7   check-health: the active region is unhealthy; drill: an objective was missed
  64  bad command line";

/// An error the CLI reports, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Maps an error to its documented exit code.
pub fn code_of(e: &anyhow::Error) -> u8 {
    if let Some(f) = e.downcast_ref::<Failure>() {
        return f.code;
    }
    if let Some(engine) = e.downcast_ref::<EngineError>() {
        return match engine {
            EngineError::Program(_) | EngineError::Plan(_) | EngineError::NoProvider { .. } => {
                CONFIG
            }
            EngineError::Store(_) | EngineError::Journal(_) => STATE,
            EngineError::Provider { source, .. }
                if source.class == tandem_engine::ErrorClass::AccessDenied =>
            {
                ACCOUNT
            }
            EngineError::Provider { .. } | EngineError::Internal(_) => ERROR,
        };
    }
    if e.downcast_ref::<StoreError>().is_some() {
        return STATE;
    }
    if e.downcast_ref::<tandem_stack_multi_region::ConfigError>()
        .is_some()
    {
        return CONFIG;
    }
    ERROR
}
