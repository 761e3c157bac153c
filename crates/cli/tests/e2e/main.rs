//! End-to-end tests: the `tandem` binary against the local cloud (one moto per test binary, on a
//! free loopback port), verified independently with boto3 — never through Tandem's own read code.

mod aws_path;
mod bad_input;
mod cli;
mod deploy;
mod failover;
mod iam;
mod local;
mod planted_secret;
mod preview_base_head;
mod state_backend;
mod support;
mod trials;
