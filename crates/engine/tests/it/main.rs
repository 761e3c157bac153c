//! The engine's integration tests, one binary with a module per area.
//!
//! The lock and crash tests need a second real process: they re-run this binary as a child
//! (see `child`).

mod adopt;
mod child;
mod crash;
mod executor;
mod file_modes;
mod journal;
mod lock;
mod lock_race;
mod plan_snapshots;
mod planfile;
mod refresh;
mod secrets;
mod state_store;
mod support;
