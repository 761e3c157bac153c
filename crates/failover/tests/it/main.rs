//! The failover library against fakes: no emulator. Each phase, each verdict.

mod support;

mod audit;
mod drill;
mod failback;
mod failover;
mod verdicts;
