//! `tandem`: the command-line interface. It parses arguments, loads the environment and the stack
//! program, calls the engine's operations, and prints. Business logic lives in the library crates.

mod cloud;
mod commands;
mod exit;
mod local;
mod preview;
mod progress;
mod render;
mod resilience;
mod saved_plan;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Infrastructure as Rust code for an active-passive multi-region AWS architecture, with failover
/// built in.
#[derive(Parser, Debug)]
#[command(name = "tandem", version, about, long_about = None, after_help = exit::EXIT_CODES_HELP)]
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
    /// Show what apply would change, wave by wave, after reading live state (drift shown apart).
    Plan(PlanArgs),
    /// Apply the changes, region wave by region wave; or apply exactly a plan saved by
    /// `plan --out FILE` (refused if the state or the program changed since).
    Apply(ApplyCommand),
    /// Write a pull-request preview of one or several environments (Markdown for a comment, JSON,
    /// or text as `plan` prints it).
    Preview(PreviewArgs),
    /// Delete every resource of the stack (protected resources refuse).
    Destroy(DestroyArgs),
    /// Read live state from the cloud, report drift and record it in the state.
    Refresh {
        /// Accepted for scripts that pass it; `refresh` never asks.
        #[arg(long, hide = true)]
        yes: bool,
    },
    /// Inspect or repair the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Deploy by region: `primary` (global wave and primary region), `secondary` (refused until
    /// the primary is deployed), or `all` (every wave in order, stopping at the first failure).
    Deploy(DeployArgs),
    /// Print the regional CloudFormation template the stack set deploys (for review and linting).
    Template,
    /// Fail over to the standby region: promote its replica, fence the old primary, scale, swap
    /// the failover records, reverse replication. What needs an unreachable region is deferred.
    Failover {
        /// The region to fail over to (default: the standby).
        #[arg(long)]
        to: Option<String>,
        /// Show the failover as a plan; change nothing.
        #[arg(long)]
        plan: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Complete deferred work whose region answers again.
        #[arg(long)]
        resume: bool,
        /// Fail over even when the preflight (replica lag, standby health) refuses.
        #[arg(long)]
        force: bool,
    },
    /// Fail back to the original region, as a planned switchover: rebuild a replica there, wait
    /// until it has caught up, stop writes (scale the active region's application to zero), wait
    /// until the replica has drained them, promote it, fence the old writer, swap DNS back, and
    /// rebuild the replica in the other region.
    Failback {
        /// Show the three steps (rebuild, stop writes, switch back) as plans; change nothing.
        #[arg(long)]
        plan: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Probe each region's application as Route 53's checkers do, and show Route 53's own
    /// health-check status where the cloud gives it (the ROUTE53 column, `route53` in --json;
    /// n/a on the local cloud, whose fixed answer is not a status). Exit 7 when the active region
    /// is unhealthy: by the probes, or by Route 53 when it gives a status.
    CheckHealth {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cut a region off (local cloud: the region gateway blackholes its API and application; AWS:
    /// its health check is inverted), or undo it with --restore.
    SimulateOutage {
        /// Default: the active region.
        #[arg(long)]
        region: Option<String>,
        /// Undo the outage (default region: the one cut off).
        #[arg(long)]
        restore: bool,
    },
    /// Drill a failover: outage, detection, failover, verification, restore; writes a Markdown
    /// and JSON report with measured RTO and RPO; exit 7 when an objective is missed.
    Drill {
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Seconds between health probes (default: 1 on the local cloud, 10 on AWS).
        #[arg(long)]
        interval: Option<u64>,
        /// Consecutive failed probes that make a region unhealthy (1-10).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
        threshold: u32,
    },
    /// Active region, health of each region, replica lag, replication, deferred work, last drill.
    Status {
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The local cloud: moto behind the region gateway, on loopback.
    #[command(subcommand)]
    Local(LocalCommand),
    /// Print the stack's outputs.
    Output {
        /// One output only.
        name: Option<String>,
        /// Print the outputs as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Print the plan as JSON (format documented in the README).
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error (as Terraform).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Limit the plan to one region wave (`global` or a region name).
    #[arg(long)]
    pub region: Option<String>,
    /// Skip reading live state (no drift detection).
    #[arg(long)]
    pub no_refresh: bool,
    /// Also save the plan to FILE, for `tandem apply FILE` to apply exactly it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

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

#[derive(clap::Args, Debug)]
pub struct ApplyCommand {
    /// A plan saved by `tandem plan --out FILE`: apply exactly it, without planning or reading
    /// the cloud again.
    #[arg(value_name = "FILE")]
    pub plan_file: Option<PathBuf>,
    /// Limit the run to one region wave (`global` or a region name).
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(clap::Args, Debug)]
pub struct DestroyArgs {
    /// Limit the run to one region wave (`global` or a region name).
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// At most this many operations in flight.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
    /// Skip reading live state before planning.
    #[arg(long)]
    pub no_refresh: bool,
}

#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    /// `primary`, `secondary` or `all`.
    #[arg(value_parser = ["primary", "secondary", "all"])]
    pub target: String,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(Subcommand, Debug)]
pub enum LocalCommand {
    /// Start moto and the region gateway in the background (installs moto with pip if missing).
    Up,
    /// Stop them.
    Down,
    /// Show whether they run, and their endpoints.
    Status,
    /// Run the region gateway in this process (what `up` starts in the background).
    #[command(hide = true)]
    ServeGateway {
        #[arg(long)]
        state_dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List the resources in the state.
    List,
    /// Show one resource's recorded properties and outputs.
    Show { address: String },
    /// Forget a resource: remove it from the state, leave it in the cloud.
    Rm { address: String },
    /// Remove the state lock (only when the run holding it is gone).
    Unlock {
        /// Required: confirms that no run holds the lock any more.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
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
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{} {e:#}", console::style("error:").red().bold());
            ExitCode::from(exit::code_of(&e))
        }
    }
}
