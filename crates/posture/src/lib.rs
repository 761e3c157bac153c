//! The failover posture of a stack, pure: which region is active, where each database lives and
//! what it does, what a failover had to defer, the transition under way and its phases, and the
//! history. Failover and failback are [`transform`]s from one posture to the next; the stack
//! program declares its graph from a posture, so each transform is a mutation of the desired graph.
//!
//! The principal types are [`Posture`] (kept in the state's `posture` extension), [`Transition`]
//! with its typed [`Phase`]s, and the [`Topology`] trait, by which the stack program tells the
//! failover library which of its resources are the databases, health checks, failover records and
//! capacities.
//!
//! # Invariants
//! No I/O, no async, no engine: the stack program depends on this crate without pulling in tokio.

pub mod posture;
pub mod topology;
pub mod transform;

pub use posture::{
    Aspect, ControlPlane, DbKind, DbLayout, DbMember, Deferred, DrillOutcome, DrillRecord,
    POSTURE_KEY, Phase, Posture, PostureEvent, Transition, TransitionKind,
};
pub use topology::{Role, Topology};
pub use transform::{TransformError, Unreachable};
