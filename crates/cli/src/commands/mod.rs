//! One module per command (or small family): each declares its arguments, calls the library
//! (`tandem_engine::ops`, `tandem_localcloud`) and renders. They share the [`Workspace`] and its
//! helpers; among themselves only `plan` → `saved_plan` → `apply` (saving a plan, finishing an
//! apply).
//!
//! [`Workspace`]: crate::workspace::Workspace

pub mod apply;
pub mod local;
pub mod output;
pub mod plan;
pub mod preview;
pub mod refresh;
pub mod saved_plan;
pub mod state;
pub mod template;
