//! `check-health` and `status` for people (text) and machines (JSON). Pure.

use std::time::{Duration, UNIX_EPOCH};

use console::style;
use serde_json::{Value as Json, json};
use tandem_failover::health::{HealthReport, RegionHealth};
use tandem_failover::signals::Reading;
use tandem_failover::status::StatusReport;

use super::resilience::{check_json, check_line, deferred_lines, reading_json};

fn route53_column(r: &RegionHealth) -> String {
    match r.route53.verdict.value() {
        Some(true) => style("healthy").green().to_string(),
        Some(false) => style("UNHEALTHY").red().bold().to_string(),
        None if r.route53.health_check_id.is_none() => "missing".into(),
        None => "n/a".into(),
    }
}

/// `check-health` as a table.
pub fn health_text(h: &HealthReport) -> String {
    let mut out = vec![format!(
        "{:<12} {:<8} {:<9} {:<7} {:<10} ENDPOINT",
        "REGION", "ROLE", "VERDICT", "PROBES", "ROUTE53"
    )];
    for r in &h.regions {
        let p = &r.probes;
        let ok = p.probes.iter().filter(|x| x.healthy).count();
        let verdict = if p.healthy {
            style("healthy").green()
        } else {
            style("UNHEALTHY").red().bold()
        };
        out.push(format!(
            "{:<12} {:<8} {:<9} {:<7} {:<10} {}{}",
            p.region,
            if p.active { "active" } else { "standby" },
            verdict,
            format!("{ok}/{}", p.probes.len()),
            route53_column(r),
            p.url.as_deref().unwrap_or("(not deployed)"),
            p.probes
                .iter()
                .rev()
                .find_map(|x| x.error.clone())
                .map(|e| format!("  ({e})"))
                .unwrap_or_default()
        ));
    }
    out.push("Probes: TCP connect within 4 s, HTTP(S) 2xx/3xx within 2 s (TLS not validated, as Route 53); verdict after consecutive results, as Route 53.".into());
    out.push("ROUTE53: Route 53's own verdict (route53:GetHealthCheckStatus in global), where the cloud gives one.".into());
    let mut notes: Vec<(String, Vec<&str>)> = Vec::new();
    for r in &h.regions {
        let Some(note) = r.route53.verdict.why_not() else {
            continue;
        };
        match notes.iter_mut().find(|(n, _)| *n == note) {
            Some((_, regions)) => regions.push(&r.probes.region),
            None => notes.push((note, vec![&r.probes.region])),
        }
    }
    for (note, regions) in notes {
        out.push(format!("  ROUTE53 {}: {note}", regions.join(", ")));
    }
    out.join("\n")
}

pub fn health_json(h: &HealthReport) -> Json {
    json!({
        "active_region": h.active_region,
        "active_healthy": h.active_is_healthy(),
        "regions": h.regions.iter().map(|r| json!({
            "region": r.probes.region,
            "role": if r.probes.active { "active" } else { "standby" },
            "url": r.probes.url,
            "healthy": r.healthy(),
            "probes_healthy": r.probes.healthy,
            "probes": r.probes.probes.iter().map(|p| json!({
                "healthy": p.healthy, "status": p.status, "tls": p.tls,
                "latency_ms": p.latency.as_millis() as u64, "error": p.error,
            })).collect::<Vec<_>>(),
            "route53": {
                "health_check_id": r.route53.health_check_id,
                "verdict": reading_json(&r.route53.verdict, |h| json!(h)),
            },
        })).collect::<Vec<_>>(),
    })
}

fn lag_text(l: &Option<Reading<tandem_failover::signals::LagSample>>) -> String {
    match l {
        None => "no replica".into(),
        Some(r) => match (r.value(), r.source()) {
            (Some(s), Some(src)) => {
                let age = std::time::SystemTime::now()
                    .duration_since(s.at)
                    .unwrap_or(Duration::ZERO);
                format!("{:.1} s ({} s old; read: {src})", s.seconds, age.as_secs())
            }
            _ => r.why_not().unwrap_or_default(),
        },
    }
}

/// `status` as text.
pub fn status_text(env: &str, s: &StatusReport) -> String {
    let p = &s.posture;
    let mut out = vec![
        style(format!(
            "Environment {env}: active region {}",
            p.active_region
        ))
        .bold()
        .to_string(),
    ];
    for r in &s.health.regions {
        out.push(format!(
            "  {:<10} {:<8} {}",
            r.probes.region,
            if r.probes.active { "active" } else { "standby" },
            if r.healthy() {
                style("healthy").green()
            } else {
                style("unhealthy").red()
            }
        ));
    }
    out.push(check_line(&s.writer));
    for f in &s.fenced {
        out.push(check_line(&f.check));
        if f.check.verdict.failed() {
            out.push(format!(
                "  {} {} is running again though fenced (AWS restarts a stopped instance after 7 days): `tandem apply` fences it again",
                style("!").red().bold(),
                f.member.name
            ));
        }
    }
    out.push(format!(
        "  replica    {}",
        p.db.replica.as_ref().map_or(
            "none (rebuild with `tandem failback`)".to_string(),
            |r| format!("{} in {}", r.name, r.region)
        )
    ));
    out.push(format!("  lag        {}", lag_text(&s.replica_lag)));
    out.push(format!(
        "  assets     replication {}",
        match (s.replication.value(), s.replication.source()) {
            (Some((from, to)), Some(src)) => format!("{from} → {to} (read: {src})"),
            _ => s.replication.why_not().unwrap_or_default(),
        }
    ));
    if let Some(r) = &p.simulated_outage {
        out.push(format!(
            "  {} simulated outage of {r} in effect (`tandem simulate-outage --restore`)",
            style("!").yellow()
        ));
    }
    if let Some(r) = &p.quiesced {
        out.push(format!(
            "  {} {r} is quiesced for a failback: its application is scaled to zero (`tandem failback` finishes the switch)",
            style("!").yellow()
        ));
    }
    out.extend(deferred_lines(&p.deferred, true));
    if let Some(t) = &p.transition {
        out.push(format!(
            "  {} {} from {} to {} in progress (done: {}): run `tandem {}` to finish it",
            style("!").yellow(),
            t.kind,
            t.from,
            t.to,
            t.done
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(", "),
            t.kind.command()
        ));
    }
    match &p.last_drill {
        Some(d) => out.push(format!(
            "  last drill {}: RTO {}, RPO {} — {}",
            d.finished_at,
            d.rto_seconds.map_or("?".into(), |v| format!("{v:.1} s")),
            d.rpo_seconds
                .map_or("not measured".into(), |v| format!("{v:.1} s")),
            d.outcome.describe()
        )),
        None => out.push("  no drill yet (`tandem drill`)".into()),
    }
    out.join("\n")
}

pub fn status_json(env: &str, s: &StatusReport) -> Json {
    let p = &s.posture;
    json!({
        "environment": env,
        "active_region": p.active_region,
        "standby_region": p.standby_region,
        "health": health_json(&s.health)["regions"],
        "database": {
            "writer": {"name": p.db.writer.name, "region": p.db.writer.region, "check": check_json(&s.writer)},
            "replica": p.db.replica.as_ref().map(|r| json!({"name": r.name, "region": r.region})),
            "replica_lag": s.replica_lag.as_ref().map(|l| reading_json(l, |v| json!({
                "seconds": v.seconds,
                "at": v.at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            }))),
            "fenced": s.fenced.iter().map(|f| json!({"name": f.member.name, "region": f.member.region, "check": check_json(&f.check)})).collect::<Vec<_>>(),
        },
        "replication": reading_json(&s.replication, |(from, to)| json!({"from": from, "to": to})),
        "deferred": p.deferred.iter().map(|d| json!({"aspect": d.aspect, "waits_for": d.waits_for, "why": d.why})).collect::<Vec<_>>(),
        "simulated_outage": p.simulated_outage,
        "quiesced": p.quiesced,
        "transition": p.transition,
        "transitions": p.history.len(),
        "last_drill": p.last_drill,
    })
}
