//! The bad-input corpus, run through the real `tandem` binary: environment files, overrides by
//! variable, state files, journals, saved plans and command lines, each with the exit code the
//! README documents and what its message must name. No run panics (exit 101), and no failed run
//! writes or removes the good state beside it: its bytes are the same afterwards.
//!
//! Every run plans with `--no-refresh` or stops before the cloud, except the runs of
//! [`a_cloud_that_cannot_be_read_fails_plan_and_preview_naming_its_regions`], which point the
//! environment at loopback ports where nothing listens (the local cloud stopped).

use std::path::{Path, PathBuf};

use crate::support::{Run, environments};

/// A state with one resource, as `tandem` writes it (format version 2).
const GOOD_STATE: &str = r#"{
  "version": 2,
  "lineage": "lineage-good",
  "serial": 3,
  "stack": "multi-region",
  "env": "local",
  "resources": [
    {
      "addr": "us-east-1/s3:Bucket/assets",
      "id": "tandem-assets",
      "inputs": {"bucket": "tandem-assets"},
      "outputs": {"arn": "arn:aws:s3:::tandem-assets"},
      "dependencies": []
    }
  ]
}
"#;

/// One record of a run's journal per line: begin, an intent, its outcome.
const BEGIN: &str = r#"{"t":"begin","lineage":"lineage-good","base_serial":3,"operation":"apply"}"#;
const INTENT: &str = r#"{"t":"intent","seq":1,"addr":"us-east-1/s3:Bucket/logs","op":"create","token":"tok-1","inputs":{"bucket":"tandem-logs"},"dependencies":[],"protect":false,"retain_on_delete":false}"#;
const FAILED: &str = r#"{"t":"failed","seq":1,"addr":"us-east-1/s3:Bucket/logs","error":"boom"}"#;

/// A working directory with its own environments (the shipped ones and the corpus's) and the
/// good state of environment `local`.
struct Corpus {
    dir: tempfile::TempDir,
}

impl Corpus {
    fn new() -> Corpus {
        let c = Corpus {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(c.envs()).unwrap();
        for name in ["local", "dev", "staging", "prod"] {
            std::fs::copy(
                environments().join(format!("{name}.toml")),
                c.envs().join(format!("{name}.toml")),
            )
            .unwrap();
        }
        std::fs::create_dir_all(c.state_dir()).unwrap();
        std::fs::write(c.good_state(), GOOD_STATE).unwrap();
        c
    }

    fn envs(&self) -> PathBuf {
        self.dir.path().join("environments")
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join(".tandem/state/multi-region")
    }

    fn good_state(&self) -> PathBuf {
        self.state_dir().join("local.state.json")
    }

    fn journal(&self) -> PathBuf {
        self.state_dir().join("local.journal")
    }

    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = crate::support::tandem_in(self.dir.path(), args, &self.envs());
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .envs(vars.iter().copied());
        Run::of(&mut cmd)
    }

    /// Runs `args`, and checks the exit code, that stderr names each of `names`, that nothing
    /// panicked, and that the good state is byte for byte what it was.
    fn expect(&self, args: &[&str], vars: &[(&str, &str)], code: i32, names: &[&str]) -> Run {
        let before = std::fs::read(self.good_state()).ok();
        let r = self.run(args, vars);
        let what = format!("tandem {args:?} {vars:?}");
        assert_ne!(r.code, 101, "{what} panicked: {}", r.text());
        assert!(!r.stderr.contains("panicked"), "{what}: {}", r.text());
        assert_eq!(r.code, code, "{what}: {}", short(&r.text()));
        for name in names {
            assert!(
                r.stderr.contains(name),
                "{what}: {name:?} not named in: {}",
                short(&r.stderr)
            );
        }
        assert!(
            r.stderr.len() < 4_000,
            "{what}: {} bytes of stderr",
            r.stderr.len()
        );
        assert_eq!(
            std::fs::read(self.good_state()).ok(),
            before,
            "{what} changed or removed the state"
        );
        r
    }
}

/// At most 2,000 characters of a text, for assertion messages.
fn short(text: &str) -> String {
    text.chars().take(2_000).collect()
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::write(path, bytes).unwrap();
}

/// `local.toml` with `from` replaced by `to` (each must be there).
fn local_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(environments().join("local.toml")).unwrap();
    assert!(text.contains(from), "{from:?} is not in local.toml");
    text.replacen(from, to, 1)
}

#[test]
fn bad_environment_files_exit_3_naming_the_file_and_key() {
    let c = Corpus::new();
    let huge = "x".repeat(10 * 1024 * 1024);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            local_with("max_capacity = 4", "max_capacity = 4294967295"),
            vec!["`sizes.max_capacity`", "at most 1000"],
        ),
        (
            local_with("instance_type = \"t3.micro\"", "instance_type = \"\""),
            vec!["`sizes.instance_type`"],
        ),
        (
            local_with(
                "instance_type = \"t3.micro\"",
                &format!("instance_type = \"{}\"", "t".repeat(300)),
            ),
            vec!["`sizes.instance_type`", "(300 bytes)"],
        ),
        (
            local_with("[sizes]", "[sizes]\nimage_parameter = \"\""),
            vec!["`sizes.image_parameter`"],
        ),
        (
            local_with("moto_port = 24560", "moto_port = 0"),
            vec!["`local_cloud.moto_port`", "got 0"],
        ),
        (
            local_with("[24563, 24564]", "[24563, 24563]"),
            vec!["`local_cloud.region_ports[1]`", "already"],
        ),
        (
            format!(
                "{}\n[endpoints]\nus-east-1 = \"not a url\"\n",
                local_with("", "")
            ),
            vec!["`endpoints.us-east-1`", "is not a URL"],
        ),
        (
            local_with("path = \".tandem/state\"", "path = \"\""),
            vec!["`state.path`", "is empty"],
        ),
        (
            local_with("path = \".tandem/state\"", "path = \"/proc/self\""),
            vec!["`state.path`", "/proc"],
        ),
        (
            local_with("rto_minutes = 15", "rto_minutes = \"15\""),
            vec!["`rto_minutes`", "got a string"],
        ),
        (
            local_with(
                "stackset_admin_region = \"us-west-2\"",
                "stackset_admin_region = \"us-east-1\"",
            ),
            vec!["`stackset_admin_region`", "is the primary region"],
        ),
        (
            local_with(
                "stackset_admin_region = \"us-west-2\"",
                "stackset_admin_region = \"eu-west-1\"",
            ),
            vec!["`stackset_admin_region`", "must be the secondary region"],
        ),
        (
            local_with(
                "domain_name = \"app.tandem-local.example\"",
                "domain_name = \"1.2\"",
            ),
            vec!["`domain_name`", "top-level domain"],
        ),
        (
            local_with(
                "domain_name = \"app.tandem-local.example\"",
                &format!("domain_name = \"{huge}\""),
            ),
            vec!["`domain_name`", "bytes)"],
        ),
        (
            local_with("[environment]", "[environment]\ncolour = \"blue\""),
            vec!["unknown field `colour`"],
        ),
        (
            local_with(
                "secondary_region = \"us-west-2\"",
                "secondary_region = \"us-east-1\"",
            ),
            vec!["`secondary_region`", "must differ"],
        ),
        (
            local_with(
                "secondary_region = \"us-west-2\"",
                "secondary_region = \"us-moon-1\"",
            ),
            vec!["`secondary_region`", "unknown AWS region"],
        ),
        (
            local_with("max_capacity = 4", "max_capacity = -4"),
            vec!["max_capacity", "-4"],
        ),
        (
            local_with(
                "domain_name = \"app.tandem-local.example\"",
                "domain_name = \"äpp.example\"",
            ),
            vec!["`domain_name`"],
        ),
        (
            local_with("[environment]", "[environment"),
            vec!["TOML parse error"],
        ),
        ("\u{0}\u{1}\u{2}".into(), vec!["TOML parse error"]),
    ];
    for (i, (text, names)) in cases.into_iter().enumerate() {
        let name = format!("bad-{i}");
        let file = c.envs().join(format!("{name}.toml"));
        write(&file, &text);
        let mut all = vec![file.to_str().unwrap()];
        all.extend(names);
        c.expect(&["plan", "--no-refresh", "--env", &name], &[], 3, &all);
        // No state of the bad environment was written.
        assert!(!c.state_dir().join(format!("{name}.state.json")).exists());
    }
    // Bytes that are not UTF-8.
    let file = c.envs().join("latin1.toml");
    write(&file, b"[environment]\nprimary_region = \"us-\xe9ast-1\"\n");
    c.expect(
        &["plan", "--no-refresh", "--env", "latin1"],
        &[],
        3,
        &[file.to_str().unwrap(), "cannot read it"],
    );
    // A 10 MB file that is valid (a long comment) reads.
    let big = format!("{}\n# {huge}\n", local_with("", ""));
    write(&c.envs().join("big.toml"), big);
    c.expect(&["state", "list", "--env", "big"], &[], 0, &[]);
}

#[test]
fn bad_overrides_by_variable_exit_3_naming_the_variable() {
    let c = Corpus::new();
    for (var, value, names) in [
        (
            "PRIMARY_REGION",
            "garbage",
            &["$PRIMARY_REGION", "unknown AWS region \"garbage\""][..],
        ),
        ("RTO_MINUTES", "-1", &["$RTO_MINUTES", "got -1"]),
        ("RTO_MINUTES", "0", &["$RTO_MINUTES", "got 0"]),
        ("RTO_MINUTES", "1e9", &["$RTO_MINUTES", "\"1e9\""]),
        ("RTO_MINUTES", "abc", &["$RTO_MINUTES", "\"abc\""]),
        ("RPO_MINUTES", "99999999999999999999", &["$RPO_MINUTES"]),
        ("DOMAIN_NAME", "1.2", &["$DOMAIN_NAME", "top-level domain"]),
        (
            "SECONDARY_REGION",
            "eu-west-1",
            &["`stackset_admin_region`", "(from $SECONDARY_REGION)"],
        ),
    ] {
        c.expect(&["plan", "--no-refresh"], &[(var, value)], 3, names);
    }
}

#[test]
fn bad_state_files_exit_4_and_are_left_as_they_were() {
    let c = Corpus::new();
    c.expect(&["state", "list"], &[], 0, &[]);
    let duplicate = GOOD_STATE.replace(
        "\"resources\": [\n    {",
        "\"resources\": [\n    {\n      \"addr\": \"us-east-1/s3:Bucket/assets\",\n      \"id\": \"other\",\n      \"inputs\": {},\n      \"outputs\": {}\n    },\n    {",
    );
    assert_ne!(duplicate, GOOD_STATE);
    let random: Vec<u8> = (0..2048u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            GOOD_STATE.as_bytes()[..GOOD_STATE.len() / 2].to_vec(),
            "not a valid state file",
        ),
        (random, "not a valid state file"),
        (b"[]".to_vec(), "not a valid state file"),
        (
            br#"{"version": 2, "lineage": 7}"#.to_vec(),
            "not a valid state file",
        ),
        (
            GOOD_STATE
                .replace("\"version\": 2", "\"version\": 3")
                .into_bytes(),
            "newer than this tandem reads",
        ),
        (duplicate.into_bytes(), "appears twice"),
        (Vec::new(), "not a valid state file"),
    ];
    for (bytes, message) in cases {
        write(&c.good_state(), &bytes);
        for args in [
            &["state", "list"][..],
            &["plan", "--no-refresh"],
            &["output"],
        ] {
            // The damaged state is the one beside: it is left byte for byte as it was.
            c.expect(args, &[], 4, &[message, "local.state.json"]);
        }
    }
}

#[test]
fn journals_garbage_is_an_error_and_a_torn_last_line_is_tolerated() {
    let c = Corpus::new();
    let torn = format!("{BEGIN}\n{INTENT}\n{}", &FAILED[..FAILED.len() / 2]);
    write(&c.journal(), &torn);
    // The torn outcome is as if never written: the intent is pending, and reads report it.
    let r = c.expect(&["state", "list"], &[], 0, &[]);
    assert!(
        r.stdout.contains("us-east-1/s3:Bucket/assets"),
        "{}",
        r.text()
    );
    for bad in [
        format!("{BEGIN}\ngarbage\n{FAILED}\n"),
        format!(
            "{BEGIN}\n{}\n{FAILED}\n",
            INTENT.replace("\"seq\":1", "\"seq\":\"x\"")
        ),
        format!("{BEGIN}\n{}\n{FAILED}\n", &INTENT[..INTENT.len() - 5]),
        format!("\u{0}\u{0}\u{0}\n{INTENT}\n"),
    ] {
        write(&c.journal(), &bad);
        // `plan` cannot build on a state whose last run it cannot read: exit 4 naming the
        // journal and how to repair it. `state list` and `state show` still read the saved
        // state, with the same warning.
        c.expect(
            &["plan", "--no-refresh"],
            &[],
            4,
            &["local.journal", "To repair", "local.journal.corrupt"],
        );
        let list = c.expect(&["state", "list"], &[], 0, &["local.journal", "To repair"]);
        assert!(
            list.stdout.contains("us-east-1/s3:Bucket/assets"),
            "{}",
            list.text()
        );
        c.expect(
            &["state", "show", "us-east-1/s3:Bucket/assets"],
            &[],
            0,
            &["local.journal"],
        );
        assert_eq!(
            std::fs::read(c.journal()).unwrap(),
            bad.as_bytes(),
            "the journal was changed"
        );
    }
}

#[test]
fn damaged_saved_plans_exit_4() {
    let c = Corpus::new();
    std::fs::remove_file(c.good_state()).unwrap();
    let saved = c.run(&["plan", "--no-refresh", "--out", "plan.json"], &[]);
    assert_eq!(saved.code, 0, "{}", saved.text());
    let plan = std::fs::read(c.dir.path().join("plan.json")).unwrap();
    let text = String::from_utf8(plan.clone()).unwrap();
    let mut flipped = plan.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    for (bytes, message) in [
        (flipped, "plan.json"),
        (plan[..plan.len() / 3].to_vec(), "not a usable saved plan"),
        (
            text.replacen("\"create\"", "\"delete\"", 1).into_bytes(),
            "its checksum does not match",
        ),
        (
            text.replacen("\"format_version\": 1", "\"format_version\": 99", 1)
                .into_bytes(),
            "plan.json",
        ),
        (b"\xff\xfe\x00garbage".to_vec(), "not a usable saved plan"),
    ] {
        write(&c.dir.path().join("plan.json"), &bytes);
        c.expect(&["apply", "plan.json", "--yes"], &[], 4, &[message]);
        assert!(!c.good_state().exists(), "a refused plan wrote a state");
    }
}

#[test]
fn bad_command_lines_exit_64_or_3() {
    let c = Corpus::new();
    for (args, code, names) in [
        (&["--bogus"][..], 64, &["unexpected argument '--bogus'"][..]),
        (&["plan", "--frobnicate"], 64, &["--frobnicate"]),
        (
            &["apply", "--parallel", "0", "--yes"],
            64,
            &["0 is not in 1..=256"],
        ),
        (&["deploy", "all", "--parallel", "abc"], 64, &["--parallel"]),
        (&["deploy", "sideways"], 64, &["sideways"]),
        (
            &["state", "show", "nonsense"],
            64,
            &["malformed resource address \"nonsense\""],
        ),
        (&["state", "rm"], 64, &["<ADDRESS>"]),
        (&["plan", "--env"], 64, &["--env"]),
        (
            &["plan", "--env", "../x"],
            3,
            &["invalid environment name \"../x\""],
        ),
        (
            &["plan", "--env", "UPPER"],
            3,
            &["invalid environment name"],
        ),
        (
            &["plan", "--env", "nope"],
            3,
            &["environment \"nope\" not found"],
        ),
        (
            &["plan", "--no-refresh", "--region", "mars"],
            3,
            &["--region mars"],
        ),
        (&["output", "nope"], 3, &["no output named \"nope\""]),
        (
            &["state", "rm", "us-east-1/s3:Bucket/none"],
            3,
            &["is not in the state"],
        ),
    ] {
        c.expect(args, &[], code, names);
    }
}

/// Defect 5: with the local cloud stopped, `plan` and `preview` once printed "No changes" and
/// exited 0 with a note on stderr. They exit 1 naming the regions (and Route 53's control plane,
/// `global`) whose live state they could not read; `--no-refresh` plans from the recorded state
/// and says so.
#[test]
fn a_cloud_that_cannot_be_read_fails_plan_and_preview_naming_its_regions() {
    let c = Corpus::new();
    // Ports where nothing listens: bound, then closed.
    let ports: Vec<u16> = (0..5)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let mut text = local_with("moto_port = 24560", &format!("moto_port = {}", ports[0]));
    for (from, to) in [
        ("global_port = 24561", format!("global_port = {}", ports[1])),
        (
            "control_port = 24562",
            format!("control_port = {}", ports[2]),
        ),
        ("[24563, 24564]", format!("[{}, {}]", ports[3], ports[4])),
    ] {
        text = text.replacen(from, &to, 1);
    }
    write(&c.envs().join("local.toml"), text);
    let unread = "cannot read live state in global, us-east-1, us-west-2";
    for args in [
        &["plan"][..],
        &["plan", "--detailed-exitcode"],
        &["plan", "--json"],
        &["preview"],
        &["preview", "--format", "json"],
    ] {
        let r = c.expect(args, &[], 1, &[unread, "--no-refresh"]);
        assert!(!r.stdout.contains("No changes"), "{}", r.text());
    }
    // From the recorded state: planned, and said so.
    let r = c.expect(
        &["plan", "--no-refresh", "--detailed-exitcode"],
        &[],
        2,
        &["planned from the recorded state"],
    );
    assert!(r.stdout.contains("us-east-1"), "{}", r.text());
    c.expect(
        &["preview", "--no-refresh"],
        &[],
        0,
        &["planned from the recorded state"],
    );
}
