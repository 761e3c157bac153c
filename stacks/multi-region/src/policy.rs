//! The policy pack applied to this stack: the environment as the pack's [`Context`], and its
//! `[policy]` suppressions.

use tandem_core::DesiredStack;
use tandem_policy::{Context, Report};

use crate::config::Environment;

/// What the pack knows of `env`: its name, its regions (primary first), whether it protects
/// stateful resources and whether it serves HTTP only.
pub fn context(env: &Environment) -> Context {
    Context {
        env: env.name.clone(),
        regions: vec![env.primary_region.clone(), env.secondary_region.clone()],
        protect_stateful: env.protect_stateful,
        http_only: env.http_only,
    }
}

/// The pack's findings on `desired`, the program's stack for `env`, with the environment's
/// suppressions applied.
pub fn evaluate(env: &Environment, desired: &DesiredStack) -> Report {
    tandem_policy::evaluate(desired, &context(env), &env.policy_suppressions)
}
