//! Integration tests of tandem-localcloud: one binary, one module per area.
//!
//! The gateway and health tests share one moto (started on a free port, killed by a watchdog when this
//! process exits); the daemon tests start their own through `LocalCloud::up`.

mod control;
mod daemon;
mod gateway;
mod health;
mod support;
