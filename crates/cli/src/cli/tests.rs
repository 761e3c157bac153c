//! `tandem --help` lists each command on one short line, as cargo and git do; the detail is in
//! the command's own help.

use clap::CommandFactory;

use super::Cli;

/// The lines of the `Commands:` section of `cmd`'s help.
fn command_lines(cmd: &mut clap::Command) -> Vec<String> {
    let help = cmd.render_help().to_string();
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Each visible subcommand of `cmd` (and `help`) has one line: its name, then a summary shorter
/// than 80 characters; no line continues another.
fn check_one_line_each(cmd: &mut clap::Command) {
    let lines = command_lines(cmd);
    let mut names: Vec<String> = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect();
    if !names.iter().any(|n| n == "help") {
        names.push("help".into());
    }
    assert_eq!(lines.len(), names.len(), "{}", lines.join("\n"));
    for (line, name) in lines.iter().zip(&names) {
        let summary = line
            .strip_prefix("  ")
            .and_then(|l| l.strip_prefix(name.as_str()))
            .unwrap_or_else(|| panic!("{line:?} does not start with the command {name}"))
            .trim();
        assert!(!summary.is_empty(), "{name} has no summary");
        assert!(
            summary.chars().count() < 80,
            "the summary of {name} is {} characters: {summary}",
            summary.chars().count()
        );
    }
}

#[test]
fn help_lists_each_command_on_one_short_line() {
    let mut cli = Cli::command();
    check_one_line_each(&mut cli);
    for group in ["state", "local"] {
        let sub = cli.find_subcommand_mut(group).expect("a command group");
        check_one_line_each(sub);
    }
}

#[test]
fn a_commands_own_help_has_its_detail() {
    let mut cli = Cli::command();
    cli.build();
    let failover = cli.find_subcommand("failover").expect("failover");
    assert_eq!(
        failover.get_about().map(ToString::to_string).as_deref(),
        Some("Fail over to the standby region")
    );
    let long = failover.get_long_about().expect("the detail").to_string();
    assert!(
        long.contains("the cloud must say it is a writer before anything"),
        "{long}"
    );
}
