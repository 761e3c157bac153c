//! `route53:HostedZone`, `route53:HealthCheck` and `route53:RecordSet`. Route 53 is global: these
//! resources are addressed in `global` and every call goes to the us-east-1 control plane.
//! Outside the trait, [`health_check_status`] reads what Route 53's checkers say of a check, and
//! [`failover_records`] the failover records of a name as the control plane holds them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, HealthCheckConfig,
    HealthCheckType, HostedZoneConfig, ResourceRecord, ResourceRecordSet,
    ResourceRecordSetFailover, RrType, Tag, TagResourceType,
};
use tandem_core::{Props, ResourceAddr, Value};
use tandem_engine::provider::{ErrorClass, Identity, Observed, OpContext, Provider, ProviderError};
use tandem_schema::route53::normalize_domain;
use tandem_schema::{kinds, route53 as schema, tags};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::{AwsError, CallError, OrNotFound, ReadBack, build_error, deleted};
use crate::props::{
    PropsBuilder, all_tags, bool_or, opt_i32, opt_str, removed_tag_keys, req_str, schema_check,
};
use crate::wait::{self, Check};

fn strip_zone_prefix(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// A health check's port when none is named: 443 for the HTTPS types, else 80.
fn default_port(ty: &str) -> i32 {
    if ty.starts_with("HTTPS") { 443 } else { 80 }
}

fn caller_reference(ctx: &OpContext) -> String {
    if ctx.token.is_empty() {
        format!("tandem-{}-{}", ctx.addr.name(), std::process::id())
    } else {
        ctx.token.clone()
    }
}

async fn tag_resource(
    clients: &AwsClients,
    r53: &Client,
    kind: TagResourceType,
    id: &str,
    tags: &BTreeMap<String, String>,
    remove: Vec<String>,
) -> Result<(), CallError> {
    let add: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    call(clients.retry(), "route53:ChangeTagsForResource", || {
        let mut req = r53
            .change_tags_for_resource()
            .resource_type(kind.clone())
            .resource_id(id)
            .set_add_tags(Some(add.clone()));
        if !remove.is_empty() {
            req = req.set_remove_tag_keys(Some(remove.clone()));
        }
        req.send()
    })
    .await?;
    Ok(())
}

async fn read_tags(
    clients: &AwsClients,
    r53: &Client,
    kind: TagResourceType,
    id: &str,
) -> Result<BTreeMap<String, String>, CallError> {
    let out = call(clients.retry(), "route53:ListTagsForResource", || {
        r53.list_tags_for_resource()
            .resource_type(kind.clone())
            .resource_id(id)
            .send()
    })
    .await?;
    Ok(out
        .resource_tag_set()
        .map(|s| {
            s.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

/// Waits until a change is `INSYNC` (bounded; Route 53 promises under 60 s).
async fn wait_insync(clients: &AwsClients, r53: &Client, change_id: &str) -> Result<(), CallError> {
    let w = clients.wait();
    wait::until(
        "route53:GetChange",
        &format!("change {change_id} to be INSYNC"),
        w,
        w.route53_timeout,
        || async {
            let out = call(clients.retry(), "route53:GetChange", || {
                r53.get_change().id(change_id).send()
            })
            .await?;
            match out.change_info().map(|c| c.status()) {
                Some(ChangeStatus::Insync) => Ok(Check::Done(())),
                Some(other) => Ok(Check::Pending(other.as_str().to_string())),
                None => Ok(Check::Pending("unknown".into())),
            }
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Hosted zones

/// `route53:HostedZone`.
pub struct HostedZoneProvider {
    clients: AwsClients,
}

impl HostedZoneProvider {
    pub fn new(clients: AwsClients) -> HostedZoneProvider {
        HostedZoneProvider { clients }
    }

    async fn find_by_domain(
        &self,
        r53: &Client,
        domain: &str,
    ) -> Result<Option<String>, CallError> {
        let wanted = normalize_domain(domain);
        let out = call(
            self.clients.retry(),
            "route53:ListHostedZonesByName",
            || {
                r53.list_hosted_zones_by_name()
                    .dns_name(format!("{wanted}."))
                    .max_items(100)
                    .send()
            },
        )
        .await?;
        Ok(out
            .hosted_zones()
            .iter()
            .find(|z| {
                normalize_domain(z.name()) == wanted
                    && !z.config().is_some_and(|c| c.private_zone())
            })
            .map(|z| strip_zone_prefix(z.id()).to_string()))
    }

    async fn read_observed(
        &self,
        id: &str,
        last: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let r53 = self.clients.route53().await;
        let Some(out) = call(self.clients.retry(), "route53:GetHostedZone", || {
            r53.get_hosted_zone().id(id).send()
        })
        .await
        .or_not_found()?
        else {
            return Ok(None);
        };
        let Some(zone) = out.hosted_zone() else {
            return Ok(None);
        };
        let live_domain = normalize_domain(zone.name());
        // Keep the program's spelling when it means the same domain.
        let domain = match opt_str(last, "domain").ok().flatten() {
            Some(d) if normalize_domain(&d) == live_domain => d,
            _ => live_domain.clone(),
        };
        let comment = zone
            .config()
            .and_then(|c| c.comment())
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let name_servers: Vec<Value> = out
            .delegation_set()
            .map(|d| d.name_servers().iter().map(Value::str).collect())
            .unwrap_or_default();
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: PropsBuilder::new()
                .set("domain", domain)
                .opt("comment", comment)
                .build(),
            outputs: PropsBuilder::new()
                .set("zone_id", id)
                .set("domain", live_domain)
                .set("name_servers", Value::List(name_servers))
                .build(),
        }))
    }
}

#[async_trait]
impl Provider for HostedZoneProvider {
    fn kind(&self) -> &'static str {
        kinds::ROUTE53_HOSTED_ZONE
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["domain"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["domain"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_hosted_zone(inputs))
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let domain = req_str(inputs, "domain")?;
        let comment = opt_str(inputs, "comment")?;
        let r53 = self.clients.route53().await;
        let id = match self.find_by_domain(&r53, &domain).await? {
            // An existing public zone of this domain is adopted (delegations point at it).
            Some(id) => {
                tracing::info!(zone = %id, domain, "adopting the existing hosted zone");
                if let Some(c) = &comment {
                    call(
                        self.clients.retry(),
                        "route53:UpdateHostedZoneComment",
                        || r53.update_hosted_zone_comment().id(&id).comment(c).send(),
                    )
                    .await?;
                }
                id
            }
            None => {
                let reference = caller_reference(ctx);
                let out = call(self.clients.retry(), "route53:CreateHostedZone", || {
                    let mut req = r53
                        .create_hosted_zone()
                        .name(normalize_domain(&domain))
                        .caller_reference(&reference);
                    if let Some(c) = &comment {
                        req =
                            req.hosted_zone_config(HostedZoneConfig::builder().comment(c).build());
                    }
                    req.send()
                })
                .await?;
                let id = out
                    .hosted_zone()
                    .map(|z| strip_zone_prefix(z.id()).to_string())
                    .ok_or_else(|| {
                        ProviderError::other("route53:CreateHostedZone answered without a zone")
                    })?;
                if let Some(change) = out.change_info() {
                    wait_insync(&self.clients, &r53, change.id()).await?;
                }
                id
            }
        };
        tag_resource(
            &self.clients,
            &r53,
            TagResourceType::Hostedzone,
            &id,
            &all_tags(ctx, inputs)?,
            Vec::new(),
        )
        .await?;
        self.read_observed(&id, inputs)
            .await?
            .found_after_create(|| {
                format!("route53:GetHostedZone: zone {id} vanished after creation")
            })
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        self.read_observed(id, inputs).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let r53 = self.clients.route53().await;
        let comment = opt_str(new, "comment")?.unwrap_or_default();
        call(
            self.clients.retry(),
            "route53:UpdateHostedZoneComment",
            || {
                r53.update_hosted_zone_comment()
                    .id(id)
                    .comment(&comment)
                    .send()
            },
        )
        .await?;
        self.read_observed(id, new)
            .await?
            .found_after_update(|| format!("route53:GetHostedZone: zone {id} vanished"))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        id: &str,
        _inputs: &Props,
    ) -> Result<(), ProviderError> {
        let r53 = self.clients.route53().await;
        let res = call(self.clients.retry(), "route53:DeleteHostedZone", || {
            r53.delete_hosted_zone().id(id).send()
        })
        .await;
        deleted(res, "HostedZoneNotEmpty", "delete its record sets first")
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let domain = req_str(inputs, "domain")?;
        let r53 = self.clients.route53().await;
        match self.find_by_domain(&r53, &domain).await? {
            Some(id) => self.read_observed(&id, inputs).await,
            None => Ok(None),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Health checks

/// `route53:HealthCheck`.
pub struct HealthCheckProvider {
    clients: AwsClients,
}

impl HealthCheckProvider {
    pub fn new(clients: AwsClients) -> HealthCheckProvider {
        HealthCheckProvider { clients }
    }

    fn config(inputs: &Props) -> Result<HealthCheckConfig, ProviderError> {
        let ty = req_str(inputs, "type")?;
        HealthCheckConfig::builder()
            .r#type(HealthCheckType::from(ty.as_str()))
            .set_fully_qualified_domain_name(opt_str(inputs, "fqdn")?)
            .set_ip_address(opt_str(inputs, "ip_address")?)
            .port(opt_i32(inputs, "port")?.unwrap_or(default_port(&ty)))
            .set_resource_path(opt_str(inputs, "resource_path")?)
            .set_search_string(opt_str(inputs, "search_string")?)
            .request_interval(opt_i32(inputs, "request_interval")?.unwrap_or(30))
            .failure_threshold(opt_i32(inputs, "failure_threshold")?.unwrap_or(3))
            .inverted(bool_or(inputs, "inverted", false)?)
            .disabled(bool_or(inputs, "disabled", false)?)
            .build()
            .map_err(build_error("route53:CreateHealthCheck"))
    }

    async fn read_observed(
        &self,
        id: &str,
        last: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let r53 = self.clients.route53().await;
        let Some(out) = call(self.clients.retry(), "route53:GetHealthCheck", || {
            r53.get_health_check().health_check_id(id).send()
        })
        .await
        .or_not_found()?
        else {
            return Ok(None);
        };
        let Some(c) = out.health_check().and_then(|h| h.health_check_config()) else {
            return Ok(None);
        };
        let tags = read_tags(&self.clients, &r53, TagResourceType::Healthcheck, id)
            .await
            .or_not_found()?
            .unwrap_or_default();
        let ty = c.r#type().as_str();
        let inputs = PropsBuilder::new()
            .set("type", ty)
            .opt("fqdn", c.fully_qualified_domain_name())
            .opt("ip_address", c.ip_address())
            .defaulted_or(last, "port", c.port(), default_port(ty))
            .opt("resource_path", c.resource_path())
            .opt("search_string", c.search_string())
            .defaulted_or(last, "request_interval", c.request_interval(), 30)
            .defaulted_or(last, "failure_threshold", c.failure_threshold(), 3)
            .defaulted_or(last, "inverted", c.inverted(), false)
            .defaulted_or(last, "disabled", c.disabled(), false)
            .user_tags(last, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .build();
        Ok(Some(Observed {
            id: id.to_string(),
            inputs,
            outputs: PropsBuilder::new().set("health_check_id", id).build(),
        }))
    }
}

#[async_trait]
impl Provider for HealthCheckProvider {
    fn kind(&self) -> &'static str {
        kinds::ROUTE53_HEALTH_CHECK
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["type", "request_interval"]
    }

    fn identity(&self) -> Identity {
        Identity::Tagged
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_health_check(inputs))
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let config = Self::config(inputs)?;
        let r53 = self.clients.route53().await;
        let reference = caller_reference(ctx);
        let out = call(self.clients.retry(), "route53:CreateHealthCheck", || {
            r53.create_health_check()
                .caller_reference(&reference)
                .health_check_config(config.clone())
                .send()
        })
        .await?;
        let id = out
            .health_check()
            .map(|h| h.id().to_string())
            .ok_or_else(|| {
                ProviderError::other("route53:CreateHealthCheck answered without a health check")
            })?;
        tag_resource(
            &self.clients,
            &r53,
            TagResourceType::Healthcheck,
            &id,
            &all_tags(ctx, inputs)?,
            Vec::new(),
        )
        .await?;
        self.read_observed(&id, inputs)
            .await?
            .found_after_create(|| format!("route53:GetHealthCheck: {id} vanished after creation"))
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        self.read_observed(id, inputs).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let r53 = self.clients.route53().await;
        let current = call(self.clients.retry(), "route53:GetHealthCheck", || {
            r53.get_health_check().health_check_id(id).send()
        })
        .await?;
        let version = current.health_check().map(|h| h.health_check_version());
        let ty = req_str(new, "type")?;
        let fqdn = opt_str(new, "fqdn")?;
        let ip = opt_str(new, "ip_address")?;
        let path = opt_str(new, "resource_path")?;
        let search = opt_str(new, "search_string")?;
        let port = opt_i32(new, "port")?.unwrap_or(default_port(&ty));
        let threshold = opt_i32(new, "failure_threshold")?.unwrap_or(3);
        let inverted = bool_or(new, "inverted", false)?;
        let disabled = bool_or(new, "disabled", false)?;
        call(self.clients.retry(), "route53:UpdateHealthCheck", || {
            let mut req = r53
                .update_health_check()
                .health_check_id(id)
                .set_health_check_version(version)
                .port(port)
                .failure_threshold(threshold)
                .inverted(inverted)
                .disabled(disabled)
                .set_fully_qualified_domain_name(fqdn.clone())
                .set_ip_address(ip.clone())
                .set_resource_path(path.clone())
                .set_search_string(search.clone());
            // Route 53 resets what is named in ResetElements; a property removed is reset.
            if path.is_none() && old.contains_key("resource_path") {
                req =
                    req.reset_elements(aws_sdk_route53::types::ResettableElementName::ResourcePath);
            }
            if fqdn.is_none() && old.contains_key("fqdn") {
                req = req.reset_elements(
                    aws_sdk_route53::types::ResettableElementName::FullyQualifiedDomainName,
                );
            }
            req.send()
        })
        .await?;
        let tags = all_tags(ctx, new)?;
        let removed = removed_tag_keys(old, &tags)?;
        tag_resource(
            &self.clients,
            &r53,
            TagResourceType::Healthcheck,
            id,
            &tags,
            removed,
        )
        .await?;
        self.read_observed(id, new)
            .await?
            .found_after_update(|| format!("route53:GetHealthCheck: {id} vanished"))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        id: &str,
        _inputs: &Props,
    ) -> Result<(), ProviderError> {
        let r53 = self.clients.route53().await;
        call(self.clients.retry(), "route53:DeleteHealthCheck", || {
            r53.delete_health_check().health_check_id(id).send()
        })
        .await
        .or_not_found()?;
        Ok(())
    }

    /// Finds the health check by the idempotency token (its `CallerReference`) or by the
    /// `tandem:addr` tag.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let r53 = self.clients.route53().await;
        let mut marker: Option<String> = None;
        let mut candidates = Vec::new();
        loop {
            let out = call(self.clients.retry(), "route53:ListHealthChecks", || {
                r53.list_health_checks().set_marker(marker.clone()).send()
            })
            .await?;
            for h in out.health_checks() {
                if !ctx.token.is_empty() && h.caller_reference() == ctx.token {
                    return self.read_observed(h.id(), inputs).await;
                }
                candidates.push(h.id().to_string());
            }
            match (out.is_truncated(), out.next_marker()) {
                (true, Some(m)) => marker = Some(m.to_string()),
                _ => break,
            }
        }
        for id in candidates {
            let t = read_tags(&self.clients, &r53, TagResourceType::Healthcheck, &id)
                .await
                .or_not_found()?
                .unwrap_or_default();
            if t.get(tags::ADDR).map(String::as_str) == Some(ctx.addr.as_str())
                && t.get(tags::STACK) == Some(&ctx.stack)
                && t.get(tags::ENV) == Some(&ctx.env)
            {
                return self.read_observed(&id, inputs).await;
            }
        }
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// Record sets

/// `route53:RecordSet`: every record of one name and type, changed in one atomic batch.
///
/// The batch is built by [`record_set_change_batch`] from the inputs and the live records: UPSERT
/// creates records and changes those whose role stays; on AWS a record whose failover role changes
/// (the swap of a failover pair) is DELETEd with its exact current values and CREATEd anew in the
/// same batch ([`BatchShape::Aws`]); against an emulator it is UPSERTed ([`BatchShape::Emulator`]).
/// DELETE is otherwise used only for records this resource owns, identified by their unique
/// `SetIdentifier` (the local cloud's DELETE matches too broadly otherwise).
pub struct RecordSetProvider {
    clients: AwsClients,
}

fn fqdn(name: &str) -> String {
    format!("{}.", normalize_domain(name))
}

/// One record as the inputs describe it, keyed by set identifier (`""` for a plain record).
fn desired_records(inputs: &Props) -> Result<Vec<ResourceRecordSet>, ProviderError> {
    let name = fqdn(&req_str(inputs, "name")?);
    let ty = req_str(inputs, "type")?;
    let op = "route53:ChangeResourceRecordSets";
    let list = match inputs.get("records") {
        Some(Value::List(l)) => l,
        _ => return Err(ProviderError::invalid("input `records` must be a list")),
    };
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let m: Props = r
            .as_map()
            .map(Props::from)
            .ok_or_else(|| ProviderError::invalid(format!("`records[{i}]` must be a map")))?;
        let mut b = ResourceRecordSet::builder()
            .name(&name)
            .r#type(RrType::from(ty.as_str()))
            .set_set_identifier(opt_str(&m, "set_identifier")?)
            .set_health_check_id(opt_str(&m, "health_check_id")?);
        if let Some(f) = opt_str(&m, "failover")? {
            b = b.failover(ResourceRecordSetFailover::from(f.as_str()));
        }
        match m.get("alias") {
            Some(Value::Map(a)) => {
                let a: Props = a.into();
                b = b.alias_target(
                    AliasTarget::builder()
                        .hosted_zone_id(req_str(&a, "hosted_zone_id")?)
                        .dns_name(req_str(&a, "dns_name")?)
                        .evaluate_target_health(bool_or(&a, "evaluate_target_health", true)?)
                        .build()
                        .map_err(build_error(op))?,
                );
            }
            Some(_) => {
                return Err(ProviderError::invalid(format!(
                    "`records[{i}].alias` must be a map"
                )));
            }
            None => {
                let values = crate::props::str_list(&m, "values")?;
                let records = values
                    .into_iter()
                    .map(|v| {
                        ResourceRecord::builder()
                            .value(v)
                            .build()
                            .map_err(build_error(op))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                b = b
                    .set_ttl(crate::props::opt_int(&m, "ttl")?)
                    .set_resource_records(Some(records));
            }
        }
        out.push(b.build().map_err(build_error(op))?);
    }
    Ok(out)
}

fn same_dns_name(a: &str, b: &str) -> bool {
    normalize_domain(a) == normalize_domain(b)
}

/// A live record in the property vocabulary, keeping the program's spelling of DNS names.
fn record_value(r: &ResourceRecordSet, last: Option<&Props>) -> Value {
    let mut m = BTreeMap::new();
    if let Some(s) = r.set_identifier() {
        m.insert("set_identifier".to_string(), Value::str(s));
    }
    if let Some(f) = r.failover() {
        m.insert("failover".to_string(), Value::str(f.as_str()));
    }
    if let Some(h) = r.health_check_id() {
        m.insert("health_check_id".to_string(), Value::str(h));
    }
    if let Some(a) = r.alias_target() {
        let last_alias = last.and_then(|l| l.get("alias")).and_then(Value::as_map);
        let dns = match last_alias
            .and_then(|la| la.get("dns_name"))
            .and_then(Value::as_str)
        {
            Some(d) if same_dns_name(d, a.dns_name()) => d.to_string(),
            _ => a.dns_name().to_string(),
        };
        let mut am = BTreeMap::new();
        am.insert("hosted_zone_id".to_string(), Value::str(a.hosted_zone_id()));
        am.insert("dns_name".to_string(), Value::str(dns));
        am.insert(
            "evaluate_target_health".to_string(),
            Value::Bool(a.evaluate_target_health()),
        );
        m.insert("alias".to_string(), Value::Map(am));
    } else {
        if let Some(t) = r.ttl() {
            m.insert("ttl".to_string(), Value::Int(t));
        }
        let values: Vec<Value> = r
            .resource_records()
            .iter()
            .map(|v| Value::str(v.value()))
            .collect();
        m.insert("values".to_string(), Value::List(values));
    }
    Value::Map(m)
}

/// How [`record_set_change_batch`] shapes a change of a record's failover role.
///
/// Rules from the Route 53 API Reference, `ChangeResourceRecordSets` and the `Change` data type:
/// a change batch is transactional ("Route 53 validates the changes in the request and then
/// either makes all or none of the changes in the change batch request"); `CREATE` creates a
/// record set with the specified values (and fails if it exists); `DELETE` deletes an existing
/// record set that has the specified values — every value as it exists, or the batch fails
/// (`InvalidChangeBatch`: "Tried to delete resource record set ... but it was not found", or
/// "... but the values provided do not match the current values"); `UPSERT` creates a record set
/// or updates the one with the same name, type and set identifier in place. Changing the role of
/// a failover record in place (two UPSERTs that turn PRIMARY into SECONDARY and back on the same
/// set identifiers) was reported refused by AWS (`InvalidChangeBatch`, "Invalid request"). The
/// reference's own example of a transactional change is this shape: a batch that deletes the
/// record of a name and creates its replacement, both validated, then made "in a single
/// operation", or neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchShape {
    /// For AWS: each live record whose `Failover` value differs from the desired record of the same
    /// set identifier is DELETEd with its live values (as `ListResourceRecordSets` gave them) and
    /// the desired record CREATEd; every other desired record is UPSERTed. DELETEs come first, then
    /// CREATEs, then UPSERTs, so that at no point of the batch do two records of the name hold
    /// the same role.
    Aws,
    /// For an emulator (moto 5.2), which cannot take the AWS shape, probed with
    /// `route53::probe_moto_role_swap` in `tests/it`: its DELETE with a `SetIdentifier` removes
    /// every record of the zone with that identifier whatever the name (a neighbour is lost), and
    /// it refuses a CREATE identical to one it has journaled before ("Tried to create resource
    /// record set ... but it already exists"), so the third swap of a pair fails. Every desired
    /// record is UPSERTed, a role change included, which moto applies in place.
    Emulator,
}

impl BatchShape {
    /// [`BatchShape::Emulator`] when the clients may reach an emulator ([`AwsClients::emulated`]:
    /// the local cloud, or any endpoint override), [`BatchShape::Aws`] otherwise.
    pub fn for_clients(clients: &AwsClients) -> BatchShape {
        if clients.emulated() {
            BatchShape::Emulator
        } else {
            BatchShape::Aws
        }
    }
}

/// The `ChangeBatch` that makes the records of a `route53:RecordSet` what `inputs` declare, given
/// the records `live` now (as `ListResourceRecordSets` gives them; records of another name or
/// type are ignored) and the inputs `old` last applied (`None` on create). `None` when there is
/// nothing to send. Pure: no call is made.
///
/// - A live record whose set identifier `old` declared and `inputs` no longer do is DELETEd, with
///   its live values (DELETE must match the existing record exactly).
/// - A desired record whose live namesake (same set identifier) has another `Failover` value is,
///   in [`BatchShape::Aws`], DELETEd (live values) and CREATEd (desired values) in this batch.
/// - Every other desired record is UPSERTed: a record created the first time, one whose health
///   check or alias changes, one that does not change.
///
/// Order: DELETEs (in the live order), CREATEs, UPSERTs (in the declared order).
pub fn record_set_change_batch(
    inputs: &Props,
    old: Option<&Props>,
    live: &[ResourceRecordSet],
    shape: BatchShape,
) -> Result<Option<ChangeBatch>, ProviderError> {
    let op = "route53:ChangeResourceRecordSets";
    let desired = desired_records(inputs)?;
    let declared = old.map(old_set_ids).unwrap_or_default();
    let ty = req_str(inputs, "type")?;
    let name = fqdn(&req_str(inputs, "name")?);
    let desired_of = |sid: Option<&str>| {
        sid.and_then(|sid| desired.iter().find(|d| d.set_identifier() == Some(sid)))
    };
    let mut deletes = Vec::new();
    let mut replaced: Vec<&str> = Vec::new();
    for r in live {
        if !same_dns_name(r.name(), &name) || r.r#type().as_str() != ty {
            continue;
        }
        match (desired_of(r.set_identifier()), r.set_identifier()) {
            // Only records with a set identifier this resource declared before are removed.
            (None, Some(sid)) if declared.iter().any(|o| o == sid) => deletes.push(r.clone()),
            (Some(d), Some(sid)) if shape == BatchShape::Aws && d.failover() != r.failover() => {
                deletes.push(r.clone());
                replaced.push(sid);
            }
            _ => {}
        }
    }
    let mut creates = Vec::new();
    let mut upserts = Vec::new();
    for d in &desired {
        if d.set_identifier()
            .is_some_and(|sid| replaced.contains(&sid))
        {
            creates.push(d.clone());
        } else {
            upserts.push(d.clone());
        }
    }
    let changes = [
        (ChangeAction::Delete, deletes),
        (ChangeAction::Create, creates),
        (ChangeAction::Upsert, upserts),
    ]
    .into_iter()
    .flat_map(|(action, records)| records.into_iter().map(move |r| (action.clone(), r)))
    .map(|(action, r)| {
        Change::builder()
            .action(action)
            .resource_record_set(r)
            .build()
            .map_err(build_error(op))
    })
    .collect::<Result<Vec<_>, _>>()?;
    change_batch(changes)
}

/// One batch of `changes`, `None` when there are none.
fn change_batch(changes: Vec<Change>) -> Result<Option<ChangeBatch>, ProviderError> {
    if changes.is_empty() {
        return Ok(None);
    }
    ChangeBatch::builder()
        .comment("tandem")
        .set_changes(Some(changes))
        .build()
        .map(Some)
        .map_err(build_error("route53:ChangeResourceRecordSets"))
}

/// Whether live record `l` is desired record `d`: the same name, type, set identifier, role,
/// health check and alias target or TTL and values (DNS names compared without case and
/// trailing dot, as Route 53 returns them).
fn same_record(l: &ResourceRecordSet, d: &ResourceRecordSet) -> bool {
    let alias = |r: &ResourceRecordSet| {
        r.alias_target().map(|a| {
            (
                a.hosted_zone_id().to_string(),
                normalize_domain(a.dns_name()),
                a.evaluate_target_health(),
            )
        })
    };
    let values = |r: &ResourceRecordSet| -> Vec<String> {
        r.resource_records()
            .iter()
            .map(|v| v.value().to_string())
            .collect()
    };
    same_dns_name(l.name(), d.name())
        && l.r#type() == d.r#type()
        && l.set_identifier() == d.set_identifier()
        && l.failover() == d.failover()
        && l.health_check_id() == d.health_check_id()
        && alias(l) == alias(d)
        && (l.alias_target().is_some() || (l.ttl() == d.ttl() && values(l) == values(d)))
}

/// Whether `live` already is what `inputs` declare (every desired record there as declared, no
/// record `old` declared and `inputs` do not left): how a batch refused after a retry is told
/// from one that failed, since a DELETE + CREATE batch applied once is refused when sent again
/// (its DELETE no longer matches).
fn already_applied(
    inputs: &Props,
    old: Option<&Props>,
    live: &[ResourceRecordSet],
) -> Result<bool, ProviderError> {
    let desired = desired_records(inputs)?;
    let declared = old.map(old_set_ids).unwrap_or_default();
    let all_there = desired
        .iter()
        .all(|d| live.iter().any(|l| same_record(l, d)));
    let none_left = live.iter().all(|l| match l.set_identifier() {
        Some(sid) => {
            !declared.iter().any(|o| o == sid)
                || desired.iter().any(|d| d.set_identifier() == Some(sid))
        }
        None => true,
    });
    Ok(all_there && none_left)
}

impl RecordSetProvider {
    pub fn new(clients: AwsClients) -> RecordSetProvider {
        RecordSetProvider { clients }
    }

    /// The live records of `name` and `type` in `zone`.
    async fn live(
        &self,
        r53: &Client,
        zone: &str,
        name: &str,
        ty: &str,
    ) -> Result<Option<Vec<ResourceRecordSet>>, CallError> {
        let want = fqdn(name);
        let mut start_name = Some(want.clone());
        let mut start_type = Some(RrType::from(ty));
        let mut start_id: Option<String> = None;
        let mut found = Vec::new();
        loop {
            let Some(out) = call(
                self.clients.retry(),
                "route53:ListResourceRecordSets",
                || {
                    r53.list_resource_record_sets()
                        .hosted_zone_id(zone)
                        .set_start_record_name(start_name.clone())
                        .set_start_record_type(start_type.clone())
                        .set_start_record_identifier(start_id.clone())
                        .send()
                },
            )
            .await
            .or_not_found()?
            else {
                return Ok(None);
            };
            let mut past = false;
            for r in out.resource_record_sets() {
                if same_dns_name(r.name(), &want) && r.r#type().as_str() == ty {
                    found.push(r.clone());
                } else if !found.is_empty() {
                    past = true;
                }
            }
            if past || !out.is_truncated() {
                break;
            }
            start_name = out.next_record_name().map(str::to_string);
            start_type = out.next_record_type().cloned();
            start_id = out.next_record_identifier().map(str::to_string);
            if start_name.is_none() {
                break;
            }
        }
        Ok(Some(found))
    }

    /// Sends one batch and waits until it is `INSYNC`.
    async fn apply(&self, r53: &Client, zone: &str, batch: ChangeBatch) -> Result<(), CallError> {
        let out = call(
            self.clients.retry(),
            "route53:ChangeResourceRecordSets",
            || {
                r53.change_resource_record_sets()
                    .hosted_zone_id(zone)
                    .change_batch(batch.clone())
                    .send()
            },
        )
        .await?;
        if let Some(info) = out.change_info() {
            wait_insync(&self.clients, r53, info.id()).await?;
        }
        Ok(())
    }

    /// Makes the live records what `inputs` declare, in one batch ([`record_set_change_batch`],
    /// shaped for the cloud behind the clients).
    async fn converge(&self, inputs: &Props, old: Option<&Props>) -> Result<(), ProviderError> {
        let zone = req_str(inputs, "zone_id")?;
        let name = req_str(inputs, "name")?;
        let ty = req_str(inputs, "type")?;
        let r53 = self.clients.route53().await;
        let live = self
            .live(&r53, &zone, &name, &ty)
            .await?
            .unwrap_or_default();
        let shape = BatchShape::for_clients(&self.clients);
        let Some(batch) = record_set_change_batch(inputs, old, &live, shape)? else {
            return Ok(());
        };
        match self.apply(&r53, &zone, batch).await {
            Ok(()) => Ok(()),
            // A batch that was applied but whose answer was lost is refused when retried (its
            // DELETE no longer matches): done if the records already are what was asked.
            Err(e) if e.has_code("InvalidChangeBatch") => {
                let now = self
                    .live(&r53, &zone, &name, &ty)
                    .await?
                    .unwrap_or_default();
                if already_applied(inputs, old, &now)? {
                    Ok(())
                } else {
                    Err(batch_error(e, &zone))
                }
            }
            Err(e) => Err(batch_error(e, &zone)),
        }
    }

    async fn read_observed(&self, inputs: &Props) -> Result<Option<Observed>, ProviderError> {
        let zone = req_str(inputs, "zone_id")?;
        let name = req_str(inputs, "name")?;
        let ty = req_str(inputs, "type")?;
        let r53 = self.clients.route53().await;
        let Some(live) = self.live(&r53, &zone, &name, &ty).await? else {
            return Ok(None);
        };
        if live.is_empty() {
            return Ok(None);
        }
        let last_records: Vec<Props> = match inputs.get("records") {
            Some(Value::List(l)) => l
                .iter()
                .filter_map(Value::as_map)
                .map(Props::from)
                .collect(),
            _ => Vec::new(),
        };
        let find_last = |sid: Option<&str>| {
            last_records
                .iter()
                .find(|m| m.get("set_identifier").and_then(Value::as_str) == sid)
        };
        // Keep the program's order of records, then any others.
        let mut ordered: Vec<Value> = Vec::new();
        let mut rest = live.clone();
        for l in &last_records {
            let sid = l.get("set_identifier").and_then(Value::as_str);
            if let Some(pos) = rest.iter().position(|r| r.set_identifier() == sid) {
                let r = rest.remove(pos);
                ordered.push(record_value(&r, Some(l)));
            }
        }
        for r in rest {
            ordered.push(record_value(&r, find_last(r.set_identifier())));
        }
        Ok(Some(Observed {
            id: format!("{zone}/{}/{ty}", normalize_domain(&name)),
            inputs: PropsBuilder::new()
                .set("zone_id", zone)
                .set("name", name.clone())
                .set("type", ty)
                .set("records", Value::List(ordered))
                .build(),
            outputs: PropsBuilder::new()
                .set("fqdn", normalize_domain(&name))
                .build(),
        }))
    }
}

/// A failed `ChangeResourceRecordSets` as the provider reports it: a zone that does not exist is
/// an invalid input, naming the zone.
fn batch_error(e: CallError, zone: &str) -> ProviderError {
    if e.has_code("NoSuchHostedZone") {
        ProviderError::new(
            ErrorClass::Invalid,
            format!("{e}: hosted zone {zone} does not exist"),
        )
    } else {
        e.into()
    }
}

fn old_set_ids(old: &Props) -> Vec<String> {
    match old.get("records") {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|r| {
                r.as_map()?
                    .get("set_identifier")?
                    .as_str()
                    .map(str::to_string)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[async_trait]
impl Provider for RecordSetProvider {
    fn kind(&self) -> &'static str {
        kinds::ROUTE53_RECORD_SET
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["zone_id", "name", "type"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["zone_id", "name", "type"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_record_set(inputs))
    }

    async fn create(&self, _ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        self.converge(inputs, None).await?;
        self.read_observed(inputs).await?.found_after_create(|| "route53:ListResourceRecordSets: the records were not found right after they were written".into())
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        _id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        self.read_observed(inputs).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        _id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        self.converge(new, Some(old)).await?;
        self.read_observed(new).await?.found_after_update(|| {
            "route53:ListResourceRecordSets: the records vanished during the update".into()
        })
    }

    /// Deletes exactly the live records matching the name, type and this resource's set
    /// identifiers (a plain record is matched by name and type: it is the only one).
    async fn delete(
        &self,
        _ctx: &OpContext,
        _id: &str,
        inputs: &Props,
    ) -> Result<(), ProviderError> {
        let zone = req_str(inputs, "zone_id")?;
        let name = req_str(inputs, "name")?;
        let ty = req_str(inputs, "type")?;
        let r53 = self.clients.route53().await;
        let Some(live) = self.live(&r53, &zone, &name, &ty).await? else {
            return Ok(());
        };
        let owned = old_set_ids(inputs);
        let mut changes = Vec::new();
        for r in live {
            let mine = match r.set_identifier() {
                Some(sid) => owned.iter().any(|o| o == sid),
                None => owned.is_empty(),
            };
            if mine {
                changes.push(
                    Change::builder()
                        .action(ChangeAction::Delete)
                        .resource_record_set(r)
                        .build()
                        .map_err(build_error("route53:ChangeResourceRecordSets"))?,
                );
            }
        }
        let Some(batch) = change_batch(changes)? else {
            return Ok(());
        };
        match self
            .apply(&r53, &zone, batch)
            .await
            .map_err(|e| batch_error(e, &zone))
        {
            Ok(()) => Ok(()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        self.read_observed(inputs).await
    }
}

// ---------------------------------------------------------------------------------------------
// Failover records as Route 53 holds them (outside the Provider trait)

pub use tandem_schema::route53::Failover;

/// One failover record of a name, as Route 53's `ListResourceRecordSets` gives it: see
/// [`failover_records`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverRecordReading {
    /// The record's `SetIdentifier` (unique among the records of its name and type).
    pub set_identifier: String,
    /// `Failover`: [`Failover::Primary`] or [`Failover::Secondary`].
    pub role: Failover,
    /// The record type (`A`, `AAAA`, ...).
    pub record_type: String,
    /// The alias target's DNS name (a load balancer's), as Route 53 stores it; `None` for a record
    /// with values instead of an alias.
    pub alias_dns_name: Option<String>,
    /// The health check Route 53 evaluates for this record, if any.
    pub health_check_id: Option<String>,
    /// The alias target's `EvaluateTargetHealth`; `false` for a record that is not an alias.
    pub evaluate_target_health: bool,
}

/// The failover records of `name` in hosted zone `zone_id`: every record of that name (compared
/// without case and with or without the trailing dot) that has a `Failover` value, of any type,
/// in Route 53's order.
///
/// Calls Route 53 `ListResourceRecordSets` (the control plane, in us-east-1), starting at `name`
/// and following `NextRecordName`/`NextRecordType`/`NextRecordIdentifier` while the answer is
/// truncated and still holds records of that name. A record without a `SetIdentifier`, or whose
/// `Failover` value this SDK does not know, is not a failover record and is left out. What the
/// control plane holds is not what resolvers are answered: that is the data plane's, see
/// [`crate::dns`]. moto stores and lists failover records faithfully (its `DELETE` is broader
/// than AWS's, which this read does not use).
///
/// # Errors
/// [`AwsError::Call`] naming `route53:ListResourceRecordSets`, the zone and the name when Route 53
/// fails, including a zone that does not exist (`NoSuchHostedZone`: not an empty answer).
pub async fn failover_records(
    clients: &AwsClients,
    zone_id: &str,
    name: &str,
) -> Result<Vec<FailoverRecordReading>, AwsError> {
    let zone = strip_zone_prefix(zone_id).to_string();
    let want = fqdn(name);
    let context = |e: CallError| CallError {
        detail: format!(
            "failover records of {} in hosted zone {zone}: {}",
            normalize_domain(name),
            e.detail
        ),
        ..e
    };
    let r53 = clients.route53().await;
    let mut start_name = Some(want.clone());
    let mut start_type: Option<RrType> = None;
    let mut start_id: Option<String> = None;
    let mut found = Vec::new();
    let mut seen_name = false;
    loop {
        let out = call(clients.retry(), "route53:ListResourceRecordSets", || {
            r53.list_resource_record_sets()
                .hosted_zone_id(&zone)
                .set_start_record_name(start_name.clone())
                .set_start_record_type(start_type.clone())
                .set_start_record_identifier(start_id.clone())
                .send()
        })
        .await
        .map_err(context)?;
        let mut past = false;
        for r in out.resource_record_sets() {
            if !same_dns_name(r.name(), &want) {
                // Records of one name are listed together: once seen, another name ends them.
                past |= seen_name;
                continue;
            }
            seen_name = true;
            let (Some(sid), Some(role)) = (r.set_identifier(), r.failover()) else {
                continue;
            };
            let role = match role {
                ResourceRecordSetFailover::Primary => Failover::Primary,
                ResourceRecordSetFailover::Secondary => Failover::Secondary,
                _ => continue,
            };
            found.push(FailoverRecordReading {
                set_identifier: sid.to_string(),
                role,
                record_type: r.r#type().as_str().to_string(),
                alias_dns_name: r.alias_target().map(|a| a.dns_name().to_string()),
                health_check_id: r.health_check_id().map(str::to_string),
                evaluate_target_health: r
                    .alias_target()
                    .is_some_and(|a| a.evaluate_target_health()),
            });
        }
        if past || !out.is_truncated() {
            break;
        }
        start_name = out.next_record_name().map(str::to_string);
        start_type = out.next_record_type().cloned();
        start_id = out.next_record_identifier().map(str::to_string);
        if start_name.is_none() {
            break;
        }
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// Health-check status (outside the Provider trait)

/// The share of checkers that must report healthy, in percent: Route 53 considers an endpoint
/// healthy when *more than* this many of its checkers do.
pub const HEALTHY_CHECKER_PERCENT: usize = 18;

/// What Route 53's checkers say of one health check, as `GetHealthCheckStatus` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckerReport {
    /// Observations returned: one per checker reporting.
    pub observations: usize,
    /// Of those, the ones whose status is a success.
    pub reporting_healthy: usize,
    /// The check is inverted: Route 53 reads success as unhealthy (how an outage is simulated on
    /// AWS).
    pub inverted: bool,
    /// The check is disabled: Route 53 considers it healthy whatever the checkers say.
    pub disabled: bool,
    /// Route 53's verdict (see [`route53_verdict`]); `None` while no checker has reported.
    pub healthy: Option<bool>,
    /// The most recent observation: its status text, the checker's region and when it checked.
    pub latest_status: Option<String>,
    pub latest_region: Option<String>,
    pub latest_checked: Option<std::time::SystemTime>,
}

/// The answer of [`health_check_status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthCheckStatus {
    /// Route 53 answered with its checkers' observations.
    Reported(CheckerReport),
    /// Route 53 has no health check of this id.
    NotFound,
    /// This cloud does not give a health check's status; the text says why.
    NotProvided(String),
}

/// Route 53's verdict from its checkers' reports: a disabled check is healthy; otherwise the
/// endpoint is healthy when more than [`HEALTHY_CHECKER_PERCENT`] % of the checkers report
/// success, and an inverted check turns that around. `None` when no checker has reported.
pub fn route53_verdict(
    observations: usize,
    reporting_healthy: usize,
    inverted: bool,
    disabled: bool,
) -> Option<bool> {
    if disabled {
        return Some(true);
    }
    if observations == 0 {
        return None;
    }
    let endpoint_healthy = reporting_healthy * 100 > HEALTHY_CHECKER_PERCENT * observations;
    Some(endpoint_healthy != inverted)
}

/// Error codes (and the HTTP status) with which a cloud says it lacks an operation.
const NOT_IMPLEMENTED_CODES: &[&str] = &[
    "NotImplemented",
    "NotImplementedError",
    "NotImplementedException",
    "UnknownOperationException",
    "UnsupportedOperation",
    "InvalidAction",
];

/// Whether `e` says the cloud does not implement the call, rather than that it failed: a "not
/// implemented" code or HTTP 501 ([`crate::error::classify`] puts the status in the detail), or a
/// not-found that is not about the health check (an endpoint that does not route the path).
fn not_implemented(e: &CallError) -> bool {
    NOT_IMPLEMENTED_CODES.iter().any(|c| e.has_code(c))
        || e.detail.contains("HTTP 501")
        || (e.is_not_found() && !e.has_code("NoSuchHealthCheck"))
}

/// What Route 53 says of health check `health_check_id`: its configuration (`GetHealthCheck`, for
/// inverted and disabled) and its checkers' latest observations (`GetHealthCheckStatus`).
///
/// With [`ClientSettings::local_cloud`](crate::ClientSettings::local_cloud) set, nothing is called
/// and the answer is [`HealthCheckStatus::NotProvided`]: moto 5.2 answers every existing check
/// with one fixed observation (`Success: HTTP Status Code: 200` from `127.0.13.37` in
/// us-east-1), whatever the endpoint does, and that is not a health status.
///
/// # Errors
/// [`AwsError::Call`] when Route 53 fails in any other way (unreachable, access denied, ...).
pub async fn health_check_status(
    clients: &AwsClients,
    health_check_id: &str,
) -> Result<HealthCheckStatus, AwsError> {
    if clients.local_cloud() {
        return Ok(HealthCheckStatus::NotProvided(
            "the local cloud (moto) answers a fixed observation, not what its checkers saw".into(),
        ));
    }
    let r53 = clients.route53().await;
    let config = match call(clients.retry(), "route53:GetHealthCheck", || {
        r53.get_health_check()
            .health_check_id(health_check_id)
            .send()
    })
    .await
    {
        Ok(out) => out
            .health_check()
            .and_then(|h| h.health_check_config().cloned()),
        Err(e) if not_implemented(&e) => return Ok(HealthCheckStatus::NotProvided(e.to_string())),
        Err(e) if e.is_not_found() => return Ok(HealthCheckStatus::NotFound),
        Err(e) => return Err(e.into()),
    };
    let inverted = config.as_ref().and_then(|c| c.inverted()).unwrap_or(false);
    let disabled = config.as_ref().and_then(|c| c.disabled()).unwrap_or(false);
    let out = match call(clients.retry(), "route53:GetHealthCheckStatus", || {
        r53.get_health_check_status()
            .health_check_id(health_check_id)
            .send()
    })
    .await
    {
        Ok(out) => out,
        Err(e) if not_implemented(&e) => return Ok(HealthCheckStatus::NotProvided(e.to_string())),
        Err(e) if e.is_not_found() => return Ok(HealthCheckStatus::NotFound),
        Err(e) => return Err(e.into()),
    };
    let observations = out.health_check_observations();
    let reporting_healthy = observations
        .iter()
        .filter(|o| {
            o.status_report()
                .and_then(|r| r.status())
                .is_some_and(|s| s.trim_start().starts_with("Success"))
        })
        .count();
    let latest = observations
        .iter()
        .filter_map(|o| Some((o, o.status_report()?.checked_time()?)))
        .max_by_key(|(_, t)| (t.secs(), t.subsec_nanos()))
        .map(|(o, t)| (o, std::time::SystemTime::try_from(*t).ok()))
        .or_else(|| observations.first().map(|o| (o, None)));
    Ok(HealthCheckStatus::Reported(CheckerReport {
        observations: observations.len(),
        reporting_healthy,
        inverted,
        disabled,
        healthy: route53_verdict(observations.len(), reporting_healthy, inverted, disabled),
        latest_status: latest
            .and_then(|(o, _)| o.status_report()?.status())
            .map(str::to_string),
        latest_region: latest
            .and_then(|(o, _)| o.region())
            .map(|r| r.as_str().to_string()),
        latest_checked: latest.and_then(|(_, t)| t),
    }))
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn more_than_eighteen_percent_is_healthy() {
        assert_eq!(route53_verdict(16, 16, false, false), Some(true));
        assert_eq!(route53_verdict(16, 3, false, false), Some(true), "18.75 %");
        assert_eq!(
            route53_verdict(50, 9, false, false),
            Some(false),
            "18 % exactly"
        );
        assert_eq!(route53_verdict(50, 10, false, false), Some(true));
        assert_eq!(route53_verdict(16, 0, false, false), Some(false));
        assert_eq!(route53_verdict(0, 0, false, false), None);
    }

    #[test]
    fn inverted_turns_around_and_disabled_is_healthy() {
        assert_eq!(route53_verdict(16, 16, true, false), Some(false));
        assert_eq!(route53_verdict(16, 0, true, false), Some(true));
        assert_eq!(route53_verdict(16, 0, false, true), Some(true));
        assert_eq!(route53_verdict(0, 0, true, true), Some(true));
    }

    #[test]
    fn not_implemented_is_told_from_failures() {
        let e = |code: Option<&str>, class, detail: &str| CallError {
            operation: "route53:GetHealthCheckStatus",
            class,
            code: code.map(str::to_string),
            detail: detail.into(),
        };
        assert!(not_implemented(&e(
            Some("NotImplemented"),
            ErrorClass::Retryable,
            "NotImplemented (HTTP 501)"
        )));
        assert!(not_implemented(&e(
            Some("InternalFailure"),
            ErrorClass::Retryable,
            "InternalFailure (HTTP 501): not yet implemented (gave up after 6 attempts)"
        )));
        assert!(not_implemented(&e(
            Some("NoSuchBucket"),
            ErrorClass::NotFound,
            "NoSuchBucket (HTTP 404)"
        )));
        assert!(!not_implemented(&e(
            Some("NoSuchHealthCheck"),
            ErrorClass::NotFound,
            "NoSuchHealthCheck (HTTP 404)"
        )));
        assert!(!not_implemented(&e(
            Some("AccessDenied"),
            ErrorClass::AccessDenied,
            "AccessDenied (HTTP 403)"
        )));
        assert!(!not_implemented(&e(
            None,
            ErrorClass::Retryable,
            "could not reach the endpoint (connection failed)"
        )));
    }
}

#[cfg(test)]
mod record_set_tests {
    use super::*;
    use tandem_core::Region;
    use tandem_schema::props_of;
    use tandem_schema::regions::alb_hosted_zone_id;
    use tandem_schema::route53::{Failover as Role, Record, RecordSet};

    const EAST: &str = "us-east-1";
    const WEST: &str = "us-west-2";

    fn alb(region: &str) -> String {
        format!("tandem-{region}-123.{region}.elb.amazonaws.com")
    }

    /// The failover pair as the stack declares it: set identifier `app-<region>`, an alias to the
    /// region's ALB (AWS's published hosted-zone id), the region's health check.
    fn pair(primary: &str, secondary: &str, check: impl Fn(&str) -> String) -> Props {
        let alias = |role, r: &str| {
            Record::failover_alias(
                role,
                format!("app-{r}"),
                alb_hosted_zone_id(r).unwrap(),
                alb(r),
            )
            .health_check_id(check(r))
        };
        props_of(
            RecordSet::new(&Region::Global, "app")
                .unwrap()
                .zone_id("Z0ZONE")
                .name("app.example.com")
                .record_type("A")
                .record(alias(Role::Primary, primary))
                .record(alias(Role::Secondary, secondary)),
        )
    }

    fn check(r: &str) -> String {
        format!("hc-{r}")
    }

    /// The records of `inputs` as `ListResourceRecordSets` gives them back: alias names with the
    /// trailing dot Route 53 stores, which a DELETE repeats.
    fn live_of(inputs: &Props) -> Vec<ResourceRecordSet> {
        desired_records(inputs)
            .unwrap()
            .into_iter()
            .map(|r| {
                let a = r.alias_target().unwrap();
                ResourceRecordSet::builder()
                    .name(r.name())
                    .r#type(r.r#type().clone())
                    .set_set_identifier(r.set_identifier().map(str::to_string))
                    .set_failover(r.failover().cloned())
                    .set_health_check_id(r.health_check_id().map(str::to_string))
                    .alias_target(
                        AliasTarget::builder()
                            .hosted_zone_id(a.hosted_zone_id())
                            .dns_name(format!("{}.", a.dns_name()))
                            .evaluate_target_health(a.evaluate_target_health())
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            })
            .collect()
    }

    fn change(action: ChangeAction, r: &ResourceRecordSet) -> Change {
        Change::builder()
            .action(action)
            .resource_record_set(r.clone())
            .build()
            .unwrap()
    }

    fn batch(changes: Vec<Change>) -> ChangeBatch {
        ChangeBatch::builder()
            .comment("tandem")
            .set_changes(Some(changes))
            .build()
            .unwrap()
    }

    fn by_sid<'a>(records: &'a [ResourceRecordSet], sid: &str) -> &'a ResourceRecordSet {
        records
            .iter()
            .find(|r| r.set_identifier() == Some(sid))
            .unwrap()
    }

    fn actions(b: &ChangeBatch) -> Vec<(String, String, String)> {
        b.changes()
            .iter()
            .map(|c| {
                let r = c.resource_record_set().unwrap();
                (
                    c.action().as_str().to_string(),
                    r.set_identifier().unwrap_or_default().to_string(),
                    r.failover()
                        .map(|f| f.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn aws_swap_is_delete_of_the_exact_live_records_then_create() {
        let before = pair(EAST, WEST, check);
        let after = pair(WEST, EAST, check);
        let live = live_of(&before);
        let got = record_set_change_batch(&after, Some(&before), &live, BatchShape::Aws)
            .unwrap()
            .unwrap();
        let new = desired_records(&after).unwrap();
        let expected = batch(vec![
            change(ChangeAction::Delete, by_sid(&live, "app-us-east-1")),
            change(ChangeAction::Delete, by_sid(&live, "app-us-west-2")),
            change(ChangeAction::Create, by_sid(&new, "app-us-west-2")),
            change(ChangeAction::Create, by_sid(&new, "app-us-east-1")),
        ]);
        assert_eq!(got, expected);
        // The DELETEs carry the live spelling (what AWS matches), not the declared one.
        let deleted = got.changes()[0].resource_record_set().unwrap();
        assert_eq!(
            deleted.alias_target().unwrap().dns_name(),
            format!("{}.", alb(EAST))
        );
        assert_eq!(
            deleted.failover(),
            Some(&ResourceRecordSetFailover::Primary)
        );
        assert_eq!(deleted.health_check_id(), Some("hc-us-east-1"));
    }

    #[test]
    fn emulator_swap_is_two_upserts() {
        let before = pair(EAST, WEST, check);
        let after = pair(WEST, EAST, check);
        let got = record_set_change_batch(
            &after,
            Some(&before),
            &live_of(&before),
            BatchShape::Emulator,
        )
        .unwrap()
        .unwrap();
        let new = desired_records(&after).unwrap();
        assert_eq!(
            got,
            batch(vec![
                change(ChangeAction::Upsert, &new[0]),
                change(ChangeAction::Upsert, &new[1]),
            ])
        );
    }

    #[test]
    fn first_creation_upserts_in_both_shapes() {
        let inputs = pair(EAST, WEST, check);
        for shape in [BatchShape::Aws, BatchShape::Emulator] {
            let got = record_set_change_batch(&inputs, None, &[], shape)
                .unwrap()
                .unwrap();
            assert_eq!(
                actions(&got),
                [
                    ("UPSERT".into(), "app-us-east-1".into(), "PRIMARY".into()),
                    ("UPSERT".into(), "app-us-west-2".into(), "SECONDARY".into()),
                ],
                "{shape:?}"
            );
        }
    }

    #[test]
    fn changes_that_keep_the_roles_are_upserts() {
        let before = pair(EAST, WEST, check);
        let live = live_of(&before);
        // A new health check id on both records.
        let new_checks = pair(EAST, WEST, |r| format!("hc2-{r}"));
        // One record only changing: the secondary's alias.
        let mut one = pair(EAST, WEST, check);
        if let Some(Value::List(records)) = one.get_mut("records") {
            if let Some(Value::Map(m)) = records.get_mut(1) {
                if let Some(Value::Map(a)) = m.get_mut("alias") {
                    a.insert(
                        "dns_name".into(),
                        Value::str("other.us-west-2.elb.amazonaws.com"),
                    );
                }
            }
        }
        for (what, after) in [("health checks", new_checks), ("one record", one)] {
            let got = record_set_change_batch(&after, Some(&before), &live, BatchShape::Aws)
                .unwrap()
                .unwrap();
            let new = desired_records(&after).unwrap();
            assert_eq!(
                got,
                batch(vec![
                    change(ChangeAction::Upsert, &new[0]),
                    change(ChangeAction::Upsert, &new[1]),
                ]),
                "{what}"
            );
        }
    }

    #[test]
    fn swap_with_a_new_health_check_deletes_the_old_values() {
        let before = pair(EAST, WEST, check);
        let after = pair(WEST, EAST, |r| format!("hc2-{r}"));
        let live = live_of(&before);
        let got = record_set_change_batch(&after, Some(&before), &live, BatchShape::Aws)
            .unwrap()
            .unwrap();
        let checks: Vec<(String, Option<String>)> = got
            .changes()
            .iter()
            .map(|c| {
                let r = c.resource_record_set().unwrap();
                (
                    c.action().as_str().to_string(),
                    r.health_check_id().map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            checks,
            [
                ("DELETE".into(), Some("hc-us-east-1".into())),
                ("DELETE".into(), Some("hc-us-west-2".into())),
                ("CREATE".into(), Some("hc2-us-west-2".into())),
                ("CREATE".into(), Some("hc2-us-east-1".into())),
            ]
        );
    }

    #[test]
    fn removed_records_are_deleted_and_others_left_alone() {
        let before = pair(EAST, WEST, check);
        let mut live = live_of(&before);
        // Not this resource's: another name, another type, an undeclared set identifier.
        let stranger = |name: &str, ty: RrType, sid: &str| {
            ResourceRecordSet::builder()
                .name(name)
                .r#type(ty)
                .set_identifier(sid)
                .failover(ResourceRecordSetFailover::Primary)
                .ttl(60)
                .resource_records(
                    ResourceRecord::builder()
                        .value("192.0.2.1")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        live.push(stranger("api.example.com.", RrType::A, "app-us-west-2"));
        live.push(stranger("app.example.com.", RrType::Aaaa, "app-us-west-2"));
        live.push(stranger("app.example.com.", RrType::A, "someone-else"));
        // Only the primary is declared now.
        let mut after = before.clone();
        if let Some(Value::List(records)) = after.get_mut("records") {
            records.truncate(1);
        }
        for shape in [BatchShape::Aws, BatchShape::Emulator] {
            let got = record_set_change_batch(&after, Some(&before), &live, shape)
                .unwrap()
                .unwrap();
            assert_eq!(
                got,
                batch(vec![
                    change(ChangeAction::Delete, &live[1]),
                    change(ChangeAction::Upsert, &desired_records(&after).unwrap()[0]),
                ]),
                "{shape:?}"
            );
        }
    }

    #[test]
    fn a_refused_retry_is_told_from_a_failure() {
        let before = pair(EAST, WEST, check);
        let after = pair(WEST, EAST, check);
        assert!(!already_applied(&after, Some(&before), &live_of(&before)).unwrap());
        assert!(already_applied(&after, Some(&before), &live_of(&after)).unwrap());
        assert!(already_applied(&before, None, &live_of(&before)).unwrap());
        let mut one = live_of(&after);
        one.pop();
        assert!(!already_applied(&after, Some(&before), &one).unwrap());
    }

    #[test]
    fn the_shape_follows_the_clients() {
        let local = AwsClients::local("http://127.0.0.1:1", "k", "s");
        assert_eq!(BatchShape::for_clients(&local), BatchShape::Emulator);
    }
}
