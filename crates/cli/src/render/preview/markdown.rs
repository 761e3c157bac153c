//! The Markdown pull-request comment: marker, summary table, policy counts, banners, the policy
//! findings and one collapsed section per environment and region, drift; within GitHub's limit.

use std::fmt::Write;

use tandem_engine::{Action, Plan, ResourceChange, Summary};
use tandem_policy::Report;

use super::diff::{change_block, drift_block};
use super::fit::{Part, Section, fit};
use super::stateful::is_stateful;
use crate::render;

/// The first line of every Markdown preview, invisible on GitHub.
pub const MARKER: &str = "<!-- tandem-preview -->";

/// GitHub refuses a comment longer than this many characters. Previews are kept within it in
/// bytes, which is stricter.
pub const GITHUB_COMMENT_LIMIT: usize = 65_535;

/// At most this many entries per banner; the rest are counted.
const BANNER_MAX_ENTRIES: usize = 50;

/// At most this many characters of one banner entry's reasons.
const BANNER_MAX_REASONS: usize = 400;

/// The Markdown pull-request comment, within GitHub's limit. `policies[i]`, when given, is the
/// policy pack's report on `plans[i]`'s environment.
pub fn markdown(plans: &[Plan], policies: &[Report]) -> String {
    markdown_within(plans, policies, GITHUB_COMMENT_LIMIT)
}

/// The Markdown comment within `limit` bytes.
pub fn markdown_within(plans: &[Plan], policies: &[Report], limit: usize) -> String {
    let head = head(plans, policies);
    let mut parts = Vec::new();
    // The findings before the changes: the changes' sections are cut first.
    for (plan, report) in plans.iter().zip(policies) {
        parts.extend(policy_section(plan, report).map(Part::Section));
    }
    for plan in plans {
        for w in &plan.waves {
            parts.push(Part::Section(wave_section(plan, w)));
        }
    }
    if plans.iter().any(|p| !p.drift.is_empty()) {
        parts.push(Part::Fixed(
            "### Changes outside Tandem (drift)\n\n\
             Found by reading the cloud before planning; the plan above starts from what the cloud \
             holds now. `-` is what Tandem last applied, `+` what the cloud holds.\n\n"
                .to_string(),
        ));
        for plan in plans.iter().filter(|p| !p.drift.is_empty()) {
            parts.push(Part::Section(drift_section(plan)));
        }
    }
    fit(&head, parts, &footer(plans), limit)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `3 to create, 1 to replace`, zeros left out.
fn counts_text(s: &Summary) -> String {
    let parts: Vec<String> = [
        (s.create, "to create"),
        (s.update, "to update"),
        (s.replace, "to replace"),
        (s.delete, "to delete"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "no changes".to_string()
    } else {
        parts.join(", ")
    }
}

/// The marker, the title, the summary table, the policy counts and the banners: never cut.
fn head(plans: &[Plan], policies: &[Report]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let stacks: Vec<&str> = {
        let mut s: Vec<&str> = plans.iter().map(|p| p.stack.as_str()).collect();
        s.dedup();
        s
    };
    let envs: Vec<String> = plans.iter().map(|p| format!("`{}`", p.env)).collect();
    let _ = writeln!(out, "## Tandem preview\n");
    let total_changes: usize = plans.iter().map(|p| p.summary().total_changes()).sum();
    let _ = writeln!(
        out,
        "Stack {} · environment{} {} · {}\n",
        stacks
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if plans.len() == 1 { "" } else { "s" },
        if envs.is_empty() {
            "(none)".to_string()
        } else {
            envs.join(", ")
        },
        if total_changes == 0 {
            "**no changes**".to_string()
        } else {
            format!("**{total_changes} change(s)**")
        }
    );
    out.push_str(&summary_table(plans));
    out.push_str(&super::policy::head(plans, policies));
    out.push_str(&banners(plans));
    out
}

fn summary_table(plans: &[Plan]) -> String {
    let mut out = String::new();
    out.push_str("| Environment | Region | Create | Update | Replace | Delete | Unchanged |\n");
    out.push_str("|:--|:--|--:|--:|--:|--:|--:|\n");
    for plan in plans {
        let env = &plan.env;
        for w in &plan.waves {
            let s = Plan::wave_summary(w);
            let _ = writeln!(
                out,
                "| `{env}` | {} | {} | {} | {} | {} | |",
                w.name, s.create, s.update, s.replace, s.delete
            );
        }
        let s = plan.summary();
        let region = if plan.waves.is_empty() {
            "*no changes*"
        } else {
            "**all**"
        };
        let _ = writeln!(
            out,
            "| **`{env}`** | {region} | **{}** | **{}** | **{}** | **{}** | {} |",
            s.create, s.update, s.replace, s.delete, s.unchanged
        );
    }
    out.push('\n');
    out
}

/// One banner entry: a deleted or replaced resource.
fn banner_entry(env: &str, c: &ResourceChange) -> String {
    let what = match c.action {
        Action::ReplaceCreateFirst => "**replaced** (new one created first, then the old deleted)",
        Action::ReplaceDeleteFirst => {
            "**replaced** (old one deleted first: unavailable until the new one is created)"
        }
        Action::Delete => "**deleted**",
        Action::Forget => "**forgotten** (removed from the state, left in the cloud)",
        _ => "changed",
    };
    let mut reasons = c.replace_reasons.join("; ");
    if reasons.chars().count() > BANNER_MAX_REASONS {
        reasons = reasons.chars().take(BANNER_MAX_REASONS).collect::<String>() + "…";
    }
    if reasons.is_empty() && c.action == Action::Delete {
        reasons = "no longer declared".to_string();
    }
    if reasons.is_empty() {
        format!("> - `{env}` · `{}` will be {what}\n", c.addr)
    } else {
        format!("> - `{env}` · `{}` will be {what}: {reasons}\n", c.addr)
    }
}

fn banners(plans: &[Plan]) -> String {
    let mut caution = Vec::new();
    let mut warning = Vec::new();
    for plan in plans {
        for c in plan.changes() {
            if !(c.action.is_replace() || c.action.is_delete()) {
                continue;
            }
            let entry = banner_entry(&plan.env, c);
            if is_stateful(c.addr.kind()) && c.action != Action::Forget {
                caution.push(entry);
            } else {
                warning.push(entry);
            }
        }
    }
    let mut out = String::new();
    let mut banner = |kind: &str, title: String, entries: &[String]| {
        if entries.is_empty() {
            return;
        }
        let _ = writeln!(out, "> [!{kind}]\n> {title}");
        for e in entries.iter().take(BANNER_MAX_ENTRIES) {
            out.push_str(e);
        }
        if entries.len() > BANNER_MAX_ENTRIES {
            let _ = writeln!(
                out,
                "> - … and {} more (listed in the details below)",
                entries.len() - BANNER_MAX_ENTRIES
            );
        }
        out.push('\n');
    };
    banner(
        "CAUTION",
        format!(
            "**{} stateful resource(s) (databases, replicas, buckets, hosted zones) will be deleted or replaced: their data may be lost.**",
            caution.len()
        ),
        &caution,
    );
    banner(
        "WARNING",
        format!(
            "**{} resource(s) will be deleted or replaced.**",
            warning.len()
        ),
        &warning,
    );
    let drifted: Vec<String> = plans
        .iter()
        .filter(|p| !p.drift.is_empty())
        .map(|p| format!("`{}`: {}", p.env, p.drift.len()))
        .collect();
    if !drifted.is_empty() {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> Resources were changed outside Tandem ({}); see *Changes outside Tandem (drift)* below.\n",
            drifted.join(", ")
        );
    }
    out
}

fn footer(plans: &[Plan]) -> String {
    let env = plans.first().map_or("ENV", |p| p.env.as_str());
    format!(
        "---\n<sub>Made by `tandem preview`. To apply exactly a reviewed plan: \
         `tandem plan --env {env} --out plan.json`, then `tandem apply plan.json` \
         (refused if the state or the code changed since).</sub>\n"
    )
}

/// The fence for a code block: longer than any run of backticks inside it.
fn fence_for(blocks: &[String]) -> String {
    let mut longest = 0;
    for b in blocks {
        let mut run = 0;
        for ch in b.chars() {
            if ch == '`' {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn wave_section(plan: &Plan, w: &tandem_engine::Wave) -> Section {
    let blocks: Vec<String> = w
        .changes
        .iter()
        .map(|c| change_block(c, w.moved.get(&c.addr)))
        .collect();
    let fence = fence_for(&blocks);
    let counts = counts_text(&Plan::wave_summary(w));
    Section {
        label: format!("`{}` · {}", plan.env, w.name),
        drift: false,
        open: format!(
            "<details><summary><code>{}</code> · <b>{}</b>: {counts}</summary>\n\n{fence}diff\n",
            html_escape(&plan.env),
            html_escape(&w.name),
        ),
        blocks,
        close: format!("{fence}\n\n</details>\n\n"),
    }
}

/// One environment's policy findings, each with its fix (and its suppression's reason); `None`
/// without findings. Open when a finding blocks `apply`.
fn policy_section(plan: &Plan, report: &Report) -> Option<Section> {
    if report.findings.is_empty() {
        return None;
    }
    let blocks: Vec<String> = report
        .findings
        .iter()
        .map(|f| render::policy::finding_plain(f, ""))
        .collect();
    let fence = fence_for(&blocks);
    Some(Section {
        label: format!("`{}` · policy", plan.env),
        drift: false,
        open: format!(
            "<details{}><summary><code>{}</code> · <b>policy</b>: {}</summary>\n\n{fence}text\n",
            if report.is_blocking() { " open" } else { "" },
            html_escape(&plan.env),
            render::policy::counts_text(report)
        ),
        blocks,
        close: format!("{fence}\n\n</details>\n\n"),
    })
}

fn drift_section(plan: &Plan) -> Section {
    let blocks: Vec<String> = plan.drift.iter().map(drift_block).collect();
    let fence = fence_for(&blocks);
    Section {
        label: format!("`{}` · drift", plan.env),
        drift: true,
        open: format!(
            "<details><summary><code>{}</code>: {} resource(s) changed outside Tandem</summary>\n\n{fence}diff\n",
            html_escape(&plan.env),
            plan.drift.len()
        ),
        blocks,
        close: format!("{fence}\n\n</details>\n\n"),
    }
}
