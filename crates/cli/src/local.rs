//! `tandem local up|down|status`: the local cloud of an environment that has a `[local_cloud]`
//! section (moto behind the region gateway, on the ports the environment names).

use std::path::PathBuf;

use anyhow::Result;
use tandem_localcloud::{DownOutcome, LocalCloud, LocalCloudConfig};

use crate::LocalCommand;
use crate::commands::Workspace;
use crate::exit::{self, Failure};

/// Where the local cloud keeps its record, PIDs and logs.
pub fn state_dir(ws: &Workspace) -> PathBuf {
    tandem_dir(ws).join("local-cloud")
}

/// The directory holding the state directory (`.tandem` by default): local cloud, reports.
pub fn tandem_dir(ws: &Workspace) -> PathBuf {
    match ws.env.state_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn local_cloud(ws: &Workspace) -> Result<LocalCloud> {
    let Some(lc) = &ws.env.local_cloud else {
        return Err(Failure::new(
            exit::CONFIG,
            format!(
                "environment {} has no [local_cloud] section in {}: it runs on AWS",
                ws.env.name,
                ws.env.file.display()
            ),
        )
        .into());
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

pub async fn run(ws: &Workspace, cmd: LocalCommand) -> Result<u8> {
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
            let status = tokio::task::spawn_blocking(move || {
                cloud.up_reporting(&exe, &args, &mut |line| println!("{line}"))
            })
            .await??;
            print!("{status}");
            Ok(if status.running {
                exit::OK
            } else {
                exit::ERROR
            })
        }
        LocalCommand::Down => {
            let cloud = local_cloud(ws)?;
            match tokio::task::spawn_blocking(move || cloud.down()).await?? {
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
            Ok(exit::OK)
        }
        LocalCommand::Status => {
            let cloud = local_cloud(ws)?;
            let status = tokio::task::spawn_blocking(move || cloud.status()).await??;
            print!("{status}");
            Ok(if status.running {
                exit::OK
            } else {
                exit::ERROR
            })
        }
        LocalCommand::ServeGateway { state_dir } => serve_gateway(&state_dir).await,
    }
}

/// `tandem local serve-gateway`: the region gateway process that `local up` starts. It reads its
/// configuration from the state directory, so it needs no environment file.
pub async fn serve_gateway(state_dir: &std::path::Path) -> Result<u8> {
    tandem_localcloud::serve_gateway_from_state(state_dir).await?;
    Ok(exit::OK)
}
