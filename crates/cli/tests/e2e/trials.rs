//! Issue 12: crash trials and fault trials of the multi-region stack on the local cloud (moto
//! behind the region gateway), audited with boto3 (`trials.py`) — never through Tandem's own read
//! code.
//!
//! - [`crash_trials`]: `deploy all` (half of them), `failover` and `destroy`, each SIGKILLed at a moment drawn
//!   uniformly over a clean run's duration; the next run of the same command must converge, and
//!   the cloud then holds no duplicate and no orphan, the state parses, and `plan
//!   --detailed-exitcode` exits 0 (after `destroy`: nothing is left). `TANDEM_TRIALS` trials
//!   (default 3; `make trial-crash` runs 30), seed `TANDEM_TRIAL_SEED` (printed);
//!   `TANDEM_TRIAL_LATENCY_MS` delays every call at the gateway to widen the windows.
//! - [`fault_trials`]: throttling, HTTP 500 and latency, each at 20 %, in every AWS service of
//!   every region and the global listener; `deploy all`, `refresh`, `failover`, `failback` and
//!   `destroy` must succeed through retries. `TANDEM_FAULT_ROUNDS` rounds (default 1).
//! - [`the_emulator_killed_and_restarted_mid_run`]: moto dies in the middle of `deploy all` and
//!   comes back empty; the run fails with one clear error in bounded time, the state stays intact,
//!   and the next run converges.
//!
//! Each prints its figures (`--nocapture` shows them).

use std::fs::File;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tandem_localcloud::{Fault, FaultStats, GLOBAL, RunningGateway};

use crate::support::Run;

const REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];

/// The AWS services the stack calls (SigV4 signing names): the faults hit each of them, not the
/// simulated application health endpoint (which is not an API and is not retried).
const SERVICES: [&str; 13] = [
    "s3",
    "rds",
    "cloudformation",
    "route53",
    "monitoring",
    "autoscaling",
    "secretsmanager",
    "sts",
    "iam",
    "ec2",
    "elasticloadbalancing",
    "ssm",
    "kms",
];

/// How long one run may take before a trial calls it hung.
const RUN_BOUND: Duration = Duration::from_secs(600);

fn count(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v:?} is not a count")),
        Err(_) => default,
    }
}

/// The trials' seed: `TANDEM_TRIAL_SEED`, else drawn from the clock (and printed).
fn seed() -> u64 {
    match std::env::var("TANDEM_TRIAL_SEED") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("TANDEM_TRIAL_SEED={v:?} is not a number")),
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                % 1_000_000
        }
    }
}

/// SplitMix64: a seedable source for the kill moments.
struct Draw(u64);

impl Draw {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn last_chars(text: &str, n: usize) -> &str {
    let start = text.len().saturating_sub(n);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

/// A scratch directory whose environment file points each region at a region gateway in front
/// of `moto`.
struct TrialCloud {
    dir: tempfile::TempDir,
    env: String,
    gateway: RunningGateway,
    runtime: tokio::runtime::Runtime,
    moto: String,
}

impl TrialCloud {
    fn new(env: &str, moto: &str) -> TrialCloud {
        let (dir, runtime, gateway) = crate::support::gateway_environment(env, moto);
        TrialCloud {
            dir,
            env: env.to_string(),
            gateway,
            runtime,
            moto: moto.to_string(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        crate::support::local_cloud_command(self.dir.path(), &self.env, args)
    }

    fn tandem(&self, args: &[&str]) -> Run {
        Run::of(&mut self.command(args))
    }

    /// Starts `tandem ARGS` in the background, its output going to files.
    fn spawn(&self, args: &[&str]) -> Running {
        let out = self.dir.path().join("run.out");
        let err = self.dir.path().join("run.err");
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .expect("start tandem");
        Running {
            child,
            started: Instant::now(),
            out,
            err,
        }
    }

    /// Runs `tandem ARGS` to the end, or SIGKILLs it at `kill_at` (or at [`RUN_BOUND`]).
    fn run_until(&self, args: &[&str], kill_at: Option<Duration>) -> Ended {
        self.spawn(args)
            .end(kill_at.unwrap_or(RUN_BOUND).min(RUN_BOUND))
    }

    fn journal_lines(&self) -> usize {
        std::fs::read_to_string(
            self.dir
                .path()
                .join(format!(".tandem/state/multi-region/{}.journal", self.env)),
        )
        .map(|j| j.lines().count())
        .unwrap_or(0)
    }

    fn state_file(&self) -> PathBuf {
        self.dir.path().join(format!(
            ".tandem/state/multi-region/{}.state.json",
            self.env
        ))
    }

    /// The boto3 audit of this environment against its state file.
    fn audit(&self) -> Value {
        let state = self.state_file();
        crate::support::boto3_json_args(
            "trials.py",
            &["audit", &self.env, state.to_str().unwrap()],
            &self.moto,
        )
    }

    /// What is wrong after a run that should have converged: duplicates, orphans, a state that
    /// does not parse, a plan with changes (or, with `empty`, anything left in the cloud).
    fn check(&self, empty: bool) -> Problems {
        let mut p = Problems::default();
        let audit = self.audit();
        let list = |key: &str| -> Vec<String> {
            audit[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        p.duplicates = list("duplicates");
        p.orphans = list("orphans");
        if let Some(e) = audit["state_error"].as_str() {
            p.other.push(format!("the state does not parse: {e}"));
        }
        let listed = self.tandem(&["state", "list"]);
        if listed.code != 0 {
            p.other.push(format!(
                "tandem state list: {}",
                last_chars(&listed.text(), 3000)
            ));
        }
        if empty {
            let left: Vec<String> = audit["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{} {} in {}", r["kind"], r["name"], r["region"]))
                .collect();
            if !left.is_empty() {
                p.other.push(format!("left after destroy: {left:?}"));
            }
            if audit["state"]["resources"].as_u64().unwrap_or(0) != 0 {
                p.other.push(format!(
                    "the state still holds resources: {}",
                    listed.stdout
                ));
            }
        } else {
            let plan = self.tandem(&["plan", "--detailed-exitcode"]);
            if plan.code != 0 {
                p.other.push(format!(
                    "plan --detailed-exitcode: {}",
                    last_chars(&plan.text(), 4000)
                ));
            }
        }
        p
    }

    fn control(&self) -> tandem_localcloud::GatewayControl {
        self.gateway.control()
    }

    fn stats(&self) -> FaultStats {
        self.runtime.block_on(self.control().stats()).unwrap()
    }
}

/// A `tandem` run in the background.
struct Running {
    child: Child,
    started: Instant,
    out: PathBuf,
    err: PathBuf,
}

impl Running {
    /// Waits for the run to end, SIGKILLing it at `deadline` after its start.
    fn end(mut self, deadline: Duration) -> Ended {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if self.started.elapsed() >= deadline {
                self.child.kill().unwrap(); // SIGKILL
                self.child.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        Ended {
            run: Run {
                code: status.and_then(|s| s.code()).unwrap_or(-9),
                stdout: read(&self.out),
                stderr: read(&self.err),
            },
            killed: status.is_none(),
            elapsed: self.started.elapsed(),
        }
    }
}

/// A run, ended by itself or by SIGKILL.
struct Ended {
    run: Run,
    killed: bool,
    elapsed: Duration,
}

#[derive(Default)]
struct Problems {
    duplicates: Vec<String>,
    orphans: Vec<String>,
    other: Vec<String>,
}

impl Problems {
    fn none(&self) -> bool {
        self.duplicates.is_empty() && self.orphans.is_empty() && self.other.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Deploy,
    Failover,
    Destroy,
}

/// Where an environment stands between trials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Posture {
    Empty,
    Deployed,
    FailedOver,
}

impl Kind {
    fn args(self) -> &'static [&'static str] {
        match self {
            Kind::Deploy => &["deploy", "all", "--yes"],
            Kind::Failover => &["failover", "--yes"],
            Kind::Destroy => &["destroy", "--yes"],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Deploy => "deploy all",
            Kind::Failover => "failover",
            Kind::Destroy => "destroy",
        }
    }

    /// Whether the command can start from `posture`.
    fn starts_from(self, posture: Posture) -> bool {
        match self {
            Kind::Deploy => posture == Posture::Empty,
            Kind::Failover => posture == Posture::Deployed,
            Kind::Destroy => posture != Posture::Empty,
        }
    }

    /// The posture the command leaves.
    fn leaves(self) -> Posture {
        match self {
            Kind::Deploy => Posture::Deployed,
            Kind::Failover => Posture::FailedOver,
            Kind::Destroy => Posture::Empty,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

const KINDS: [Kind; 3] = [Kind::Deploy, Kind::Failover, Kind::Destroy];

/// The trials' commands, in this order again and again: half of them `deploy all` (the longest
/// run, with the most creates to interrupt), destroys from both postures, failovers.
const SEQUENCE: [Kind; 6] = [
    Kind::Deploy,
    Kind::Failover,
    Kind::Destroy,
    Kind::Deploy,
    Kind::Destroy,
    Kind::Deploy,
];

/// One crash trial's record.
struct Trial {
    n: usize,
    kind: Kind,
    env: String,
    clean: Duration,
    kill_at: Duration,
    killed: Ended,
    /// The runs after the kill, up to the first that succeeded (at most 3; none when the run
    /// ended well before its kill).
    next: Vec<Run>,
    problems: Problems,
}

impl Trial {
    /// Whether the run drawn to be killed ended first, successfully: nothing to recover (and a
    /// second `failover` would be one from the other region).
    fn ended_well(&self) -> bool {
        !self.killed.killed && self.killed.run.code == 0
    }

    fn converged(&self) -> bool {
        let next_ok = match self.next.as_slice() {
            [] => self.ended_well(),
            [next] => next.code == 0,
            _ => false,
        };
        next_ok && self.problems.none()
    }

    /// Whether no run of the command brought the environment back: a person would have to.
    fn manual(&self) -> bool {
        match self.next.last() {
            None => !self.ended_well(),
            Some(r) => r.code != 0,
        }
    }

    fn line(&self) -> String {
        let how = if self.killed.killed {
            "killed".to_string()
        } else {
            format!("ended first (exit {})", self.killed.run.code)
        };
        let codes: Vec<String> = self.next.iter().map(|r| r.code.to_string()).collect();
        format!(
            "trial {:>2}  {:<10} env {:<6} clean {:>5.1}s  kill at {:>5.1}s  {:<18} next runs exit [{}]  dup {} orph {}  {}",
            self.n,
            self.kind.name(),
            self.env,
            self.clean.as_secs_f64(),
            self.kill_at.as_secs_f64(),
            how,
            codes.join(","),
            self.problems.duplicates.len(),
            self.problems.orphans.len(),
            if self.converged() {
                "converged"
            } else {
                "NOT CONVERGED"
            }
        )
    }

    fn details(&self) -> String {
        let mut text = format!("{}\n", self.line());
        for d in &self.problems.duplicates {
            text.push_str(&format!("  duplicate: {d}\n"));
        }
        for o in &self.problems.orphans {
            text.push_str(&format!("  orphan: {o}\n"));
        }
        for o in &self.problems.other {
            text.push_str(&format!("  problem: {o}\n"));
        }
        text.push_str(&format!(
            "  the killed run ({:.1}s):\n{}\n",
            self.killed.elapsed.as_secs_f64(),
            last_chars(&self.killed.run.text(), 3000)
        ));
        for (i, r) in self.next.iter().enumerate() {
            if r.code != 0 {
                text.push_str(&format!(
                    "  next run {}:\n{}\n",
                    i + 1,
                    last_chars(&r.text(), 4000)
                ));
            }
        }
        text
    }
}

/// Brings the fresh environment `c` to where `kind` can start, with a clean (unkilled)
/// `deploy all` unless `kind` is one; panics if it fails.
fn prepare(c: &TrialCloud, kind: Kind) {
    if kind.starts_from(Posture::Empty) {
        return;
    }
    let r = c.tandem(Kind::Deploy.args());
    assert_eq!(r.code, 0, "clean deploy all of {}: {}", c.env, r.text());
}

/// Delays every call of every region and the global listener by `ms` (none when 0).
fn delay_every_call(c: &TrialCloud, ms: u64) {
    if ms == 0 {
        return;
    }
    let control = c.control();
    c.runtime.block_on(async {
        for key in REGIONS.into_iter().chain([GLOBAL]) {
            let fault = Fault {
                latency_ms: ms,
                ..Fault::default()
            };
            control.set_fault(key, fault).await.unwrap();
        }
    });
}

/// The duration of a clean run of each command: the span a trial's kill moment is drawn over.
/// Two clean cycles (deploy, failover, destroy), the first to warm moto up (its first calls of a
/// service load its code); the second's durations count. Each end state passes the same audit as
/// the trials' (a check of the audit itself).
fn clean_durations(moto: &str, latency: u64) -> [Duration; 3] {
    let mut clean = [Duration::ZERO; 3];
    for cycle in ["ctw", "ctc"] {
        let c = TrialCloud::new(cycle, moto);
        delay_every_call(&c, latency);
        for kind in KINDS {
            let ended = c.run_until(kind.args(), None);
            assert_eq!(
                ended.run.code,
                0,
                "clean {}: {}",
                kind.name(),
                ended.run.text()
            );
            clean[kind.index()] = ended.elapsed;
            let problems = c.check(kind == Kind::Destroy);
            assert!(
                problems.none(),
                "after a clean {}: duplicates {:?} orphans {:?} {:?}",
                kind.name(),
                problems.duplicates,
                problems.orphans,
                problems.other
            );
        }
    }
    for kind in KINDS {
        println!(
            "clean {:<10} {:>5.1}s",
            kind.name(),
            clean[kind.index()].as_secs_f64()
        );
    }
    clean
}

#[test]
fn crash_trials() {
    let _serial = crate::support::serial();
    let trials = count("TANDEM_TRIALS", 3);
    let seed = seed();
    let moto = tandem_testkit::moto().endpoint();
    let mut draw = Draw(seed);
    println!("crash trials: {trials}, seed {seed} (TANDEM_TRIAL_SEED={seed} repeats the draws)");

    let latency = count("TANDEM_TRIAL_LATENCY_MS", 0) as u64;
    if latency > 0 {
        println!("every call delayed by {latency} ms at the gateway, to widen the windows");
    }
    let clean = clean_durations(&moto, latency);
    let mut done: Vec<Trial> = Vec::new();
    let mut cloud: Option<(TrialCloud, Posture)> = None;
    for n in 1..=trials {
        let kind = SEQUENCE[(n - 1) % SEQUENCE.len()];
        let leaves = kind.leaves();
        let c = match cloud.take() {
            Some((c, p)) if kind.starts_from(p) && kind != Kind::Deploy => c,
            other => {
                // A fresh environment for each deploy trial, and after a trial that did not
                // converge, brought to where this trial's command starts by a clean run. (A
                // destroyed environment deployed again in the same state does not fail over:
                // "there is no read replica in us-east-1 to promote" — not a crash defect, kept
                // out of these trials.)
                drop(other);
                let c = TrialCloud::new(&format!("ct{n}"), &moto);
                delay_every_call(&c, latency);
                prepare(&c, kind);
                c
            }
        };
        let span = clean[kind.index()];
        let kill_at = span.mul_f64(draw.unit());
        let killed = c.run_until(kind.args(), Some(kill_at));
        let mut next = Vec::new();
        let ended_well = !killed.killed && killed.run.code == 0;
        while next.len() < 3 && !ended_well {
            let r = c.tandem(kind.args());
            let ok = r.code == 0;
            next.push(r);
            if ok {
                break;
            }
        }
        let problems = if ended_well || next.last().is_some_and(|r| r.code == 0) {
            c.check(leaves == Posture::Empty)
        } else {
            Problems::default()
        };
        let trial = Trial {
            n,
            kind,
            env: c.env.clone(),
            clean: span,
            kill_at,
            killed,
            next,
            problems,
        };
        println!("{}", trial.line());
        if trial.converged() {
            cloud = Some((c, leaves));
        } else {
            // Its leftovers stay in moto, out of the way: every audit is per environment.
            println!("{}", trial.details());
        }
        done.push(trial);
    }
    let kills = done.iter().filter(|t| t.killed.killed).count();
    let converged = done.iter().filter(|t| t.converged()).count();
    let duplicates: usize = done.iter().map(|t| t.problems.duplicates.len()).sum();
    let orphans: usize = done.iter().map(|t| t.problems.orphans.len()).sum();
    let manual = done.iter().filter(|t| t.manual()).count();
    println!(
        "CRASH TRIALS seed={seed} trials={trials} kills={kills} converged={converged} \
         duplicates={duplicates} orphans={orphans} manual_interventions={manual}"
    );
    let failed: Vec<String> = done
        .iter()
        .filter(|t| !t.converged())
        .map(Trial::details)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {trials} trials did not converge (seed {seed}):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Throttling and HTTP 500 at 20 % each, and a 20 % share of requests delayed by 200 ms, in every
/// AWS service of every region and of the global listener.
fn twenty_percent_faults(c: &TrialCloud, seed: u64) {
    let control = c.control();
    c.runtime.block_on(async {
        for key in REGIONS.into_iter().chain([GLOBAL]) {
            for service in SERVICES {
                let fault = Fault {
                    throttle_rate: 0.2,
                    error_rate: 0.2,
                    latency_ms: 200,
                    latency_rate: Some(0.2),
                    ..Fault::for_service(service)
                };
                control.set_fault(key, fault).await.unwrap();
            }
        }
        control.reseed(seed).await.unwrap();
        control.clear_calls().await.unwrap();
    });
}

#[test]
fn fault_trials() {
    let _serial = crate::support::serial();
    let rounds = count("TANDEM_FAULT_ROUNDS", 1);
    let seed = seed();
    let moto = tandem_testkit::moto().endpoint();
    println!(
        "fault trials: {rounds} round(s), seed {seed}: throttling 20 %, HTTP 500 20 %, \
         200 ms latency on 20 % of the calls, every AWS service of every region and global"
    );
    let commands: [&[&str]; 6] = [
        &["deploy", "all", "--yes"],
        &["plan", "--detailed-exitcode"],
        &["refresh"],
        &["failover", "--yes"],
        &["failback", "--yes"],
        &["destroy", "--yes"],
    ];
    let mut total = FaultStats::default();
    let mut failures = Vec::new();
    let mut runs = 0;
    for round in 1..=rounds {
        let c = TrialCloud::new(&format!("ft{round}"), &moto);
        twenty_percent_faults(&c, seed.wrapping_add(round as u64));
        for args in commands {
            let started = Instant::now();
            let r = c.tandem(args);
            let s = c.stats();
            c.runtime.block_on(c.control().clear_calls()).unwrap();
            runs += 1;
            for (sum, n) in [
                (&mut total.requests, s.requests),
                (&mut total.throttled, s.throttled),
                (&mut total.failed, s.failed),
                (&mut total.delayed, s.delayed),
                (&mut total.blackholed, s.blackholed),
            ] {
                *sum += n;
            }
            println!(
                "round {round}  {:<26} exit {:>2}  {:>6.1}s  calls {:>5}  throttled {:>4}  \
                 500s {:>4}  delayed {:>4}",
                args.join(" "),
                r.code,
                started.elapsed().as_secs_f64(),
                s.requests,
                s.throttled,
                s.failed,
                s.delayed
            );
            if r.code != 0 {
                failures.push(format!(
                    "round {round}: tandem {}: {}",
                    args.join(" "),
                    last_chars(&r.text(), 4000)
                ));
                break;
            }
            if args[0] != "plan" && args[0] != "refresh" {
                let destroyed = args[0] == "destroy";
                let audit = c.audit();
                let dups = &audit["duplicates"];
                let orphans = &audit["orphans"];
                if dups != &serde_json::json!([]) || orphans != &serde_json::json!([]) {
                    failures.push(format!(
                        "round {round}: after {}: duplicates {dups} orphans {orphans}",
                        args.join(" ")
                    ));
                }
                if destroyed && audit["resources"] != serde_json::json!([]) {
                    failures.push(format!(
                        "round {round}: left after destroy: {}",
                        audit["resources"]
                    ));
                }
            }
        }
    }
    println!(
        "FAULT TRIALS seed={seed} rounds={rounds} runs={runs} calls={} faults_injected={} \
         (throttled {}, 500s {}) delayed={} retried={} outcome={}",
        total.requests,
        total.throttled + total.failed,
        total.throttled,
        total.failed,
        total.delayed,
        if failures.is_empty() {
            total.throttled + total.failed
        } else {
            0
        },
        if failures.is_empty() {
            "all succeeded"
        } else {
            "FAILED"
        }
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A moto server of this test alone, on a fixed port, that can be killed and started again.
struct PrivateMoto {
    port: u16,
    child: Option<Child>,
}

impl PrivateMoto {
    fn start(port: u16) -> PrivateMoto {
        use std::os::unix::process::CommandExt as _;
        let mut cmd = Command::new("python3");
        cmd.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; it makes moto die with this test's thread.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .expect("start moto: pip install 'moto[server]==5.2.*'");
        let moto = PrivateMoto {
            port,
            child: Some(child),
        };
        let started = Instant::now();
        while !moto.answers() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto on port {port} did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn answers(&self) -> bool {
        use std::io::Write as _;
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let asked = write!(
            s,
            "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        let mut answer = String::new();
        asked.is_ok() && s.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.")
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn the_emulator_killed_and_restarted_mid_run() {
    let _serial = crate::support::serial();
    let port = free_port();
    let mut moto = PrivateMoto::start(port);
    let c = TrialCloud::new("mr", &moto.endpoint());
    let running = c.spawn(&["deploy", "all", "--yes"]);
    // The middle of the run: several steps journaled.
    while c.journal_lines() < 8 {
        assert!(
            running.started.elapsed() < Duration::from_secs(300),
            "the run journaled {} lines in 300 s",
            c.journal_lines()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let at = running.started.elapsed();
    moto.kill();
    std::thread::sleep(Duration::from_secs(2));
    moto = PrivateMoto::start(port);
    let restarted = running.started.elapsed();
    let ended = running.end(Duration::from_secs(300));
    println!(
        "moto killed at {:.1}s, back (empty) at {:.1}s; the run ended at {:.1}s with exit {}",
        at.as_secs_f64(),
        restarted.as_secs_f64(),
        ended.elapsed.as_secs_f64(),
        ended.run.code
    );
    let r = &ended.run;
    assert!(!ended.killed, "the run hung past 300 s: {}", r.text());
    assert!(
        r.code != 0 && r.code != 101 && !r.stderr.contains("panicked"),
        "the run must fail with a clear error, not a panic: {}",
        r.text()
    );
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "one clear error: {}", r.text());
    println!("its error: {}", errors[0]);
    for failed in r.stderr.lines().filter(|l| l.starts_with("failed:")) {
        println!("  {}", last_chars(failed, 300));
    }
    // The state is intact: it parses, and Tandem reads it.
    let state = std::fs::read_to_string(c.state_file()).expect("the state file exists");
    let parsed: Value = serde_json::from_str(&state)
        .unwrap_or_else(|e| panic!("the state does not parse: {e}\n{state}"));
    assert!(parsed["resources"].is_array(), "{parsed:#}");
    let listed = c.tandem(&["state", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.text());

    // The next run recreates what the restart lost, and converges.
    let next = c.tandem(&["deploy", "all", "--yes"]);
    assert_eq!(next.code, 0, "the next run: {}", next.text());
    let problems = c.check(false);
    assert!(
        problems.none(),
        "after the next run: duplicates {:?} orphans {:?} {:?}",
        problems.duplicates,
        problems.orphans,
        problems.other
    );
    let destroyed = c.tandem(&["destroy", "--yes"]);
    assert_eq!(destroyed.code, 0, "{}", destroyed.text());
    assert!(c.check(true).none());
    drop(moto);
}
