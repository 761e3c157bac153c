//! Issue 5: failover while the primary region is cut off, deferred work, failback, and a failover
//! killed mid-way — on the local cloud with the region gateway in front of moto.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tandem_localcloud::{BlackholeMode, Fault, RunningGateway};

use crate::support::Run;

/// A scratch directory with an environment file that points each region at the gateway.
pub(crate) struct LocalCloud {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) env: String,
    pub(crate) gateway: RunningGateway,
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) moto: String,
}

impl LocalCloud {
    pub(crate) fn new(env: &str) -> LocalCloud {
        let moto = tandem_testkit::moto().endpoint();
        let (dir, runtime, gateway) = crate::support::gateway_environment(env, &moto);
        LocalCloud {
            dir,
            env: env.to_string(),
            gateway,
            runtime,
            moto,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        crate::support::local_cloud_command(self.dir.path(), &self.env, args)
    }

    pub(crate) fn tandem(&self, args: &[&str]) -> Run {
        Run::of(&mut self.command(args))
    }

    pub(crate) fn ok(&self, args: &[&str]) -> Run {
        let r = self.tandem(args);
        assert_eq!(r.code, 0, "tandem {args:?}: {}", r.text());
        r
    }

    fn no_changes(&self) {
        let r = self.tandem(&["plan", "--detailed-exitcode"]);
        assert_eq!(r.code, 0, "plan must show no changes: {}", r.text());
    }

    /// `plan --detailed-exitcode` says there is work left (deferred failover work), while a region
    /// is cut off: live state cannot be read there, so `plan` fails naming it (exit 1), and plans
    /// from the recorded state with `--no-refresh`.
    fn work_left_while_cut_off(&self, region: &str) {
        let r = self.tandem(&["plan", "--detailed-exitcode"]);
        assert_eq!(
            r.code,
            1,
            "plan must not pass an unread region: {}",
            r.text()
        );
        assert!(
            r.stderr.contains("cannot read live state in")
                && r.stderr.contains(region)
                && !r.stdout.contains("No changes"),
            "{}",
            r.text()
        );
        let r = self.tandem(&["plan", "--detailed-exitcode", "--no-refresh"]);
        assert_eq!(r.code, 2, "plan must show the deferred work: {}", r.text());
        assert!(
            r.stdout.contains("Failover work not done yet"),
            "{}",
            r.text()
        );
    }

    /// The drill's JSON report.
    fn drill_report(&self) -> Value {
        let path = std::fs::read_dir(self.dir.path().join(".tandem/reports"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .expect("a JSON drill report");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Reads moto directly (not through the gateway, not through Tandem) with boto3.
    fn facts(&self) -> Value {
        crate::support::failover_facts(&self.env, &self.moto)
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!(
            ".tandem/state/multi-region/{}.audit.jsonl",
            self.env
        )))
        .unwrap_or_default()
    }
}

fn primary_target(f: &Value) -> String {
    f["records"]["PRIMARY"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn failover_while_the_primary_is_cut_off_then_resume_then_failback() {
    let _serial = crate::support::serial();
    let c = LocalCloud::new("drill");
    c.ok(&["deploy", "all", "--yes"]);
    let before = c.facts();
    assert!(primary_target(&before).contains("us-east-1"), "{before:#}");
    let capacity = |f: &Value| {
        (
            f["capacity"]["us-east-1"].clone(),
            f["capacity"]["us-west-2"].clone(),
        )
    };
    assert_eq!(
        capacity(&before),
        (2.into(), 1.into()),
        "primary and standby sizes of environments/local.toml: {before:#}"
    );

    // Both regions answer. Route 53's own status: moto answers every check with one fixed
    // success whatever the endpoint does, so the local cloud shows none (n/a).
    let health = c.ok(&["check-health"]);
    let rows: Vec<&str> = health
        .stdout
        .lines()
        .filter(|l| l.starts_with("us-"))
        .collect();
    assert!(health.stdout.contains("ROUTE53"), "{}", health.text());
    assert_eq!(rows.len(), 2, "{}", health.text());
    assert!(
        rows.iter().all(|l| l.contains(" n/a ")),
        "{}",
        health.text()
    );

    // The primary region is cut off: its API and its application.
    c.ok(&["simulate-outage", "--region", "us-east-1"]);
    let health = c.tandem(&["check-health"]);
    assert_eq!(
        health.code,
        7,
        "the active region is down: {}",
        health.text()
    );
    let health = c.tandem(&["check-health", "--json"]);
    assert_eq!(health.code, 7, "{}", health.text());
    let health: Value = serde_json::from_str(&health.stdout).unwrap();
    for r in health["regions"].as_array().unwrap() {
        let verdict = &r["route53"]["verdict"];
        assert!(verdict["value"].is_null(), "{health:#}");
        assert!(
            verdict["why"].as_str().unwrap_or_default().contains("moto"),
            "{health:#}"
        );
    }
    // The active region's probe failed: refused at the gateway, not judged healthy.
    assert_eq!(health["regions"][0]["probes_healthy"], false, "{health:#}");

    // The plan of the failover, before it: the replica promoted, the records and capacities. A
    // plan takes no lock and writes nothing: it runs while another run holds the lock.
    let state_dir = c.dir.path().join(".tandem/state/multi-region");
    let lock = state_dir.join("drill.lock");
    let holder = r#"{"user": "ci", "host": "build-42", "pid": 4242,
                     "time": "2026-01-01T00:00:00Z", "operation": "apply"}"#;
    std::fs::write(&lock, holder).unwrap();
    let state_before = std::fs::read(state_dir.join("drill.state.json")).unwrap();
    let plan = c.ok(&["failover", "--plan"]);
    let failback_plan = c.ok(&["failback", "--plan"]);
    assert!(
        failback_plan.stdout.contains("Nothing to fail back"),
        "{}",
        failback_plan.text()
    );
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), holder);
    assert_eq!(
        std::fs::read(state_dir.join("drill.state.json")).unwrap(),
        state_before
    );
    std::fs::remove_file(&lock).unwrap();
    assert!(
        plan.stdout
            .contains("~ us-west-2/rds:DbReadReplica/app-db-replica"),
        "{}",
        plan.text()
    );
    let f = c.ok(&["failover", "--yes"]);
    assert!(
        f.stdout
            .contains("deferred: fence the old primary database"),
        "{}",
        f.text()
    );
    // The database's role, read from the cloud: the emulator keeps a promoted replica's source,
    // so it cannot say — never "passed".
    assert!(
        f.stdout.contains("database writable") && f.stdout.contains("not verifiable here"),
        "{}",
        f.text()
    );
    c.work_left_while_cut_off("us-east-1");
    let after = c.facts();
    // Route 53's control plane lives in us-east-1, which is down: the pre-built records move
    // traffic by health, and swapping their roles waits.
    assert!(primary_target(&after).contains("us-east-1"), "{after:#}");
    assert_eq!(
        after["db"]["tandem-drill-app"]["status"], "available",
        "not fenced while its region is down"
    );
    assert_eq!(
        after["db"]["tandem-drill-app-replica"]["status"],
        "available"
    );
    assert_eq!(
        capacity(&after),
        (2.into(), 2.into()),
        "the standby is scaled up; the cut-off region's scale-down waits: {after:#}"
    );
    let status = c.ok(&["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["active_region"], "us-west-2");
    let deferred: Vec<&str> = status["deferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["aspect"].as_str().unwrap())
        .collect();
    assert_eq!(
        deferred,
        ["fence", "scale_down", "replication", "dns"],
        "{status:#}"
    );

    // The region comes back, but its database API fails: the resume fails, and what it could
    // not complete stays deferred for the next one.
    c.ok(&["simulate-outage", "--region", "us-east-1", "--restore"]);
    let control = c.gateway.control();
    let failing = Fault {
        error_rate: 1.0,
        ..Fault::for_service("rds")
    };
    c.runtime
        .block_on(control.set_fault("us-east-1", failing))
        .unwrap();
    let failed = c.tandem(&["failover", "--resume", "--yes"]);
    assert_ne!(failed.code, 0, "{}", failed.text());
    let status = c.ok(&["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let still: Vec<&str> = status["deferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["aspect"].as_str().unwrap())
        .collect();
    assert!(still.contains(&"fence"), "{status:#}");
    c.runtime.block_on(control.restore_all()).unwrap();
    // Now the deferred work completes.
    c.ok(&["failover", "--resume", "--yes"]);
    c.no_changes();
    let resumed = c.facts();
    assert!(
        primary_target(&resumed).contains("us-west-2"),
        "the records swapped: {resumed:#}"
    );
    assert!(
        resumed["records"]["SECONDARY"]
            .as_str()
            .unwrap()
            .contains("us-east-1")
    );
    assert_eq!(
        resumed["db"]["tandem-drill-app"]["status"], "stopped",
        "the old primary is fenced: {resumed:#}"
    );
    assert_eq!(
        resumed["replication_sources"],
        serde_json::json!(["us-west-2"]),
        "{resumed:#}"
    );
    assert_eq!(capacity(&resumed), (1.into(), 2.into()), "{resumed:#}");

    // Failback: a new replica in us-east-1 from the new primary, then the switch. Its preview
    // plans both steps and changes nothing.
    let preview = c.ok(&["failback", "--plan"]);
    assert!(
        preview.stdout.contains("Step 2: stop writes")
            && preview.stdout.contains("Step 3: switch back")
            && preview
                .stdout
                .contains("+ us-east-1/rds:DbReadReplica/app-db-g2")
            && preview
                .stdout
                .contains("us-west-2/rds:DbReadReplica/app-db-replica"),
        "{}",
        preview.text()
    );
    c.no_changes();
    let failback = c.ok(&["failback", "--yes"]);
    assert!(
        failback.stdout.contains("quiesce")
            && failback.stdout.contains("Switched with writes stopped"),
        "{}",
        failback.text()
    );
    assert!(
        c.audit().contains(r#""phase":"quiesce","event":"done""#),
        "{}",
        c.audit()
    );
    c.no_changes();
    let back = c.facts();
    assert!(primary_target(&back).contains("us-east-1"), "{back:#}");
    let g2 = &back["db"]["tandem-drill-app-g2"];
    assert_eq!(g2["region"], "us-east-1", "{back:#}");
    assert!(
        back["db"].get("tandem-drill-app").is_none(),
        "the stale old primary is gone: {back:#}"
    );
    // Every writer the failback deleted left a final snapshot: the old primary, and the
    // promoted replica it failed back from.
    for writer in ["tandem-drill-app", "tandem-drill-app-replica"] {
        let snaps = back["snapshots"][writer]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            snaps
                .iter()
                .any(|s| s.as_str().unwrap().starts_with(&format!("{writer}-final-"))),
            "no final snapshot of {writer}: {back:#}"
        );
    }
    let new_replica = back["db"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, d)| d["region"] == "us-west-2")
        .expect("a replica in us-west-2");
    assert_eq!(
        new_replica.1["source"].as_str().unwrap(),
        g2["arn"].as_str().unwrap(),
        "{back:#}"
    );
    assert_eq!(
        back["replication_sources"],
        serde_json::json!(["us-east-1"])
    );
    assert_eq!(capacity(&back), (2.into(), 1.into()), "{back:#}");

    c.ok(&["destroy", "--yes"]);
    drop(c.gateway);
    drop(c.runtime);
}

#[test]
fn a_failover_killed_mid_way_completes_without_redoing_finished_phases() {
    let _serial = crate::support::serial();
    let c = LocalCloud::new("crash");
    c.ok(&["deploy", "all", "--yes"]);
    // Slow the old primary's database API so the failover is still fencing (after the
    // promotion) when it is killed.
    let control = c.gateway.control();
    let slow = Fault {
        latency_ms: 3000,
        ..Fault::for_service("rds")
    };
    c.runtime
        .block_on(control.set_fault("us-east-1", slow))
        .unwrap();
    let mut child = c
        .command(&["failover", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !c.audit().contains(r#""phase":"fence","event":"start""#) {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the failover never reached the fence: {}",
            c.audit()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    let promotions_before = c
        .audit()
        .matches(r#""phase":"promote","event":"start""#)
        .count();

    // Rerun while the old region is cut off: the killed run's pending fence there cannot be
    // reconciled (it is kept for later), the fence waits, and everything else completes.
    c.runtime.block_on(control.restore_all()).unwrap();
    c.runtime
        .block_on(control.blackhole("us-east-1", BlackholeMode::Refuse))
        .unwrap();
    let r = c.ok(&["failover", "--yes"]);
    assert!(r.stdout.contains("(resumed)"), "{}", r.text());
    assert!(
        r.stdout.contains("promote") && r.stdout.contains("done before"),
        "{}",
        r.text()
    );
    assert!(
        r.stdout
            .contains("deferred: fence the old primary database"),
        "{}",
        r.text()
    );
    assert!(
        r.stderr
            .contains("not reconciled: us-east-1 does not answer"),
        "the killed run's pending fence is kept: {}",
        r.text()
    );
    assert_eq!(
        c.audit()
            .matches(r#""phase":"promote","event":"start""#)
            .count(),
        promotions_before,
        "the promotion ran again: {}",
        c.audit()
    );
    let status = c.ok(&["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let deferred: Vec<(&str, &str)> = status["deferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["aspect"].as_str().unwrap(),
                d["waits_for"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(deferred.contains(&("fence", "us-east-1")), "{status:#}");
    assert!(
        status["transition"].is_null(),
        "the failover completed what it could: {status:#}"
    );
    c.work_left_while_cut_off("us-east-1");

    // The region is back: the pending fence is reconciled, the deferred work completes.
    c.runtime.block_on(control.restore_all()).unwrap();
    c.ok(&["failover", "--resume", "--yes"]);
    c.no_changes();
    let facts = c.facts();
    assert!(primary_target(&facts).contains("us-west-2"), "{facts:#}");
    assert_eq!(facts["db"]["tandem-crash-app"]["status"], "stopped");
    c.ok(&["destroy", "--yes"]);

    // Nothing is left: a failover has nothing to fail over, and the posture is the initial one
    // again (us-east-1 active): a failed-over posture kept after destroy made the next deploy
    // build the failed-over layout and the next failover look for a replica in us-east-1.
    let plan = c.ok(&["failover", "--plan"]);
    assert!(
        plan.stdout.contains("nothing to fail over"),
        "{}",
        plan.text()
    );
    let status = c.ok(&["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["active_region"], "us-east-1", "{status:#}");
}

#[test]
fn a_drill_reads_each_verdict_from_the_cloud_and_a_missing_secondary_fails_it() {
    let _serial = crate::support::serial();
    let c = LocalCloud::new("verdicts");
    c.ok(&["deploy", "all", "--yes"]);
    // The SECONDARY failover record deleted behind Tandem's back: nothing would route to the
    // standby when the primary fails.
    let deleted = crate::support::cloud_edit(&c.moto, &["delete-record", "verdicts", "SECONDARY"]);
    assert_eq!(
        deleted["deleted"].as_array().unwrap().len(),
        1,
        "{deleted:#}"
    );
    let drill = c.tandem(&["drill", "--yes", "--interval", "1"]);
    assert_eq!(
        drill.code,
        7,
        "a failed check misses the drill: {}",
        drill.text()
    );
    let r = c.drill_report();
    assert_eq!(r["outcome"], "missed", "{r:#}");
    let check = |name: &str| {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {r:#}"))
            .clone()
    };
    let dns = check("DNS answer");
    assert_eq!(dns["verdict"], "failed", "{r:#}");
    assert!(
        dns["observed"]
            .as_str()
            .unwrap()
            .contains("SECONDARY missing"),
        "{r:#}"
    );
    assert_eq!(
        dns["read_from"]["api"].as_str().unwrap().split(' ').next(),
        Some("route53:ListResourceRecordSets"),
        "{r:#}"
    );
    // The emulator cannot tell a promoted replica from a replica: not verifiable, never passed.
    assert_eq!(
        check("database writable")["verdict"],
        "not_verifiable",
        "{r:#}"
    );
    assert_eq!(
        check("database writable")["read_from"]["api"],
        "rds:DescribeDBInstances"
    );
    // The fence, read after the region came back.
    assert_eq!(check("former writer fenced")["verdict"], "passed", "{r:#}");
    assert_eq!(check("standby scaled")["verdict"], "passed", "{r:#}");
    // moto publishes no ReplicaLag: the RPO is unverified, never met.
    assert_eq!(r["rpo"]["verdict"], "unverified", "{r:#}");
    assert!(r["rpo"]["seconds"].is_null(), "{r:#}");

    // A second drill back, with both records (the resume recreated the swapped pair): nothing
    // fails, but the database's role and the RPO cannot be measured here — exit 8.
    let f = c.facts();
    assert!(f["records"]["SECONDARY"].is_string(), "{f:#}");
    std::fs::remove_dir_all(c.dir.path().join(".tandem/reports")).unwrap();
    c.ok(&["failback", "--yes"]);
    let drill = c.tandem(&["drill", "--yes", "--interval", "1"]);
    assert_eq!(drill.code, 8, "{}", drill.text());
    let r = c.drill_report();
    assert_eq!(r["outcome"], "unverified", "{r:#}");
    let dns = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "DNS answer")
        .unwrap()
        .clone();
    assert_eq!(dns["verdict"], "passed", "{r:#}");
    let status = c.ok(&["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["last_drill"]["outcome"], "unverified", "{status:#}");
    c.ok(&["destroy", "--yes"]);
}

#[test]
fn a_drill_that_cannot_fail_over_undoes_its_outage() {
    let _serial = crate::support::serial();
    let c = LocalCloud::new("refused");
    c.ok(&["deploy", "all", "--yes"]);
    // The standby's application does not answer either: the failover's preflight refuses.
    let control = c.gateway.control();
    let standby_down = Fault {
        blackhole: Some(tandem_localcloud::BlackholeMode::Refuse),
        ..Fault::for_service("health")
    };
    c.runtime
        .block_on(control.set_fault("us-west-2", standby_down))
        .unwrap();
    let drill = c.tandem(&["drill", "--yes", "--interval", "1"]);
    assert_ne!(drill.code, 0, "{}", drill.text());
    assert!(
        drill.stderr.contains("the outage of us-east-1 was undone"),
        "{}",
        drill.text()
    );
    let faults = c.runtime.block_on(control.faults()).unwrap();
    assert!(
        faults.region("us-east-1").is_empty(),
        "the primary is no longer cut off: {faults:?}"
    );
    let status = c.ok(&["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["active_region"], "us-east-1", "{status:#}");
    assert!(status["simulated_outage"].is_null(), "{status:#}");
    c.runtime.block_on(control.restore_all()).unwrap();
    c.ok(&["destroy", "--yes"]);
}

#[test]
fn a_failover_resumed_after_its_dns_phase_does_not_redo_it_while_route53_is_down() {
    let _serial = crate::support::serial();
    let c = LocalCloud::new("dnsdone");
    c.ok(&["deploy", "all", "--yes"]);
    // Slow the new primary's S3 API so the failover is still reversing replication (after the
    // DNS phase) when it is killed.
    let control = c.gateway.control();
    let slow = Fault {
        latency_ms: 3000,
        ..Fault::for_service("s3")
    };
    c.runtime
        .block_on(control.set_fault("us-west-2", slow))
        .unwrap();
    let mut child = c
        .command(&["failover", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !c
        .audit()
        .contains(r#""phase":"replication","event":"start""#)
    {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the failover never reached replication: {}",
            c.audit()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    c.runtime.block_on(control.restore_all()).unwrap();
    assert!(
        primary_target(&c.facts()).contains("us-west-2"),
        "the records were swapped before the kill"
    );

    // Route 53 (and us-east-1) stop answering; the resumed run must not defer the swap it made.
    c.runtime
        .block_on(control.blackhole("us-east-1", BlackholeMode::Refuse))
        .unwrap();
    let r = c.ok(&["failover", "--yes"]);
    // The DNS phase, done before the kill, is not run again; replication, whose new rule writes
    // into the cut-off region's bucket, waits for it.
    assert!(
        r.stdout.contains("dns") && r.stdout.contains("done before"),
        "{}",
        r.text()
    );
    assert!(
        r.stdout.contains("replication") && r.stdout.contains("wait for us-east-1"),
        "{}",
        r.text()
    );
    let status = c.ok(&["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let deferred: Vec<&str> = status["deferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["aspect"].as_str().unwrap())
        .collect();
    assert!(!deferred.contains(&"dns"), "{status:#}\n{}", r.text());
    assert!(
        deferred.contains(&"replication"),
        "{status:#}\n{}",
        r.text()
    );
    c.runtime.block_on(control.restore_all()).unwrap();
    c.ok(&["failover", "--resume", "--yes"]);
    c.no_changes();
    assert!(primary_target(&c.facts()).contains("us-west-2"));
    c.ok(&["destroy", "--yes"]);
}
