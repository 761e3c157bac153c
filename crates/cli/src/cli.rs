//! The command line: global options and one variant per command. The first line of each
//! command's doc comment is its summary in `tandem --help`; the following paragraphs are the
//! detail `tandem COMMAND --help` adds. Each command's own arguments live in its module.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::apply::{ApplyCommand, DeployArgs, DestroyArgs};
use crate::commands::local::LocalCommand;
use crate::commands::plan::PlanArgs;
use crate::commands::preview::PreviewArgs;
use crate::commands::state::StateCommand;
use crate::error::EXIT_CODES_HELP;

/// Infrastructure as Rust code for an active-passive multi-region AWS architecture, with failover
/// built in.
#[derive(Parser, Debug)]
#[command(name = "tandem", version, about, long_about = None, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Environment: reads `environments/<NAME>.toml`.
    #[arg(long, global = true, default_value = "local", env = "TANDEM_ENV")]
    pub env: String,
    /// Stack program to run.
    #[arg(
        long,
        global = true,
        default_value = "multi-region",
        env = "TANDEM_STACK"
    )]
    pub stack: String,
    /// Directory holding the environment files.
    #[arg(
        long,
        global = true,
        default_value = "environments",
        env = "TANDEM_ENVIRONMENTS"
    )]
    pub environments: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show what apply would change, wave by wave
    ///
    /// Live state is read first (unless --no-refresh): what changed outside Tandem is shown
    /// apart, as drift.
    Plan(PlanArgs),
    /// Apply the changes, region wave by region wave
    ///
    /// Or apply exactly a plan saved by `plan --out FILE` (refused if the state or the program
    /// changed since).
    Apply(ApplyCommand),
    /// Write a pull-request preview of one or several environments
    ///
    /// Markdown for a comment, JSON, or text as `plan` prints it.
    Preview(PreviewArgs),
    /// Delete every resource of the stack (protected resources refuse)
    Destroy(DestroyArgs),
    /// Read live state from the cloud, report drift and record it in the state
    Refresh {
        /// Accepted for scripts that pass it; `refresh` never asks.
        #[arg(long, hide = true)]
        yes: bool,
    },
    /// Inspect or repair the state, create its S3 bucket, migrate it
    #[command(subcommand)]
    State(StateCommand),
    /// Deploy by region: primary, secondary or all
    ///
    /// `primary`: the global wave and the primary region. `secondary`: refused until the primary
    /// is deployed. `all`: every wave in order, stopping at the first failure.
    Deploy(DeployArgs),
    /// Print the regional CloudFormation template the stack set deploys
    ///
    /// For review and linting.
    Template,
    /// Fail over to the standby region
    ///
    /// Promote its replica (and read it back: the cloud must say it is a writer before anything
    /// is fenced), fence the old primary, scale, swap the failover records, reverse replication.
    /// What needs a control plane that does not answer is deferred; `--resume` completes it.
    Failover(crate::commands::failover::FailoverArgs),
    /// Fail back to the original region, as a planned switchover
    ///
    /// Rebuild a replica there, wait until it has caught up, stop writes (scale the active
    /// region's application to zero), wait until the replica has drained them, promote it, fence
    /// the old writer, swap DNS back, and rebuild the replica in the other region.
    Failback(crate::commands::failback::FailbackArgs),
    /// Probe each region's application as Route 53's checkers do
    ///
    /// Also shows Route 53's own health-check status where the cloud gives it (the ROUTE53
    /// column, `route53` in --json; n/a on the local cloud, whose fixed answer is not a status).
    ///
    /// Exit 7 when the active region is unhealthy: by the probes, or by Route 53 when it gives a
    /// status.
    CheckHealth(crate::commands::health::HealthArgs),
    /// Cut a region off, or undo it with --restore
    ///
    /// Local cloud: the region gateway blackholes the region's API and application. AWS: the
    /// region's health check is inverted.
    SimulateOutage(crate::commands::outage::OutageArgs),
    /// Drill a failover: outage, detection, failover, verification, restore
    ///
    /// Writes a Markdown and JSON report with the measured RTO and RPO and each check with what
    /// it read from where. Exit 7 when an objective is missed or a check failed; exit 8 when
    /// nothing failed but an objective or check could not be measured here (unverified).
    Drill(crate::commands::drill::DrillArgs),
    /// Show the active region, health, replica lag, deferred work and last drill
    ///
    /// Each region's role and health; the database writer, its replica and the replica's lag;
    /// asset replication; a simulated outage, a quiesced region, deferred work or a transition in
    /// progress; the last drill.
    Status(crate::commands::status::StatusArgs),
    /// The local cloud: moto behind the region gateway, on loopback
    #[command(subcommand)]
    Local(LocalCommand),
    /// Print the least-privilege IAM policy for running Tandem on the environment
    ///
    /// JSON, made from the API calls Tandem declares: the environment's account, its regions and
    /// the stack set's administration region, its names and its domain. --read-only prints what
    /// reading the cloud needs (plan, preview, status, check-health).
    IamPolicy(crate::commands::iam_policy::IamPolicyArgs),
    /// Print the stack's outputs
    Output {
        /// One output only.
        name: Option<String>,
        /// Print the outputs as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests;
