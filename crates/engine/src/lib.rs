//! The engine: diff, plan, apply, state, journal, refresh.
pub mod provider;
