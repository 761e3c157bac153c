//! The model of Tandem: what a stack declares, independent of any cloud.
//!
//! The principal types are [`ResourceAddr`] (a resource's region, kind and name, with one stable text
//! form), [`Value`] (a property value: known, unknown until apply, secret, or a reference to another
//! resource's output), [`ResourceDecl`] (one declared resource with its [`ResourceOptions`]) and
//! [`ResourceGraph`] (the validated dependency graph). A [`Program`] declares resources into a
//! [`StackBuilder`] and [`evaluate`] turns it into a [`DesiredStack`].
//!
//! # Invariants
//! This crate does no I/O, spawns nothing, and knows nothing of AWS or the terminal. Everything it
//! returns is deterministic: listings are ordered by address.

mod addr;
mod error;
mod graph;
mod name;
mod program;
mod props;
mod resource;
pub mod secret;
mod value;

pub use addr::{Region, ResourceAddr};
pub use error::{AddrError, GraphError};
pub use graph::ResourceGraph;
pub use name::{NAME_RULE, NameError, check_name};
pub use program::{
    DesiredStack, EvaluateError, Program, ProgramError, Resource, StackBuilder, evaluate,
};
pub use props::{PropEntry, Props};
pub use resource::{ResourceDecl, ResourceOptions};
pub use secret::SecretKey;
pub use value::{
    OutputRef, Value, map, props_from_json, props_to_json, props_to_state_json, secret_digest,
};
