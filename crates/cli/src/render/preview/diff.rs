//! The `diff` block of each change and drift entry: the property changes as a reviewer reads
//! them, multi-line values as line diffs.

use std::fmt::Write;

use serde_json::Value as Json;
use tandem_core::Value;
use tandem_engine::{Action, Drift, DriftKind, PropertyChange, ResourceChange};

use super::stateful::is_stateful;

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

pub(super) fn change_block(c: &ResourceChange, moved: Option<&String>) -> String {
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

pub(super) fn drift_block(d: &Drift) -> String {
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
