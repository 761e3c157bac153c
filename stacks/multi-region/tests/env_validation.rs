//! Environment files the issue found accepted silently, and overrides by variable: each is one
//! clear error naming the file, the key (or the variable) and the problem, with values cut short.

use std::path::Path;

mod common;

use common::{GOOD, parse};
use tandem_stack_multi_region::Environment;

const LOCAL_CLOUD: &str = r#"
[local_cloud]
moto_port = 24560
global_port = 24561
control_port = 24562
region_ports = [24563, 24564]
"#;

/// The error of `text` with `vars`; fails the test when it parses.
fn error(text: &str, vars: &[(&str, &str)]) -> String {
    match parse(text, vars) {
        Ok(e) => panic!("accepted ({vars:?}): {e:?}\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// `GOOD` with a `[sizes]` section holding `line`.
fn sizes(line: &str) -> String {
    format!("{GOOD}\n[sizes]\n{line}\n")
}

/// `GOOD` with its `[environment]` section extended by `line`.
fn env_line(line: &str) -> String {
    format!("{GOOD}{line}\n")
}

/// A file's text, the variables set, and the parts the error must contain.
type Case<'a> = (String, Vec<(&'a str, &'a str)>, Vec<&'a str>);

fn check(cases: Vec<Case>) {
    for (text, vars, expected) in cases {
        let e = error(&text, &vars);
        for part in expected {
            assert!(e.contains(part), "expected {part:?} in {e:?}");
        }
        assert!(
            e.starts_with("environments/test.toml"),
            "the file is not named first: {e}"
        );
        assert!(e.len() < 600, "the message is not cut short: {e}");
    }
}

#[test]
fn sizes_out_of_bounds_or_badly_named_are_refused() {
    let long = "m".repeat(300);
    check(vec![
        (
            sizes("max_capacity = 4294967295"),
            vec![],
            vec!["`sizes.max_capacity`", "at most 1000", "4294967295"],
        ),
        (
            sizes("max_capacity = 4294967296"),
            vec![],
            vec!["max_capacity", "u32"],
        ),
        (
            sizes("max_capacity = -1"),
            vec![],
            vec!["max_capacity", "-1"],
        ),
        (
            sizes("db_allocated_storage_gb = 5"),
            vec![],
            vec!["`sizes.db_allocated_storage_gb`", "from 20 to 65536 GiB"],
        ),
        (
            sizes("db_backup_retention_days = 36"),
            vec![],
            vec!["`sizes.db_backup_retention_days`", "at most 35 days"],
        ),
        (
            sizes("instance_type = \"\""),
            vec![],
            vec!["`sizes.instance_type`", "\"\" must be 1 to 40 characters"],
        ),
        (
            sizes(&format!("instance_type = \"{long}\"")),
            vec![],
            vec![
                "`sizes.instance_type`",
                "… (300 bytes)",
                "1 to 40 characters",
            ],
        ),
        (
            sizes("instance_type = \"T3 Micro\""),
            vec![],
            vec!["`sizes.instance_type`", "a family and a size"],
        ),
        (
            sizes("instance_type = \"t3.mícro\""),
            vec![],
            vec!["`sizes.instance_type`", "lowercase letters"],
        ),
        (
            sizes("db_instance_class = \"\""),
            vec![],
            vec!["`sizes.db_instance_class`", "1 to 40 characters"],
        ),
        (
            sizes(&format!("db_instance_class = \"db.{long}\"")),
            vec![],
            vec!["`sizes.db_instance_class`", "… (303 bytes)"],
        ),
        (
            sizes("db_instance_class = \"t3.micro\""),
            vec![],
            vec!["`sizes.db_instance_class`", "must start with \"db.\""],
        ),
        (
            sizes("image_parameter = \"\""),
            vec![],
            vec!["`sizes.image_parameter`", "is not an SSM parameter name"],
        ),
        (
            sizes("image_parameter = \"ami 123\""),
            vec![],
            vec!["`sizes.image_parameter`", "\"ami 123\""],
        ),
    ]);
}

#[test]
fn sizes_within_bounds_load() {
    let e = parse(
        &sizes(
            "instance_type = \"m7i-flex.large\"\ndb_instance_class = \"db.r6g.large\"\n\
             max_capacity = 1000\ndb_allocated_storage_gb = 65536\ndb_backup_retention_days = 35\n\
             image_parameter = \"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64\"",
        ),
        &[],
    )
    .unwrap();
    assert_eq!(e.sizes.max_capacity, 1000);
    assert_eq!(e.sizes.instance_type, "m7i-flex.large");
}

#[test]
fn local_cloud_ports_must_be_set_and_distinct() {
    check(vec![
        (
            format!(
                "{GOOD}{}",
                LOCAL_CLOUD.replace("moto_port = 24560", "moto_port = 0")
            ),
            vec![],
            vec!["`local_cloud.moto_port`", "from 1 to 65535, got 0"],
        ),
        (
            format!(
                "{GOOD}{}",
                LOCAL_CLOUD.replace("[24563, 24564]", "[24563, 0]")
            ),
            vec![],
            vec!["`local_cloud.region_ports[1]`", "got 0"],
        ),
        (
            format!(
                "{GOOD}{}",
                LOCAL_CLOUD.replace("[24563, 24564]", "[24563, 24563]")
            ),
            vec![],
            vec![
                "`local_cloud.region_ports[1]`",
                "24563 is already `region_ports[0]`",
            ],
        ),
        (
            format!(
                "{GOOD}{}",
                LOCAL_CLOUD.replace("control_port = 24562", "control_port = 24560")
            ),
            vec![],
            vec!["`local_cloud.control_port`", "already `moto_port`"],
        ),
        (
            format!(
                "{GOOD}{}",
                LOCAL_CLOUD.replace("[24563, 24564]", "[24561, 24564]")
            ),
            vec![],
            vec!["`local_cloud.region_ports[0]`", "already `global_port`"],
        ),
        (
            format!(
                "{GOOD}{}",
                LOCAL_CLOUD.replace("moto_port = 24560", "moto_port = 70000")
            ),
            vec![],
            vec!["moto_port", "u16"],
        ),
    ]);
    assert!(parse(&format!("{GOOD}{LOCAL_CLOUD}"), &[]).is_ok());
}

#[test]
fn endpoints_must_be_urls() {
    for bad in [
        "not a url",
        "",
        "ftp://127.0.0.1:1",
        "http://",
        "http://:8080",
        "http://127.0.0.1:0",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:x",
        "http://exa mple.com",
        "http://[::1",
    ] {
        for table in ["endpoints", "health_endpoints"] {
            let text = format!("{GOOD}[{table}]\nus-east-1 = {bad:?}\n");
            let e = error(&text, &[]);
            assert!(
                e.contains(&format!("`{table}.us-east-1`: {bad:?} is not a URL")),
                "{bad:?}: {e}"
            );
        }
    }
    for good in [
        "http://127.0.0.1:4566",
        "https://rds.us-east-1.amazonaws.com",
        "http://localhost:24563/_tandem/health",
        "http://[::1]:8080/x",
    ] {
        let text = format!("{GOOD}[endpoints]\nus-east-1 = {good:?}\n");
        assert!(parse(&text, &[]).is_ok(), "{good:?} refused");
    }
}

#[test]
fn the_state_path_must_be_a_usable_directory() {
    for (path, expected) in [
        ("", "is empty"),
        ("  ", "is empty"),
        ("/proc/self", "under /proc, /sys or /dev"),
        ("/sys/kernel", "under /proc, /sys or /dev"),
        ("/dev", "under /proc, /sys or /dev"),
        ("/dev/shm/state", "under /proc, /sys or /dev"),
    ] {
        let e = error(&format!("{GOOD}[state]\npath = {path:?}\n"), &[]);
        assert!(
            e.contains("`state.path`") && e.contains(expected),
            "{path:?}: {e}"
        );
    }
    for good in [
        ".tandem/state",
        "/var/lib/tandem",
        "../shared-state",
        "/process/x",
    ] {
        let e = parse(&format!("{GOOD}[state]\npath = {good:?}\n"), &[]).unwrap();
        assert_eq!(e.state_dir, Path::new(good));
    }
}

#[test]
fn objectives_in_the_file_are_integers() {
    check(vec![
        (
            env_line("rto_minutes = \"15\""),
            vec![],
            vec![
                "`rto_minutes`",
                "an integer such as 15",
                "got a string \"\\\"15\\\"\"",
            ],
        ),
        (
            env_line("rpo_minutes = 2.5"),
            vec![],
            vec!["`rpo_minutes`", "got a float"],
        ),
        (
            env_line("rto_minutes = true"),
            vec![],
            vec!["`rto_minutes`", "got a boolean"],
        ),
        (
            env_line("rto_minutes = 10081"),
            vec![],
            vec!["`rto_minutes`", "at most 10080"],
        ),
    ]);
}

#[test]
fn overrides_by_variable_name_the_variable() {
    check(
        vec![
            (
                GOOD.into(),
                vec![("PRIMARY_REGION", "garbage")],
                vec![
                    "`primary_region` (from $PRIMARY_REGION)",
                    "unknown AWS region \"garbage\"",
                ],
            ),
            (
                GOOD.into(),
                vec![("RTO_MINUTES", "-1")],
                vec!["`rto_minutes` (from $RTO_MINUTES)", "positive", "got -1"],
            ),
            (
                GOOD.into(),
                vec![("RTO_MINUTES", "0")],
                vec!["`rto_minutes` (from $RTO_MINUTES)", "positive", "got 0"],
            ),
            (
                GOOD.into(),
                vec![("RTO_MINUTES", "1e9")],
                vec![
                    "`rto_minutes` (from $RTO_MINUTES)",
                    "whole number",
                    "\"1e9\"",
                ],
            ),
            (
                GOOD.into(),
                vec![("RTO_MINUTES", "1000000000")],
                vec!["`rto_minutes` (from $RTO_MINUTES)", "at most 10080"],
            ),
            (
                GOOD.into(),
                vec![("RTO_MINUTES", "abc")],
                vec![
                    "`rto_minutes` (from $RTO_MINUTES)",
                    "whole number",
                    "\"abc\"",
                ],
            ),
            (
                GOOD.into(),
                vec![("RPO_MINUTES", "abc")],
                vec!["`rpo_minutes` (from $RPO_MINUTES)"],
            ),
            (
                GOOD.into(),
                vec![("DOMAIN_NAME", "1.2")],
                vec!["`domain_name` (from $DOMAIN_NAME)", "top-level domain"],
            ),
            (
                GOOD.into(),
                vec![("SECONDARY_REGION", "eu-west-1")],
                // The file does not pin the admin region: it follows the secondary.
                vec![],
            ),
        ]
        .into_iter()
        .filter(|(_, _, expected)| !expected.is_empty())
        .collect(),
    );
    let e = parse(GOOD, &[("SECONDARY_REGION", "eu-west-1")]).unwrap();
    assert_eq!(e.stackset_admin_region, "eu-west-1");
}

#[test]
fn the_stack_set_lives_in_the_secondary_region() {
    check(vec![
        (
            env_line("stackset_admin_region = \"us-east-1\""),
            vec![],
            vec![
                "`stackset_admin_region`",
                "is the primary region",
                "must be the secondary region, \"us-west-2\"",
            ],
        ),
        (
            env_line("stackset_admin_region = \"eu-west-1\""),
            vec![],
            vec![
                "`stackset_admin_region`",
                "not one of the environment's regions",
            ],
        ),
        (
            env_line("stackset_admin_region = \"us-west-2\""),
            vec![("SECONDARY_REGION", "eu-west-1")],
            vec!["\"eu-west-1\" (from $SECONDARY_REGION)"],
        ),
    ]);
    let e = parse(&env_line("stackset_admin_region = \"us-west-2\""), &[]).unwrap();
    assert_eq!(e.stackset_admin_region, "us-west-2");
}

#[test]
fn a_domain_needs_a_named_top_level_domain() {
    for bad in ["1.2", "10.0.0.1", "app.123"] {
        let e = error(&GOOD.replace("example.com", bad), &[]);
        assert!(e.contains("top-level domain"), "{bad}: {e}");
    }
    assert!(parse(&GOOD.replace("example.com", "1.example.com"), &[]).is_ok());
}

#[test]
fn a_huge_value_is_cut_short_and_a_huge_file_reads() {
    let huge = "x".repeat(10 * 1024 * 1024);
    // A megabyte for the other keys: the same cut, in less of the debug build's time.
    let big = "x".repeat(1024 * 1024);
    for text in [
        GOOD.replace("example.com", &huge),
        GOOD.replace("us-west-2", &big),
        env_line(&format!("account_id = \"{big}\"")),
        format!("{GOOD}[endpoints]\nus-east-1 = \"http://{big} \"\n"),
        // The parser quotes the offending line: cut too.
        env_line(&format!("colour = {big}")),
        env_line(&format!("{big} = 1")),
    ] {
        let e = error(&text, &[]);
        assert!(e.len() < 600, "{} bytes: {}", e.len(), &e[..600]);
        assert!(e.contains("bytes)"), "{e}");
    }
    // 10 MB of comment around a good file: read without a problem.
    let padded = format!("{GOOD}# {huge}\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.toml"), padded).unwrap();
    let e = Environment::load(dir.path(), "big", &|_| None).unwrap();
    assert_eq!(e.domain_name, "example.com");
}

#[test]
fn structural_mistakes_are_named() {
    check(vec![
        (
            env_line("colour = \"blue\""),
            vec![],
            vec!["unknown field `colour`"],
        ),
        (
            GOOD.replace("us-west-2", "us-east-1"),
            vec![],
            vec!["`secondary_region`: must differ from primary_region"],
        ),
        (
            GOOD.replace("us-west-2", "us-wést-2"),
            vec![],
            vec!["`secondary_region`: unknown AWS region \"us-wést-2\""],
        ),
        (
            GOOD.replace("example.com", "exämple.com"),
            vec![],
            vec!["`domain_name`", "only letters, digits and '-'"],
        ),
        (
            env_line("prímary = 1"),
            vec![],
            vec!["invalid unquoted key"],
        ),
        (
            env_line("\"prímary\" = 1"),
            vec![],
            vec!["unknown field `prímary`"],
        ),
        (
            GOOD.replace("[environment]", "[environment"),
            vec![],
            vec!["TOML parse error"],
        ),
        (
            format!("{GOOD}primary_region = \"us-east-2\"\n"),
            vec![],
            vec!["duplicate key"],
        ),
        (String::new(), vec![], vec!["missing field `environment`"]),
        ("\u{0}\u{1}binary".into(), vec![], vec!["TOML parse error"]),
    ]);
}
