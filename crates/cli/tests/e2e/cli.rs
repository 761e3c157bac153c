//! What the README and `--help` promise of the command line that needs no cloud: bad command
//! lines (exit 64), `--region` waves, saved plans refused (exit 4), the state lock and a damaged
//! state (exit 4), previews of several environments, `template` and `output --json`; missing
//! credentials (exit 6) and an endpoint that does not answer (exit 1). Every run plans with
//! `--no-refresh` or stops before the cloud, and no reachable endpoint is set: a run that reached
//! for the cloud would fail. The policy pack's findings in `plan` and its suppressions (exit 3
//! without a reason) need no cloud either; only its refusal of `apply` (exit 9) does, since the
//! pack judges after the account preflight: that test points at the test binary's moto and
//! changes nothing there.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::support::{Run, environments};

/// A scratch working directory (the state lives under it) with the shipped environments.
struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = crate::support::tandem_in(self.dir.path(), args, &environments());
        cmd.envs(vars.iter().copied());
        Run::of(&mut cmd)
    }

    fn tandem(&self, args: &[&str]) -> Run {
        self.run(args, &[])
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn state_dir(&self) -> PathBuf {
        self.path(".tandem/state/multi-region")
    }
}

fn expect(r: &Run, code: i32, stderr_has: &str) {
    assert_eq!(r.code, code, "{}", r.text());
    assert!(
        r.stderr.contains(stderr_has),
        "{stderr_has:?}: {}",
        r.text()
    );
}

#[test]
fn bad_command_lines_exit_64() {
    let c = Cli::new();
    expect(&c.tandem(&["--bogus"]), 64, "unexpected argument");
    // `deploy` chooses its waves by its target: it takes no --region.
    expect(
        &c.tandem(&["deploy", "primary", "--region", "us-west-2"]),
        64,
        "--region",
    );
    expect(&c.tandem(&["drill", "--threshold", "0"]), 64, "--threshold");
    expect(
        &c.tandem(&["state", "show", "garbage"]),
        64,
        "malformed resource address",
    );
    expect(&c.tandem(&["state", "unlock"]), 64, "needs --force");
    expect(
        &c.tandem(&["apply", "plan.json", "--region", "global"]),
        64,
        "cannot limit a saved plan",
    );
    let help = c.tandem(&["--help"]);
    assert_eq!(help.code, 0, "{}", help.text());
    assert!(help.stdout.contains("Exit codes:"), "{}", help.text());
}

#[test]
fn template_prints_the_regional_cloudformation_template() {
    let t = Cli::new().tandem(&["template"]);
    assert_eq!(t.code, 0, "{}", t.text());
    let j: Value = serde_json::from_str(&t.stdout).expect("the template is JSON");
    assert_eq!(j["AWSTemplateFormatVersion"], "2010-09-09");
    assert!(j["Resources"].as_object().is_some_and(|r| !r.is_empty()));
}

#[test]
fn plan_region_keeps_one_wave_and_refuses_an_unknown_one() {
    let c = Cli::new();
    let all = c.tandem(&["plan", "--no-refresh", "--detailed-exitcode"]);
    assert_eq!(
        all.code,
        2,
        "a fresh environment has changes: {}",
        all.text()
    );
    let one = c.tandem(&["plan", "--no-refresh", "--json", "--region", "us-west-2"]);
    assert_eq!(one.code, 0, "{}", one.text());
    let j: Value = serde_json::from_str(&one.stdout).unwrap();
    let waves: Vec<&str> = j["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(waves, ["us-west-2"], "{j:#}");
    for args in [
        &["plan", "--no-refresh", "--region", "mars"][..],
        &["apply", "--no-refresh", "--region", "mars"],
        &["destroy", "--no-refresh", "--region", "mars"],
    ] {
        let r = c.tandem(args);
        expect(&r, 3, "not a wave of environment local");
        assert!(
            r.stderr.contains("global, us-east-1, us-west-2"),
            "{}",
            r.text()
        );
    }
}

#[test]
fn a_saved_plan_is_refused_when_the_configuration_changed_or_the_file_was_edited() {
    let c = Cli::new();
    let saved = c.tandem(&["plan", "--no-refresh", "--out", "plan.json"]);
    assert_eq!(saved.code, 0, "{}", saved.text());
    assert!(c.path("plan.json").exists(), "{}", saved.text());

    let changed = c.run(
        &["apply", "plan.json", "--yes"],
        &[("DOMAIN_NAME", "elsewhere.example.com")],
    );
    expect(
        &changed,
        4,
        "the program or configuration changed since the plan was made",
    );

    let text = std::fs::read_to_string(c.path("plan.json")).unwrap();
    let edited = text.replacen("us-west-2", "us-west-1", 1);
    assert_ne!(text, edited);
    std::fs::write(c.path("plan.json"), edited).unwrap();
    expect(
        &c.tandem(&["apply", "plan.json", "--yes"]),
        4,
        "its checksum does not match",
    );

    std::fs::write(c.path("plan.json"), "{").unwrap();
    expect(
        &c.tandem(&["apply", "plan.json", "--yes"]),
        4,
        "not a usable saved plan",
    );
    assert!(
        !c.state_dir().join("local.state.json").exists(),
        "a refused plan must not touch the state"
    );
}

#[test]
fn a_held_lock_names_its_holder_until_unlock_force() {
    let c = Cli::new();
    std::fs::create_dir_all(c.state_dir()).unwrap();
    let holder = r#"{"user": "ci", "host": "build-42", "pid": 4242,
                     "time": "2026-01-01T00:00:00Z", "operation": "apply"}"#;
    std::fs::write(c.state_dir().join("local.lock"), holder).unwrap();
    let rm = ["state", "rm", "us-east-1/s3:Bucket/assets"];
    expect(&c.tandem(&rm), 4, "build-42");
    let unlock = c.tandem(&["state", "unlock", "--force"]);
    assert_eq!(unlock.code, 0, "{}", unlock.text());
    assert!(
        unlock.stdout.contains("ci@build-42 (pid 4242)"),
        "{}",
        unlock.text()
    );
    expect(&c.tandem(&rm), 3, "is not in the state");
    let again = c.tandem(&["state", "unlock", "--force"]);
    assert!(again.stdout.contains("not locked"), "{}", again.text());
}

/// `--env ../../x` once reached outside `.tandem`: `state unlock --force` deleted the lock file two
/// directories up. A name that is not plainly one path component is refused before any path is
/// built (exit 3), and nothing is touched.
#[test]
fn an_environment_name_outside_the_rule_is_refused_and_touches_nothing() {
    let c = Cli::new();
    // `environments/../../x.toml` exists, and so do the lock files `--env ../../x` named.
    let envs = c.path("a/b/environments");
    std::fs::create_dir_all(&envs).unwrap();
    let local = std::fs::read_to_string(environments().join("local.toml")).unwrap();
    std::fs::write(c.path("a/x.toml"), &local).unwrap();
    std::fs::create_dir_all(c.path(".tandem/state/multi-region")).unwrap();
    let planted = [c.path(".tandem/x.lock"), c.path("x.lock")];
    for lock in &planted {
        std::fs::write(lock, "{}").unwrap();
    }
    let before = tree(c.dir.path());
    for bad in ["../../x", "..", "a/b", "UPPER", "x y", ""] {
        let r = Run::of(
            Command::new(env!("CARGO_BIN_EXE_tandem"))
                .current_dir(c.dir.path())
                .args(["state", "unlock", "--force", "--env", bad, "--environments"])
                .arg(&envs)
                .env_remove("AWS_ENDPOINT_URL")
                .env_remove("TANDEM_ENV"),
        );
        expect(&r, 3, &format!("invalid environment name {bad:?}"));
        assert!(
            r.stderr.contains("1 to 63 characters of a-z, 0-9 and '-'"),
            "{}",
            r.text()
        );
    }
    let long = "a".repeat(64);
    expect(
        &c.tandem(&["state", "list", "--env", &long]),
        3,
        "invalid environment name",
    );
    expect(
        &c.tandem(&["state", "list", "--stack", "../x"]),
        3,
        "invalid stack name \"../x\"",
    );
    for lock in &planted {
        assert!(lock.exists(), "{} was deleted", lock.display());
    }
    assert_eq!(
        tree(c.dir.path()),
        before,
        "something was written or removed"
    );
}

/// Every path under `dir`, sorted.
fn tree(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn a_damaged_or_newer_state_is_refused() {
    let c = Cli::new();
    std::fs::create_dir_all(c.state_dir()).unwrap();
    let state = c.state_dir().join("local.state.json");
    std::fs::write(&state, "{ not json").unwrap();
    for args in [
        &["state", "list"][..],
        &["plan", "--no-refresh"],
        &["output"],
    ] {
        expect(&c.tandem(args), 4, "not a valid state file");
    }
    std::fs::write(&state, r#"{"version": 99}"#).unwrap();
    expect(
        &c.tandem(&["state", "list"]),
        4,
        "newer than this tandem reads",
    );
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        r#"{"version": 99}"#,
        "the state is left as it was"
    );
}

/// A state recording a secret (its keyed digest, with the state's key): no command shows the
/// digest or the key — not `state show`, `output`, `plan`, `plan --json`, a saved plan, `preview`
/// in each format — even with `RUST_LOG=trace` (the CLI installs no log subscriber: nothing is
/// logged). The secret itself never reaches a state; the stack program declares none.
#[test]
fn a_recorded_secret_digest_and_the_key_stay_in_the_state() {
    let c = Cli::new();
    std::fs::create_dir_all(c.state_dir()).unwrap();
    let key = "5ec2e7".repeat(10) + "abcd";
    let digest = format!("hmac-sha256:{}", "d1ge57".repeat(10) + "0123");
    let secret = serde_json::json!({ "$secret": digest });
    let state = serde_json::json!({
        "version": 2,
        "lineage": "11111111-2222-3333-4444-555555555555",
        "serial": 3,
        "stack": "multi-region",
        "env": "local",
        "secret_key": key,
        "resources": [{
            "addr": "us-east-1/rds:DbInstance/legacy",
            "id": "legacy",
            "inputs": { "engine": "postgres", "master_password": secret },
            "outputs": { "arn": "arn:aws:rds:us-east-1:123456789012:db:legacy", "password": secret },
            "dependencies": []
        }],
        "outputs": { "legacy_password": secret },
        "extensions": {}
    });
    let state_file = c.state_dir().join("local.state.json");
    std::fs::write(&state_file, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    let trace = [("RUST_LOG", "trace")];
    let runs = [
        &["state", "list"][..],
        &["state", "show", "us-east-1/rds:DbInstance/legacy"],
        &["output"],
        &["output", "--json"],
        &["plan", "--no-refresh"],
        &["plan", "--no-refresh", "--json"],
        &["plan", "--no-refresh", "--out", "saved.plan.json"],
        &["preview", "--no-refresh"],
        &["preview", "--no-refresh", "--format", "json"],
        &[
            "preview",
            "--no-refresh",
            "--format",
            "text",
            "--out",
            "preview.txt",
        ],
    ];
    for args in runs {
        let r = c.run(args, &trace);
        assert!(r.code == 0 || r.code == 2, "{args:?}: {}", r.text());
        for leak in [&digest, &key] {
            assert!(!r.stdout.contains(leak.as_str()), "{args:?}: {}", r.text());
            assert!(!r.stderr.contains(leak.as_str()), "{args:?}: {}", r.text());
        }
    }
    let shown = c.tandem(&["state", "show", "us-east-1/rds:DbInstance/legacy"]);
    assert!(shown.stdout.contains("(secret)"), "{}", shown.text());
    for file in ["saved.plan.json", "preview.txt"] {
        let text = std::fs::read_to_string(c.path(file)).unwrap();
        assert!(
            !text.contains(&digest) && !text.contains(&key),
            "{file}: {text}"
        );
    }
    let kept = std::fs::read_to_string(&state_file).unwrap();
    assert!(kept.contains(&digest) && kept.contains(&key), "{kept}");
}

#[test]
fn preview_of_two_environments_in_each_format() {
    let c = Cli::new();
    let json = c.tandem(&[
        "preview",
        "--env",
        "local",
        "--env",
        "dev",
        "--no-refresh",
        "--format",
        "json",
        "--out",
        "preview.json",
    ]);
    assert_eq!(json.code, 0, "{}", json.text());
    assert!(
        json.stdout.is_empty(),
        "--out writes the file only: {}",
        json.text()
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(c.path("preview.json")).unwrap()).unwrap();
    assert_eq!(doc["kind"], "tandem-preview");
    assert_eq!(doc["format_version"], 1);
    let envs: Vec<&str> = doc["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["env"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["local", "dev"], "{doc:#}");

    let md = c.tandem(&["preview", "--env", "dev", "--no-refresh"]);
    assert_eq!(md.code, 0, "{}", md.text());
    assert!(
        md.stdout.starts_with("<!-- tandem-preview -->\n"),
        "{}",
        md.text()
    );
    assert!(md.stdout.contains("`dev`") && !md.stdout.contains("`local`"));

    let text = c.tandem(&["preview", "--no-refresh", "--format", "text"]);
    assert_eq!(text.code, 0, "{}", text.text());
    assert!(
        text.stdout
            .starts_with("Plan for stack multi-region in environment local"),
        "{}",
        text.text()
    );
    assert!(!text.stdout.contains('\u{1b}'), "no colours off a terminal");
}

#[test]
fn output_json_of_a_fresh_environment_is_empty() {
    let c = Cli::new();
    let out = c.tandem(&["output", "--json"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        serde_json::json!({})
    );
    expect(&c.tandem(&["output", "app_url"]), 3, "no output named");
}

/// `apply` on an AWS environment, with the credential chain and endpoint given by `vars` only.
fn apply_on_aws(cli: &Cli, vars: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
    cmd.current_dir(cli.dir.path())
        .args(["apply", "--yes", "--env", "dev", "--environments"])
        .arg(environments())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cli.dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars.iter().copied());
    Run::of(&mut cmd)
}

#[test]
fn no_credentials_is_exit_6_without_retries_and_an_unreachable_cloud_is_exit_1() {
    let cli = Cli::new();
    let none = apply_on_aws(&cli, &[]);
    expect(&none, 6, "no usable credentials");
    assert!(
        !none.stderr.contains("gave up after"),
        "missing credentials are not retried: {}",
        none.text()
    );
    let unreachable = apply_on_aws(
        &cli,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ],
    );
    expect(&unreachable, 1, "could not reach the endpoint");
}

/// A scratch environment that breaks a mandatory rule of the policy pack: one day of backups
/// (TP008, on the writer and on the replica a failover would promote). `[policy]` is appended.
fn policy_environment(dir: &std::path::Path, policy: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("policy-test.toml"),
        format!(
            r#"[environment]
primary_region = "us-east-1"
secondary_region = "us-west-2"
domain_name = "policy-test.tandem-test.example"
account_id = "123456789012"
http_only = true
protect_stateful = false
vpc_peering = false

[sizes]
db_backup_retention_days = 1
{policy}"#
        ),
    )
    .unwrap();
}

/// `tandem ARGS --env policy-test` with the scratch environments, and `vars`.
fn in_policy_environment(c: &Cli, args: &[&str], vars: &[(&str, &str)]) -> Run {
    Run::of(
        Command::new(env!("CARGO_BIN_EXE_tandem"))
            .current_dir(c.dir.path())
            .args(args)
            .args(["--env", "policy-test", "--environments"])
            .arg(c.path("environments"))
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("TANDEM_ENV")
            .envs(vars.iter().copied()),
    )
}

/// The `policy` array of `plan --json`: `RULE address blocks|warns|suppressed`.
fn planned_findings(c: &Cli) -> Vec<String> {
    let r = in_policy_environment(c, &["plan", "--no-refresh", "--json"], &[]);
    assert_eq!(
        r.code,
        0,
        "a plan reports findings, it does not fail: {}",
        r.text()
    );
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    j["policy"]
        .as_array()
        .unwrap_or_else(|| panic!("no policy array: {j:#}"))
        .iter()
        .map(|f| {
            let state = match (f["blocks"].as_bool(), f["suppressed"].as_bool()) {
                (Some(true), _) => "blocks",
                (_, Some(true)) => "suppressed",
                _ => "warns",
            };
            format!(
                "{} {} {state}",
                f["rule"].as_str().unwrap(),
                f["address"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn policy_findings_are_planned_and_a_suppression_needs_a_reason() {
    let c = Cli::new();
    let envs = c.path("environments");
    policy_environment(&envs, "");
    let listener = "TP015 us-east-1/cloudformation:StackInstance/baseline warns";
    let found = planned_findings(&c);
    for f in [
        "TP008 us-east-1/rds:DbInstance/app-db blocks",
        "TP008 us-west-2/rds:DbReadReplica/app-db-replica blocks",
        listener,
    ] {
        assert!(found.iter().any(|x| x == f), "{f} in {found:#?}");
    }
    let text = in_policy_environment(&c, &["plan", "--no-refresh", "--detailed-exitcode"], &[]);
    assert_eq!(
        text.code,
        2,
        "--detailed-exitcode is about changes only: {}",
        text.text()
    );
    assert!(
        text.stdout
            .contains("Policy (16 rules): 2 mandatory (blocks apply)")
            && text
                .stdout
                .contains("✗ TP008 mandatory us-east-1/rds:DbInstance/app-db (region us-east-1)"),
        "{}",
        text.text()
    );

    policy_environment(&envs, "\n[policy]\nsuppress = [{ rule = \"TP008\" }]\n");
    let r = in_policy_environment(&c, &["plan", "--no-refresh"], &[]);
    expect(
        &r,
        3,
        "policy-test.toml: `policy.suppress[0]`: the suppression of TP008 has no reason",
    );

    policy_environment(
        &envs,
        "\n[policy]\nsuppress = [{ rule = \"TP008\", reason = \"scratch data\", resource = \"*/rds:*\" }]\n",
    );
    let found = planned_findings(&c);
    assert!(
        found.contains(&"TP008 us-east-1/rds:DbInstance/app-db suppressed".to_string())
            && found.iter().all(|f| !f.ends_with(" blocks")),
        "{found:#?}"
    );
}

/// `apply` reaches the pack only after the account preflight: this one runs against the test
/// binary's moto, refuses before any change (exit 9), and passes the pack once the finding is
/// suppressed (it then stops at the confirmation, which has no terminal: exit 5).
#[test]
fn apply_refuses_a_mandatory_finding_before_any_change() {
    let c = Cli::new();
    policy_environment(&c.path("environments"), "");
    let moto = tandem_testkit::moto().endpoint();
    let mut vars = vec![("AWS_ENDPOINT_URL", moto.as_str())];
    vars.extend(tandem_testkit::test_credentials_env());
    let refused = in_policy_environment(&c, &["apply", "--yes", "--no-refresh"], &vars);
    expect(
        &refused,
        9,
        "refusing to apply: the policy pack found 2 mandatory finding(s) (TP008 \
         us-east-1/rds:DbInstance/app-db, TP008 us-west-2/rds:DbReadReplica/app-db-replica)",
    );
    assert!(
        refused.stderr.contains("policy-test.toml") && refused.stdout.contains("✗ TP008"),
        "{}",
        refused.text()
    );
    let deploy = in_policy_environment(&c, &["deploy", "primary", "--yes", "--no-refresh"], &vars);
    expect(&deploy, 9, "nothing was changed");
    let list = in_policy_environment(&c, &["state", "list"], &[]);
    assert_eq!(list.code, 0, "{}", list.text());
    assert!(
        !list.stdout.contains('/'),
        "nothing applied, nothing recorded: {}",
        list.text()
    );

    policy_environment(
        &c.path("environments"),
        "\n[policy]\nsuppress = [{ rule = \"TP008\", reason = \"scratch data\" }]\n",
    );
    let unconfirmed = in_policy_environment(&c, &["apply", "--no-refresh"], &vars);
    expect(&unconfirmed, 5, "no terminal to ask on");
}
