//! `LocalCloud::up` / `status` / `down` with real daemons: moto, and this test binary as the
//! gateway daemon (through the ignored test `gateway_daemon_child`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tandem_localcloud::{
    BlackholeMode, DownOutcome, GatewayControl, LocalCloud, LocalCloudConfig, RECORD_FILE,
    serve_gateway_from_state,
};

use crate::support::{create_group, s3, unique, watchdog};

const CHILD: &str = "daemon::gateway_daemon_child";

/// The gateway daemon: runs only when `up` starts this binary with a state directory argument.
#[test]
#[ignore = "the gateway daemon of `up_status_down`: started by it, not by hand"]
fn gateway_daemon_child() {
    let Some(state_dir) = std::env::args()
        .skip(1)
        .map(PathBuf::from)
        .find(|arg| arg.join(RECORD_FILE).is_file())
    else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime
        .block_on(serve_gateway_from_state(&state_dir))
        .expect("the gateway daemon runs");
}

fn gateway_args(state_dir: &Path) -> Vec<String> {
    [
        CHILD,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([state_dir.display().to_string()])
    .collect()
}

/// Stops the local cloud when a test fails half way.
struct Down<'a>(&'a LocalCloud);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.down();
    }
}

/// No process `pid` runs: none exists, or only its zombie is left (exited, not yet reaped by
/// init, to which a daemon belongs once its launcher has gone — on a loaded machine that takes a
/// moment).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => !Path::new(&format!("/proc/{pid}")).exists(),
        Ok(stat) => {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                == Some("Z")
        }
    }
}

#[test]
fn up_status_down() {
    let dir = tempfile::tempdir().unwrap();
    let regions = vec!["us-east-1".to_owned(), "us-west-2".to_owned()];
    let cloud = LocalCloud::new(
        dir.path().to_owned(),
        LocalCloudConfig::on_free_ports(regions.clone()),
    );
    let _down = Down(&cloud);
    let exe = std::env::current_exe().unwrap();
    let mut steps = Vec::new();
    let up = cloud
        .up_reporting(&exe, &gateway_args(dir.path()), &mut |s| {
            steps.push(s.to_owned())
        })
        .unwrap();
    let moto_pid = up.moto.as_ref().and_then(|m| m.pid).unwrap();
    let gateway_pid = up.gateway.as_ref().and_then(|g| g.pid).unwrap();
    // Should this process die before `down`, take the daemons with it.
    watchdog(
        r#"while kill -0 "$1" 2>/dev/null && { kill -0 "$2" 2>/dev/null || kill -0 "$3" 2>/dev/null; }; do sleep 1; done
           kill -0 "$1" 2>/dev/null || kill "$2" "$3" 2>/dev/null"#,
        &[
            std::process::id().to_string(),
            gateway_pid.to_string(),
            moto_pid.to_string(),
        ],
    );
    assert!(up.running, "{up}");
    assert!(
        steps.iter().any(|s| s.contains("starting moto")),
        "{steps:?}"
    );
    assert_eq!(up.regions.len(), 2);
    // Nothing is deployed yet: the regions answer, but have no capacity, and say so.
    for region in &up.regions {
        assert!(!region.answers, "{up}");
        assert_eq!(
            region.detail.as_deref(),
            Some(format!("no capacity: no Auto Scaling group in {}", region.name).as_str()),
            "{up}"
        );
    }
    assert!(
        up.to_string()
            .contains("unhealthy: no capacity: no Auto Scaling group in us-west-2"),
        "{up}"
    );
    assert!(up.global.as_ref().is_some_and(|g| g.answers), "{up}");

    let record = cloud.record().unwrap().unwrap();
    assert_eq!(record.regions, regions);
    // The record and the daemons' logs are private to their user.
    for file in [
        dir.path().join(RECORD_FILE),
        record.moto.log.clone(),
        record.gateway.log.clone(),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    assert_eq!(record.moto.pid, Some(moto_pid));
    assert_eq!(record.gateway.pid, Some(gateway_pid));

    // Requests through the daemon's region port reach the daemon's moto.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let east = record.region_endpoint("us-east-1").unwrap();
    let bucket = unique("tandem-it-daemon");
    runtime.block_on(async {
        let created = s3(&east, "us-east-1", "PUT", &format!("/{bucket}"), b"")
            .await
            .unwrap();
        assert_eq!(created.status, 200, "{created:?}");
        let direct = s3(&record.moto_url(), "us-east-1", "GET", "/", b"")
            .await
            .unwrap();
        assert!(direct.body.contains(&bucket));
        // Capacity in each region, through the region's own port.
        for region in &regions {
            create_group(&record.region_endpoint(region).unwrap(), region, 2).await;
        }
    });
    let serving = cloud.status().unwrap();
    assert!(
        serving
            .regions
            .iter()
            .all(|r| r.answers && r.detail.is_none()),
        "{serving}"
    );
    assert!(!serving.to_string().contains("unhealthy"), "{serving}");

    // Up again: idempotent.
    let again = cloud.up(&exe, &gateway_args(dir.path())).unwrap();
    assert!(
        again.notes.iter().any(|n| n.contains("already running")),
        "{again}"
    );
    assert_eq!(again.moto.as_ref().and_then(|m| m.pid), Some(moto_pid));

    // A region outage shows in the status.
    let control = GatewayControl::new(record.control_url());
    runtime
        .block_on(control.blackhole("us-west-2", BlackholeMode::Refuse))
        .unwrap();
    let status = cloud.status().unwrap();
    assert!(status.running);
    let west = status
        .regions
        .iter()
        .find(|r| r.name == "us-west-2")
        .unwrap();
    assert!(!west.answers && west.detail.is_none(), "{status}");
    assert!(status.to_string().contains("unhealthy"), "{status}");
    let east = status
        .regions
        .iter()
        .find(|r| r.name == "us-east-1")
        .unwrap();
    assert!(east.answers, "{status}");

    let outcome = cloud.down().unwrap();
    assert_eq!(
        outcome,
        DownOutcome::Stopped {
            gateway_pid: Some(gateway_pid),
            moto_pid: Some(moto_pid)
        }
    );
    assert!(gone(moto_pid) && gone(gateway_pid));
    assert!(!dir.path().join(RECORD_FILE).exists());
    let after = cloud.status().unwrap();
    assert!(!after.running && after.moto.is_none(), "{after}");
    assert_eq!(cloud.down().unwrap(), DownOutcome::NotRunning);
}

#[test]
fn up_names_a_taken_port_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut config = LocalCloudConfig::on_free_ports(vec!["us-east-1".to_owned()]);
    config.control_port = port;
    let cloud = LocalCloud::new(dir.path().to_owned(), config);
    let err = cloud
        .up(Path::new("/bin/sleep"), &["1000".to_owned()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&port.to_string()) && err.contains("control"),
        "{err}"
    );
    // The holder is named: this test's own process.
    assert!(
        err.contains(&format!("in use by pid {} (", std::process::id())),
        "{err}"
    );
    assert!(cloud.record().unwrap().is_none());
}

#[test]
fn a_busy_port_names_the_process_holding_it() {
    // Another process listens: the error names its pid and command line.
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\n\
             print(s.getsockname()[1],flush=True)\ntime.sleep(60)",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let said = tandem_localcloud::port_holder(port);
    let dir = tempfile::tempdir().unwrap();
    let mut config = LocalCloudConfig::on_free_ports(vec!["us-east-1".to_owned()]);
    config.moto_port = port;
    let err = LocalCloud::new(dir.path().to_owned(), config)
        .up(Path::new("/bin/sleep"), &["1000".to_owned()])
        .unwrap_err()
        .to_string();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        said.starts_with(&format!("pid {} (", holder.id()))
            && said.contains("python3 -c import socket,sys,time s=socket.socket()"),
        "{said}"
    );
    assert!(
        err.contains(&format!(
            "port {port} (moto) is already in use by pid {}",
            holder.id()
        )),
        "{err}"
    );
    // A port nobody holds: nothing to name.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free_port = free.local_addr().unwrap().port();
    drop(free);
    assert_eq!(
        tandem_localcloud::port_holder(free_port),
        "an unknown process"
    );
}

#[test]
fn the_default_ports_are_the_local_environments_and_outside_the_ephemeral_range() {
    let config = LocalCloudConfig::default();
    let mut ports = vec![config.moto_port, config.global_port, config.control_port];
    ports.extend(&config.region_ports);
    let file = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/local.toml"),
    )
    .unwrap();
    let value = |key: &str| {
        file.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in local.toml"))
            .to_string()
    };
    assert_eq!(
        [
            value("moto_port"),
            value("global_port"),
            value("control_port"),
            value("region_ports")
        ],
        [
            ports[0].to_string(),
            ports[1].to_string(),
            ports[2].to_string(),
            format!("[{}, {}]", ports[3], ports[4])
        ]
    );
    // Linux's ephemeral range: where any outgoing connection may take a port.
    for port in ports {
        assert!(port < 32768, "port {port} is in the ephemeral range");
    }
}

#[test]
fn a_gateway_that_dies_fails_up_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = LocalCloud::new(
        dir.path().to_owned(),
        LocalCloudConfig::on_free_ports(vec!["us-east-1".to_owned()]),
    );
    let _down = Down(&cloud);
    let mut steps = Vec::new();
    let err = cloud
        .up_reporting(Path::new("/bin/false"), &[], &mut |s| {
            steps.push(s.to_owned())
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gateway") && err.contains("gateway.log"),
        "{err}"
    );
    assert!(
        cloud.record().unwrap().is_none(),
        "no record after a failed up"
    );
    // moto, started first, was stopped again.
    let moto_port: u16 = steps
        .iter()
        .find_map(|s| s.strip_prefix("starting moto on http://127.0.0.1:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no moto port in {steps:?}"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_err());
}
