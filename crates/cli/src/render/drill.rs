//! A drill's report as Markdown (for people and pull requests) and JSON (for machines). Pure.

use serde_json::{Value as Json, json};
use tandem_failover::DrillOutcome;
use tandem_failover::drill::DrillReport;

use super::resilience::{
    check_json, objective_json, objective_text, reading_json, recovery_point_text, utc,
};

/// The version of the drill report's JSON. Bumped on incompatible changes.
pub const DRILL_JSON_VERSION: u32 = 2;

fn outcome_word(o: DrillOutcome) -> &'static str {
    match o {
        DrillOutcome::Met => "met",
        DrillOutcome::Missed => "missed",
        DrillOutcome::Unverified => "unverified",
    }
}

pub fn json(env: &str, r: &DrillReport) -> Json {
    json!({
        "version": DRILL_JSON_VERSION,
        "environment": env,
        "from": r.from,
        "to": r.to,
        "outcome": outcome_word(r.outcome),
        "outage_method": r.outage_method,
        "outage_at": r.outage_at,
        "detected_at": r.detected_at,
        "detected_by": r.detected_by,
        "detection_seconds": r.detected_at - r.outage_at,
        "promoted_at": r.promoted_at,
        "dns_changed_at": r.dns_changed_at,
        "recovered_at": r.recovered_at,
        "restored_at": r.restored_at,
        "finished_at": r.finished_at,
        "rto": objective_json(&r.rto),
        "rpo": objective_json(&r.rpo),
        "recovery_point": {
            "replica_lag": reading_json(&r.recovery_point.lag, |s| json!(s.seconds)),
            "datapoint_age_seconds": r.recovery_point.age_seconds,
        },
        "checks": r.checks.iter().map(check_json).collect::<Vec<_>>(),
        "phases": r.phases.iter().map(|p| json!({
            "name": p.phase.name(), "seconds": p.seconds(), "outcome": p.outcome.to_string(),
        })).collect::<Vec<_>>(),
        "deferred_during_failover": r.deferred.iter().map(|d| json!({
            "aspect": d.aspect, "waits_for": d.waits_for, "why": d.why,
        })).collect::<Vec<_>>(),
        "completed_after_restore": r.resumed.iter().map(|p| p.phase.name()).collect::<Vec<_>>(),
        "still_deferred": r.still_deferred.iter().map(|d| d.aspect).collect::<Vec<_>>(),
        "resume_error": r.resume_error,
        "tandem_overhead_ms": r.overhead.as_millis() as u64,
        "cloud_wait_ms": r.cloud_wait.as_millis() as u64,
        "detection_wait_ms": r.detection_wait.as_millis() as u64,
    })
}

fn verdict_cell(v: &tandem_failover::report::Verdict) -> String {
    use tandem_failover::report::Verdict;
    match v {
        Verdict::Passed => "passed".into(),
        Verdict::Failed => "**FAILED**".into(),
        Verdict::NotVerifiable(why) => format!("not verifiable here ({why})"),
        Verdict::NotMeasured(why) => format!("not measured ({why})"),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(r: &DrillReport) -> String {
    let mut md = format!("# Failover drill: {} → {}\n\n", r.from, r.to);
    md.push_str(&format!(
        "**{}**\n\n- RTO: {}\n- RPO: {}\n- Recovery point: {}\n\n",
        match r.outcome {
            DrillOutcome::Met => "Objectives met",
            DrillOutcome::Missed => "Objective missed",
            DrillOutcome::Unverified =>
                "Unverified: not every objective and check could be measured here",
        },
        objective_text(&r.rto),
        objective_text(&r.rpo),
        recovery_point_text(&r.recovery_point)
    ));
    md.push_str("| event | time (UTC) |\n|---|---|\n");
    for (label, at) in [
        ("outage", Some(r.outage_at)),
        ("detection", Some(r.detected_at)),
        ("promotion", r.promoted_at),
        ("DNS change", r.dns_changed_at),
        ("recovery (checks read)", Some(r.recovered_at)),
        ("region restored", Some(r.restored_at)),
    ] {
        md.push_str(&format!(
            "| {label} | {} |\n",
            at.map_or("n/a".to_string(), utc)
        ));
    }
    md.push_str(&format!(
        "\nOutage: {}. Detected after {:.1} s by {}.\n\n",
        r.outage_method,
        r.detected_at - r.outage_at,
        r.detected_by
    ));
    md.push_str("| check | verdict | observed | read from |\n|---|---|---|---|\n");
    for c in &r.checks {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.kind.describe(),
            cell(&verdict_cell(&c.verdict)),
            cell(&c.observed),
            c.source
                .as_ref()
                .map_or("nothing read".to_string(), |s| cell(&s.to_string()))
        ));
    }
    md.push_str("\n| phase | seconds | outcome |\n|---|---|---|\n");
    for p in &r.phases {
        md.push_str(&format!(
            "| {} | {:.2} | {} |\n",
            p.phase,
            p.seconds(),
            cell(&p.outcome.to_string())
        ));
    }
    if !r.deferred.is_empty() {
        md.push_str("\nDeferred during the failover (completed after the region was restored):\n");
        for d in &r.deferred {
            md.push_str(&format!(
                "- {} (waited for {})\n",
                d.aspect.describe(),
                d.waits_for
            ));
        }
    }
    if let Some(e) = &r.resume_error {
        md.push_str(&format!(
            "\nCompleting the deferred work after the restore failed: {e}\n"
        ));
    }
    if !r.still_deferred.is_empty() {
        md.push_str("\nStill deferred (complete with `tandem failover --resume`):\n");
        for d in &r.still_deferred {
            md.push_str(&format!(
                "- {} (waits for {})\n",
                d.aspect.describe(),
                d.waits_for
            ));
        }
    }
    md
}
