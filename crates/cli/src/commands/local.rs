//! `tandem local up|down|status`: the local cloud of an environment that has a `[local_cloud]`
//! section (moto behind the region gateway, on the ports the environment names).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use tandem_localcloud::{DownOutcome, LocalCloud, LocalCloudConfig};

use crate::error::{Error, Exit, Result};
use crate::workspace::Workspace;

#[derive(Subcommand, Debug)]
pub enum LocalCommand {
    /// Start moto and the region gateway in the background
    ///
    /// Installs moto with pip if it is missing.
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

/// Where the local cloud keeps its record, PIDs and logs.
fn state_dir(ws: &Workspace) -> PathBuf {
    ws.tandem_dir().join("local-cloud")
}

fn local_cloud(ws: &Workspace) -> Result<LocalCloud> {
    let Some(lc) = &ws.env.local_cloud else {
        return Err(Error::Config(format!(
            "environment {} has no [local_cloud] section in {}: it runs on AWS",
            ws.env.name,
            ws.env.file.display()
        )));
    };
    let config = LocalCloudConfig {
        regions: vec![
            ws.env.primary_region.clone(),
            ws.env.secondary_region.clone(),
        ],
        moto_port: lc.moto_port,
        global_port: lc.global_port,
        region_ports: lc.region_ports.clone(),
        control_port: lc.control_port,
        seed: None,
    };
    Ok(LocalCloud::new(state_dir(ws), config))
}

/// Runs blocking work of the local cloud off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> tandem_localcloud::Result<T> + Send + 'static,
) -> Result<T> {
    let out = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Failed(e.to_string()))??;
    Ok(out)
}

pub async fn run(ws: &Workspace, cmd: LocalCommand) -> Result<Exit> {
    match cmd {
        LocalCommand::Up => {
            let cloud = local_cloud(ws)?;
            let exe = std::env::current_exe()?;
            let args = vec![
                "local".to_string(),
                "serve-gateway".to_string(),
                "--state-dir".to_string(),
                cloud.state_dir().display().to_string(),
            ];
            let status =
                blocking(move || cloud.up_reporting(&exe, &args, &mut |line| println!("{line}")))
                    .await?;
            print!("{status}");
            running(status.running, "did not start")
        }
        LocalCommand::Down => {
            let cloud = local_cloud(ws)?;
            match blocking(move || cloud.down()).await? {
                DownOutcome::NotRunning => println!("The local cloud was not running."),
                DownOutcome::Stopped {
                    gateway_pid,
                    moto_pid,
                } => println!(
                    "Stopped the local cloud (gateway pid {}, moto pid {}).",
                    gateway_pid.map_or("gone".into(), |p| p.to_string()),
                    moto_pid.map_or("gone".into(), |p| p.to_string())
                ),
            }
            Ok(Exit::Success)
        }
        LocalCommand::Status => {
            let cloud = local_cloud(ws)?;
            let status = blocking(move || cloud.status()).await?;
            print!("{status}");
            running(status.running, "is not running")
        }
        LocalCommand::ServeGateway { state_dir } => serve_gateway(&state_dir).await,
    }
}

/// Exit 1 when the local cloud does not run (the status printed says what runs).
fn running(running: bool, otherwise: &str) -> Result<Exit> {
    if running {
        Ok(Exit::Success)
    } else {
        Err(Error::Failed(format!("the local cloud {otherwise}")))
    }
}

/// `tandem local serve-gateway`: the region gateway process that `local up` starts. It reads its
/// configuration from the state directory, so it needs no environment file.
pub async fn serve_gateway(state_dir: &Path) -> Result<Exit> {
    tandem_localcloud::serve_gateway_from_state(state_dir).await?;
    Ok(Exit::Success)
}
