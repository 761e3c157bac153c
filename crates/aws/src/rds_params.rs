//! `rds:DbParameterGroup`: a DB parameter group of one region, created through the RDS API.
//!
//! Through the API rather than the regional CloudFormation template: the local cloud creates an
//! `AWS::RDS::DBParameterGroup` from a template under a name of its own (it ignores
//! `DBParameterGroupName`) and resolves `Ref` to it as an object's text, so the name could not
//! reach the databases there. The API behaves alike on AWS and locally.
//!
//! The group's parameters are the ones set on it (`DescribeDBParameters` with `Source=user`), so
//! that a parameter changed by hand reads back as drift. They are set with
//! `ApplyMethod=pending-reboot`, which RDS accepts for static and dynamic parameters alike (RDS API
//! Reference, ModifyDBParameterGroup: `immediate` only for dynamic ones): an instance created with
//! the group starts with them, a running one takes a change at its next reboot.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup, Parameter, Tag};
use tandem_core::{Props, ResourceAddr, Value};
use tandem_engine::provider::{Identity, Observed, OpContext, Provider, ProviderError};
use tandem_schema::{kinds, rds as schema, tags};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::{CallError, OrNotFound, ReadBack, deleted};
use crate::props::{
    PropsBuilder, all_tags, region_of, removed_tag_keys, req_str, schema_check, str_map,
};

/// RDS API Reference, ModifyDBParameterGroup and ResetDBParameterGroup: at most 20 parameters in
/// one request.
const PARAMETERS_PER_CALL: usize = 20;

/// `rds:DbParameterGroup`.
pub struct DbParameterGroupProvider {
    clients: AwsClients,
}

/// A group as read: its description, the parameters set on it, and its tags.
struct Live {
    group: DbParameterGroup,
    parameters: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

impl DbParameterGroupProvider {
    pub fn new(clients: AwsClients) -> DbParameterGroupProvider {
        DbParameterGroupProvider { clients }
    }

    /// The group named `name`, `None` when there is none. (RDS answers `DBParameterGroupNotFound`;
    /// the local cloud an empty list.)
    async fn describe(
        &self,
        rds: &Client,
        name: &str,
    ) -> Result<Option<DbParameterGroup>, CallError> {
        let out = call(
            self.clients.retry(),
            "rds:DescribeDBParameterGroups",
            || {
                rds.describe_db_parameter_groups()
                    .db_parameter_group_name(name)
                    .send()
            },
        )
        .await
        .or_not_found()?;
        Ok(out.and_then(|o| o.db_parameter_groups().first().cloned()))
    }

    /// The parameters set on the group (`Source=user`), every page.
    async fn user_parameters(
        &self,
        rds: &Client,
        name: &str,
    ) -> Result<BTreeMap<String, String>, CallError> {
        let mut all = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let out = call(self.clients.retry(), "rds:DescribeDBParameters", || {
                rds.describe_db_parameters()
                    .db_parameter_group_name(name)
                    .source("user")
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
            for p in out.parameters() {
                if let (Some(k), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                    all.insert(k.to_string(), v.to_string());
                }
            }
            match out.marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => return Ok(all),
            }
        }
    }

    async fn tags_of(
        &self,
        rds: &Client,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, CallError> {
        let out = call(self.clients.retry(), "rds:ListTagsForResource", || {
            rds.list_tags_for_resource().resource_name(arn).send()
        })
        .await?;
        Ok(out
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect())
    }

    async fn read_live(&self, rds: &Client, name: &str) -> Result<Option<Live>, CallError> {
        let Some(group) = self.describe(rds, name).await? else {
            return Ok(None);
        };
        let parameters = self.user_parameters(rds, name).await?;
        let tags = match group.db_parameter_group_arn() {
            Some(arn) => self.tags_of(rds, arn).await?,
            None => BTreeMap::new(),
        };
        Ok(Some(Live {
            group,
            parameters,
            tags,
        }))
    }

    /// Sets `parameters` on the group, at most [`PARAMETERS_PER_CALL`] a call.
    async fn set_parameters(
        &self,
        rds: &Client,
        name: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let list: Vec<Parameter> = parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .apply_method(ApplyMethod::PendingReboot)
                    .build()
            })
            .collect();
        for chunk in list.chunks(PARAMETERS_PER_CALL) {
            call(self.clients.retry(), "rds:ModifyDBParameterGroup", || {
                rds.modify_db_parameter_group()
                    .db_parameter_group_name(name)
                    .set_parameters(Some(chunk.to_vec()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }

    /// Resets `names` to the family's defaults, at most [`PARAMETERS_PER_CALL`] a call.
    async fn reset_parameters(
        &self,
        rds: &Client,
        name: &str,
        names: &[String],
    ) -> Result<(), ProviderError> {
        let list: Vec<Parameter> = names
            .iter()
            .map(|k| {
                Parameter::builder()
                    .parameter_name(k)
                    .apply_method(ApplyMethod::PendingReboot)
                    .build()
            })
            .collect();
        for chunk in list.chunks(PARAMETERS_PER_CALL) {
            call(self.clients.retry(), "rds:ResetDBParameterGroup", || {
                rds.reset_db_parameter_group()
                    .db_parameter_group_name(name)
                    .set_parameters(Some(chunk.to_vec()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }

    fn observed(live: &Live, last: &Props) -> Observed {
        let g = &live.group;
        let name = g.db_parameter_group_name().unwrap_or_default();
        // RDS stores the name in lowercase: the program's spelling is kept when it is the same name.
        let name_input = match last.get("name").and_then(Value::as_str) {
            Some(n) if n.eq_ignore_ascii_case(name) => n.to_string(),
            _ => name.to_string(),
        };
        let parameters = Value::Map(
            live.parameters
                .iter()
                .map(|(k, v)| (k.clone(), Value::str(v)))
                .collect(),
        );
        let inputs = PropsBuilder::new()
            .set("name", name_input)
            .opt("family", g.db_parameter_group_family())
            .opt("description", g.description())
            .defaulted(last, "parameters", parameters, Value::Map(BTreeMap::new()))
            .user_tags(
                last,
                live.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .build();
        let outputs = PropsBuilder::new()
            .set("name", name)
            .opt("arn", g.db_parameter_group_arn())
            .opt("family", g.db_parameter_group_family())
            .build();
        Observed {
            id: name.to_string(),
            inputs,
            outputs,
        }
    }

    /// The group, adopted only when its `tandem:addr` tag is this address or it has none (a create
    /// interrupted before tagging: tags are given with the create, so only a group made by hand).
    async fn find_own(
        &self,
        ctx: &OpContext,
        rds: &Client,
        name: &str,
    ) -> Result<Option<Live>, ProviderError> {
        let Some(live) = self.read_live(rds, name).await? else {
            return Ok(None);
        };
        match live.tags.get(tags::ADDR) {
            Some(owner) if owner != ctx.addr.as_str() => Ok(None),
            _ => Ok(Some(live)),
        }
    }
}

fn rds_tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

#[async_trait]
impl Provider for DbParameterGroupProvider {
    fn kind(&self) -> &'static str {
        kinds::RDS_DB_PARAMETER_GROUP
    }

    fn replace_on(&self) -> &'static [&'static str] {
        // RDS API Reference, ModifyDBParameterGroup changes parameters only.
        &["name", "family", "description"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["name"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_db_parameter_group(inputs))
    }

    /// `CreateDBParameterGroup` with the tags, then `ModifyDBParameterGroup` with the parameters.
    /// A group of that name that is this resource's own (an interrupted create) is carried on from.
    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let name = req_str(inputs, "name")?;
        let family = req_str(inputs, "family")?;
        let description = req_str(inputs, "description")?;
        let parameters = str_map(inputs, "parameters")?;
        let tag_list = rds_tags(&all_tags(ctx, inputs)?);
        let rds = self.clients.rds(&region).await;
        let res = call(self.clients.retry(), "rds:CreateDBParameterGroup", || {
            rds.create_db_parameter_group()
                .db_parameter_group_name(&name)
                .db_parameter_group_family(&family)
                .description(&description)
                .set_tags(Some(tag_list.clone()))
                .send()
        })
        .await;
        match res {
            Ok(_) => {}
            Err(e) if e.has_code("DBParameterGroupAlreadyExists") => {
                if self.find_own(ctx, &rds, &name).await?.is_none() {
                    return Err(ProviderError::invalid(format!(
                        "{e}: DB parameter group {name:?} in {region} belongs to another \
                         resource; choose another name"
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
        if !parameters.is_empty() {
            self.set_parameters(&rds, &name, &parameters).await?;
        }
        let live = self
            .read_live(&rds, &name)
            .await?
            .found_after_create(|| format!("DB parameter group {name} in {region} just created"))?;
        Ok(Self::observed(&live, inputs))
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        let rds = self.clients.rds(&region).await;
        Ok(self
            .read_live(&rds, id)
            .await?
            .map(|live| Self::observed(&live, inputs)))
    }

    /// Sets the parameters that are new or changed, resets those no longer declared to the
    /// family's defaults (`ResetDBParameterGroup`), and changes the tags.
    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let rds = self.clients.rds(&region).await;
        let before = str_map(old, "parameters")?;
        let after = str_map(new, "parameters")?;
        let changed: BTreeMap<String, String> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let removed: Vec<String> = before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .cloned()
            .collect();
        if !changed.is_empty() {
            self.set_parameters(&rds, id, &changed).await?;
        }
        if !removed.is_empty() {
            self.reset_parameters(&rds, id, &removed).await?;
        }
        let group = self
            .describe(&rds, id)
            .await?
            .found_after_update(|| format!("DB parameter group {id} in {region}"))?;
        if let Some(arn) = group.db_parameter_group_arn() {
            let wanted = all_tags(ctx, new)?;
            call(self.clients.retry(), "rds:AddTagsToResource", || {
                rds.add_tags_to_resource()
                    .resource_name(arn)
                    .set_tags(Some(rds_tags(&wanted)))
                    .send()
            })
            .await?;
            let gone = removed_tag_keys(old, &wanted)?;
            if !gone.is_empty() {
                call(self.clients.retry(), "rds:RemoveTagsFromResource", || {
                    rds.remove_tags_from_resource()
                        .resource_name(arn)
                        .set_tag_keys(Some(gone.clone()))
                        .send()
                })
                .await?;
            }
        }
        let live = self
            .read_live(&rds, id)
            .await?
            .found_after_update(|| format!("DB parameter group {id} in {region}"))?;
        Ok(Self::observed(&live, new))
    }

    /// `DeleteDBParameterGroup`. RDS refuses while an instance uses the group
    /// (`InvalidDBParameterGroupState`): an input error naming what to do first. (The local cloud
    /// deletes it all the same.)
    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Props,
    ) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        let rds = self.clients.rds(&region).await;
        let res = call(self.clients.retry(), "rds:DeleteDBParameterGroup", || {
            rds.delete_db_parameter_group()
                .db_parameter_group_name(id)
                .send()
        })
        .await;
        deleted(
            res,
            "InvalidDBParameterGroupState",
            &format!(
                "DB parameter group {id} in {region} is still used by a DB instance; delete the \
                 instance or associate it with another group first"
            ),
        )
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        let name = req_str(inputs, "name")?;
        let rds = self.clients.rds(&region).await;
        Ok(self
            .find_own(ctx, &rds, &name)
            .await?
            .map(|live| Self::observed(&live, inputs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(params: &[(&str, &str)]) -> Live {
        Live {
            group: DbParameterGroup::builder()
                .db_parameter_group_name("tandem-prod-postgres16-tls")
                .db_parameter_group_family("postgres16")
                .description("TLS required")
                .db_parameter_group_arn(
                    "arn:aws:rds:us-east-1:123456789012:pg:tandem-prod-postgres16-tls",
                )
                .build(),
            parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tags: BTreeMap::from([(tags::ADDR.to_string(), "x".to_string())]),
        }
    }

    #[test]
    fn parameters_read_back_as_set_and_drift_shows() {
        let mut last = Props::new();
        last.insert("name".into(), Value::str("Tandem-Prod-Postgres16-TLS"));
        last.insert(
            "parameters".into(),
            tandem_core::map([("rds.force_ssl", "1")]),
        );
        let read = DbParameterGroupProvider::observed(&live(&[("rds.force_ssl", "1")]), &last);
        assert_eq!(read.inputs.get("parameters"), last.get("parameters"));
        // The program's spelling of the name is kept; the id is RDS's.
        assert_eq!(read.inputs.get("name"), last.get("name"));
        assert_eq!(read.id, "tandem-prod-postgres16-tls");
        assert_eq!(
            read.outputs.get("family").and_then(Value::as_str),
            Some("postgres16")
        );
        // Turned off by hand, and another one set: both show.
        let drift = DbParameterGroupProvider::observed(
            &live(&[("rds.force_ssl", "0"), ("log_connections", "1")]),
            &last,
        );
        assert_eq!(
            drift.inputs.get("parameters"),
            Some(&tandem_core::map([
                ("log_connections", "1"),
                ("rds.force_ssl", "0")
            ]))
        );
        // Tandem's own tags are not user tags.
        assert_eq!(read.inputs.get("tags"), None);
    }
}
