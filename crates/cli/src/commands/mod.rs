//! One module per command (or small family): each declares its arguments, calls the library
//! (`tandem_engine::ops`, `tandem_localcloud`) and renders. They share the [`Workspace`] and its
//! helpers; among themselves only `plan` → `saved_plan` → `apply` (saving a plan, finishing an
//! apply), and the failover commands (`failover`, `failback`, `outage`, `drill`, `health`,
//! `status`) → `operation` (the pieces of a failover library context they share).
//!
//! [`Workspace`]: crate::workspace::Workspace

pub mod apply;
pub mod drill;
pub mod failback;
pub mod failover;
pub mod health;
pub mod iam_policy;
pub mod local;
pub mod operation;
pub mod outage;
pub mod output;
pub mod plan;
pub mod preview;
pub mod refresh;
pub mod saved_plan;
pub mod state;
pub mod status;
pub mod template;
