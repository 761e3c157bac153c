//! Route 53: failover records (TP011) and the environment's regions (TP012) watched by health
//! checks. A health check watches the region of its target: the resource its `fqdn` or
//! `ip_address` refers to, or the region named in a literal DNS name (an ALB's name holds it).

use std::collections::BTreeMap;

use tandem_core::{ResourceAddr, Value};
use tandem_schema::kinds;

use super::{At, Cx};
use crate::values::{bool_input, region_pointed_to};

/// A declared health check: the region it watches (if the pack can tell) and whether it is
/// disabled (Route 53 then reports it healthy, whatever the target does).
struct Check {
    watches: Option<String>,
    disabled: bool,
}

pub(super) fn check(cx: &mut Cx<'_>) {
    let (stack, regions) = (cx.stack, &cx.ctx.regions);
    let checks: BTreeMap<&ResourceAddr, Check> = stack
        .graph
        .in_order()
        .filter(|d| d.addr.kind() == kinds::ROUTE53_HEALTH_CHECK)
        .map(|d| {
            let target = d.inputs.get("fqdn").or_else(|| d.inputs.get("ip_address"));
            let check = Check {
                watches: region_pointed_to(stack, target, regions),
                disabled: bool_input(d.inputs.get("disabled")) == Ok(Some(true)),
            };
            (&d.addr, check)
        })
        .collect();
    // Where each region's traffic is routed: the failover record set and the record's name.
    let mut routed: BTreeMap<String, (&ResourceAddr, String)> = BTreeMap::new();
    for decl in stack
        .graph
        .in_order()
        .filter(|d| d.addr.kind() == kinds::ROUTE53_RECORD_SET)
    {
        let Some(records) = decl.inputs.get("records").and_then(Value::as_list) else {
            continue;
        };
        for (i, record) in records.iter().enumerate() {
            let Some(fields) = record.as_map() else {
                continue;
            };
            if fields.get("failover").is_none_or(|f| *f == Value::Null) {
                continue;
            }
            let name = fields
                .get("set_identifier")
                .and_then(Value::as_str)
                .map_or_else(|| format!("record {i}"), str::to_string);
            let target = fields
                .get("alias")
                .and_then(Value::as_map)
                .and_then(|a| a.get("dns_name"))
                .or_else(|| fields.get("values").and_then(|v| v.as_list()?.first()));
            let points_to = region_pointed_to(stack, target, regions);
            if let Some(r) = &points_to {
                routed
                    .entry(r.clone())
                    .or_insert((&decl.addr, name.clone()));
            }
            let problem = match fields.get("health_check_id") {
                None | Some(Value::Null) => Some(
                    "has no health check: Route 53 keeps answering with it while its region is \
                     down, and never fails over"
                        .to_string(),
                ),
                Some(Value::Ref(r)) => match checks.get(&r.addr) {
                    Some(c) if c.disabled => Some(format!(
                        "is checked by {}, which is disabled: Route 53 reports it healthy",
                        r.addr
                    )),
                    Some(Check {
                        watches: Some(watched),
                        ..
                    }) if points_to.as_ref().is_some_and(|p| p != watched) => Some(format!(
                        "points to {} but is checked by {}, which watches {watched}",
                        points_to.as_deref().unwrap_or_default(),
                        r.addr
                    )),
                    _ => None,
                },
                Some(_) => None,
            };
            if let Some(problem) = problem {
                cx.report(
                    "TP011",
                    At::new(&decl.addr, points_to.unwrap_or_else(|| "global".into()))
                        .subject(name.clone()),
                    format!("failover record {name} {problem}"),
                    "give each failover record the `health_check_id` of an enabled health check \
                     of the region the record points to",
                );
            }
        }
    }
    for region in regions {
        let watched = checks
            .values()
            .any(|c| !c.disabled && c.watches.as_deref() == Some(region.as_str()));
        if watched {
            continue;
        }
        // Named after what routes to the region, else the region's first resource.
        let at = match routed.get(region) {
            Some((addr, name)) => At::new(addr, region.clone()).subject(name.clone()),
            None => match stack
                .graph
                .in_order()
                .map(|d| &d.addr)
                .filter(|a| a.region_str() == region)
                .min()
            {
                Some(addr) => At::new(addr, region.clone()),
                None => continue,
            },
        };
        cx.report(
            "TP012",
            at,
            format!(
                "no enabled health check watches region {region}: nothing tells Route 53 that it \
                 is down"
            ),
            "declare a `route53:HealthCheck` on the region's load balancer (its `fqdn` the \
             stack instance output `AlbDnsName`)",
        );
    }
}
