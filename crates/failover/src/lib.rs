//! Failover as a library: failover, failback, drills, health checks, outage simulation and
//! status — every decision they make, written against small traits so that the cloud, the
//! application probe, the outage simulator and the stack's topology can be faked in tests.
//!
//! The principal types are [`Context`] (what an operation works with: the [`Cloud`] it reads —
//! [`CloudSignals`], [`AppProbe`], the stack's [`Topology`] and the engine's providers — and the
//! state under its lock), and the operations [`failover::failover`], [`failback::failback`],
//! [`drill::drill`], [`outage::simulate_outage`], [`health::check_health`] and
//! [`status::status`], each returning a typed report ([`report`]). The posture and its transforms
//! are in the pure crate `tandem-posture`, re-exported here.
//!
//! # Invariants
//! - Changes to the cloud go through the engine's providers (journaled); reads go through
//!   [`CloudSignals`] or the providers. Never a verdict from Tandem's own records: a check reads the
//!   cloud and says from where, or says it is not verifiable / not measured.
//! - A failover never waits for the failed region nor for Route 53's control plane: what needs
//!   them is deferred, recorded in the posture, and completed by [`failover::resume_deferred`].

pub mod audit;
pub mod context;
pub mod drill;
pub mod failback;
pub mod failover;
pub mod health;
pub mod outage;
pub mod report;
pub mod signals;
pub mod status;
pub mod timed;
pub mod verify;

pub use context::{Cloud, Context, Event, Events, FailoverError, NoEvents, ProgramFor};
pub use signals::{AppProbe, CloudSignals, HttpProbe, Reading, Source};
pub use tandem_posture::{
    Aspect, ControlPlane, DbKind, DbLayout, DbMember, Deferred, DrillOutcome, DrillRecord,
    POSTURE_KEY, Phase, Posture, PostureEvent, Role, Topology, TransformError, Transition,
    TransitionKind, transform,
};
