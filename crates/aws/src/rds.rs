//! `rds:DbInstance` and `rds:DbReadReplica`, the waiters for `available`, and the failover
//! helpers [`promote_read_replica`] and [`replica_lag_seconds`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbInstance, Tag};
use tandem_core::{Props, ResourceAddr, Value};
use tandem_engine::provider::{ErrorClass, Observed, OpContext, Provider, ProviderError};
use tandem_schema::{kinds, rds as schema, tags};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::{AwsError, CallError, OrNotFound};
use crate::presign;
use crate::props::{
    PropsBuilder, all_tags, bool_or, opt_i32, opt_str, region_of, removed_tag_keys, req_str,
    schema_check,
};
use crate::wait::{self, Check};

/// States from which an instance will not become `available` by waiting.
const FAILED_STATES: &[&str] = &[
    "failed",
    "incompatible-parameters",
    "incompatible-restore",
    "incompatible-network",
    "incompatible-option-group",
    "inaccessible-encryption-credentials",
    "storage-full",
    "restore-error",
];

async fn describe(
    clients: &AwsClients,
    rds: &Client,
    id: &str,
) -> Result<Option<DbInstance>, CallError> {
    let out = call(clients.retry(), "rds:DescribeDBInstances", || {
        rds.describe_db_instances()
            .db_instance_identifier(id)
            .send()
    })
    .await
    .or_not_found()?;
    Ok(out.and_then(|o| o.db_instances().first().cloned()))
}

/// The instance's status (`available`, `stopping`, ...), `None` when it does not exist.
async fn status_of(
    clients: &AwsClients,
    rds: &Client,
    id: &str,
) -> Result<Option<String>, CallError> {
    Ok(describe(clients, rds, id)
        .await?
        .and_then(|d| d.db_instance_status().map(str::to_string)))
}

/// Waits until the instance's status is `target` (bounded; the first check is immediate). An
/// instance that does not exist is `NotFound`; one in a [`FAILED_STATES`] state fails, the
/// message ending with `will_not` (`become available`, `stop`).
async fn wait_status(
    clients: &AwsClients,
    region: &str,
    id: &str,
    target: &str,
    will_not: &str,
) -> Result<DbInstance, CallError> {
    let rds = clients.rds(region).await;
    let w = clients.wait();
    wait::until(
        "rds:DescribeDBInstances",
        &format!("DB instance {id} to be {target}"),
        w,
        w.rds_timeout,
        || async {
            match describe(clients, &rds, id).await? {
                None => Err(CallError::new(
                    "rds:DescribeDBInstances",
                    ErrorClass::NotFound,
                    format!("DB instance {id} does not exist"),
                )),
                Some(db) => match db.db_instance_status() {
                    Some(s) if s == target => Ok(Check::Done(db)),
                    Some(s) if FAILED_STATES.contains(&s) => Err(CallError::new(
                        "rds:DescribeDBInstances",
                        ErrorClass::Other,
                        format!("DB instance {id} is in state {s:?} and will not {will_not}"),
                    )),
                    Some(s) => Ok(Check::Pending(s.to_string())),
                    None => Ok(Check::Pending("unknown".into())),
                },
            }
        },
    )
    .await
}

/// Waits until the instance is `available` (bounded; the first check is immediate).
pub async fn wait_available(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbInstance, CallError> {
    wait_status(clients, region, id, "available", "become available").await
}

/// Waits until the instance is `stopped` (bounded; the first check is immediate).
async fn wait_stopped(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbInstance, CallError> {
    wait_status(clients, region, id, "stopped", "stop").await
}

/// The inputs `ModifyDBInstance` changes; a fenced (stopped) instance cannot take them.
const MODIFIABLE: &[&str] = &[
    "instance_class",
    "allocated_storage",
    "engine_version",
    "backup_retention_period",
    "multi_az",
    "deletion_protection",
];

/// Whether the instance is fenced: stopped, or on its way there.
fn is_fenced(db: &DbInstance) -> bool {
    matches!(db.db_instance_status(), Some("stopped" | "stopping"))
}

/// Stops the instance and waits until it is `stopped` (fencing an old primary from writes).
async fn stop_instance(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbInstance, ProviderError> {
    let rds = clients.rds(region).await;
    let res = call(clients.retry(), "rds:StopDBInstance", || {
        rds.stop_db_instance().db_instance_identifier(id).send()
    })
    .await;
    match res {
        Ok(_) => {}
        // Already stopped or stopping (a retried fence): carry on to the wait.
        Err(e) if e.has_code("InvalidDBInstanceState") => {
            let status = status_of(clients, &rds, id).await?;
            if !matches!(status.as_deref(), Some("stopped" | "stopping")) {
                return Err(e.into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(wait_stopped(clients, region, id).await?)
}

/// Starts a stopped instance and waits until it is `available`.
async fn start_instance(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbInstance, ProviderError> {
    let rds = clients.rds(region).await;
    // An instance still `stopping` cannot be started yet.
    wait_stopped(clients, region, id).await?;
    let res = call(clients.retry(), "rds:StartDBInstance", || {
        rds.start_db_instance().db_instance_identifier(id).send()
    })
    .await;
    match res {
        Ok(_) => {}
        // Already starting (a retried unfence): carry on to the wait.
        Err(e) if e.has_code("InvalidDBInstanceState") => {
            let status = status_of(clients, &rds, id).await?;
            if matches!(status.as_deref(), None | Some("stopped" | "stopping")) {
                return Err(e.into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(wait_available(clients, region, id).await?)
}

/// An in-place update's fencing: whether the instance is fenced now (read from its status,
/// whatever the last inputs said) and whether it is to be; and the instance's ARN from that same
/// read, by which [`retag`](Self::retag) tags it without describing it again.
struct FenceChange {
    was_fenced: bool,
    fence: bool,
    arn: Option<String>,
}

impl FenceChange {
    /// Reads the instance, refuses to modify one that is and stays fenced (AWS does not modify a
    /// stopped instance), and starts it first when it is unfenced. `changing` names the
    /// modifiable inputs that change.
    async fn begin(
        clients: &AwsClients,
        region: &str,
        id: &str,
        new: &Props,
        changing: &[&str],
    ) -> Result<FenceChange, ProviderError> {
        let rds = clients.rds(region).await;
        let live = describe(clients, &rds, id).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorClass::NotFound,
                format!("rds:DescribeDBInstances: DB instance {id} does not exist"),
            )
        })?;
        let change = FenceChange {
            was_fenced: is_fenced(&live),
            fence: bool_or(new, "fenced", false)?,
            arn: live.db_instance_arn().map(str::to_string),
        };
        if change.was_fenced && change.fence && !changing.is_empty() {
            return Err(ProviderError::invalid(format!(
                "rds:ModifyDBInstance: DB instance {id} is fenced (stopped) and AWS does not modify \
                 a stopped instance; unfence it (`fenced: false`) to change {}",
                changing.join(", ")
            )));
        }
        if change.was_fenced && !change.fence {
            start_instance(clients, region, id).await?;
        }
        Ok(change)
    }

    /// Whether to call `ModifyDBInstance`: not on an instance that is and stays fenced.
    fn modify(&self) -> bool {
        !(self.was_fenced && self.fence)
    }

    /// Makes the instance's tags those of `new` (Tandem's own included), by the ARN `begin` read:
    /// adds or overwrites them, and removes the user's tags `old` had that `new` no longer has.
    async fn retag(
        &self,
        clients: &AwsClients,
        rds: &Client,
        ctx: &OpContext,
        old: &Props,
        new: &Props,
    ) -> Result<(), ProviderError> {
        let wanted = all_tags(ctx, new)?;
        let Some(arn) = &self.arn else {
            return Ok(());
        };
        call(clients.retry(), "rds:AddTagsToResource", || {
            rds.add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(rds_tags(&wanted)))
                .send()
        })
        .await?;
        let removed = removed_tag_keys(old, &wanted)?;
        if !removed.is_empty() {
            call(clients.retry(), "rds:RemoveTagsFromResource", || {
                rds.remove_tags_from_resource()
                    .resource_name(arn)
                    .set_tag_keys(Some(removed.clone()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }

    /// Stops the instance when it is to be fenced, else waits until it is available.
    async fn finish(
        &self,
        clients: &AwsClients,
        region: &str,
        id: &str,
    ) -> Result<DbInstance, ProviderError> {
        if self.fence {
            if !self.was_fenced {
                wait_available(clients, region, id).await?;
            }
            stop_instance(clients, region, id).await
        } else {
            Ok(wait_available(clients, region, id).await?)
        }
    }
}

/// Waits until the instance no longer exists.
async fn wait_deleted(clients: &AwsClients, region: &str, id: &str) -> Result<(), CallError> {
    let rds = clients.rds(region).await;
    let w = clients.wait();
    wait::until(
        "rds:DescribeDBInstances",
        &format!("DB instance {id} to be deleted"),
        w,
        w.rds_timeout,
        || async {
            Ok(match describe(clients, &rds, id).await? {
                None => Check::Done(()),
                Some(db) => {
                    Check::Pending(db.db_instance_status().unwrap_or("unknown").to_string())
                }
            })
        },
    )
    .await
}

fn rds_tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A KMS key as the program named it (id, alias or ARN), kept when the live ARN is the same key.
fn same_key(last: Option<&str>, live: &str) -> bool {
    match last {
        Some(l) => {
            l == live || live.ends_with(&format!("/{l}")) || live.ends_with(&format!(":{l}"))
        }
        None => false,
    }
}

fn outputs(db: &DbInstance) -> Props {
    PropsBuilder::new()
        .opt("identifier", db.db_instance_identifier())
        .opt("arn", db.db_instance_arn())
        .opt("endpoint", db.endpoint().and_then(|e| e.address()))
        .opt("port", db.endpoint().and_then(|e| e.port()).map(i64::from))
        .opt("resource_id", db.dbi_resource_id())
        .opt(
            "master_user_secret_arn",
            db.master_user_secret().and_then(|s| s.secret_arn()),
        )
        .opt(
            "source_db_arn",
            db.read_replica_source_db_instance_identifier(),
        )
        .build()
}

/// The live inputs shared by both kinds.
fn common_inputs(db: &DbInstance, last: &Props) -> PropsBuilder {
    let last_key = last.get("kms_key_id").and_then(Value::as_str);
    let kms = db.kms_key_id().map(|k| {
        if same_key(last_key, k) {
            last_key.unwrap_or(k).to_string()
        } else {
            k.to_string()
        }
    });
    let mut b = PropsBuilder::new()
        .opt("identifier", db.db_instance_identifier())
        .opt("instance_class", db.db_instance_class())
        .defaulted_or(last, "publicly_accessible", db.publicly_accessible(), false)
        .defaulted_or(last, "multi_az", db.multi_az(), false)
        .defaulted_or(last, "deletion_protection", db.deletion_protection(), false)
        .copy(last, "skip_final_snapshot")
        .user_tags(
            last,
            db.tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?))),
        );
    // AWS fills in a default key when none was named: only a named key is compared.
    if last.contains_key("kms_key_id") {
        b = b.opt("kms_key_id", kms);
    }
    b
}

async fn delete_instance(
    clients: &AwsClients,
    region: &str,
    id: &str,
    skip_final_snapshot: bool,
    token: &str,
) -> Result<(), ProviderError> {
    let rds = clients.rds(region).await;
    let snapshot = format!(
        "{id}-final-{}",
        token
            .trim_start_matches("tandem-")
            .chars()
            .take(12)
            .collect::<String>()
    );
    let res = call(clients.retry(), "rds:DeleteDBInstance", || {
        let mut req = rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(skip_final_snapshot);
        if !skip_final_snapshot {
            req = req.final_db_snapshot_identifier(&snapshot);
        }
        req.send()
    })
    .await;
    match res {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        // Already being deleted: wait for it like any other delete.
        Err(e) if e.has_code("InvalidDBInstanceState") && e.detail.contains("delet") => {}
        // The local cloud answers HTTP 500 when deleting a cross-region replica, yet deletes it;
        // and a promoted replica's source may be gone. Whatever the error, gone is done.
        Err(e) => {
            if describe(clients, &rds, id).await?.is_some() {
                return Err(e.into());
            }
        }
    }
    wait_deleted(clients, region, id).await?;
    Ok(())
}

/// Finds an instance by identifier, adopting it only when its `tandem:addr` tag is this address
/// (or it has no such tag: a create interrupted before tagging).
async fn find_instance(
    clients: &AwsClients,
    ctx: &OpContext,
    region: &str,
    id: &str,
) -> Result<Option<DbInstance>, ProviderError> {
    let rds = clients.rds(region).await;
    let Some(db) = describe(clients, &rds, id).await? else {
        return Ok(None);
    };
    let owner = db
        .tag_list()
        .iter()
        .find(|t| t.key() == Some(tags::ADDR))
        .and_then(|t| t.value());
    match owner {
        Some(o) if o != ctx.addr.as_str() => Ok(None),
        _ => Ok(Some(db)),
    }
}

/// The outcome of a create call: `DBInstanceAlreadyExists` is carried on from (to the wait) when
/// the instance is this resource's own (see [`find_instance`]: an interrupted create), and
/// refused when it belongs to another.
async fn created_or_own<T>(
    clients: &AwsClients,
    ctx: &OpContext,
    region: &str,
    id: &str,
    res: Result<T, CallError>,
) -> Result<(), ProviderError> {
    match res {
        Ok(_) => Ok(()),
        Err(e) if e.has_code("DBInstanceAlreadyExists") => {
            if find_instance(clients, ctx, region, id).await?.is_none() {
                return Err(ProviderError::invalid(format!(
                    "{e}: {id:?} belongs to another resource; choose another identifier"
                )));
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The instance as `read` sees it: one being deleted is already gone.
async fn read_instance(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<Option<DbInstance>, CallError> {
    let rds = clients.rds(region).await;
    Ok(describe(clients, &rds, id)
        .await?
        .filter(|db| db.db_instance_status() != Some("deleting")))
}

/// `rds:DbInstance`.
pub struct DbInstanceProvider {
    clients: AwsClients,
}

impl DbInstanceProvider {
    pub fn new(clients: AwsClients) -> DbInstanceProvider {
        DbInstanceProvider { clients }
    }

    /// `ModifyDBInstance` with the new settings (the changed ones among class, storage, version).
    async fn modify(
        &self,
        rds: &Client,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<(), ProviderError> {
        let changed = |k: &str| old.get(k) != new.get(k);
        let class = opt_str(new, "instance_class")?;
        let storage = opt_i32(new, "allocated_storage")?;
        let retention = opt_i32(new, "backup_retention_period")?.unwrap_or(7);
        let version = opt_str(new, "engine_version")?;
        let multi_az = bool_or(new, "multi_az", false)?;
        let deletion_protection = bool_or(new, "deletion_protection", false)?;
        call(self.clients.retry(), "rds:ModifyDBInstance", || {
            let mut req = rds
                .modify_db_instance()
                .db_instance_identifier(id)
                .apply_immediately(true)
                .publicly_accessible(false)
                .backup_retention_period(retention)
                .multi_az(multi_az)
                .deletion_protection(deletion_protection);
            if changed("instance_class") {
                req = req.set_db_instance_class(class.clone());
            }
            if changed("allocated_storage") {
                req = req.set_allocated_storage(storage);
            }
            if changed("engine_version") {
                req = req
                    .set_engine_version(version.clone())
                    .allow_major_version_upgrade(false);
            }
            req.send()
        })
        .await?;
        Ok(())
    }

    fn observed(db: &DbInstance, last: &Props) -> Observed {
        let mut b = common_inputs(db, last)
            .opt("engine", db.engine())
            .opt("allocated_storage", db.allocated_storage().map(i64::from))
            .defaulted(
                last,
                "storage_encrypted",
                Value::Bool(db.storage_encrypted().unwrap_or(false)),
                Value::Bool(true),
            )
            .defaulted(
                last,
                "backup_retention_period",
                Value::Int(db.backup_retention_period().map(i64::from).unwrap_or(0)),
                Value::Int(7),
            )
            .defaulted(
                last,
                "master_username",
                Value::str(db.master_username().unwrap_or("")),
                Value::str("tandem"),
            )
            .opt("db_name", db.db_name())
            .defaulted(
                last,
                "fenced",
                Value::Bool(is_fenced(db)),
                Value::Bool(false),
            );
        // AWS picks a version when none is named; a named one is compared.
        if last.contains_key("engine_version") {
            b = b.opt("engine_version", db.engine_version());
        }
        Observed {
            id: db.db_instance_identifier().unwrap_or_default().to_string(),
            inputs: b.build(),
            outputs: outputs(db),
        }
    }
}

#[async_trait]
impl Provider for DbInstanceProvider {
    fn kind(&self) -> &'static str {
        kinds::RDS_DB_INSTANCE
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &[
            "identifier",
            "engine",
            "storage_encrypted",
            "kms_key_id",
            "master_username",
            "db_name",
        ]
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_db_instance(inputs))
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let id = req_str(inputs, "identifier")?;
        if bool_or(inputs, "publicly_accessible", false)? {
            return Err(ProviderError::invalid(
                "`publicly_accessible` must be false",
            ));
        }
        let storage = opt_i32(inputs, "allocated_storage")?
            .ok_or_else(|| ProviderError::invalid("input `allocated_storage` is required"))?;
        let retention = opt_i32(inputs, "backup_retention_period")?.unwrap_or(7);
        if retention < 1 {
            return Err(ProviderError::invalid(
                "`backup_retention_period` must be 1 or more",
            ));
        }
        // Read once, before the call: an input error is an error, not a default sent.
        let engine = req_str(inputs, "engine")?;
        let engine_version = opt_str(inputs, "engine_version")?;
        let class = req_str(inputs, "instance_class")?;
        let encrypted = bool_or(inputs, "storage_encrypted", true)?;
        let kms_key_id = opt_str(inputs, "kms_key_id")?;
        let multi_az = bool_or(inputs, "multi_az", false)?;
        let username = opt_str(inputs, "master_username")?.unwrap_or_else(|| "tandem".into());
        let db_name = opt_str(inputs, "db_name")?;
        let deletion_protection = bool_or(inputs, "deletion_protection", false)?;
        let rds = self.clients.rds(&region).await;
        let tag_list = rds_tags(&all_tags(ctx, inputs)?);
        let res = call(self.clients.retry(), "rds:CreateDBInstance", || {
            rds.create_db_instance()
                .db_instance_identifier(&id)
                .engine(&engine)
                .set_engine_version(engine_version.clone())
                .db_instance_class(&class)
                .allocated_storage(storage)
                .storage_encrypted(encrypted)
                .set_kms_key_id(kms_key_id.clone())
                .backup_retention_period(retention)
                .publicly_accessible(false)
                .multi_az(multi_az)
                .master_username(&username)
                // The password lives in Secrets Manager, managed by RDS: never here.
                .manage_master_user_password(true)
                .set_db_name(db_name.clone())
                .deletion_protection(deletion_protection)
                .set_tags(Some(tag_list.clone()))
                .send()
        })
        .await;
        created_or_own(&self.clients, ctx, &region, &id, res).await?;
        let mut db = wait_available(&self.clients, &region, &id).await?;
        if bool_or(inputs, "fenced", false)? {
            db = stop_instance(&self.clients, &region, &id).await?;
        }
        Ok(Self::observed(&db, inputs))
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        Ok(read_instance(&self.clients, &region, id)
            .await?
            .map(|db| Self::observed(&db, inputs)))
    }

    /// Modifies in place. `fenced` false→true modifies first, then stops the instance; true→false
    /// starts it first, then modifies. A fenced instance that stays fenced is not modified (AWS
    /// refuses to modify a stopped instance): such a change is refused before any call.
    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let rds = self.clients.rds(&region).await;
        let changing: Vec<&str> = MODIFIABLE
            .iter()
            .copied()
            .filter(|k| old.get(*k) != new.get(*k))
            .collect();
        let fencing = FenceChange::begin(&self.clients, &region, id, new, &changing).await?;
        if fencing.modify() {
            self.modify(&rds, id, old, new).await?;
        }
        fencing.retag(&self.clients, &rds, ctx, old, new).await?;
        let db = fencing.finish(&self.clients, &region, id).await?;
        Ok(Self::observed(&db, new))
    }

    /// Deletes the instance, stopped (fenced) or not: RDS deletes stopped instances directly.
    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        let skip = bool_or(inputs, "skip_final_snapshot", false).unwrap_or(false);
        delete_instance(&self.clients, &region, id, skip, &ctx.token).await
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        let id = req_str(inputs, "identifier")?;
        Ok(find_instance(&self.clients, ctx, &region, &id)
            .await?
            .map(|db| Self::observed(&db, inputs)))
    }
}

/// `rds:DbReadReplica`: created in its own region from a source in another.
pub struct DbReadReplicaProvider {
    clients: AwsClients,
}

impl DbReadReplicaProvider {
    pub fn new(clients: AwsClients) -> DbReadReplicaProvider {
        DbReadReplicaProvider { clients }
    }

    /// Reads `promoted` from whether the instance still names a source: an instance that names
    /// none has been promoted (and its `source_db_arn` is the last known one, so that a promoted
    /// replica whose source is gone is not planned for replacement). One that still names a source
    /// keeps the last `promoted`, because the local cloud keeps the source after a promotion; on
    /// AWS a named source with `promoted: true` last known is a promotion still under way.
    fn observed(db: &DbInstance, last: &Props) -> Observed {
        let b = common_inputs(db, last);
        let b = match db.read_replica_source_db_instance_identifier() {
            Some(source) => b.set("source_db_arn", source).copy(last, "promoted"),
            None => b.copy(last, "source_db_arn").set("promoted", true),
        }
        // Not returned by DescribeDBInstances: the source ARN names it.
        .copy(last, "source_region")
        .defaulted(
            last,
            "fenced",
            Value::Bool(is_fenced(db)),
            Value::Bool(false),
        );
        Observed {
            id: db.db_instance_identifier().unwrap_or_default().to_string(),
            inputs: b.build(),
            outputs: outputs(db),
        }
    }
}

#[async_trait]
impl Provider for DbReadReplicaProvider {
    fn kind(&self) -> &'static str {
        kinds::RDS_DB_READ_REPLICA
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["identifier", "source_db_arn", "source_region", "kms_key_id"]
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_db_read_replica(inputs))
    }

    /// `CreateDBInstanceReadReplica` in this resource's region, with the source's ARN and a key of
    /// this region. The Rust SDK has no `SourceRegion` pre-signing: for an encrypted source in
    /// another region the `PreSignedUrl` is built here ([`presign`]), signed for the source
    /// region with the credentials the client resolved.
    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let id = req_str(inputs, "identifier")?;
        let source = req_str(inputs, "source_db_arn")?;
        let source_region = req_str(inputs, "source_region")?;
        if source_region == region {
            tracing::debug!(%id, "same-region replica");
        }
        // What AWS checks and the local cloud does not: the source has backups on.
        let src_rds = self.clients.rds(&source_region).await;
        let encrypted = match describe(&self.clients, &src_rds, &source).await? {
            None => {
                return Err(ProviderError::invalid(format!(
                    "rds:CreateDBInstanceReadReplica: source DB instance {source} does not exist in {source_region}"
                )));
            }
            Some(src) if src.backup_retention_period().unwrap_or(0) < 1 => {
                return Err(ProviderError::invalid(format!(
                    "rds:CreateDBInstanceReadReplica: source {source} has automated backups off; \
                     a read replica needs backup retention of 1 day or more"
                )));
            }
            Some(src)
                if src.storage_encrypted() == Some(true)
                    && !inputs.contains_key("kms_key_id")
                    && source_region != region =>
            {
                return Err(ProviderError::invalid(format!(
                    "rds:CreateDBInstanceReadReplica: source {source} is encrypted; a cross-region \
                     replica needs `kms_key_id`, a KMS key in {region}"
                )));
            }
            Some(src) => src.storage_encrypted() == Some(true),
        };
        // An encrypted source in another region: AWS wants the request pre-signed for the source
        // region (what other SDKs do from `SourceRegion`).
        let kms_key_id = opt_str(inputs, "kms_key_id")?;
        let cross_region = presign::arn_region(&source).is_some_and(|r| r != region);
        let pre_signed_url = if cross_region && encrypted {
            let credentials = presign::resolve_credentials(&self.clients, &region).await?;
            Some(presign::presigned_url(
                &presign::ReplicaRequest {
                    source_db_arn: &source,
                    destination_region: &region,
                    kms_key_id: kms_key_id.as_deref(),
                },
                &credentials,
                SystemTime::now(),
                presign::EXPIRES_IN,
            )?)
        } else {
            None
        };
        let class = req_str(inputs, "instance_class")?;
        let multi_az = bool_or(inputs, "multi_az", false)?;
        let deletion_protection = bool_or(inputs, "deletion_protection", false)?;
        let rds = self.clients.rds(&region).await;
        let tag_list = rds_tags(&all_tags(ctx, inputs)?);
        let res = call(
            self.clients.retry(),
            "rds:CreateDBInstanceReadReplica",
            || {
                rds.create_db_instance_read_replica()
                    .db_instance_identifier(&id)
                    .source_db_instance_identifier(&source)
                    .set_kms_key_id(kms_key_id.clone())
                    .set_pre_signed_url(pre_signed_url.clone())
                    .db_instance_class(&class)
                    .publicly_accessible(false)
                    .multi_az(multi_az)
                    .deletion_protection(deletion_protection)
                    .set_tags(Some(tag_list.clone()))
                    .send()
            },
        )
        .await;
        created_or_own(&self.clients, ctx, &region, &id, res).await?;
        let mut db = wait_available(&self.clients, &region, &id).await?;
        if bool_or(inputs, "promoted", false)? {
            db = promote(&self.clients, &region, &id).await?;
            if bool_or(inputs, "fenced", false)? {
                db = stop_instance(&self.clients, &region, &id).await?;
            }
        }
        Ok(Self::observed(&db, inputs))
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        Ok(read_instance(&self.clients, &region, id)
            .await?
            .map(|db| Self::observed(&db, inputs)))
    }

    /// Modifies in place; `promoted` false→true promotes the replica first (and waits for
    /// `available`). true→false is refused before any call: a promoted instance can never become
    /// a replica again. `fenced` false→true stops the (promoted) instance last; true→false starts
    /// it first. A fenced instance that stays fenced is not modified (AWS does not modify a
    /// stopped instance). Tags change as an instance's do.
    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let was_promoted = bool_or(old, "promoted", false)?;
        let promoted = bool_or(new, "promoted", false)?;
        if was_promoted && !promoted {
            return Err(ProviderError::invalid(format!(
                "rds:PromoteReadReplica: DB instance {id} has been promoted to a standalone instance \
                 and can never become a read replica again; keep `promoted: true`, or make a new \
                 replica under another `identifier`"
            )));
        }
        if bool_or(new, "fenced", false)? && !promoted {
            return Err(ProviderError::invalid(format!(
                "rds:StopDBInstance: DB instance {id} is a read replica and AWS does not stop a \
                 read replica; promote it (`promoted: true`) before fencing it"
            )));
        }
        if promoted && !was_promoted {
            promote(&self.clients, &region, id).await?;
        }
        let rds = self.clients.rds(&region).await;
        let changed = |k: &str| old.get(k) != new.get(k);
        let changing: Vec<&str> = ["instance_class", "multi_az", "deletion_protection"]
            .into_iter()
            .filter(|k| changed(k))
            .collect();
        let fencing = FenceChange::begin(&self.clients, &region, id, new, &changing).await?;
        if fencing.modify() {
            let class = opt_str(new, "instance_class")?;
            let class_changed = changed("instance_class");
            let multi_az = bool_or(new, "multi_az", false)?;
            let deletion_protection = bool_or(new, "deletion_protection", false)?;
            call(self.clients.retry(), "rds:ModifyDBInstance", || {
                let mut req = rds
                    .modify_db_instance()
                    .db_instance_identifier(id)
                    .apply_immediately(true)
                    .publicly_accessible(false)
                    .multi_az(multi_az)
                    .deletion_protection(deletion_protection);
                if class_changed {
                    req = req.set_db_instance_class(class.clone());
                }
                req.send()
            })
            .await?;
        }
        fencing.retag(&self.clients, &rds, ctx, old, new).await?;
        let db = fencing.finish(&self.clients, &region, id).await?;
        Ok(Self::observed(&db, new))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        // A replica has no final snapshot of its own by default: its source holds the data.
        let skip = bool_or(inputs, "skip_final_snapshot", true).unwrap_or(true);
        delete_instance(&self.clients, &region, id, skip, &ctx.token).await
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        let id = req_str(inputs, "identifier")?;
        Ok(find_instance(&self.clients, ctx, &region, &id)
            .await?
            .map(|db| Self::observed(&db, inputs)))
    }
}

/// [`promote_read_replica`] as a provider step.
async fn promote(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbInstance, ProviderError> {
    promote_read_replica(clients, region, id)
        .await
        .map_err(|e| ProviderError::new(e.class(), e.to_string()))
}

/// Promotes the read replica `id` in `region` to a standalone instance, and waits until it is
/// `available`. Failover may call this directly; `rds:DbReadReplica`'s `promoted: true` calls it
/// as a planned change.
///
/// # Errors
/// A [`AwsError::Call`] naming `rds:PromoteReadReplica` when RDS refuses (for example while the
/// replica is `backing-up`, which is retryable) or the wait times out.
pub async fn promote_read_replica(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbInstance, AwsError> {
    let rds = clients.rds(region).await;
    let res = call(clients.retry(), "rds:PromoteReadReplica", || {
        rds.promote_read_replica().db_instance_identifier(id).send()
    })
    .await;
    match res {
        Ok(_) => {}
        // Already standalone (a retried promotion): carry on to the wait.
        Err(e)
            if e.has_code("InvalidDBInstanceState") && e.detail.contains("not a read replica") => {}
        Err(e) => return Err(e.into()),
    }
    Ok(wait_available(clients, region, id).await?)
}

/// The latest `ReplicaLag` (seconds) CloudWatch has for `id` in the last ten minutes; `None` when
/// there is no datapoint (RDS publishes -1 when replication is broken).
pub async fn replica_lag_seconds(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<Option<f64>, AwsError> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let cw = clients.cloudwatch(region).await;
    let now = SystemTime::now();
    let start = now - Duration::from_secs(600);
    let out = call(clients.retry(), "cloudwatch:GetMetricStatistics", || {
        cw.get_metric_statistics()
            .namespace("AWS/RDS")
            .metric_name("ReplicaLag")
            .dimensions(
                Dimension::builder()
                    .name("DBInstanceIdentifier")
                    .value(id)
                    .build(),
            )
            .start_time(DateTime::from(start))
            .end_time(DateTime::from(now + Duration::from_secs(60)))
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
    })
    .await?;
    let latest = out
        .datapoints()
        .iter()
        .filter(|d| d.maximum().is_some())
        .max_by_key(|d| d.timestamp().map(|t| (t.secs(), t.subsec_nanos())));
    Ok(latest.and_then(|d| d.maximum()))
}
