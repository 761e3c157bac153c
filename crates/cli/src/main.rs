//! `tandem`: the command-line interface. It parses arguments, opens the environment's workspace,
//! calls the library crates (`tandem_engine::ops`, `tandem_failover`, `tandem_localcloud`) and
//! prints. Business logic lives in the library crates.
//!
//! # Modules, in layers
//! A module uses only modules of the layers above its own, never one below, so that the CLI's
//! modules form no cycle:
//! 1. [`error`] (the error enum and the exit codes), [`render`] (plans, drift, outputs;
//!    [`render::preview`] for pull requests) and [`progress`] (apply progress): they use no other
//!    CLI module.
//! 2. [`workspace`]: the [`Workspace`](workspace::Workspace) every command works on, the state
//!    lock, confirmation, notes; it uses only [`error`].
//! 3. [`commands`]: one module per command. Among the commands only `plan` → `saved_plan` →
//!    `apply`, and the failover family → `operation`.
//! 4. [`cli`]: the clap definitions, which take each command's arguments from its module.
//! 5. This file: parses, opens the workspace, dispatches, and maps the outcome to an exit code.

mod cli;
mod commands;
mod error;
mod progress;
mod render;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::local::LocalCommand;
use crate::commands::{
    apply, drill, failback, failover, health, iam_policy, local, outage, output, plan, preview,
    refresh, saved_plan, state, status, template,
};
use crate::error::{Exit, Result, code};
use crate::workspace::Workspace;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                code::USAGE
            } else {
                code::SUCCESS
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    install_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(code::FAILED);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("{} {}", console::style("error:").red().bold(), e.report());
            ExitCode::from(e.exit_code())
        }
    }
}

/// With `RUST_LOG` set (`RUST_LOG=trace`, `RUST_LOG=tandem_aws=debug,aws_smithy_runtime=trace`),
/// prints the libraries' `tracing` events to stderr, never to stdout (which carries plans, JSON and
/// previews). Without it, installs nothing: the output is as if no library logged.
///
/// No trace holds a secret. The AWS SDK redacts a response body whose operation's output is
/// sensitive (a generated password, a secret's value) unless `LOG_SENSITIVE_BODIES=true`, and a
/// body it signs unless `LOG_SIGNABLE_BODY=true`; it prints an output's sensitive fields as
/// redacted, and a request it sends as an opaque `BoxBody` (aws-smithy-runtime 1.16: checked by
/// reading its sources and a deploy's trace). With either variable set, `RUST_LOG` is ignored and a
/// note says so. The planted-secret end-to-end test runs every command with `RUST_LOG=trace` and
/// searches what it printed, so that an SDK upgrade that logs more is caught.
fn install_tracing() {
    use tracing_subscriber::prelude::*;

    let Some(directives) = std::env::var_os("RUST_LOG").filter(|v| !v.is_empty()) else {
        return;
    };
    if let Some(var) = SENSITIVE_LOG_VARS
        .iter()
        .find(|v| std::env::var_os(v).is_some())
    {
        eprintln!(
            "{} {var} is set: ignoring RUST_LOG, so that no secret is logged",
            console::style("note:").yellow()
        );
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_new(directives.to_string_lossy())
        .unwrap_or_else(|e| {
            eprintln!(
                "{} RUST_LOG is not a valid filter ({e}): logging warnings only",
                console::style("note:").yellow()
            );
            tracing_subscriber::EnvFilter::new("warn")
        });
    let printer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(console::colors_enabled_stderr());
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(printer)
        .try_init();
}

/// The AWS SDK's switches that log sensitive bodies in clear.
const SENSITIVE_LOG_VARS: &[&str] = &["LOG_SENSITIVE_BODIES", "LOG_SIGNABLE_BODY"];

async fn run(cli: Cli) -> Result<Exit> {
    // The gateway process `local up` starts reads everything from its state directory: it needs
    // no environment file (and runs from wherever `local up` ran).
    if let Command::Local(LocalCommand::ServeGateway { state_dir }) = &cli.command {
        return local::serve_gateway(state_dir).await;
    }
    let ws = Workspace::open(&cli.environments, &cli.stack, &cli.env)?;
    match cli.command {
        Command::Plan(args) => plan::run(&ws, &args).await,
        Command::Apply(cmd) => match &cmd.plan_file {
            Some(file) => saved_plan::apply(&ws, file, &cmd).await,
            None => apply::apply(&ws, &cmd.apply, cmd.region.as_deref()).await,
        },
        Command::Preview(args) => preview::run(&ws, &cli.environments, &args).await,
        Command::Destroy(args) => apply::destroy(&ws, &args).await,
        Command::Deploy(args) => apply::deploy(&ws, &args).await,
        Command::Template => template::run(),
        Command::IamPolicy(args) => iam_policy::run(&ws, &args),
        Command::Refresh { yes: _ } => refresh::run(&ws).await,
        Command::State(cmd) => state::run(&ws, cmd).await,
        Command::Output { name, json } => output::run(&ws, name.as_deref(), json),
        Command::Failover(args) => failover::run(&ws, &args).await,
        Command::Failback(args) => failback::run(&ws, &args).await,
        Command::CheckHealth(args) => health::run(&ws, &args).await,
        Command::SimulateOutage(args) => outage::run(&ws, &args).await,
        Command::Drill(args) => drill::run(&ws, &args).await,
        Command::Status(args) => status::run(&ws, &args).await,
        Command::Local(cmd) => local::run(&ws, cmd).await,
    }
}

#[cfg(test)]
mod tests;
