//! `tandem preview`: the plans of one or several environments, with the policy pack's findings on
//! each, rendered as one document for a pull request (Markdown, JSON or text). Findings are
//! reported, never a failure.
//!
//! Read-only, whatever the state backend: a preview runs in pull-request jobs with a role that may
//! read the environment's shared state and never write it, and beside applies that hold the lock.
//! So it takes no lock, saves no state, and neither reconciles nor removes the journal an
//! interrupted run left: [`ops::read_state`] folds its pending operations into the state in memory
//! only, and the next `apply` reconciles them with the cloud (a note says they are pending). The
//! only file it writes is `--out`. (`crates/cli/tests/e2e/preview_base_head.rs` checks the state
//! directory byte for byte.)

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use console::style;
use tandem_engine::{Plan, ops};
use tandem_policy::Report;
use tandem_stack_multi_region::policy;

use crate::error::{Error, Exit, Result};
use crate::render::preview;
use crate::workspace::Workspace;

#[derive(clap::Args, Debug)]
pub struct PreviewArgs {
    /// Environment to preview; repeat for several (default: the global --env).
    #[arg(long = "env", id = "env", value_name = "NAME", action = clap::ArgAction::Append)]
    pub envs: Vec<String>,
    /// `markdown` (a pull-request comment), `json` or `text`.
    #[arg(long, value_enum, default_value_t = PreviewFormat::Markdown)]
    pub format: PreviewFormat,
    /// Write the preview to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Skip reading live state (no drift detection).
    #[arg(long)]
    pub no_refresh: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewFormat {
    Markdown,
    Json,
    Text,
}

/// The plan of each environment named (or the global one), rendered as one document;
/// `environments` is where the others' files are.
pub async fn run(ws: &Workspace, environments: &Path, args: &PreviewArgs) -> Result<Exit> {
    let mut previews = Vec::new();
    if args.envs.is_empty() {
        previews.push(plan_of(ws, args).await?);
    }
    for name in &args.envs {
        if *name == ws.env.name {
            previews.push(plan_of(ws, args).await?);
        } else {
            let other = Workspace::open(environments, &ws.stack, name)?;
            previews.push(plan_of(&other, args).await?);
        }
    }
    let (plans, policies): (Vec<Plan>, Vec<Report>) = previews.into_iter().unzip();
    let document = match args.format {
        PreviewFormat::Markdown => preview::markdown(&plans, &policies),
        PreviewFormat::Json => {
            let mut text = serde_json::to_string_pretty(&preview::json(&plans, &policies))?;
            text.push('\n');
            text
        }
        PreviewFormat::Text => {
            let colour =
                args.out.is_none() && std::io::stdout().is_terminal() && console::colors_enabled();
            preview::text(&plans, &policies, colour)
        }
    };
    match &args.out {
        Some(path) => {
            tandem_engine::store::write_private(path, document.as_bytes())
                .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "{} wrote the preview of {} to {}",
                style("note:").green(),
                plans
                    .iter()
                    .map(|p| p.env.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                path.display()
            );
        }
        None => print!("{document}"),
    }
    Ok(Exit::Success)
}

/// The plan of `ws`'s environment and the policy pack's findings on its desired stack.
async fn plan_of(ws: &Workspace, args: &PreviewArgs) -> Result<(Plan, Report)> {
    let (state, pending) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    if pending > 0 {
        eprintln!(
            "{} environment {}: an interrupted run left {pending} operation(s) pending; the next apply reconciles them",
            style("note:").yellow(),
            ws.env.name
        );
    }
    let desired = ws.desired(&state)?;
    let findings = policy::evaluate(&ws.env, &desired);
    let providers = ws.providers();
    let (plan, _) = ws
        .plan_reading_live(&desired, &state, &providers, !args.no_refresh, 10)
        .await?;
    Ok((plan, findings))
}
