//! Rendering plans, drift and state for people (coloured text) and machines (JSON); pull-request
//! previews in [`preview`]. Pure functions of what they render: no I/O.

pub mod drill;
pub mod policy;
pub mod preview;
pub mod resilience;
pub mod status;

use std::fmt::Write;

use console::{Style, style};
use serde_json::{Value as Json, json};
use tandem_core::Value;
use tandem_engine::{Action, Drift, DriftKind, Plan, PropertyChange, ResourceChange, Summary};

/// The version of the JSON plan format (`plan --json`). Bumped on incompatible changes.
pub const PLAN_JSON_VERSION: u32 = 1;

fn action_style(a: Action) -> Style {
    match a {
        Action::Create => Style::new().green(),
        Action::Update => Style::new().yellow(),
        Action::ReplaceCreateFirst | Action::ReplaceDeleteFirst => Style::new().magenta(),
        Action::Delete | Action::Forget => Style::new().red(),
        Action::NoOp => Style::new(),
    }
}

fn action_note(a: Action) -> &'static str {
    match a {
        Action::ReplaceCreateFirst => " (replace: create new, then delete old)",
        Action::ReplaceDeleteFirst => " (replace: delete old, then create new)",
        Action::Forget => " (forget: leave it in the cloud, remove from state)",
        _ => "",
    }
}

/// A value for a person: multi-line strings and large maps are shown pretty, refs as known after apply.
fn shown(v: &Value) -> String {
    match v {
        Value::Ref(r) => format!("(known after apply: {}.{})", r.addr, r.output),
        other => other.render(),
    }
}

/// Multi-line form of a value, for a line diff: strings holding JSON or several lines.
fn multiline(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\n') => Some(s.clone()),
        Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str::<Json>(s)
            .ok()
            .map(|j| serde_json::to_string_pretty(&j).unwrap_or_default()),
        _ => None,
    }
}

fn property_lines(out: &mut String, c: &PropertyChange, indent: &str) {
    let forces = if c.forces_replacement {
        format!(" {}", style("# forces replacement").red())
    } else {
        String::new()
    };
    let old_ml = c.old.as_ref().and_then(multiline);
    let new_ml = c.new.as_ref().and_then(multiline);
    if old_ml.is_some() || new_ml.is_some() {
        let _ = writeln!(out, "{indent}{}:{forces}", c.name);
        let (a, b) = (old_ml.unwrap_or_default(), new_ml.unwrap_or_default());
        let diff = similar::TextDiff::from_lines(&a, &b);
        for change in diff.iter_all_changes() {
            let (sign, st) = match change.tag() {
                similar::ChangeTag::Delete => ("-", Style::new().red()),
                similar::ChangeTag::Insert => ("+", Style::new().green()),
                similar::ChangeTag::Equal => (" ", Style::new().dim()),
            };
            let line = change.to_string_lossy();
            let _ = writeln!(
                out,
                "{indent}  {}",
                st.apply_to(format!("{sign} {}", line.trim_end_matches('\n')))
            );
        }
        return;
    }
    match (&c.old, &c.new) {
        (None, Some(n)) => {
            let _ = writeln!(out, "{indent}{}: {}{forces}", c.name, shown(n));
        }
        (Some(o), None) => {
            let _ = writeln!(
                out,
                "{indent}{}: {} → {}{forces}",
                c.name,
                shown(o),
                style("(removed)").dim()
            );
        }
        (Some(o), Some(n)) => {
            let _ = writeln!(
                out,
                "{indent}{}: {} → {}{forces}",
                c.name,
                shown(o),
                shown(n)
            );
        }
        (None, None) => {}
    }
}

fn change_lines(out: &mut String, c: &ResourceChange, moved: Option<&String>) {
    let st = action_style(c.action);
    let _ = writeln!(
        out,
        "  {} {}{}",
        st.apply_to(format!("{:>3}", c.action.marker())),
        st.apply_to(&c.addr).bold(),
        style(action_note(c.action)).dim()
    );
    if let Some(why) = moved {
        let _ = writeln!(
            out,
            "        {}",
            style(format!("# runs in this wave {why}")).dim()
        );
    }
    for r in &c.replace_reasons {
        let _ = writeln!(out, "        {}", style(format!("# {r}")).red());
    }
    for p in c.property_changes().iter() {
        property_lines(out, p, "        ");
    }
}

pub fn summary_line(s: &Summary) -> String {
    if s.total_changes() == 0 {
        return format!("No changes. {} resources up to date.", s.unchanged);
    }
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
        s.create, s.update, s.replace, s.delete, s.unchanged
    )
}

/// The drift section of a plan (empty without drift), as `plan` and `refresh` print it.
pub fn drift_text(drift: &[Drift]) -> String {
    let mut out = String::new();
    if drift.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{}",
        style("Drift: changed outside Tandem (the plan below corrects it)")
            .yellow()
            .bold()
    );
    for d in drift {
        match &d.kind {
            DriftKind::Deleted => {
                let _ = writeln!(
                    out,
                    "  {} {} {}",
                    style("  -").red(),
                    d.addr,
                    style("(deleted outside Tandem)").dim()
                );
            }
            DriftKind::Changed(changes) => {
                let _ = writeln!(out, "  {} {}", style("  ~").yellow(), d.addr);
                for p in changes {
                    property_lines(&mut out, p, "        ");
                }
            }
        }
    }
    out.push('\n');
    out
}

/// The human plan: drift first, then each wave's changes, then the summary line.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style(format!(
            "Plan for stack {} in environment {} (state serial {})",
            plan.stack, plan.env, plan.base_serial
        ))
        .bold()
    );
    out.push('\n');
    out.push_str(&drift_text(&plan.drift));
    let n = plan.waves.len();
    for (i, w) in plan.waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}",
            style(format!("Wave {}/{n}: {}", i + 1, w.name))
                .cyan()
                .bold()
        );
        for c in &w.changes {
            change_lines(&mut out, c, w.moved.get(&c.addr));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", style(summary_line(&plan.summary())).bold());
    out
}

fn prop_json(p: &PropertyChange) -> Json {
    json!({
        "name": p.name,
        "old": p.old.as_ref().map(Value::to_json),
        "new": p.new.as_ref().map(Value::to_json),
        "forces_replacement": p.forces_replacement,
    })
}

fn summary_json(s: &Summary) -> Json {
    json!({
        "create": s.create, "update": s.update, "replace": s.replace,
        "delete": s.delete, "unchanged": s.unchanged,
    })
}

/// The machine plan (`plan --json`): stable keys, a format version.
pub fn plan_json(plan: &Plan) -> Json {
    let waves: Vec<Json> = plan
        .waves
        .iter()
        .map(|w| {
            json!({
                "name": w.name,
                "summary": summary_json(&Plan::wave_summary(w)),
                "steps": w.changes.iter().map(|c| json!({
                    "address": c.addr.as_str(),
                    "region": c.addr.region_str(),
                    "kind": c.addr.kind(),
                    "action": c.action.name(),
                    "moved_to_wave_because": w.moved.get(&c.addr),
                    "replace_reasons": c.replace_reasons,
                    "properties": c.property_changes().iter().map(prop_json).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let drift: Vec<Json> = plan
        .drift
        .iter()
        .map(|d| match &d.kind {
            DriftKind::Deleted => json!({"address": d.addr.as_str(), "kind": "deleted"}),
            DriftKind::Changed(ch) => json!({
                "address": d.addr.as_str(), "kind": "changed",
                "properties": ch.iter().map(prop_json).collect::<Vec<_>>(),
            }),
        })
        .collect();
    json!({
        "format_version": PLAN_JSON_VERSION,
        "stack": plan.stack,
        "env": plan.env,
        "lineage": plan.lineage,
        "base_serial": plan.base_serial,
        "summary": summary_json(&plan.summary()),
        "waves": waves,
        "drift": drift,
        "outputs": plan.outputs.iter().map(|(k, v)| (k.clone(), v.to_json())).collect::<serde_json::Map<_, _>>(),
    })
}

/// Stack outputs for people: `name = value`.
pub fn outputs_text(outputs: &std::collections::BTreeMap<String, Value>) -> String {
    let mut out = String::new();
    for (k, v) in outputs {
        let shown = match v {
            Value::String(s) => s.clone(),
            other => other.render(),
        };
        let _ = writeln!(out, "{k} = {shown}");
    }
    out
}
