//! Property tests of the environment-file parser: any bytes, and mutations of the shipped files,
//! give an environment or an error naming the file — never a panic, never a huge message.

use std::path::Path;

use proptest::prelude::*;
use tandem_stack_multi_region::Environment;

const FILE: &str = "environments/fuzz.toml";

fn shipped(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap()
}

/// Parses `text` with the variables `vars`, and checks what an error says.
fn parse_checked(text: &str, vars: &[(String, String)]) {
    let lookup = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Err(e) = Environment::parse(Path::new(FILE), "fuzz", text, &lookup) {
        let message = e.to_string();
        assert!(
            message.starts_with(FILE),
            "the file is not named: {message}"
        );
        // A message shows a bounded part of each value, whatever the input's size.
        assert!(
            message.len() <= 2_000,
            "{} bytes of message: {message}",
            message.len()
        );
    }
}

/// One edit of a text: replace a byte, insert bytes, delete a range, or duplicate a line.
#[derive(Clone, Debug)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            Edit::Replace(i, b) if !bytes.is_empty() => bytes[i % len] = *b,
            Edit::Replace(..) => {}
            Edit::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            Edit::DuplicateLine(i) => {
                let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
                let line = lines[i % lines.len()].to_vec();
                bytes.extend_from_slice(b"\n");
                bytes.extend_from_slice(&line);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A value for a key: numbers at and past the bounds, strings of any characters, other types.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "0",
            "-1",
            "4294967295",
            "4294967296",
            "65535",
            "65536",
            "1e9",
            "nan",
            "inf",
            "true",
            "[]",
            "{}",
            "\"\"",
            "[1, 1]",
            "1979-05-27",
        ])
        .prop_map(str::to_string),
        any::<String>().prop_map(|s| format!("{s:?}")),
        ".{0,80}".prop_map(|s| format!("{s:?}")),
    ]
}

const KEYS: &[&str] = &[
    "primary_region",
    "secondary_region",
    "domain_name",
    "rto_minutes",
    "rpo_minutes",
    "account_id",
    "stackset_admin_region",
    "http_only",
    "protect_stateful",
    "moto_port",
    "global_port",
    "control_port",
    "region_ports",
    "path",
    "backend",
    "instance_type",
    "max_capacity",
    "db_allocated_storage_gb",
    "db_backup_retention_days",
    "image_parameter",
    "us-east-1",
    "suppress",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_give_an_environment_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_checked(&String::from_utf8_lossy(&bytes), &[]);
    }

    #[test]
    fn mutated_shipped_files_give_an_environment_or_an_error(
        name in prop::sample::select(vec!["local", "dev", "staging", "prod"]),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        parse_checked(&apply(&shipped(name), &edits), &[]);
    }

    #[test]
    fn any_value_of_any_key_gives_an_environment_or_an_error(
        key in prop::sample::select(KEYS.to_vec()),
        value in toml_value(),
    ) {
        // The key's line replaced wherever it is in the local cloud's file, or added.
        let text = shipped("local");
        let replaced: Vec<String> = text
            .lines()
            .map(|l| {
                if l.split('=').next().is_some_and(|k| k.trim() == key) {
                    format!("{key} = {value}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        parse_checked(&replaced.join("\n"), &[]);
        parse_checked(&text.replace("[environment]", &format!("[environment]\n{key} = {value}")), &[]);
    }

    #[test]
    fn any_variable_gives_an_environment_or_an_error(
        var in prop::sample::select(vec![
            "PRIMARY_REGION", "SECONDARY_REGION", "DOMAIN_NAME", "RTO_MINUTES", "RPO_MINUTES",
        ]),
        value in prop_oneof![any::<String>(), "[0-9eE+.-]{1,24}"],
    ) {
        parse_checked(&shipped("local"), &[(var.to_string(), value)]);
    }
}
