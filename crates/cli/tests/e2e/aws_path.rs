//! The AWS code path of the resilience commands, on moto: an environment with no local cloud, so
//! that an outage is simulated by inverting the region's Route 53 health check, detected by
//! Route 53's own verdict, and every control plane answers (nothing is deferred). The application
//! endpoints do not exist here, so everything that decides health must come from Route 53.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{Run, environments};

const ENV: &str = "awsapi";

/// The local environment's file without its local cloud: endpoints come from
/// `AWS_ENDPOINT_URL`, as for any cloud that is not the embedded one. moto cannot peer VPCs.
fn aws_like_environment(dir: &Path) {
    let local = std::fs::read_to_string(environments().join("local.toml")).unwrap();
    let mut out = String::new();
    let mut in_local_cloud = false;
    for line in local.lines() {
        if line.starts_with('[') {
            in_local_cloud = line == "[local_cloud]";
        }
        if in_local_cloud {
            continue;
        }
        if line.starts_with("domain_name") {
            out.push_str(&format!("domain_name = \"{ENV}.tandem-test.example\"\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line == "[environment]" {
            out.push_str("vpc_peering = false\n");
        }
    }
    std::fs::write(dir.join(format!("{ENV}.toml")), out).unwrap();
}

/// What the run left under `.tandem` — state, audit log, drill reports — is private to its user:
/// files 0600, directories 0700.
fn private_files(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tandem = dir.join(".tandem");
    let state = tandem.join("state/multi-region");
    let reports = tandem.join("reports");
    for d in [&tandem, &tandem.join("state"), &state, &reports] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    let mut files = 0;
    for d in [&state, &reports] {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            files += 1;
        }
    }
    let audit = state.join(format!("{ENV}.audit.jsonl"));
    assert!(
        audit.exists() && files >= 4,
        "state, audit log, two reports"
    );
}

struct AwsLike {
    dir: tempfile::TempDir,
    envs: tempfile::TempDir,
    moto: String,
}

impl AwsLike {
    fn tandem(&self, args: &[&str]) -> Run {
        Run::of(
            Command::new(env!("CARGO_BIN_EXE_tandem"))
                .current_dir(self.dir.path())
                .args(args)
                .args(["--env", ENV, "--environments"])
                .arg(self.envs.path())
                .env("AWS_ENDPOINT_URL", &self.moto)
                .envs(tandem_testkit::test_credentials_env()),
        )
    }

    fn ok(&self, args: &[&str]) -> Run {
        let r = self.tandem(args);
        assert_eq!(r.code, 0, "tandem {args:?}: {}", r.text());
        r
    }

    fn facts(&self) -> Value {
        crate::support::failover_facts(ENV, &self.moto)
    }
}

#[test]
fn drill_on_the_aws_path_inverts_the_health_check_and_detects_by_route53() {
    let _serial = crate::support::serial();
    let c = AwsLike {
        dir: tempfile::tempdir().unwrap(),
        envs: tempfile::tempdir().unwrap(),
        moto: tandem_testkit::moto().endpoint(),
    };
    aws_like_environment(c.envs.path());
    c.ok(&["deploy", "all", "--yes"]);

    // The application endpoints do not resolve here: the probes fail, but Route 53 (whose
    // checkers moto answers for) says the active region is healthy, and check-health shows both.
    let health = c.tandem(&["check-health", "--json"]);
    let h: Value = serde_json::from_str(&health.stdout).expect("check-health --json is JSON");
    let active = &h["regions"][0];
    assert_eq!(active["route53"]["verdict"]["value"], true, "{h:#}");
    assert_eq!(
        active["route53"]["verdict"]["read_from"]["api"], "route53:GetHealthCheckStatus",
        "{h:#}"
    );

    // moto publishes no ReplicaLag: publish what RDS would, so that the RPO is measured.
    crate::support::cloud_edit(
        &c.moto,
        &[
            "replica-lag",
            "us-west-2",
            &format!("tandem-{ENV}-app-replica"),
            "0.7",
        ],
    );
    // moto keeps a promoted replica's source: the new writer's role is not verifiable there, so
    // the drill ends unverified (exit 8) — nothing failed.
    let drill = c.tandem(&["drill", "--yes", "--interval", "1"]);
    assert_eq!(drill.code, 8, "{}", drill.text());
    let report = std::fs::read_dir(c.dir.path().join(".tandem/reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a JSON drill report");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(r["outcome"], "unverified", "{r:#}\n{}", drill.text());
    private_files(c.dir.path());
    assert_eq!(r["detected_by"], "Route 53's health check", "{r:#}");
    assert_eq!(r["rto"]["verdict"], "met", "{r:#}");
    assert_eq!(
        r["rpo"]["verdict"], "met",
        "the lag read at the promotion: {r:#}"
    );
    assert_eq!(r["rpo"]["seconds"], 0.7, "{r:#}");
    assert_eq!(
        r["recovery_point"]["replica_lag"]["read_from"]["region"], "us-west-2",
        "{r:#}"
    );
    let checks: Vec<(&str, &str, &str)> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap(),
                c["verdict"].as_str().unwrap(),
                c["read_from"]["api"].as_str().unwrap_or("nothing"),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            (
                "database writable",
                "not_verifiable",
                "rds:DescribeDBInstances"
            ),
            ("former writer fenced", "passed", "rds:DescribeDBInstances"),
            ("DNS answer", "passed", "route53:ListResourceRecordSets"),
            (
                "standby scaled",
                "passed",
                "autoscaling:DescribeAutoScalingGroups"
            ),
        ],
        "{r:#}"
    );
    let phases: Vec<(&str, &str)> = r["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["outcome"].as_str().unwrap()))
        .collect();
    assert!(
        phases
            .iter()
            .all(|(_, o)| o.starts_with("done") || *o == "nothing to do"),
        "every control plane answers, nothing is deferred: {phases:?}"
    );
    assert!(
        r["deferred_during_failover"].as_array().unwrap().is_empty(),
        "{r:#}"
    );

    // Checked with boto3: the records swapped, the old primary fenced, capacity and replication
    // followed, and the health check is no longer inverted.
    let f = c.facts();
    assert!(
        f["records"]["PRIMARY"]
            .as_str()
            .unwrap()
            .contains("us-west-2"),
        "{f:#}"
    );
    assert_eq!(
        f["db"][format!("tandem-{ENV}-app")]["status"],
        "stopped",
        "{f:#}"
    );
    assert_eq!(f["capacity"]["us-east-1"], 1, "{f:#}");
    assert_eq!(f["capacity"]["us-west-2"], 2, "{f:#}");
    assert_eq!(f["replication_sources"], serde_json::json!(["us-west-2"]));
    assert_eq!(f["inverted_checks"], 0, "the outage was undone: {f:#}");
    // After the drill the plan changes nothing of Tandem's: the one difference is moto's, which
    // (when not treated as the local cloud) answers DeleteMarkerReplication as Disabled and drops
    // SourceSelectionCriteria on every read of a replication rule (see crates/aws's known gaps).
    let plan = c.tandem(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.text());
    let changed: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("~ ")
                || t.starts_with("+ ")
                || t.starts_with("- ")
                || t.starts_with("-/+ ")
        })
        .collect();
    // Also moto's: DescribeSecret of a secret's replica, in the replica's region, answers the
    // primary's KmsKeyId (moto's ReplicaSecret returns its source's description), so the replica's
    // key reads as drift there; the local cloud copies it from the inputs instead.
    assert!(
        changed.iter().all(|l| {
            l.contains("us-west-2/s3:BucketReplication/assets")
                || l.contains("us-west-2/secretsmanager:SecretReplica/app-db")
        }),
        "{}",
        plan.text()
    );
    let properties: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("        ") && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.trim_start().split_once(':').map(|(k, _)| k))
        .collect();
    assert!(
        properties.iter().all(|k| [
            "delete_marker_replication",
            "sse_kms_encrypted_objects",
            "kms_key_id"
        ]
        .contains(k)),
        "{properties:?}\n{}",
        plan.text()
    );
}
