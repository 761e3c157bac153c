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
