//! The checks of a failover, each read from the cloud (and saying from where), or saying why it
//! could not be: the new writer's role, the former writer's fence, the DNS answer, the standby's
//! capacity. None of them reads Tandem's own records for its verdict: the state only says where
//! to look (identifiers, the zone's name servers, the load balancers' names).

use std::net::IpAddr;

use tandem_core::Value;
use tandem_engine::State;
use tandem_posture::DbMember;

use crate::context::{Cloud, read_live};
use crate::report::{Check, CheckKind, Verdict};
use crate::signals::{DbRole, DbState, FailoverRecord, Reading, Source};

fn describe_db(s: &DbState) -> String {
    match &s.role {
        DbRole::Missing => "no such instance".to_string(),
        DbRole::Writer => format!("{}, replicates nothing", s.status),
        DbRole::Replica { source } => format!("{}, still a replica of {source}", s.status),
        DbRole::Unknown { why } => format!("{}; role unknown: {why}", s.status),
    }
}

fn observed_of<T>(reading: &Reading<T>, describe: impl FnOnce(&T) -> String) -> String {
    match reading {
        Reading::Read { value, .. } => describe(value),
        other => other.why_not().unwrap_or_default(),
    }
}

/// The new writer takes writes: the cloud says it is a standalone instance.
pub async fn writer_check(cloud: &Cloud<'_>, member: &DbMember) -> Check {
    let id = cloud.topology.database_identifier(member);
    let reading = cloud.signals.database(&member.region, &id).await;
    let verdict = match reading.value().map(|s| &s.role) {
        Some(DbRole::Unknown { why }) => Verdict::NotVerifiable(why.clone()),
        _ => Verdict::of(&reading, |s| s.role == DbRole::Writer),
    };
    Check {
        kind: CheckKind::DatabaseWritable,
        verdict,
        observed: format!("{id}: {}", observed_of(&reading, describe_db)),
        source: reading.source().cloned(),
    }
}

/// A former writer is fenced: the cloud says it is stopped (or gone).
pub async fn fence_check(cloud: &Cloud<'_>, member: &DbMember) -> Check {
    let id = cloud.topology.database_identifier(member);
    let reading = cloud.signals.database(&member.region, &id).await;
    Check {
        kind: CheckKind::FormerWriterFenced,
        verdict: Verdict::of(&reading, |s| s.is_stopped() || s.role == DbRole::Missing),
        observed: format!("{id}: {}", observed_of(&reading, describe_db)),
        source: reading.source().cloned(),
    }
}

/// `region`'s capacity, read from the cloud through its provider, is the serving one.
pub async fn capacity_check(cloud: &Cloud<'_>, state: &State, region: &str) -> Check {
    let addr = cloud.topology.capacity(region);
    let want = cloud.topology.serving_capacity();
    let source = Source::new("autoscaling:DescribeAutoScalingGroups", region);
    let reading = match read_live(cloud.providers, state, &addr).await {
        // Outputs, or the live inputs the provider read back: both come from the cloud.
        Ok(Some(o)) => match o
            .outputs
            .get("desired_capacity")
            .or_else(|| o.inputs.get("desired_capacity"))
            .and_then(|v| v.as_i64())
        {
            Some(d) => Reading::read(Some(d), source),
            None => Reading::NotMeasured {
                why: format!("{addr} reports no desired capacity"),
            },
        },
        Ok(None) if !state.resources.contains_key(&addr) => Reading::NotMeasured {
            why: format!("the stack declares no {addr}"),
        },
        // The recorded group is gone: no capacity, and the reading says why.
        Ok(None) => Reading::read(None, source),
        Err(e) => Reading::Failed {
            error: e.to_string(),
            source,
        },
    };
    Check {
        kind: CheckKind::StandbyScaled,
        verdict: Verdict::of(&reading, |d| *d == Some(want)),
        observed: observed_of(&reading, |d| match d {
            Some(d) => format!("desired capacity {d} (serving: {want})"),
            None => format!("no Auto Scaling group: {addr} is gone (serving: {want})"),
        }),
        source: reading.source().cloned(),
    }
}

/// The region of a failover record: the one whose load balancer it aliases, else the one its set
/// identifier names (`app-<region>`).
fn record_region(record: &FailoverRecord, lb_names: &[(String, Option<String>)]) -> Option<String> {
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    if let Some(target) = &record.alias_target {
        for (region, lb) in lb_names {
            if lb.as_deref().is_some_and(|l| norm(l) == norm(target)) {
                return Some(region.clone());
            }
        }
    }
    let by_id = record.set_identifier.strip_prefix("app-")?;
    lb_names
        .iter()
        .find(|(r, _)| r == by_id)
        .map(|(r, _)| r.clone())
}

/// Where Route 53 sends traffic, given the records it holds and each region's health: the
/// PRIMARY's region while it is healthy, else the SECONDARY's. `None` when the records leave no
/// answer. The second value describes what was evaluated.
pub fn evaluate_records(
    records: &[FailoverRecord],
    lb_names: &[(String, Option<String>)],
    healthy: &dyn Fn(&str) -> bool,
) -> (Option<String>, String) {
    let role = |primary: bool| records.iter().find(|r| r.primary == primary);
    let describe = |primary: bool| -> String {
        let label = if primary { "PRIMARY" } else { "SECONDARY" };
        match role(primary).map(|r| record_region(r, lb_names)) {
            None => format!("{label} missing"),
            Some(None) => format!("{label} aliases no load balancer of the stack"),
            Some(Some(region)) => format!(
                "{label} {region} ({})",
                if healthy(&region) {
                    "healthy"
                } else {
                    "unhealthy"
                }
            ),
        }
    };
    let what = format!("{}, {}", describe(true), describe(false));
    let primary = role(true).and_then(|r| record_region(r, lb_names));
    let secondary = role(false).and_then(|r| record_region(r, lb_names));
    let answer = match (primary, secondary) {
        (Some(p), _) if healthy(&p) => Some(p),
        (_, Some(s)) => Some(s),
        // Both unhealthy (or no SECONDARY): Route 53 answers with the PRIMARY all the same.
        (Some(p), None) => Some(p),
        (None, None) => None,
    };
    (answer, what)
}

fn output_str(state: &State, addr: &tandem_core::ResourceAddr, key: &str) -> Option<String> {
    state
        .resources
        .get(addr)?
        .outputs
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The DNS answer for the application's name is `expected`. On AWS: asked of the hosted zone's
/// own name servers (the DNS data plane, which answers when Route 53's control plane does not),
/// the answer mapped to a region by its load balancer's addresses. Where the cloud has no DNS
/// data plane (the local emulator): the failover records read back from Route 53's API,
/// evaluated with each region's measured health (`healthy`) as Route 53 would — and the check
/// says which it did.
pub async fn dns_check(
    cloud: &Cloud<'_>,
    state: &State,
    regions: &[String; 2],
    expected: &str,
    healthy: &dyn Fn(&str) -> bool,
) -> Check {
    let zone = cloud.topology.hosted_zone();
    let name = cloud.topology.app_name();
    let lb_names: Vec<(String, Option<String>)> = regions
        .iter()
        .map(|r| {
            (
                r.clone(),
                cloud.topology.load_balancer_name(r, &state.outputs),
            )
        })
        .collect();
    let name_servers: Vec<String> = state
        .resources
        .get(&zone)
        .and_then(|r| r.outputs.get("name_servers"))
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let check = |verdict, observed, source| Check {
        kind: CheckKind::DnsAnswer,
        verdict,
        observed,
        source,
    };
    match cloud.signals.dns_answer(&name_servers, &name).await {
        Reading::Read { value, source } => {
            let answered = answer_region(cloud, &value, &lb_names).await;
            let observed = format!(
                "{name} → {} ({})",
                join(&value),
                answered
                    .as_deref()
                    .unwrap_or("no load balancer of the stack")
            );
            let verdict = if answered.as_deref() == Some(expected) {
                Verdict::Passed
            } else {
                Verdict::Failed
            };
            return check(verdict, observed, Some(source));
        }
        Reading::NotVerifiable { .. } => {}
        other => {
            let why = other.why_not().unwrap_or_default();
            return check(
                Verdict::NotMeasured(why.clone()),
                why,
                other.source().cloned(),
            );
        }
    }
    let zone_id = output_str(state, &zone, "zone_id")
        .or_else(|| state.resources.get(&zone).map(|r| r.id.clone()));
    let Some(zone_id) = zone_id else {
        let why = format!("{zone} is not deployed");
        return check(Verdict::NotMeasured(why.clone()), why, None);
    };
    match cloud.signals.failover_records(&zone_id, &name).await {
        Reading::Read { value, source } => {
            let (answer, what) = evaluate_records(&value, &lb_names, healthy);
            let verdict = if answer.as_deref() == Some(expected) {
                Verdict::Passed
            } else {
                Verdict::Failed
            };
            let observed = format!(
                "no DNS data plane here: the records read back ({what}), evaluated with the measured health, answer {}",
                answer.as_deref().unwrap_or("nothing")
            );
            check(verdict, observed, Some(source))
        }
        other => {
            let why = other.why_not().unwrap_or_default();
            check(
                Verdict::NotMeasured(why.clone()),
                why,
                other.source().cloned(),
            )
        }
    }
}

fn join(ips: &[IpAddr]) -> String {
    if ips.is_empty() {
        return "no address".into();
    }
    ips.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The region whose load balancer has one of `answer`'s addresses.
async fn answer_region(
    cloud: &Cloud<'_>,
    answer: &[IpAddr],
    lb_names: &[(String, Option<String>)],
) -> Option<String> {
    for (region, lb) in lb_names {
        let Some(lb) = lb else { continue };
        if let Some(addrs) = cloud.signals.addresses_of(lb).await.value()
            && addrs.iter().any(|a| answer.contains(a))
        {
            return Some(region.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, primary: bool, target: &str) -> FailoverRecord {
        FailoverRecord {
            set_identifier: id.into(),
            primary,
            alias_target: Some(target.into()),
            health_check_id: None,
        }
    }

    fn lbs() -> Vec<(String, Option<String>)> {
        vec![
            ("us-east-1".into(), Some("east.elb.amazonaws.com".into())),
            ("us-west-2".into(), Some("west.elb.amazonaws.com".into())),
        ]
    }

    #[test]
    fn records_answer_the_primary_while_healthy_else_the_secondary() {
        let records = [
            rec("app-us-east-1", true, "EAST.elb.amazonaws.com."),
            rec("app-us-west-2", false, "west.elb.amazonaws.com"),
        ];
        let east_down = |r: &str| r != "us-east-1";
        let (answer, what) = evaluate_records(&records, &lbs(), &east_down);
        assert_eq!(answer.as_deref(), Some("us-west-2"));
        assert_eq!(
            what,
            "PRIMARY us-east-1 (unhealthy), SECONDARY us-west-2 (healthy)"
        );
        let (answer, _) = evaluate_records(&records, &lbs(), &|_| true);
        assert_eq!(answer.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn a_missing_secondary_leaves_the_unhealthy_primary() {
        let records = [rec("app-us-east-1", true, "east.elb.amazonaws.com")];
        let (answer, what) = evaluate_records(&records, &lbs(), &|r| r != "us-east-1");
        assert_eq!(answer.as_deref(), Some("us-east-1"));
        assert!(what.contains("SECONDARY missing"), "{what}");
        let (answer, what) = evaluate_records(&[], &lbs(), &|_| true);
        assert_eq!(answer, None);
        assert!(what.contains("PRIMARY missing"), "{what}");
    }

    #[test]
    fn a_record_without_a_known_target_is_placed_by_its_set_identifier() {
        let mut r = rec("app-us-west-2", true, "other.example.com");
        let (answer, _) = evaluate_records(std::slice::from_ref(&r), &lbs(), &|_| true);
        assert_eq!(answer.as_deref(), Some("us-west-2"));
        r.set_identifier = "elsewhere".into();
        let (answer, what) = evaluate_records(&[r], &lbs(), &|_| true);
        assert_eq!(answer, None);
        assert!(what.contains("aliases no load balancer"), "{what}");
    }
}
