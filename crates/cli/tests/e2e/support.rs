//! Running `tandem` in a scratch directory against the test binary's moto.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to the end and keeps what it said.
    pub fn of(cmd: &mut Command) -> Run {
        let out: Output = cmd.output().expect("run tandem");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn text(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The end-to-end tests share one moto; each holds this while it runs, one at a time.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the serial lock, even after another test panicked holding it.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A scratch working directory (state lives under it) and the moto endpoint.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
}

pub fn environments() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments")
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
            endpoint: tandem_testkit::moto().endpoint(),
        }
    }

    /// Runs `tandem ARGS` with the local environment pointed at moto through `AWS_ENDPOINT_URL`.
    pub fn tandem(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .arg("--environments")
            .arg(environments())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env_remove("PRIMARY_REGION")
            .env_remove("SECONDARY_REGION")
            .env_remove("DOMAIN_NAME")
            .env_remove("RTO_MINUTES")
            .env_remove("RPO_MINUTES")
            .env_remove("TANDEM_ENV");
        for (k, v) in tandem_testkit::test_credentials_env() {
            cmd.env(k, v);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Run::of(&mut cmd)
    }

    /// Runs the independent boto3 check `verify.py COMMAND` and parses its JSON answer.
    pub fn verify(&self, command: &str) -> serde_json::Value {
        boto3_json("verify.py", command, &self.endpoint)
    }
}

/// A scratch local cloud of environment `env`: a region gateway for us-east-1 and us-west-2 in
/// front of `moto` (on its own tokio runtime), and a scratch directory with the environment file
/// that points at it ([`write_gateway_environment`]).
pub fn gateway_environment(
    env: &str,
    moto: &str,
) -> (
    tempfile::TempDir,
    tokio::runtime::Runtime,
    tandem_localcloud::RunningGateway,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let gateway = runtime
        .block_on(tandem_localcloud::Gateway::start(
            tandem_localcloud::GatewayConfig::new(
                moto,
                vec!["us-east-1".into(), "us-west-2".into()],
            ),
        ))
        .expect("start the region gateway");
    let dir = tempfile::tempdir().unwrap();
    write_gateway_environment(dir.path(), env, moto, &gateway);
    (dir, runtime, gateway)
}

/// Writes `DIR/environments/ENV.toml` for a scratch local cloud: us-east-1 primary, us-west-2
/// secondary, each region pointed at its port of `gateway` (in front of `moto`), HTTP only,
/// nothing protected.
fn write_gateway_environment(
    dir: &Path,
    env: &str,
    moto: &str,
    gateway: &tandem_localcloud::RunningGateway,
) {
    let port = |url: &str| -> u16 {
        url.trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"))
    };
    let envs = dir.join("environments");
    std::fs::create_dir_all(&envs).unwrap();
    std::fs::write(
        envs.join(format!("{env}.toml")),
        format!(
            r#"[environment]
primary_region = "us-east-1"
secondary_region = "us-west-2"
domain_name = "{env}.tandem-test.example"
account_id = "123456789012"
stackset_admin_region = "us-west-2"
http_only = true
protect_stateful = false

[local_cloud]
moto_port = {moto_port}
global_port = {global}
control_port = {control}
region_ports = [{east}, {west}]
"#,
            moto_port = port(moto),
            global = port(&gateway.global_endpoint()),
            control = port(&gateway.control_url()),
            east = gateway.region_port("us-east-1").unwrap(),
            west = gateway.region_port("us-west-2").unwrap(),
        ),
    )
    .unwrap();
}

/// `tandem ARGS --env ENV --environments DIR/environments`, to run in `dir` with the test
/// credentials and none of this process's endpoint or environment overrides.
pub fn local_cloud_command(dir: &Path, env: &str, args: &[&str]) -> Command {
    let mut cmd = tandem_in(dir, args, &dir.join("environments"));
    cmd.args(["--env", env])
        .envs(tandem_testkit::test_credentials_env());
    cmd
}

/// `tandem ARGS --environments ENVIRONMENTS` run in `dir`, with none of the variables that would
/// override its environment (endpoint, environment and stack names, the seed's overrides).
pub fn tandem_in(dir: &Path, args: &[&str], environments: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
    cmd.current_dir(dir)
        .args(args)
        .arg("--environments")
        .arg(environments)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("TANDEM_ENV")
        .env_remove("TANDEM_STACK")
        .env_remove("PRIMARY_REGION")
        .env_remove("SECONDARY_REGION")
        .env_remove("DOMAIN_NAME")
        .env_remove("RTO_MINUTES")
        .env_remove("RPO_MINUTES");
    cmd
}

/// The failover facts of environment `env`, read from moto with boto3 by `failover_facts.py`
/// (independently of Tandem's own read code).
pub fn failover_facts(env: &str, moto: &str) -> serde_json::Value {
    boto3_json("failover_facts.py", env, moto)
}

/// Changes the cloud behind Tandem's back with boto3 (`cloud_edit.py`): `args` as that script
/// documents (`replica-lag REGION ID SECONDS`, `delete-record ENV PRIMARY|SECONDARY`).
pub fn cloud_edit(moto: &str, args: &[&str]) -> serde_json::Value {
    boto3_json_args("cloud_edit.py", args, moto)
}

/// Runs the boto3 script `tests/e2e/SCRIPT ARG` against moto and parses the JSON it prints.
fn boto3_json(script: &str, arg: &str, moto: &str) -> serde_json::Value {
    boto3_json_args(script, &[arg], moto)
}

/// Runs the boto3 script `tests/e2e/SCRIPT ARGS...` against moto and parses the JSON it prints.
pub fn boto3_json_args(script: &str, args: &[&str], moto: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(script);
    let mut cmd = Command::new("python3");
    cmd.arg(path).args(args);
    python_json(&format!("{script} {}", args.join(" ")), cmd, moto)
}

/// Runs the Python command `cmd` against moto (its endpoint in `MOTO_ENDPOINT`, the test
/// credentials) and parses the JSON it prints; `what` names it in a failure.
pub fn python_json(what: &str, mut cmd: Command, moto: &str) -> serde_json::Value {
    let out = cmd
        .env("MOTO_ENDPOINT", moto)
        .envs(tandem_testkit::test_credentials_env())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what} prints JSON: {e}"))
}
