//! Failover: the posture of a stack (which region is active, where its databases are), failover
//! and failback as transforms of that posture — and so of the desired graph — executed as
//! resumable, journaled phases through the engine; health probing as Route 53 does it; drills.
//!
//! The principal types are [`Posture`] (kept with the state), the transforms in [`transform`],
//! the [`run::Runner`] that applies a transform phase by phase, and [`health::probe`].
//!
//! # Invariants
//! Talks to the cloud only through the engine and its providers. A failover never waits for the
//! failed region nor for Route 53's control plane: what needs them is deferred.

pub mod audit;
pub mod health;
pub mod orchestrate;
pub mod posture;
pub mod run;
pub mod timed;
pub mod transform;

pub use posture::{
    Aspect, DbKind, DbLayout, DbMember, Deferred, POSTURE_KEY, Posture, PostureEvent, Transition,
};
