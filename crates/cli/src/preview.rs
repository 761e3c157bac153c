//! Pull-request previews: the plans of one or several environments as one document, in Markdown
//! (a pull-request comment), JSON (a stable, versioned schema) or text (what `plan` prints).
//!
//! Every renderer is a pure function of the plans: no clock, no environment, no I/O. Equal plans
//! give byte-identical documents, so a CI job can tell whether its comment needs updating.
//!
//! # The Markdown comment
//! In order: a hidden [`MARKER`] (a CI job finds its one comment by it and updates it in place);
//! the summary table (counts per action, per environment and region); the banners — `[!CAUTION]`
//! when a stateful resource (database, replica, bucket, hosted zone) is deleted or replaced,
//! `[!WARNING]` for any other delete or replacement, each entry with its replace reasons, and a
//! `[!NOTE]` when resources drifted; then one collapsed `<details>` per environment and region with a
//! ```` ```diff ```` block; then "Changes outside Tandem (drift)". Secrets show as `(secret)`.
//!
//! A comment never exceeds [`GITHUB_COMMENT_LIMIT`]: when the whole document is longer, the details
//! are cut (the last region first, then the drift details), the last one kept partly when it
//! fits, and a note under the banners names what was cut. The marker, the summary and the banners
//! are never cut.

use std::fmt::Write;

use serde_json::{Value as Json, json};
use tandem_core::Value;
use tandem_engine::{Action, Drift, DriftKind, Plan, PropertyChange, ResourceChange, Summary};
use tandem_schema::kinds;

use crate::render;

/// The first line of every Markdown preview, invisible on GitHub.
pub const MARKER: &str = "<!-- tandem-preview -->";

/// GitHub refuses a comment longer than this many characters. Previews are kept within it in
/// bytes, which is stricter.
pub const GITHUB_COMMENT_LIMIT: usize = 65_535;

/// The version of the preview JSON schema (`preview --format json`). Bumped on incompatible changes.
pub const PREVIEW_JSON_VERSION: u32 = 1;

/// Kinds whose deletion or replacement loses data: they get the louder banner.
pub const STATEFUL_KINDS: &[&str] = &[
    kinds::RDS_DB_INSTANCE,
    kinds::RDS_DB_READ_REPLICA,
    kinds::S3_BUCKET,
    kinds::ROUTE53_HOSTED_ZONE,
];

/// At most this many entries per banner; the rest are counted.
const BANNER_MAX_ENTRIES: usize = 50;

/// At most this many characters of one banner entry's reasons.
const BANNER_MAX_REASONS: usize = 400;

pub fn is_stateful(kind: &str) -> bool {
    STATEFUL_KINDS.contains(&kind)
}

// ---------------------------------------------------------------------------------------------
// Text

/// The human plan of each environment, as `tandem plan` prints it; without colour codes unless
/// `colour`.
pub fn text(plans: &[Plan], colour: bool) -> String {
    let mut out = String::new();
    for (i, plan) in plans.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&render::plan_text(plan));
    }
    if colour {
        out
    } else {
        console::strip_ansi_codes(&out).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// The preview as JSON (schema in the README, "Preview JSON"):
///
/// ```text
/// { "format_version": 1, "kind": "tandem-preview",
///   "summary": { create, update, replace, delete, unchanged, drifted },   // all environments
///   "environments": [ PLAN_JSON + { "drifted" } ] }
/// ```
/// Each environment is the `plan --json` document ([`render::plan_json`]) with, on every step,
/// `stateful`, `old` (the recorded inputs, or null) and `new` (the planned inputs, or null), and on
/// every drift entry its `region`. Secrets are masked everywhere as `{"$secret": "masked"}`.
pub fn json(plans: &[Plan]) -> Json {
    let mut total = Summary::default();
    let mut drifted = 0;
    for p in plans {
        let s = p.summary();
        total.create += s.create;
        total.update += s.update;
        total.replace += s.replace;
        total.delete += s.delete;
        total.unchanged += s.unchanged;
        drifted += p.drift.len();
    }
    let mut doc = json!({
        "format_version": PREVIEW_JSON_VERSION,
        "kind": "tandem-preview",
        "summary": {
            "create": total.create, "update": total.update, "replace": total.replace,
            "delete": total.delete, "unchanged": total.unchanged, "drifted": drifted,
        },
        "environments": plans.iter().map(environment_json).collect::<Vec<_>>(),
    });
    mask_secrets(&mut doc);
    doc
}

fn environment_json(plan: &Plan) -> Json {
    let mut doc = render::plan_json(plan);
    if let Some(waves) = doc.get_mut("waves").and_then(Json::as_array_mut) {
        for (wave_json, wave) in waves.iter_mut().zip(&plan.waves) {
            let Some(steps) = wave_json.get_mut("steps").and_then(Json::as_array_mut) else {
                continue;
            };
            for (step, change) in steps.iter_mut().zip(&wave.changes) {
                let Some(step) = step.as_object_mut() else {
                    continue;
                };
                let old = change
                    .prior
                    .as_ref()
                    .map_or(Json::Null, |p| tandem_core::props_to_json(&p.inputs));
                let new = change
                    .inputs
                    .as_ref()
                    .map_or(Json::Null, tandem_core::props_to_json);
                step.insert("stateful".into(), is_stateful(change.addr.kind()).into());
                step.insert("old".into(), old);
                step.insert("new".into(), new);
            }
        }
    }
    if let Some(drift) = doc.get_mut("drift").and_then(Json::as_array_mut) {
        for (entry, d) in drift.iter_mut().zip(&plan.drift) {
            if let Some(entry) = entry.as_object_mut() {
                entry.insert("region".into(), d.addr.region_str().into());
            }
        }
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("drifted".into(), plan.drift.len().into());
    }
    doc
}

/// Replaces every `{"$secret": DIGEST}` by `{"$secret": "masked"}`: a digest of a short secret can
/// be guessed, and a preview is posted where many can read it.
fn mask_secrets(j: &mut Json) {
    match j {
        Json::Object(o) => {
            if o.len() == 1 && o.contains_key("$secret") {
                o.insert("$secret".into(), Json::String("masked".into()));
                return;
            }
            o.values_mut().for_each(mask_secrets);
        }
        Json::Array(a) => a.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown

/// The Markdown pull-request comment, within GitHub's limit.
pub fn markdown(plans: &[Plan]) -> String {
    markdown_within(plans, GITHUB_COMMENT_LIMIT)
}

/// The Markdown comment within `limit` bytes.
pub fn markdown_within(plans: &[Plan], limit: usize) -> String {
    let head = head(plans);
    let mut parts = Vec::new();
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

/// A piece of the document after the head: fixed text, or a section that may be cut.
enum Part {
    Fixed(String),
    Section(Section),
}

/// A collapsed section: its opening (`<details>`, summary, fence), one block per resource, and its
/// closing. When cut, the first `kept` blocks stay.
struct Section {
    /// Names the section in the note about what was cut.
    label: String,
    /// Drift sections are cut after every change section.
    drift: bool,
    open: String,
    blocks: Vec<String>,
    close: String,
}

impl Section {
    fn render(&self, kept: usize, out: &mut String) {
        out.push_str(&self.open);
        for b in &self.blocks[..kept] {
            out.push_str(b);
        }
        if kept < self.blocks.len() {
            let _ = writeln!(
                out,
                "# … {} more resource(s) cut to fit one comment",
                self.blocks.len() - kept
            );
        }
        out.push_str(&self.close);
    }
}

/// Assembles the document, cutting sections (changes from the last, then drift) until it fits.
fn fit(head: &str, parts: Vec<Part>, footer: &str, limit: usize) -> String {
    let sections: Vec<usize> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| matches!(p, Part::Section(_)).then_some(i))
        .collect();
    // `kept[i]`: how many blocks of part i are shown; `None` when the section is cut whole.
    let mut kept: Vec<Option<usize>> = parts
        .iter()
        .map(|p| match p {
            Part::Section(s) => Some(s.blocks.len()),
            Part::Fixed(_) => Some(0),
        })
        .collect();
    let doc = assemble(head, &parts, &kept, footer);
    if doc.len() <= limit {
        return doc;
    }
    let section_of = |i: usize| match &parts[i] {
        Part::Section(s) => s,
        Part::Fixed(_) => unreachable!("only sections are cut"),
    };
    let mut order: Vec<usize> = sections
        .iter()
        .rev()
        .copied()
        .filter(|&i| !section_of(i).drift)
        .collect();
    order.extend(
        sections
            .iter()
            .rev()
            .copied()
            .filter(|&i| section_of(i).drift),
    );
    for &i in &order {
        kept[i] = None;
        if assemble(head, &parts, &kept, footer).len() > limit {
            continue;
        }
        // It fits without this section: keep as much of it as fits.
        let s = section_of(i);
        let (mut lo, mut hi) = (0, s.blocks.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            kept[i] = Some(mid);
            if assemble(head, &parts, &kept, footer).len() <= limit {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        kept[i] = (lo > 0).then_some(lo);
        break;
    }
    let doc = assemble(head, &parts, &kept, footer);
    if doc.len() <= limit {
        return doc;
    }
    // Only the head is left and it is still too long (thousands of banner lines cannot happen,
    // they are capped; but be certain): cut at a character boundary.
    let tail = "\n\n… the preview was cut here to fit one comment.\n";
    let mut end = limit.saturating_sub(tail.len());
    while !doc.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{tail}", &doc[..end])
}

fn assemble(head: &str, parts: &[Part], kept: &[Option<usize>], footer: &str) -> String {
    let mut cut = Vec::new();
    for (p, k) in parts.iter().zip(kept) {
        match (p, k) {
            (Part::Section(s), Some(k)) if *k < s.blocks.len() => cut.push(format!(
                "{} ({} of {} resources shown)",
                s.label,
                k,
                s.blocks.len()
            )),
            (Part::Section(s), None) => cut.push(s.label.clone()),
            _ => {}
        }
    }
    let mut out = String::with_capacity(head.len() + 4096);
    out.push_str(head);
    if !cut.is_empty() {
        let _ = write!(
            out,
            "> [!NOTE]\n> **This preview was cut to fit GitHub's 65,535-character limit.** \
             The summary and the banners above are complete; these details were cut: {}. \
             Run `tandem preview --format text` or `tandem plan` to see everything.\n\n",
            cut.join(", ")
        );
    }
    for (p, k) in parts.iter().zip(kept) {
        match (p, k) {
            (Part::Fixed(t), _) => out.push_str(t),
            (Part::Section(s), Some(k)) => s.render(*k, &mut out),
            (Part::Section(_), None) => {}
        }
    }
    out.push_str(footer);
    out
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

/// The marker, the title, the summary table and the banners: never cut.
fn head(plans: &[Plan]) -> String {
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

fn action_words(a: Action) -> &'static str {
    match a {
        Action::NoOp => "no change",
        Action::Create => "create",
        Action::Update => "update in place",
        Action::ReplaceCreateFirst => "replace: create new, then delete old",
        Action::ReplaceDeleteFirst => "replace: delete old, then create new",
        Action::Delete => "delete",
        Action::Forget => "forget: remove from the state, leave in the cloud",
    }
}

/// Indent of property lines after their one-character sign.
const PROP: &str = "     ";

fn change_block(c: &ResourceChange, moved: Option<&String>) -> String {
    let mut out = String::new();
    let loses_data = c.action.is_replace() || c.action == Action::Delete;
    let stateful = if is_stateful(c.addr.kind()) && loses_data {
        " STATEFUL"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{} {} ({}){stateful}",
        c.action.marker(),
        c.addr,
        action_words(c.action)
    );
    if let Some(why) = moved {
        let _ = writeln!(out, " {PROP}# runs in this wave {why}");
    }
    for r in &c.replace_reasons {
        let _ = writeln!(out, " {PROP}# {r}");
    }
    if c.action.is_delete() {
        // What goes away: the recorded inputs.
        for (name, v) in c.prior.iter().flat_map(|p| &p.inputs) {
            property_lines(
                &mut out,
                &PropertyChange {
                    name: name.clone(),
                    old: Some(v.clone()),
                    new: None,
                    forces_replacement: false,
                },
            );
        }
    } else {
        for p in c.property_changes().iter() {
            property_lines(&mut out, p);
        }
    }
    out
}

fn drift_block(d: &Drift) -> String {
    let mut out = String::new();
    match &d.kind {
        DriftKind::Deleted => {
            let _ = writeln!(out, "- {} (deleted outside Tandem)", d.addr);
        }
        DriftKind::Changed(props) => {
            let _ = writeln!(out, "~ {} (changed outside Tandem)", d.addr);
            for p in props {
                property_lines(&mut out, p);
            }
        }
    }
    out
}

/// A value for a reviewer: secrets masked, references and unknowns spelled out.
fn shown(v: &Value) -> String {
    match v {
        Value::Ref(r) => format!("(known after apply: {}.{})", r.addr, r.output),
        other => other.render(),
    }
}

/// The lines of a multi-line value (several lines, or JSON pretty-printed), for a line diff.
fn multiline(v: &Value) -> Option<String> {
    let Value::String(s) = v else { return None };
    let trimmed = s.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(j) = serde_json::from_str::<Json>(s) {
            if j.is_object() || j.as_array().is_some_and(|a| !a.is_empty()) {
                let mut pretty = serde_json::to_string_pretty(&j).unwrap_or_default();
                pretty.push('\n');
                return Some(pretty);
            }
        }
    }
    if s.contains('\n') {
        let mut text = s.clone();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return Some(text);
    }
    None
}

fn property_lines(out: &mut String, p: &PropertyChange) {
    let forces = if p.forces_replacement {
        "  # forces replacement"
    } else {
        ""
    };
    let old_ml = p.old.as_ref().and_then(multiline);
    let new_ml = p.new.as_ref().and_then(multiline);
    if old_ml.is_some() || new_ml.is_some() {
        let sign = match (&p.old, &p.new) {
            (None, _) => '+',
            (_, None) => '-',
            _ => '~',
        };
        let _ = writeln!(out, "{sign}{PROP}{}:{forces}", p.name);
        // A single-line side (a number, a secret) becomes one line of the diff.
        let side = |v: &Option<Value>, ml: Option<String>| match (v, ml) {
            (_, Some(text)) => text,
            (Some(v), None) => format!("{}\n", shown(v)),
            (None, None) => String::new(),
        };
        let (a, b) = (side(&p.old, old_ml), side(&p.new, new_ml));
        let diff = similar::TextDiff::from_lines(&a, &b);
        for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
            let _ = writeln!(out, "{} {}", hunk.header(), p.name);
            for change in hunk.iter_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                let line = change.to_string_lossy();
                let _ = writeln!(out, "{sign}{PROP}  {}", line.trim_end_matches(['\n', '\r']));
            }
        }
        return;
    }
    match (&p.old, &p.new) {
        (Some(o), Some(n)) if o.is_secret() && n.is_secret() => {
            let _ = writeln!(out, "~{PROP}{} = (secret, changed){forces}", p.name);
        }
        (None, Some(n)) => {
            let _ = writeln!(out, "+{PROP}{} = {}{forces}", p.name, shown(n));
        }
        (Some(o), None) => {
            let _ = writeln!(out, "-{PROP}{} = {}{forces}", p.name, shown(o));
        }
        (Some(o), Some(n)) => {
            let _ = writeln!(out, "-{PROP}{} = {}", p.name, shown(o));
            let _ = writeln!(out, "+{PROP}{} = {}{forces}", p.name, shown(n));
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests;
