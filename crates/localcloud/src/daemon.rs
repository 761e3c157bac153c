//! The local cloud's background daemons: moto and the region gateway, behind `tandem local`.
//!
//! State lives in one directory:
//! - `local-cloud.json` ([`RECORD_FILE`], a [`LocalCloudRecord`]): regions, ports, pids, logs;
//! - `moto.log`, `gateway.log`: the daemons' stdout and stderr.
//!
//! The gateway daemon is the CLI itself (`tandem local serve-gateway --state-dir DIR`, which calls
//! [`serve_gateway_from_state`]); it reads its ports from the record.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tandem_engine::store::{create_private_dir, write_private};

use crate::error::{Error, Result};
use crate::gateway::{CAPACITY_TIMEOUT, Gateway, GatewayConfig, HEALTH_PATH, HEALTH_UNKNOWN};
use crate::process::{self, alive, http_answer, http_status, runs, spawn_detached};

/// The record's file name inside the state directory.
pub const RECORD_FILE: &str = "local-cloud.json";
const MOTO_LOG: &str = "moto.log";
const GATEWAY_LOG: &str = "gateway.log";

/// The moto release line the local cloud is built and tested against.
const MOTO_REQUIREMENT: &str = "moto[server]==5.2.*";
const MOTO_START_TIMEOUT: Duration = Duration::from_secs(60);
const GATEWAY_START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_GRACE: Duration = Duration::from_secs(5);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// A region's health endpoint may take [`CAPACITY_TIMEOUT`] to ask moto; then it says why.
const HEALTH_PROBE_TIMEOUT: Duration = CAPACITY_TIMEOUT.saturating_add(Duration::from_millis(500));
/// How long `up` waits for the regions' health endpoints to get an answer from a new moto (its
/// first Auto Scaling request loads code for seconds; the gateway asks at once when it starts).
const HEALTH_SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the local cloud listens. Port 0 picks a free port at `up` (then recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCloudConfig {
    pub regions: Vec<String>,
    pub moto_port: u16,
    pub global_port: u16,
    /// One per region, in the order of `regions`; empty picks free ports for all.
    pub region_ports: Vec<u16>,
    pub control_port: u16,
    /// Seed of the gateway's fault rates; `None` seeds from the clock.
    #[serde(default)]
    pub seed: Option<u64>,
}

impl LocalCloudConfig {
    /// moto's default port; the gateway's global, control and region ports follow it, as in
    /// `environments/local.toml`. All below 32768: Linux's ephemeral range (32768–60999) is where
    /// the kernel picks any program's outgoing connection's port, which could take one of ours.
    pub const DEFAULT_MOTO_PORT: u16 = 24560;
    pub const DEFAULT_GLOBAL_PORT: u16 = 24561;
    pub const DEFAULT_CONTROL_PORT: u16 = 24562;
    /// The first region's port; the next regions take the next ports.
    pub const DEFAULT_FIRST_REGION_PORT: u16 = 24563;

    /// The conventional ports: moto 24560, global 24561, control 24562, regions 24563, 24564, ...
    pub fn new(regions: Vec<String>) -> Self {
        let region_ports = (0..regions.len())
            .map(|i| Self::DEFAULT_FIRST_REGION_PORT.saturating_add(i as u16))
            .collect();
        LocalCloudConfig {
            regions,
            moto_port: Self::DEFAULT_MOTO_PORT,
            global_port: Self::DEFAULT_GLOBAL_PORT,
            region_ports,
            control_port: Self::DEFAULT_CONTROL_PORT,
            seed: None,
        }
    }

    /// Every port picked free at `up` (for tests and parallel local clouds).
    pub fn on_free_ports(regions: Vec<String>) -> Self {
        LocalCloudConfig {
            regions,
            moto_port: 0,
            global_port: 0,
            region_ports: Vec::new(),
            control_port: 0,
            seed: None,
        }
    }
}

impl Default for LocalCloudConfig {
    /// `us-east-1` and `us-west-2` on the conventional ports.
    fn default() -> Self {
        LocalCloudConfig::new(vec!["us-east-1".into(), "us-west-2".into()])
    }
}

/// One daemon in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonRecord {
    /// `None` while it is being started.
    pub pid: Option<u32>,
    /// A word of its command line, checked before it is signalled (a pid may be recycled).
    pub program: String,
    pub log: PathBuf,
}

/// `STATE_DIR/local-cloud.json`: what `up` started, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCloudRecord {
    pub regions: Vec<String>,
    pub moto_port: u16,
    pub global_port: u16,
    pub region_ports: Vec<u16>,
    pub control_port: u16,
    #[serde(default)]
    pub seed: Option<u64>,
    pub moto: DaemonRecord,
    pub gateway: DaemonRecord,
}

impl LocalCloudRecord {
    /// moto's own URL (bypassing the gateway).
    pub fn moto_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.moto_port)
    }

    /// The gateway endpoint of a region, if the local cloud serves it.
    pub fn region_endpoint(&self, region: &str) -> Option<String> {
        let i = self.regions.iter().position(|r| r == region)?;
        Some(format!("http://127.0.0.1:{}", self.region_ports.get(i)?))
    }

    /// The global services' endpoint.
    pub fn global_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.global_port)
    }

    /// The gateway's control URL.
    pub fn control_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.control_port)
    }

    fn gateway_config(&self) -> GatewayConfig {
        GatewayConfig {
            moto_url: self.moto_url(),
            regions: self.regions.clone(),
            global_port: self.global_port,
            region_ports: self.region_ports.clone(),
            control_port: self.control_port,
            seed: self.seed,
        }
    }
}

/// A daemon as `status` sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessStatus {
    pub pid: Option<u32>,
    pub port: u16,
    pub alive: bool,
    pub answers: bool,
    pub log: PathBuf,
}

/// One gateway endpoint as `status` sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointStatus {
    /// The region, or `global`.
    pub name: String,
    pub endpoint: String,
    pub port: u16,
    /// The application health URL (regions only).
    pub health_url: Option<String>,
    /// Regions: the health endpoint answers 200. Global: it answers at all.
    pub answers: bool,
    /// Regions: what the health endpoint said when it answered but not 200 (the first line of its
    /// body, e.g. `no capacity: no Auto Scaling group in us-east-1`).
    pub detail: Option<String>,
}

/// What `up` and `status` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalCloudStatus {
    /// moto and the gateway are alive and answer.
    pub running: bool,
    pub record: PathBuf,
    pub moto: Option<ProcessStatus>,
    pub gateway: Option<ProcessStatus>,
    pub control_url: Option<String>,
    pub global: Option<EndpointStatus>,
    pub regions: Vec<EndpointStatus>,
    /// What happened (`up`) or what looks wrong, one sentence each.
    pub notes: Vec<String>,
}

impl fmt::Display for LocalCloudStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (&self.moto, self.running) {
            (None, _) => "not running",
            (Some(_), true) => "running",
            (Some(_), false) => "degraded",
        };
        writeln!(f, "local cloud: {state}")?;
        let yes_no = |b: bool| if b { "answers" } else { "does not answer" };
        let pid = |p: Option<u32>| p.map_or("-".to_owned(), |p| p.to_string());
        if let Some(moto) = &self.moto {
            writeln!(
                f,
                "  moto       pid {:<8} http://127.0.0.1:{:<6} {}",
                pid(moto.pid),
                moto.port,
                yes_no(moto.answers)
            )?;
        }
        if let Some(gateway) = &self.gateway {
            writeln!(
                f,
                "  gateway    pid {:<8} http://127.0.0.1:{:<6} {} (control)",
                pid(gateway.pid),
                gateway.port,
                yes_no(gateway.answers)
            )?;
        }
        for endpoint in self.global.iter().chain(&self.regions) {
            let verdict = match (&endpoint.health_url, endpoint.answers, &endpoint.detail) {
                (Some(_), true, _) => "healthy".to_owned(),
                (Some(_), false, Some(detail)) => format!("unhealthy: {detail}"),
                (Some(_), false, None) => "unhealthy".to_owned(),
                (None, answers, _) => yes_no(answers).to_owned(),
            };
            writeln!(
                f,
                "  {:<10} {:<34} {verdict}",
                endpoint.name, endpoint.endpoint
            )?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        write!(f, "  record: {}", self.record.display())
    }
}

/// What `down` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DownOutcome {
    /// Nothing was recorded.
    NotRunning,
    /// These daemons were signalled (a pid is `None` when it was already gone).
    Stopped {
        gateway_pid: Option<u32>,
        moto_pid: Option<u32>,
    },
}

/// The local cloud of one state directory: moto and the region gateway as background daemons.
///
/// # Guarantees
/// - `up` is idempotent: a healthy local cloud is reported, nothing is started.
/// - A failed `up` leaves nothing running and no record.
/// - `down` only signals pids whose command line still names the program that was started.
///
/// All operations block (they start, probe and wait for processes); from async code, call them
/// through `tokio::task::spawn_blocking` or accept the short block.
#[derive(Debug, Clone)]
pub struct LocalCloud {
    state_dir: PathBuf,
    config: LocalCloudConfig,
}

/// How moto is started.
enum MotoLauncher {
    /// `moto_server -H 127.0.0.1 -p PORT`.
    Binary(PathBuf),
    /// `python3 -m moto.server -H 127.0.0.1 -p PORT`.
    Module,
}

/// The Python that installs and runs moto when `moto_server` is not on `PATH`.
const PYTHON: &str = "python3";

impl MotoLauncher {
    /// `moto_server` on `path` (a `PATH` value), else `python -m moto.server` when it imports.
    fn find(path: &OsStr, python: &str) -> Option<MotoLauncher> {
        if let Some(binary) = process::on_path("moto_server", path) {
            return Some(MotoLauncher::Binary(binary));
        }
        let importable = std::process::Command::new(python)
            .args(["-c", "import moto.server"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        importable.then_some(MotoLauncher::Module)
    }

    fn find_here() -> Option<MotoLauncher> {
        MotoLauncher::find(&std::env::var_os("PATH").unwrap_or_default(), PYTHON)
    }

    fn spawn(&self, port: u16, log: &Path) -> Result<Child> {
        let port = port.to_string();
        match self {
            MotoLauncher::Binary(binary) => spawn_detached(
                binary.as_os_str(),
                &["-H", "127.0.0.1", "-p", port.as_str()],
                log,
            ),
            MotoLauncher::Module => spawn_detached(
                OsStr::new(PYTHON),
                &["-m", "moto.server", "-H", "127.0.0.1", "-p", port.as_str()],
                log,
            ),
        }
    }
}

/// `python -m pip install 'moto[server]==5.2.*'`.
fn install_moto(python: &str) -> Result<()> {
    let command = format!("{python} -m pip install '{MOTO_REQUIREMENT}'");
    let output = std::process::Command::new(python)
        .args(["-m", "pip", "install", MOTO_REQUIREMENT])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|err| Error::MotoInstall {
            command: command.clone(),
            reason: format!("cannot run {python}: {err}"),
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::MotoInstall {
        command,
        reason: format!(
            "{}: {}",
            output.status,
            process::tail(&String::from_utf8_lossy(&output.stderr), 4)
        ),
    })
}

/// A port to bind, and what it is for (for error messages).
struct PortPlan {
    moto: u16,
    global: u16,
    control: u16,
    regions: Vec<u16>,
}

fn check_free(port: u16, purpose: &str) -> Result<()> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(source) if source.kind() == std::io::ErrorKind::AddrInUse => Err(Error::PortInUse {
            port,
            purpose: purpose.to_owned(),
            holder: port_holder(port),
        }),
        Err(source) => Err(Error::Bind {
            port,
            purpose: purpose.to_owned(),
            source,
        }),
    }
}

/// Who holds TCP port `port` on this machine, as a busy-port error says it: `pid 123 (its
/// command line)` when Linux's `/proc` tells (the socket's inode in `/proc/net/tcp{,6}`, preferring
/// a listening socket, then the process with that inode among its file descriptors), "a process
/// of another user (socket inode N)" when the socket is seen but not its process, and "an unknown
/// process" otherwise (another system, or no socket seen).
pub fn port_holder(port: u16) -> String {
    let Some(inode) = socket_inode(port) else {
        return "an unknown process".into();
    };
    match process_with_socket(inode) {
        Some(pid) => {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            // Arguments separated by NULs, and any line break in them, on one line.
            let mut command = String::from_utf8_lossy(&cmdline)
                .split(|c: char| c == '\0' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            if command.is_empty() {
                command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .unwrap_or_default()
                    .trim()
                    .to_string();
            }
            if let Some((end, _)) = command.char_indices().nth(120) {
                command = format!("{}…", &command[..end]);
            }
            format!("pid {pid} ({command})")
        }
        None => format!("a process of another user (socket inode {inode})"),
    }
}

/// The inode of a TCP socket bound to local port `port` (a listening one first), from
/// `/proc/net/tcp` and `/proc/net/tcp6`.
fn socket_inode(port: u16) -> Option<u64> {
    let mut found: Vec<(bool, u64)> = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(st), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            let inode = inode.parse::<u64>().unwrap_or(0);
            if local_port == Some(port) && inode != 0 {
                // State 0A is LISTEN.
                found.push((*st == "0A", inode));
            }
        }
    }
    found.sort_by_key(|(listening, _)| !listening);
    found.first().map(|(_, inode)| *inode)
}

/// The process that has socket `inode` among its file descriptors, if this user may see it.
fn process_with_socket(inode: u64) -> Option<u32> {
    let target = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

fn free_port(taken: &[u16]) -> Result<u16> {
    for _ in 0..32 {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|source| Error::Bind {
                port: 0,
                purpose: "picking a free port".into(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| Error::Bind {
                port: 0,
                purpose: "picking a free port".into(),
                source,
            })?
            .port();
        if !taken.contains(&port) {
            return Ok(port);
        }
    }
    Err(Error::Config("cannot find enough free ports".into()))
}

impl LocalCloud {
    /// The local cloud recorded in (or to be started from) `state_dir`.
    pub fn new(state_dir: PathBuf, config: LocalCloudConfig) -> Self {
        LocalCloud { state_dir, config }
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `STATE_DIR/local-cloud.json`.
    pub fn record_path(&self) -> PathBuf {
        self.state_dir.join(RECORD_FILE)
    }

    /// The record, if the local cloud was started (it may have died since).
    pub fn record(&self) -> Result<Option<LocalCloudRecord>> {
        read_record(&self.state_dir)
    }

    /// Starts moto and the gateway (`gateway_exe gateway_args...`) in the background, installing
    /// moto first when it is missing; progress goes to `tracing`. See [`LocalCloud::up_reporting`].
    pub fn up(&self, gateway_exe: &Path, gateway_args: &[String]) -> Result<LocalCloudStatus> {
        self.up_reporting(gateway_exe, gateway_args, &mut |line| {
            tracing::info!("{line}");
        })
    }

    /// [`LocalCloud::up`], telling `report` each step (installing moto, starting a daemon).
    ///
    /// # Errors
    /// [`Error::PortInUse`] naming a taken port; [`Error::MotoInstall`]; [`Error::DaemonExited`]
    /// or [`Error::DaemonNotReady`] naming the daemon's log. Nothing is left running then.
    pub fn up_reporting(
        &self,
        gateway_exe: &Path,
        gateway_args: &[String],
        report: &mut dyn FnMut(&str),
    ) -> Result<LocalCloudStatus> {
        create_private_dir(&self.state_dir).map_err(|source| Error::io(&self.state_dir, source))?;
        if let Some(record) = self.record()? {
            let mut status = self.status_of(&record);
            if status.running {
                status.notes.push("already running: nothing started".into());
                if record.regions != self.config.regions {
                    status.notes.push(format!(
                        "it serves {}; run `tandem local down` first to change the regions",
                        record.regions.join(", ")
                    ));
                }
                return Ok(status);
            }
            report("a previous local cloud is recorded but not healthy: stopping what is left");
            self.stop_record(&record)?;
        }
        let ports = self.plan_ports()?;
        let launcher = match MotoLauncher::find_here() {
            Some(launcher) => launcher,
            None => {
                report(&format!(
                    "moto is not installed: installing it with `python3 -m pip install '{MOTO_REQUIREMENT}'`"
                ));
                install_moto(PYTHON)?;
                MotoLauncher::find_here().ok_or_else(|| Error::MotoInstall {
                    command: format!("python3 -m pip install '{MOTO_REQUIREMENT}'"),
                    reason: "it succeeded, but neither `moto_server` nor `python3 -m moto.server` \
                             can be found"
                        .into(),
                })?
            }
        };

        let moto_log = self.state_dir.join(MOTO_LOG);
        report(&format!(
            "starting moto on http://127.0.0.1:{} (log {})",
            ports.moto,
            moto_log.display()
        ));
        let mut moto = launcher.spawn(ports.moto, &moto_log)?;
        let mut record = LocalCloudRecord {
            regions: self.config.regions.clone(),
            moto_port: ports.moto,
            global_port: ports.global,
            region_ports: ports.regions,
            control_port: ports.control,
            seed: self.config.seed,
            moto: DaemonRecord {
                pid: Some(moto.id()),
                program: "moto".into(),
                log: moto_log,
            },
            gateway: DaemonRecord {
                pid: None,
                program: gateway_exe
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                log: self.state_dir.join(GATEWAY_LOG),
            },
        };
        let started = self.start_gateway(&mut record, &mut moto, gateway_exe, gateway_args, report);
        if let Err(err) = started {
            // Leave nothing behind; the start-up error matters more than a cleanup error.
            let _ = self.stop_record(&record);
            return Err(err);
        }
        settle_health(&record, report);
        let mut status = self.status_of(&record);
        status.notes.push("started".into());
        Ok(status)
    }

    fn start_gateway(
        &self,
        record: &mut LocalCloudRecord,
        moto: &mut Child,
        gateway_exe: &Path,
        gateway_args: &[String],
        report: &mut dyn FnMut(&str),
    ) -> Result<()> {
        // Recorded at once, so `down` can clean up whatever happens next.
        self.write_record(record)?;
        wait_ready(
            "moto",
            moto,
            record.moto_port,
            "/",
            &record.moto.log,
            MOTO_START_TIMEOUT,
        )?;
        report(&format!(
            "starting the region gateway: control http://127.0.0.1:{} (log {})",
            record.control_port,
            record.gateway.log.display()
        ));
        let mut gateway =
            spawn_detached(gateway_exe.as_os_str(), gateway_args, &record.gateway.log)?;
        record.gateway.pid = Some(gateway.id());
        self.write_record(record)?;
        wait_ready(
            "region gateway",
            &mut gateway,
            record.control_port,
            "/health",
            &record.gateway.log,
            GATEWAY_START_TIMEOUT,
        )
    }

    fn plan_ports(&self) -> Result<PortPlan> {
        let config = &self.config;
        if config.regions.is_empty() {
            return Err(Error::Config(
                "the local cloud needs at least one region".into(),
            ));
        }
        let region_ports = if config.region_ports.is_empty() {
            vec![0; config.regions.len()]
        } else if config.region_ports.len() == config.regions.len() {
            config.region_ports.clone()
        } else {
            return Err(Error::Config(format!(
                "{} region ports for {} regions ({})",
                config.region_ports.len(),
                config.regions.len(),
                config.regions.join(", ")
            )));
        };
        let mut wanted = vec![
            (config.moto_port, "moto".to_owned()),
            (config.global_port, "gateway global services".to_owned()),
            (config.control_port, "gateway control".to_owned()),
        ];
        for (region, port) in config.regions.iter().zip(&region_ports) {
            wanted.push((*port, format!("gateway region {region}")));
        }
        let mut taken = Vec::new();
        for (port, purpose) in &wanted {
            if *port == 0 {
                continue;
            }
            if taken.contains(port) {
                return Err(Error::Config(format!("port {port} is given twice")));
            }
            check_free(*port, purpose)?;
            taken.push(*port);
        }
        let mut resolved = Vec::new();
        for (port, _) in &wanted {
            let port = match *port {
                0 => free_port(&taken)?,
                port => port,
            };
            taken.push(port);
            resolved.push(port);
        }
        Ok(PortPlan {
            moto: resolved[0],
            global: resolved[1],
            control: resolved[2],
            regions: resolved[3..].to_vec(),
        })
    }

    /// Stops the gateway, then moto (SIGTERM, SIGKILL after a grace period), and removes the
    /// record. Fine when nothing runs.
    pub fn down(&self) -> Result<DownOutcome> {
        let Some(record) = self.record()? else {
            return Ok(DownOutcome::NotRunning);
        };
        self.stop_record(&record)
    }

    fn stop_record(&self, record: &LocalCloudRecord) -> Result<DownOutcome> {
        let mut stopped = [None, None];
        for (slot, (daemon, what)) in stopped
            .iter_mut()
            .zip([(&record.gateway, "region gateway"), (&record.moto, "moto")])
        {
            let Some(pid) = daemon.pid else { continue };
            if alive(pid) && runs(pid, &daemon.program) {
                if process::stop(pid, what, STOP_GRACE)? {
                    tracing::warn!(pid, what, "did not stop on SIGTERM: killed");
                }
                *slot = Some(pid);
            }
        }
        let path = self.record_path();
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::io(path, source)),
        }
        Ok(DownOutcome::Stopped {
            gateway_pid: stopped[0],
            moto_pid: stopped[1],
        })
    }

    /// Whether the daemons run and each endpoint answers (probes take up to a second each).
    pub fn status(&self) -> Result<LocalCloudStatus> {
        match self.record()? {
            Some(record) => Ok(self.status_of(&record)),
            None => Ok(LocalCloudStatus {
                running: false,
                record: self.record_path(),
                moto: None,
                gateway: None,
                control_url: None,
                global: None,
                regions: Vec::new(),
                notes: vec!["not running".into()],
            }),
        }
    }

    fn status_of(&self, record: &LocalCloudRecord) -> LocalCloudStatus {
        let daemon = |daemon: &DaemonRecord, port: u16, probe: &str, want_ok: bool| {
            let alive = daemon
                .pid
                .is_some_and(|pid| alive(pid) && runs(pid, &daemon.program));
            let status = alive
                .then(|| http_status(port, probe, PROBE_TIMEOUT))
                .flatten();
            ProcessStatus {
                pid: daemon.pid,
                port,
                alive,
                answers: status.is_some_and(|s| !want_ok || s == 200),
                log: daemon.log.clone(),
            }
        };
        let moto = daemon(&record.moto, record.moto_port, "/", false);
        let gateway = daemon(&record.gateway, record.control_port, "/health", true);
        let mut notes = Vec::new();
        for (what, process) in [("moto", &moto), ("region gateway", &gateway)] {
            if !process.alive {
                notes.push(format!(
                    "{what} is not running (log {})",
                    process.log.display()
                ));
            } else if !process.answers {
                notes.push(format!(
                    "{what} runs but does not answer on port {}",
                    process.port
                ));
            }
        }
        let global = EndpointStatus {
            name: crate::fault::GLOBAL.to_owned(),
            endpoint: record.global_endpoint(),
            port: record.global_port,
            health_url: None,
            answers: gateway.alive && http_status(record.global_port, "/", PROBE_TIMEOUT).is_some(),
            detail: None,
        };
        let regions = record
            .regions
            .iter()
            .zip(&record.region_ports)
            .map(|(region, port)| {
                let answer = gateway
                    .alive
                    .then(|| http_answer(*port, HEALTH_PATH, HEALTH_PROBE_TIMEOUT))
                    .flatten();
                EndpointStatus {
                    name: region.clone(),
                    endpoint: format!("http://127.0.0.1:{port}"),
                    port: *port,
                    health_url: Some(format!("http://127.0.0.1:{port}{HEALTH_PATH}")),
                    answers: answer.as_ref().is_some_and(|(status, _)| *status == 200),
                    detail: answer
                        .filter(|(status, _)| *status != 200)
                        .map(|(status, line)| {
                            if line.is_empty() {
                                format!("HTTP {status}")
                            } else {
                                line
                            }
                        }),
                }
            })
            .collect();
        LocalCloudStatus {
            running: moto.alive && moto.answers && gateway.alive && gateway.answers,
            record: self.record_path(),
            control_url: Some(record.control_url()),
            moto: Some(moto),
            gateway: Some(gateway),
            global: Some(global),
            regions,
            notes,
        }
    }

    fn write_record(&self, record: &LocalCloudRecord) -> Result<()> {
        let path = self.record_path();
        let temporary = self.state_dir.join(format!("{RECORD_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(record).map_err(|source| Error::Record {
            path: path.clone(),
            source,
        })?;
        write_private(&temporary, &json).map_err(|source| Error::io(&temporary, source))?;
        // A rename is atomic: the gateway daemon never reads half a record.
        std::fs::rename(&temporary, &path).map_err(|source| Error::io(&path, source))
    }
}

/// Waits, within [`HEALTH_SETTLE_TIMEOUT`], until no region's health endpoint says its health is
/// unknown (moto still loading), so that the status `up` reports says what the regions have.
fn settle_health(record: &LocalCloudRecord, report: &mut dyn FnMut(&str)) {
    let deadline = Instant::now() + HEALTH_SETTLE_TIMEOUT;
    let mut told = false;
    for port in &record.region_ports {
        loop {
            let unknown = http_answer(*port, HEALTH_PATH, HEALTH_PROBE_TIMEOUT)
                .is_some_and(|(_, line)| line.starts_with(HEALTH_UNKNOWN));
            if !unknown || Instant::now() >= deadline {
                break;
            }
            if !told {
                report(
                    "waiting for moto's first Auto Scaling answer (the health endpoints need it)",
                );
                told = true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn read_record(state_dir: &Path) -> Result<Option<LocalCloudRecord>> {
    let path = state_dir.join(RECORD_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::io(path, source)),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|source| Error::Record { path, source })
}

/// Waits until `GET path` on `port` answers, or the child exits, or `within` passes.
fn wait_ready(
    what: &str,
    child: &mut Child,
    port: u16,
    path: &str,
    log: &Path,
    within: Duration,
) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::DaemonExited {
                what: what.to_owned(),
                status: status.to_string(),
                log: log.to_owned(),
            });
        }
        if http_status(port, path, PROBE_TIMEOUT).is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::DaemonNotReady {
                what: what.to_owned(),
                port,
                secs: within.as_secs(),
                log: log.to_owned(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the gateway daemon runs (`tandem local serve-gateway --state-dir DIR`): serves the gateway
/// recorded in `state_dir` until SIGTERM or SIGINT, or until moto is gone.
///
/// # Errors
/// [`Error::NotRecorded`] without a record; the gateway's start-up errors.
pub async fn serve_gateway_from_state(state_dir: &Path) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let record = read_record(state_dir)?.ok_or_else(|| Error::NotRecorded {
        path: state_dir.join(RECORD_FILE),
    })?;
    let mut terminate = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
    let gateway = Gateway::start(record.gateway_config()).await?;
    let moto_pid = record.moto.pid;
    let mut moto_check = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = moto_check.tick() => {
                if moto_pid.is_some_and(|pid| !alive(pid)) {
                    tracing::warn!(pid = ?moto_pid, "moto is gone: stopping the region gateway");
                    break;
                }
            }
        }
    }
    gateway.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_is_found_on_path_or_not_at_all() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let nowhere = OsStr::new("/nonexistent/python3");
        assert!(MotoLauncher::find(dir.path().as_os_str(), "/nonexistent/python3").is_none());
        let fake = dir.path().join("moto_server");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = MotoLauncher::find(dir.path().as_os_str(), &nowhere.to_string_lossy());
        assert!(matches!(found, Some(MotoLauncher::Binary(path)) if path == fake));
    }

    #[test]
    fn a_failed_install_names_the_command() {
        let err = install_moto("/nonexistent/python3")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/nonexistent/python3 -m pip install 'moto[server]==5.2.*'"),
            "{err}"
        );
        let err = install_moto("false").unwrap_err().to_string();
        assert!(err.contains("false -m pip install"), "{err}");
    }

    #[test]
    fn conventional_ports() {
        let config = LocalCloudConfig::default();
        assert_eq!(config.region_ports, [24563, 24564]);
        assert_eq!(
            (config.moto_port, config.global_port, config.control_port),
            (24560, 24561, 24562)
        );
    }
}
