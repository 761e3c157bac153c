//! Rendering the failover library's reports: phases, checks (each with what was read from where),
//! the recovery point, deferred work, health and status. Pure functions: no I/O.

use console::style;
use serde_json::{Value as Json, json};
use tandem_failover::failback::FailbackReport;
use tandem_failover::failover::FailoverReport;
use tandem_failover::report::{Check, Objective, PhaseReport, RecoveryPoint, Verdict};
use tandem_failover::signals::Reading;
use tandem_failover::{Deferred, DrillOutcome};

/// Seconds since the epoch as UTC text, with milliseconds.
pub fn utc(t: f64) -> String {
    let secs = t.max(0.0) as u64;
    tandem_engine::store::utc_text(secs) + &format!(" (+{:03} ms)", (t.fract() * 1000.0) as u64)
}

/// One phase, as a line.
pub fn phase_line(p: &PhaseReport) -> String {
    format!("  {:<16} {:>6.2}s  {}", p.phase, p.seconds(), p.outcome)
}

fn verdict_styled(v: &Verdict) -> String {
    match v {
        Verdict::Passed => style("passed").green().to_string(),
        Verdict::Failed => style("FAILED").red().bold().to_string(),
        Verdict::NotVerifiable(_) => style("not verifiable here").yellow().to_string(),
        Verdict::NotMeasured(_) => style("not measured").yellow().to_string(),
    }
}

/// The reason behind a verdict that is neither passed nor failed.
fn verdict_reason(v: &Verdict) -> Option<&str> {
    match v {
        Verdict::NotVerifiable(why) | Verdict::NotMeasured(why) => Some(why),
        _ => None,
    }
}

/// One check, as a line and its source: `database writable  passed  <observed>  [read: API in R]`.
pub fn check_line(c: &Check) -> String {
    let mut line = format!(
        "  {:<22} {}  {}",
        c.kind.describe(),
        verdict_styled(&c.verdict),
        c.observed
    );
    match &c.source {
        Some(s) => line.push_str(&format!("  [read: {s}]")),
        None => line.push_str("  [nothing read]"),
    }
    if let Some(why) = verdict_reason(&c.verdict)
        && !c.observed.contains(why)
    {
        line.push_str(&format!("\n  {:<22} ({why})", ""));
    }
    line
}

/// The recovery point in words.
pub fn recovery_point_text(rp: &RecoveryPoint) -> String {
    match (rp.seconds(), rp.lag.source()) {
        (Some(s), Some(src)) => format!(
            "replica lag {s:.1} s at the promotion (datapoint {:.0} s old; read: {src})",
            rp.age_seconds.unwrap_or(0.0)
        ),
        _ => format!("not measured: {}", rp.why_not()),
    }
}

/// The deferred work, as lines.
pub fn deferred_lines(deferred: &[Deferred], hint: bool) -> Vec<String> {
    deferred
        .iter()
        .map(|d| {
            format!(
                "  {} deferred: {} — waits for {} ({}){}",
                style("!").yellow(),
                d.aspect.describe(),
                d.waits_for,
                d.why,
                if hint {
                    "; complete with `tandem failover --resume`"
                } else {
                    ""
                }
            )
        })
        .collect()
}

pub fn failover_text(r: &FailoverReport) -> String {
    let mut out = vec![
        style(format!(
            "Failed over from {} to {}{}",
            r.from,
            r.to,
            if r.resumed { " (resumed)" } else { "" }
        ))
        .green()
        .bold()
        .to_string(),
    ];
    out.extend(r.phases.iter().map(phase_line));
    out.push("Checks, read from the cloud:".into());
    out.push(check_line(&r.writer));
    out.extend(r.fenced.iter().map(check_line));
    out.push(format!(
        "Recovery point: {}",
        recovery_point_text(&r.recovery_point)
    ));
    out.extend(deferred_lines(&r.posture.deferred, true));
    out.join("\n")
}

pub fn failback_text(r: &FailbackReport) -> String {
    let mut out = vec![
        style(format!("Failed back: {} is active again", r.to))
            .green()
            .bold()
            .to_string(),
    ];
    out.extend(r.phases.iter().map(phase_line));
    if let Some(w) = &r.writer {
        out.push("Checks, read from the cloud:".into());
        out.push(check_line(w));
    }
    out.push(format!(
        "Switched with writes stopped; replica lag {}",
        match r.drained.value() {
            Some(s) => format!("{:.1} s", s.seconds),
            None => r.drained.why_not().unwrap_or_default(),
        }
    ));
    for m in &r.kept {
        out.push(format!(
            "  {} kept {} in {} (fenced, stopped): the environment protects its databases. Delete it yourself once you no longer need its data, then `tandem state rm` its address.",
            style("!").yellow(),
            m.name,
            m.region
        ));
    }
    out.join("\n")
}

/// An objective in words: `2.2 s (objective 900 s): met`.
pub fn objective_text(o: &Objective) -> String {
    match o {
        Objective::Met {
            measured,
            objective,
        } => format!("{measured:.1} s (objective {objective:.0} s): met"),
        Objective::Missed {
            measured,
            objective,
        } => format!("{measured:.1} s (objective {objective:.0} s): MISSED"),
        Objective::Unverified { objective, why } => {
            format!("not measured (objective {objective:.0} s): UNVERIFIED — {why}")
        }
    }
}

pub fn objective_json(o: &Objective) -> Json {
    match o {
        Objective::Met {
            measured,
            objective,
        } => json!({"verdict": "met", "seconds": measured, "objective_seconds": objective}),
        Objective::Missed {
            measured,
            objective,
        } => json!({"verdict": "missed", "seconds": measured, "objective_seconds": objective}),
        Objective::Unverified { objective, why } => {
            json!({"verdict": "unverified", "seconds": null, "objective_seconds": objective, "why": why})
        }
    }
}

pub fn check_json(c: &Check) -> Json {
    let (verdict, why) = match &c.verdict {
        Verdict::Passed => ("passed", None),
        Verdict::Failed => ("failed", None),
        Verdict::NotVerifiable(w) => ("not_verifiable", Some(w)),
        Verdict::NotMeasured(w) => ("not_measured", Some(w)),
    };
    json!({
        "check": c.kind.describe(),
        "verdict": verdict,
        "why": why,
        "observed": c.observed,
        "read_from": c.source.as_ref().map(|s| json!({"api": s.api, "region": s.region})),
    })
}

pub fn reading_json<T>(r: &Reading<T>, value: impl FnOnce(&T) -> Json) -> Json {
    match r {
        Reading::Read { value: v, source } => json!({
            "value": value(v),
            "read_from": {"api": source.api, "region": source.region},
        }),
        other => json!({"value": null, "why": other.why_not()}),
    }
}

pub fn outcome_text(o: DrillOutcome) -> String {
    match o {
        DrillOutcome::Met => style("Objectives met").green().bold().to_string(),
        DrillOutcome::Missed => style("Objective missed").red().bold().to_string(),
        DrillOutcome::Unverified => {
            style("Unverified: not every objective and check could be measured here")
                .yellow()
                .bold()
                .to_string()
        }
    }
}
