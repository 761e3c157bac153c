#![recursion_limit = "512"]
//! The multi-region stack: the seed's active-passive architecture as a Tandem program.
//!
//! The principal type is [`MultiRegion`], a [`tandem_core::Program`] built from an [`Environment`]
//! (read from `environments/<name>.toml` and the seed's variables) and the current [`tandem_posture::Posture`]
//! (which region is active, where the databases are). [`MultiRegionTopology`] tells the failover
//! library which resources are the databases, health checks, failover records and capacities. [`template::regional_template`] renders the regional CloudFormation template that
//! the stack set deploys to both regions. [`policy::evaluate`] holds the stack to the policy pack
//! (`tandem-policy`) with the environment's `[policy]` suppressions.

pub mod config;
pub mod policy;
pub mod program;
pub mod template;
pub mod topology;

pub use config::{ConfigError, Environment, process_vars};
pub use program::{MultiRegion, STACK_NAME};
pub use topology::MultiRegionTopology;
