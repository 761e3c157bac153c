//! The engine: turns a desired stack into changes in the cloud, region by region, safely.
//!
//! The principal types are [`Plan`] (changes grouped in region [`Wave`]s, built by [`plan()`] from a
//! [`DesiredStack`](tandem_core::DesiredStack) and the prior [`State`]), the executor [`apply()`]
//! with its [`ApplyReport`], the [`StateBackend`] (state, lock, journal; [`LocalStore`] on the local
//! file system, S3 in the AWS crate) and the [`Journal`] (intent
//! before every provider call, outcome after), and the [`Provider`] interface that cloud crates
//! implement. [`ops`] composes them into what the commands do. A [`SavedPlan`] is a plan written by
//! `plan --out` and applied exactly by `apply FILE`, refused when stale ([`check_fresh`]).
//!
//! # Invariants
//! - Knows no cloud service and no terminal: providers and observers are traits.
//! - Plans are deterministic: the same inputs give equal plans.
//! - Nothing is asked of a provider that is not first recorded as intent in the journal.
//! - A failed wave stops the run before the next wave starts.
//!
//! # Test double
//! [`testing`] (feature `testing`) holds `FakeCloud`, a provider for the engine's own tests. It is
//! never compiled into the CLI.

pub mod apply;
pub mod backend;
pub mod diff;
pub mod error;
pub mod journal;
pub mod ops;
pub mod plan;
pub mod planfile;
pub mod provider;
pub mod recovery;
pub mod refresh;
pub mod state;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use apply::{ApplyOptions, ApplyReport, Event, Observer, Outcome, Silent, StepResult, apply};
pub use backend::{BackendKind, MigrateError, RemovedLock, StateBackend, migrate};
pub use diff::{Action, PlanError, PropertyChange, ResourceChange, diff};
pub use error::EngineError;
pub use journal::{Journal, JournalRecord, OpKind};
pub use plan::{Plan, PlanConfig, Summary, Wave, plan};
pub use planfile::{PlanFileError, SavedPlan, Stale, check_fresh, load_plan, save_plan};
pub use provider::{ErrorClass, Observed, OpContext, Provider, ProviderError, Providers};
pub use refresh::{Drift, DriftKind, refresh};
pub use state::{ResourceState, State};
pub use store::{LocalStore, LockInfo, ReleaseLock, StateLock, StoreError};
