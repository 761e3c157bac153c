//! Route 53: hosted zones, health checks and record sets (including failover alias pairs).
//!
//! # `route53:HostedZone` inputs
//! `domain` (required; replaces), `comment` (string). Outputs: `zone_id`, `name_servers`, `domain`.
//!
//! # `route53:HealthCheck` inputs
//! `type` (HTTP, HTTPS, TCP, HTTP_STR_MATCH, HTTPS_STR_MATCH; required; replaces), `fqdn`,
//! `ip_address` (one of the two is required), `port` (default 80/443), `resource_path`,
//! `search_string` (required by the *_STR_MATCH types), `request_interval` (10 or 30, default 30;
//! replaces), `failure_threshold` (1–10, default 3), `inverted` (false), `disabled` (false), `tags`.
//! Outputs: `health_check_id`.
//!
//! # `route53:RecordSet` inputs
//! One resource per record name and type: `zone_id`, `name`, `type` (all three replace) and
//! `records`, a list of maps, each with `set_identifier`, `failover` (PRIMARY|SECONDARY),
//! `health_check_id`, `ttl` and `values` (a list of strings), or `alias` (a map of `hosted_zone_id`,
//! `dns_name`, `evaluate_target_health`). Outputs: `fqdn`.

use std::collections::{BTreeMap, BTreeSet};

use tandem_core::{Props, Value};

use crate::kinds;
use crate::props::{PropError, bool_of, check_tags, int_of, required_str, str_of};

resource_builder!(
    /// A public hosted zone; an existing zone of the same domain is adopted.
    HostedZone,
    kinds::ROUTE53_HOSTED_ZONE
);

setters!(HostedZone {
    domain => "domain",
    comment => "comment",
});

resource_builder!(
    /// A Route 53 health check.
    HealthCheck,
    kinds::ROUTE53_HEALTH_CHECK
);

setters!(HealthCheck {
    /// HTTP, HTTPS, TCP, HTTP_STR_MATCH or HTTPS_STR_MATCH.
    check_type => "type",
    fqdn => "fqdn",
    ip_address => "ip_address",
    port => "port",
    resource_path => "resource_path",
    search_string => "search_string",
    /// 10 or 30 seconds; fixed at creation.
    request_interval => "request_interval",
    /// 1 to 10.
    failure_threshold => "failure_threshold",
    /// Flips the verdict: the standard way to simulate an outage.
    inverted => "inverted",
    disabled => "disabled",
});

resource_builder!(
    /// Every record of one name and type in a zone, changed in one atomic batch.
    RecordSet,
    kinds::ROUTE53_RECORD_SET
);

setters!(RecordSet {
    zone_id => "zone_id",
    /// The record's name, for example `app.example.com`.
    name => "name",
    /// A, AAAA, CNAME, TXT, ...
    record_type => "type",
});

impl RecordSet {
    /// Adds one record (see [`Record`]).
    pub fn record(mut self, record: Record) -> RecordSet {
        let entry = self
            .decl
            .inputs
            .entry("records".to_string())
            .or_insert_with(|| Value::List(Vec::new()));
        if let Value::List(l) = entry {
            l.push(record.into_value());
        }
        self
    }
}

/// PRIMARY or SECONDARY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failover {
    Primary,
    Secondary,
}

impl Failover {
    pub fn as_str(self) -> &'static str {
        match self {
            Failover::Primary => "PRIMARY",
            Failover::Secondary => "SECONDARY",
        }
    }
}

/// One record inside a [`RecordSet`].
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    fields: BTreeMap<String, Value>,
}

impl Record {
    /// A plain record: `ttl` seconds and its values.
    pub fn simple(ttl: i64, values: Vec<Value>) -> Record {
        let mut fields = BTreeMap::new();
        fields.insert("ttl".into(), Value::Int(ttl));
        fields.insert("values".into(), Value::List(values));
        Record { fields }
    }

    /// One half of a failover alias pair: an alias to `dns_name` (in hosted zone `hosted_zone_id`,
    /// for an ALB see [`crate::regions::alb_hosted_zone_id`]) with `EvaluateTargetHealth` on.
    pub fn failover_alias(
        role: Failover,
        set_identifier: impl Into<Value>,
        hosted_zone_id: impl Into<Value>,
        dns_name: impl Into<Value>,
    ) -> Record {
        let mut alias = BTreeMap::new();
        alias.insert("hosted_zone_id".into(), hosted_zone_id.into());
        alias.insert("dns_name".into(), dns_name.into());
        alias.insert("evaluate_target_health".into(), Value::Bool(true));
        let mut fields = BTreeMap::new();
        fields.insert("set_identifier".into(), set_identifier.into());
        fields.insert("failover".into(), Value::str(role.as_str()));
        fields.insert("alias".into(), Value::Map(alias));
        Record { fields }
    }

    /// Attaches a health check (its id, usually a reference).
    pub fn health_check_id(mut self, id: impl Into<Value>) -> Record {
        self.fields.insert("health_check_id".into(), id.into());
        self
    }

    pub fn set_identifier(mut self, id: impl Into<Value>) -> Record {
        self.fields.insert("set_identifier".into(), id.into());
        self
    }

    pub fn into_value(self) -> Value {
        Value::Map(self.fields)
    }
}

/// The health-check types Tandem manages.
pub const HEALTH_CHECK_TYPES: &[&str] =
    &["HTTP", "HTTPS", "TCP", "HTTP_STR_MATCH", "HTTPS_STR_MATCH"];

/// `RequestInterval` must be 10 or 30.
pub fn check_request_interval(seconds: i64) -> Result<(), PropError> {
    if seconds == 10 || seconds == 30 {
        Ok(())
    } else {
        Err(PropError(format!(
            "`request_interval` must be 10 or 30 seconds, not {seconds}"
        )))
    }
}

/// `FailureThreshold` must be 1 to 10.
pub fn check_failure_threshold(n: i64) -> Result<(), PropError> {
    if (1..=10).contains(&n) {
        Ok(())
    } else {
        Err(PropError(format!(
            "`failure_threshold` must be between 1 and 10, not {n}"
        )))
    }
}

/// Normalises a domain name: lowercase, no trailing dot.
pub fn normalize_domain(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Validates the inputs of a `route53:HostedZone`.
pub fn validate_hosted_zone(props: &Props) -> Result<(), PropError> {
    if let Some(d) = required_str(props, "domain")? {
        let n = normalize_domain(d);
        if n.is_empty() || !n.contains('.') || n.split('.').any(str::is_empty) {
            return Err(PropError(format!(
                "`domain` must be a domain name such as example.com, not {d:?}"
            )));
        }
    }
    str_of(props, "comment")?;
    Ok(())
}

/// Validates the inputs of a `route53:HealthCheck`.
pub fn validate_health_check(props: &Props) -> Result<(), PropError> {
    let ty = required_str(props, "type")?;
    if let Some(t) = ty {
        if !HEALTH_CHECK_TYPES.contains(&t) {
            return Err(PropError(format!(
                "`type` must be one of {}, not {t:?}",
                HEALTH_CHECK_TYPES.join(", ")
            )));
        }
    }
    let fqdn = props.contains_key("fqdn");
    let ip = props.contains_key("ip_address");
    str_of(props, "fqdn")?;
    str_of(props, "ip_address")?;
    if !fqdn && !ip {
        return Err(PropError(
            "a health check needs `fqdn` or `ip_address` to probe".into(),
        ));
    }
    if let Some(i) = int_of(props, "request_interval")? {
        check_request_interval(i)?;
    }
    if let Some(n) = int_of(props, "failure_threshold")? {
        check_failure_threshold(n)?;
    }
    if let Some(p) = int_of(props, "port")? {
        if !(1..=65535).contains(&p) {
            return Err(PropError(format!("`port` must be 1 to 65535, not {p}")));
        }
    }
    if let Some(path) = str_of(props, "resource_path")? {
        if !path.starts_with('/') {
            return Err(PropError(format!(
                "`resource_path` must start with `/`, not {path:?}"
            )));
        }
    }
    let search = str_of(props, "search_string")?;
    if let Some(t) = ty {
        if t.ends_with("_STR_MATCH") && search.is_none() && !props.contains_key("search_string") {
            return Err(PropError(format!("type {t} needs `search_string`")));
        }
        if t == "TCP" && props.contains_key("resource_path") {
            return Err(PropError(
                "a TCP health check has no `resource_path`".into(),
            ));
        }
    }
    bool_of(props, "inverted")?;
    bool_of(props, "disabled")?;
    check_tags(props)
}

/// The record types a record set may have.
pub const RECORD_TYPES: &[&str] = &[
    "A", "AAAA", "CAA", "CNAME", "DS", "MX", "NAPTR", "NS", "PTR", "SPF", "SRV", "TXT",
];

/// Validates the inputs of a `route53:RecordSet`: what Route 53 checks late and the local cloud not
/// at all (a second PRIMARY, duplicate set identifiers, alias and TTL together, ...).
pub fn validate_record_set(props: &Props) -> Result<(), PropError> {
    required_str(props, "zone_id")?;
    required_str(props, "name")?;
    if let Some(t) = required_str(props, "type")? {
        if !RECORD_TYPES.contains(&t) {
            return Err(PropError(format!(
                "`type` must be one of {}, not {t:?}",
                RECORD_TYPES.join(", ")
            )));
        }
    }
    let records = match props.get("records") {
        Some(Value::List(l)) if !l.is_empty() => l,
        Some(v) if v.is_unknown() => return Ok(()),
        _ => {
            return Err(PropError(
                "`records` must be a non-empty list of records".into(),
            ));
        }
    };
    let mut set_ids = BTreeSet::new();
    let mut roles = BTreeSet::new();
    let mut plain = 0;
    for (i, r) in records.iter().enumerate() {
        let Some(m) = r.as_map() else {
            return Err(PropError(format!("`records[{i}]` must be a map")));
        };
        let at = |what: &str| format!("`records[{i}].{what}`");
        let sid = match m.get("set_identifier") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(v) if v.is_unknown() => Some("(unknown)"),
            Some(_) => {
                return Err(PropError(format!(
                    "{} must be a string",
                    at("set_identifier")
                )));
            }
            None => None,
        };
        match sid {
            Some("(unknown)") => {}
            Some(s) => {
                if !set_ids.insert(s.to_string()) {
                    return Err(PropError(format!(
                        "set identifier {s:?} is used twice; each record needs its own"
                    )));
                }
            }
            None => plain += 1,
        }
        match m.get("failover") {
            None => {}
            Some(Value::String(f)) if f == "PRIMARY" || f == "SECONDARY" => {
                if sid.is_none() {
                    return Err(PropError(format!(
                        "{} is a failover record and needs a `set_identifier`",
                        at("failover")
                    )));
                }
                if !roles.insert(f.clone()) {
                    return Err(PropError(format!(
                        "a record set can have only one {f} failover record"
                    )));
                }
            }
            Some(v) if v.is_unknown() => {}
            Some(v) => {
                return Err(PropError(format!(
                    "{} must be PRIMARY or SECONDARY, not {}",
                    at("failover"),
                    v.render()
                )));
            }
        }
        if let Some(v) = m.get("health_check_id") {
            if !v.is_unknown() && v.as_str().is_none_or(str::is_empty) {
                return Err(PropError(format!(
                    "{} must be a health check id",
                    at("health_check_id")
                )));
            }
        }
        let alias = m.get("alias");
        let values = m.get("values");
        match (alias, values) {
            (Some(_), Some(_)) => {
                return Err(PropError(format!(
                    "`records[{i}]` has both `alias` and `values`: choose one"
                )));
            }
            (None, None) => {
                return Err(PropError(format!(
                    "`records[{i}]` needs `values` (with `ttl`) or an `alias`"
                )));
            }
            (Some(a), None) => {
                if m.contains_key("ttl") {
                    return Err(PropError(format!(
                        "`records[{i}]` is an alias: aliases have no `ttl`"
                    )));
                }
                if let Some(am) = a.as_map() {
                    for k in ["hosted_zone_id", "dns_name"] {
                        match am.get(k) {
                            Some(v)
                                if v.is_unknown() || v.as_str().is_some_and(|s| !s.is_empty()) => {}
                            _ => {
                                return Err(PropError(format!(
                                    "{} is required (a string)",
                                    at(&format!("alias.{k}"))
                                )));
                            }
                        }
                    }
                    if let Some(v) = am.get("evaluate_target_health") {
                        if !v.is_unknown() && v.as_bool().is_none() {
                            return Err(PropError(format!(
                                "{} must be true or false",
                                at("alias.evaluate_target_health")
                            )));
                        }
                    }
                } else if !a.is_unknown() {
                    return Err(PropError(format!("{} must be a map", at("alias"))));
                }
            }
            (None, Some(v)) => {
                match v {
                    Value::List(l) if !l.is_empty() => {}
                    v if v.is_unknown() => {}
                    _ => {
                        return Err(PropError(format!(
                            "{} must be a non-empty list",
                            at("values")
                        )));
                    }
                }
                match m.get("ttl") {
                    Some(Value::Int(t)) if *t >= 0 => {}
                    Some(v) if v.is_unknown() => {}
                    _ => {
                        return Err(PropError(format!(
                            "{} is required with `values` (seconds, 0 or more)",
                            at("ttl")
                        )));
                    }
                }
            }
        }
    }
    if plain > 1 {
        return Err(PropError(
            "a record set without set identifiers holds exactly one record; put every value in its `values`"
                .into(),
        ));
    }
    if plain == 1 && !set_ids.is_empty() {
        return Err(PropError(
            "records with and without `set_identifier` cannot share a name and type".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::props_of;
    use tandem_core::Region;

    fn hc() -> HealthCheck {
        HealthCheck::new(&Region::Global, "hc")
            .unwrap()
            .check_type("HTTPS")
            .fqdn("app.example.com")
            .resource_path("/health")
    }

    #[test]
    fn health_check_rules() {
        assert_eq!(validate_health_check(&props_of(hc())), Ok(()));
        let e = validate_health_check(&props_of(hc().request_interval(15))).unwrap_err();
        assert!(e.0.contains("10 or 30"), "{e}");
        let e = validate_health_check(&props_of(hc().failure_threshold(11))).unwrap_err();
        assert!(e.0.contains("between 1 and 10"), "{e}");
        let e = validate_health_check(&props_of(hc().check_type("PING"))).unwrap_err();
        assert!(e.0.contains("must be one of"), "{e}");
        let e = validate_health_check(&props_of(hc().check_type("HTTP_STR_MATCH"))).unwrap_err();
        assert!(e.0.contains("search_string"), "{e}");
    }

    #[test]
    fn failover_pair_rules() {
        let base = || {
            RecordSet::new(&Region::Global, "app")
                .unwrap()
                .zone_id("Z1")
                .name("app.example.com")
                .record_type("A")
        };
        let pair = base()
            .record(
                Record::failover_alias(Failover::Primary, "app-primary", "Z35SXDOTRQ7X7K", "a.elb")
                    .health_check_id("hc-1"),
            )
            .record(Record::failover_alias(
                Failover::Secondary,
                "app-secondary",
                "Z1H1FL5HABSF5",
                "b.elb",
            ));
        assert_eq!(validate_record_set(&props_of(pair)), Ok(()));
        let two_primaries = base()
            .record(Record::failover_alias(Failover::Primary, "a", "Z", "a.elb"))
            .record(Record::failover_alias(Failover::Primary, "b", "Z", "b.elb"));
        let e = validate_record_set(&props_of(two_primaries)).unwrap_err();
        assert!(e.0.contains("only one PRIMARY"), "{e}");
        let dup = base()
            .record(Record::failover_alias(Failover::Primary, "a", "Z", "a.elb"))
            .record(Record::failover_alias(
                Failover::Secondary,
                "a",
                "Z",
                "b.elb",
            ));
        assert!(
            validate_record_set(&props_of(dup))
                .unwrap_err()
                .0
                .contains("twice")
        );
        let simple = base().record(Record::simple(60, vec![Value::str("10.0.0.1")]));
        assert_eq!(validate_record_set(&props_of(simple)), Ok(()));
    }
}
