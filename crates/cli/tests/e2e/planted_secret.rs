//! Issue 13, "secrets never leak": the database password Tandem had Secrets Manager generate is
//! found nowhere but where it must be. The multi-region stack is deployed on the local cloud (moto
//! behind the region gateway); the password is read back with boto3 (`GetSecretValue`, never
//! through Tandem); then every command runs with `RUST_LOG=trace`, and the test searches
//!
//! - every line each command printed, stdout and stderr (the trace included);
//! - every file under the working directory (`.tandem/`: state, journal, lock, audit log, drill
//!   reports; the saved plans and previews written there; the environment file);
//! - the region gateway's call log (the local cloud's only log: moto's own output is discarded by
//!   the test kit);
//! - the emulator's data: moto's `GET /moto-api/data.json` dump, except the two places that must
//!   hold the password and where moto keeps it in plain text: the Secrets Manager secret's own
//!   value (its versions' `secret_string`) and the RDS instances' `master_user_password` (AWS
//!   keeps it hashed; the emulator does not). Both are counted, so that a search that could not
//!   find anything fails too.
//!
//! for the password and the value's plain encodings (as JSON, as a form-encoded request carries
//! it, base64) and its bare SHA-256 and SHA-1 digests (hex): 0 occurrences.
//!
//! The test runs its own moto: moto 5.2.1's dump fails (HTTP 500) as soon as an RDS instance
//! exists (its `db_subnet_group_name` is a property whose getter raises `NotImplementedError`, an
//! exception the dump does not catch). Its moto's dump skips any attribute whose getter raises,
//! as moto's skips one that is not JSON; nothing else in moto changes.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::failover::LocalCloud;
use crate::support::Run;

/// What the commands printed, with the command that printed it.
struct Transcript {
    runs: Vec<(String, Run)>,
}

impl Transcript {
    /// Runs `tandem ARGS` with `RUST_LOG=trace` and keeps what it printed; checks its exit code
    /// is one of `codes`.
    fn run(&mut self, c: &LocalCloud, args: &[&str], codes: &[i32]) -> &Run {
        self.run_with(c, args, &[], codes)
    }

    /// Likewise, with the environment variables `vars` set too.
    fn run_with(
        &mut self,
        c: &LocalCloud,
        args: &[&str],
        vars: &[(&str, &str)],
        codes: &[i32],
    ) -> &Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        cmd.current_dir(c.dir.path())
            .args(args)
            .args(["--env", &c.env, "--environments"])
            .arg(c.dir.path().join("environments"))
            .env("RUST_LOG", "trace")
            .env("NO_COLOR", "1")
            .env_remove("LOG_SENSITIVE_BODIES")
            .env_remove("LOG_SIGNABLE_BODY")
            .env_remove("AWS_ENDPOINT_URL")
            .envs(tandem_testkit::test_credentials_env())
            .envs(vars.iter().copied());
        let run = Run::of(&mut cmd);
        assert!(
            codes.contains(&run.code),
            "tandem {args:?} exited {}, expected one of {codes:?}:\n{}",
            run.code,
            tail(&run.text(), 4000)
        );
        self.runs.push((args.join(" "), run));
        &self.runs.last().unwrap().1
    }
}

fn tail(text: &str, n: usize) -> &str {
    let start = text.len().saturating_sub(n);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[start..]
}

/// The secret's value and the forms it could be printed in.
struct Planted {
    password: String,
    forms: Vec<(&'static str, String)>,
}

/// Reads the secret `tandem/ENV/database` from moto with boto3 and derives the forms to search.
fn planted(moto: &str, env: &str) -> Planted {
    let script = r#"
import base64, hashlib, json, os, sys
import boto3
name = sys.argv[1]
sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=os.environ["MOTO_ENDPOINT"])
value = sm.get_secret_value(SecretId=name)["SecretString"]
password = json.loads(value)["password"]
from urllib.parse import quote_plus
print(json.dumps({
    "secret_string": value,
    "password": password,
    "json": json.dumps(password)[1:-1],
    "json_twice": json.dumps(json.dumps(password)[1:-1])[1:-1],
    "form": quote_plus(password),
    "base64": base64.b64encode(password.encode()).decode(),
    "sha256": hashlib.sha256(password.encode()).hexdigest(),
    "sha256_of_value": hashlib.sha256(value.encode()).hexdigest(),
    "sha1": hashlib.sha1(password.encode()).hexdigest(),
}))
"#;
    let v = python_json(
        "GetSecretValue",
        script,
        &format!("tandem/{env}/database"),
        moto,
    );
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    let password = s("password");
    assert!(password.len() >= 20, "a generated password: {v}");
    let mut forms = Vec::new();
    for k in [
        "secret_string",
        "password",
        "json",
        "json_twice",
        "form",
        "base64",
        "sha256",
        "sha256_of_value",
        "sha1",
    ] {
        forms.push((k, s(k)));
    }
    for k in ["sha256", "sha256_of_value", "sha1"] {
        forms.push((k, s(k).to_uppercase()));
    }
    Planted { password, forms }
}

impl Planted {
    /// The forms of the secret found in `text`.
    fn found_in(&self, text: &str) -> Vec<&'static str> {
        let mut found: Vec<&str> = self
            .forms
            .iter()
            .filter(|(_, f)| text.contains(f.as_str()))
            .map(|(k, _)| *k)
            .collect();
        found.dedup();
        found
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every string in `v` that holds a form of the secret, with its JSON path.
fn strings_holding(v: &Value, path: &mut Vec<String>, p: &Planted, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let found = p.found_in(s);
            if !found.is_empty() {
                out.push(format!("{} ({})", path.join("."), found.join(", ")));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                strings_holding(item, path, p, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let found = p.found_in(k);
                if !found.is_empty() {
                    out.push(format!("{}.<key> ({})", path.join("."), found.join(", ")));
                }
                path.push(k.clone());
                strings_holding(item, path, p, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Whether moto must hold the password at `path` (a path from [`strings_holding`]): a Secrets
/// Manager secret's value, or an RDS instance's master password.
fn legitimate_holder(path: &str) -> bool {
    let head = path.split(' ').next().unwrap_or_default();
    let last = head.rsplit('.').next().unwrap_or_default();
    (head.starts_with("secretsmanager.") && last == "secret_string")
        || (head.starts_with("rds.") && last == "master_user_password")
}

/// moto's data dump (`GET /moto-api/data.json`).
fn moto_data(moto: &str) -> Value {
    let script = "import sys, urllib.request\n\
                  sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())";
    python_json(
        "GET /moto-api/data.json",
        script,
        &format!("{moto}/moto-api/data.json"),
        moto,
    )
}

/// Runs the Python `script` with `arg` against moto and parses the JSON it prints.
fn python_json(what: &str, script: &str, arg: &str, moto: &str) -> Value {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script, arg]);
    crate::support::python_json(what, cmd, moto)
}

/// A moto server of this test's own, on a free loopback port, whose data dump works with RDS
/// instances (see the module's notes); stopped when dropped.
struct OwnMoto {
    child: std::process::Child,
    endpoint: String,
}

/// moto's server, with a data dump that skips an attribute whose getter raises, as moto's own
/// skips one that is not JSON (moto's catches only `TypeError`, `AttributeError` and
/// `ValueError`); otherwise moto's `model_data` as it is.
const MOTO_WITH_A_ROBUST_DUMP: &str = "\
import json, sys
from moto.moto_api._internal import responses as api

def model_data(self, request, full_url, headers):
    from moto.core.model_instances import model_data
    results = {}
    for service in sorted(model_data):
        results[service] = {}
        for name in sorted(model_data[service]):
            results[service][name] = []
            for instance in model_data[service][name].instances_tracked:
                found = {}
                for attr in dir(instance):
                    if attr.startswith('_'):
                        continue
                    try:
                        value = getattr(instance, attr)
                        json.dumps(value)
                    except Exception:
                        continue
                    found[attr] = value
                results[service][name].append(found)
    return 200, {'Content-Type': 'application/javascript'}, json.dumps(results)

api.MotoAPIResponse.model_data = model_data
from moto.server import main
main(sys.argv[1:])
";

impl OwnMoto {
    fn start() -> OwnMoto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-c", MOTO_WITH_A_ROBUST_DUMP])
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto");
        let moto = OwnMoto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < until, "moto did not start");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        moto
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `c` with its region gateway in front of `moto` instead of the shared one.
fn on_moto(c: LocalCloud, moto: &str) -> LocalCloud {
    let LocalCloud {
        dir, env, runtime, ..
    } = c;
    let gateway = runtime
        .block_on(tandem_localcloud::Gateway::start(
            tandem_localcloud::GatewayConfig::new(
                moto.to_string(),
                vec!["us-east-1".into(), "us-west-2".into()],
            ),
        ))
        .expect("start the region gateway");
    let port_of = |url: String| {
        url.trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .to_string()
    };
    let file = dir.path().join(format!("environments/{env}.toml"));
    let text = std::fs::read_to_string(&file).unwrap();
    let text: Vec<String> = text
        .lines()
        .map(|l| match l.split(" =").next().unwrap_or_default() {
            "moto_port" => format!("moto_port = {}", port_of(moto.to_string())),
            "global_port" => format!("global_port = {}", port_of(gateway.global_endpoint())),
            "control_port" => format!("control_port = {}", port_of(gateway.control_url())),
            "region_ports" => format!(
                "region_ports = [{}, {}]",
                gateway.region_port("us-east-1").unwrap(),
                gateway.region_port("us-west-2").unwrap()
            ),
            _ => l.to_string(),
        })
        .collect();
    std::fs::write(&file, text.join("\n") + "\n").unwrap();
    LocalCloud {
        dir,
        env,
        gateway,
        runtime,
        moto: moto.to_string(),
    }
}

#[test]
fn the_database_password_is_nowhere_but_in_its_secret() {
    let _serial = crate::support::serial();
    let moto = OwnMoto::start();
    let c = on_moto(LocalCloud::new("planted"), &moto.endpoint);
    let mut t = Transcript { runs: Vec::new() };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        t.run(&c, &["deploy", "all", "--yes"], &[0]);
        let secret = planted(&c.moto, &c.env);
        every_command(&c, &mut t);
        // Before the destroy, while moto holds the most: the databases, the secret's value.
        (secret, moto_data(&c.moto))
    }));
    // Whatever happened, leave moto empty for the next test.
    t.run(&c, &["destroy", "--yes"], &[0, 1]);
    let (secret, data) = match result {
        Ok(found) => found,
        Err(e) => std::panic::resume_unwind(e),
    };
    let destroy = &t.runs.last().unwrap().1;
    assert_eq!(destroy.code, 0, "destroy: {}", tail(&destroy.text(), 4000));
    search_everything(&c, &t, &secret, &data);
}

/// After the deploy (the first run), runs every command but `destroy`, which the test runs last.
fn every_command(c: &LocalCloud, t: &mut Transcript) {
    let deploy = t.runs[0].1.stderr.clone();
    let deploy_out = t.runs[0].1.stdout.clone();
    // The subscriber is installed: the trace reached stderr, and stdout kept only the output.
    assert!(
        deploy.contains("TRACE") && deploy.contains("aws_smithy_runtime"),
        "RUST_LOG=trace prints a trace on stderr: {}",
        tail(&deploy, 2000)
    );
    assert!(!deploy_out.contains("TRACE"), "the trace is on stderr only");
    // The SDK redacted the generated password's response (GetRandomPassword), and printed each
    // request it sent with an opaque body, never its bytes.
    assert!(
        deploy.contains("** REDACTED **"),
        "the SDK redacts sensitive responses"
    );
    let requests: Vec<&str> = deploy
        .lines()
        .filter(|l| l.contains("transmitting request"))
        .collect();
    assert!(!requests.is_empty(), "the trace shows the requests sent");
    if let Some(l) = requests.iter().find(|l| !l.contains("inner: BoxBody")) {
        panic!("the SDK printed a request's body: {}", tail(l, 600));
    }
    // With the SDK's switches that print sensitive bodies, Tandem prints no trace at all.
    for var in ["LOG_SENSITIVE_BODIES", "LOG_SIGNABLE_BODY"] {
        let r = t.run_with(c, &["state", "list"], &[(var, "true")], &[0]);
        assert!(
            r.stderr
                .contains(&format!("{var} is set: ignoring RUST_LOG"))
                && !r.stderr.contains("TRACE"),
            "{}",
            r.text()
        );
    }
    let plans = c.dir.path().join("plans");
    std::fs::create_dir_all(&plans).unwrap();
    let saved = plans.join("next.plan");
    let saved = saved.to_str().unwrap();
    for args in [
        &["plan"][..],
        &["plan", "--json"],
        &["plan", "--detailed-exitcode"],
        &["plan", "--out", saved],
        &["apply", "--yes"],
        &["preview"],
        &["preview", "--format", "json", "--out", "plans/preview.json"],
        &["preview", "--format", "text", "--out", "plans/preview.txt"],
        &[
            "preview",
            "--format",
            "markdown",
            "--out",
            "plans/preview.md",
        ],
        &["refresh"],
        &["output"],
        &["output", "--json"],
        &["state", "list"],
        &["status"],
        &["status", "--json"],
        &["check-health"],
        &["check-health", "--json"],
        &["template"],
        &["iam-policy"],
        &["iam-policy", "--read-only"],
    ] {
        t.run(c, args, &[0]);
    }
    // Whatever they answer here (no daemon of `local up` runs: the test started the gateway; no
    // lock is held), what they print is searched too. `local up` and `local down` are left out:
    // they would start or stop a local cloud on the environment's ports, which the test's own hold.
    t.run(c, &["local", "status"], &[0, 1]);
    t.run(c, &["state", "unlock", "--force"], &[0, 1, 4]);
    if Path::new(saved).exists() {
        t.run(c, &["apply", saved, "--yes"], &[0]);
    }
    let listed = t.runs.iter().find(|(a, _)| a == "state list").unwrap();
    let addresses: Vec<String> = listed
        .1
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|a| a.contains(':') && a.contains('/'))
        .map(str::to_string)
        .collect();
    assert!(
        addresses
            .iter()
            .any(|a| a.contains("secretsmanager:DatabaseSecret")),
        "the state lists the secret: {}",
        listed.1.stdout
    );
    for addr in &addresses {
        t.run(c, &["state", "show", addr], &[0]);
    }
    t.run(c, &["simulate-outage", "--region", "us-east-1"], &[0]);
    t.run(
        c,
        &["simulate-outage", "--region", "us-east-1", "--restore"],
        &[0],
    );
    // A drill (outage, failover, verification, restore), then back; a failover and a failback.
    t.run(c, &["drill", "--yes", "--interval", "1"], &[0, 7, 8]);
    t.run(c, &["failback", "--plan"], &[0]);
    t.run(c, &["failback", "--yes"], &[0]);
    t.run(c, &["failover", "--plan"], &[0]);
    t.run(c, &["failover", "--yes"], &[0]);
    t.run(c, &["failback", "--yes"], &[0]);
    t.run(c, &["status"], &[0]);
}

fn search_everything(c: &LocalCloud, t: &Transcript, secret: &Planted, data: &Value) {
    let mut leaks = Vec::new();
    let mut lines = 0;
    for (args, run) in &t.runs {
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            for (i, line) in text.lines().enumerate() {
                lines += 1;
                let found = secret.found_in(line);
                if !found.is_empty() {
                    leaks.push(format!(
                        "`tandem {args}` {stream} line {}: {} ({})",
                        i + 1,
                        found.join(", "),
                        tail(line, 300)
                    ));
                }
            }
        }
    }
    let mut files = Vec::new();
    files_under(c.dir.path(), &mut files);
    let mut bytes = 0;
    for f in &files {
        let data = std::fs::read(f).unwrap();
        bytes += data.len();
        let found = secret.found_in(&String::from_utf8_lossy(&data));
        if !found.is_empty() {
            leaks.push(format!("file {}: {}", f.display(), found.join(", ")));
        }
    }
    assert!(
        files.iter().any(|f| f.ends_with("planted.state.json"))
            && files
                .iter()
                .any(|f| f.to_string_lossy().contains("reports")),
        "the state and the drill's report were searched: {files:?}"
    );
    let calls = c
        .runtime
        .block_on(tandem_localcloud::GatewayControl::new(c.gateway.control_url()).calls())
        .expect("the gateway's call log");
    let calls = serde_json::to_string(&calls).unwrap();
    let found = secret.found_in(&calls);
    if !found.is_empty() {
        leaks.push(format!("the gateway's call log: {}", found.join(", ")));
    }
    let mut held = Vec::new();
    strings_holding(data, &mut Vec::new(), secret, &mut held);
    let (legitimate, elsewhere): (Vec<String>, Vec<String>) =
        held.into_iter().partition(|p| legitimate_holder(p));
    leaks.extend(elsewhere.into_iter().map(|p| format!("moto's data: {p}")));
    eprintln!(
        "planted secret ({} characters): searched {} commands, {lines} lines, {} files \
         ({bytes} bytes), the gateway's call log and moto's data ({} legitimate holder(s)); {} \
         occurrence(s) elsewhere",
        secret.password.len(),
        t.runs.len(),
        files.len(),
        legitimate.len(),
        leaks.len()
    );
    assert!(
        leaks.is_empty(),
        "the database password leaked:\n{}",
        leaks.join("\n")
    );
    // The search can find it: moto keeps it in the secret's value and the instance's master
    // password.
    assert!(
        !legitimate.is_empty(),
        "the search found the password nowhere, not even in the secret itself: the search is broken"
    );
}
