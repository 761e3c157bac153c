//! Failover: the posture of a stack (which region is active), failover and failback as transforms
//! of the desired graph, health probing as Route 53 does it, and drills.

pub mod health;
pub mod posture;
pub mod transform;

pub use posture::{
    Aspect, DbKind, DbLayout, DbMember, Deferred, POSTURE_KEY, Posture, PostureEvent, Transition,
};
