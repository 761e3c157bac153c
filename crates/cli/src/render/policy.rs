//! The policy pack's report: the "Policy" section `plan`, `apply` and the text preview print
//! after the plan, the `policy` array of `plan --json` and of the preview JSON, and the plain
//! lines of one finding the Markdown preview puts in its code blocks. Pure functions: what blocks
//! is the pack's decision ([`Finding::blocks`]), not this module's.

use std::fmt::Write;

use console::style;
use serde_json::{Value as Json, json};
use tandem_policy::{Finding, RULES, Report, Severity};

/// `1 blocks apply, 2 advisory, 1 suppressed`, or `no findings`.
pub fn counts_text(report: &Report) -> String {
    let (blocking, advisory, suppressed) = report.counts();
    let parts: Vec<String> = [
        (blocking, "mandatory (blocks apply)"),
        (advisory, "advisory"),
        (suppressed, "suppressed"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "no findings".to_string()
    } else {
        parts.join(", ")
    }
}

/// How a finding is marked: `✗` blocks apply, `!` warns, `○` suppressed (no plan marker: `+`,
/// `-`, `~`, `-/+` start a plan's change lines).
fn marker(f: &Finding) -> &'static str {
    match (f.suppressed.is_some(), f.severity) {
        (true, _) => "○",
        (false, Severity::Mandatory) => "✗",
        (false, Severity::Advisory) => "!",
    }
}

/// The first line of a finding: marker, rule, severity, address, region and subject.
fn head_line(f: &Finding) -> String {
    let mut line = format!(
        "{} {} {}{} {} (region {})",
        marker(f),
        f.rule.id,
        f.severity,
        if f.suppressed.is_some() {
            ", suppressed"
        } else {
            ""
        },
        f.addr,
        f.region
    );
    if let Some(s) = &f.subject {
        let _ = write!(line, " · {s}");
    }
    line
}

/// A finding as plain lines (no colour), each ending in a newline, indented by `indent`.
pub fn finding_plain(f: &Finding, indent: &str) -> String {
    let mut out = format!("{indent}{}\n", head_line(f));
    let _ = writeln!(out, "{indent}    {}", f.message);
    let _ = writeln!(out, "{indent}    fix: {}", f.fix);
    if let Some(reason) = &f.suppressed {
        let _ = writeln!(out, "{indent}    suppressed: {reason}");
    }
    out
}

/// The "Policy" section: a title with the counts, each finding, and the suppressions that
/// matched nothing.
pub fn policy_text(report: &Report) -> String {
    let mut out = String::new();
    let title = format!("Policy ({} rules): {}", RULES.len(), counts_text(report));
    let title = if report.is_blocking() {
        style(title).red().bold()
    } else {
        style(title).bold()
    };
    let _ = writeln!(out, "{title}");
    for f in &report.findings {
        let head = head_line(f);
        let head = match (f.blocks(), f.suppressed.is_some()) {
            (true, _) => style(head).red().bold(),
            (false, true) => style(head).dim(),
            (false, false) => style(head).yellow(),
        };
        let _ = writeln!(out, "  {head}");
        let _ = writeln!(out, "      {}", f.message);
        let _ = writeln!(out, "      {}", style(format!("fix: {}", f.fix)).dim());
        if let Some(reason) = &f.suppressed {
            let _ = writeln!(out, "      suppressed: {reason}");
        }
    }
    for s in &report.unused_suppressions {
        let _ = writeln!(
            out,
            "  {} the suppression of {}{} matches no finding: remove it",
            style("note:").yellow(),
            s.rule,
            s.resource
                .as_deref()
                .map(|r| format!(" for {r}"))
                .unwrap_or_default()
        );
    }
    if report.is_blocking() {
        let _ = writeln!(
            out,
            "  {}",
            style(
                "apply and deploy refuse (exit 9) until each ✗ is fixed, or suppressed with a \
                 reason in the environment's [policy] section"
            )
            .red()
        );
    }
    out
}

/// The `policy` array: one object per finding, in the report's order.
pub fn policy_json(report: &Report) -> Json {
    Json::Array(
        report
            .findings
            .iter()
            .map(|f| {
                json!({
                    "rule": f.rule.id,
                    "title": f.rule.title,
                    "severity": f.severity.as_str(),
                    "blocks": f.blocks(),
                    "address": f.addr.as_str(),
                    "region": f.region,
                    "subject": f.subject,
                    "message": f.message,
                    "fix": f.fix,
                    "suppressed": f.suppressed.is_some(),
                    "suppression_reason": f.suppressed,
                })
            })
            .collect(),
    )
}

/// The refusal of `apply` and `deploy`: the blocking findings' rules and addresses.
pub fn refusal(report: &Report, env_file: &std::path::Path) -> String {
    let blocking: Vec<String> = report
        .blocking()
        .map(|f| format!("{} {}", f.rule.id, f.addr))
        .collect();
    format!(
        "refusing to apply: the policy pack found {} mandatory finding(s) ({}); fix them, or \
         suppress each with a reason in {} ([policy] suppress); nothing was changed",
        blocking.len(),
        blocking.join(", "),
        env_file.display()
    )
}

#[cfg(test)]
mod tests {
    use tandem_core::{ResourceDecl, StackBuilder};
    use tandem_policy::{Context, Suppression, evaluate};

    use super::*;

    fn report(suppress: bool) -> Report {
        let mut b = StackBuilder::new();
        b.declare(
            ResourceDecl::new("us-east-1/s3:Bucket/assets".parse().unwrap())
                .input("kms_key_arn", "arn:aws:kms:us-east-1:123456789012:key/k")
                .input("deny_insecure_transport", false),
        );
        let suppressions = [Suppression {
            rule: "TP004".into(),
            reason: "a public website".into(),
            resource: None,
        }];
        evaluate(
            &b.finish().unwrap(),
            &Context::default(),
            if suppress { &suppressions } else { &[] },
        )
    }

    #[test]
    fn a_blocking_finding_and_a_suppressed_one() {
        let blocking = console::strip_ansi_codes(&policy_text(&report(false))).into_owned();
        assert!(
            blocking.starts_with("Policy (16 rules): 1 mandatory (blocks apply)\n  ✗ TP004 mandatory us-east-1/s3:Bucket/assets (region us-east-1)\n"),
            "{blocking}"
        );
        assert!(blocking.contains("refuse (exit 9)"), "{blocking}");
        let suppressed = console::strip_ansi_codes(&policy_text(&report(true))).into_owned();
        assert!(
            suppressed.contains("○ TP004 mandatory, suppressed us-east-1/s3:Bucket/assets")
                && suppressed.contains("suppressed: a public website")
                && !suppressed.contains("refuse"),
            "{suppressed}"
        );
        let j = policy_json(&report(true));
        assert_eq!(j[0]["rule"], "TP004");
        assert_eq!(j[0]["blocks"], false);
        assert_eq!(j[0]["suppression_reason"], "a public website");
    }
}
