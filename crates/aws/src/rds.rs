//! `rds:DbInstance` and `rds:DbReadReplica`, the waiters for `available`, and the failover
//! helpers [`promote_read_replica`] and [`replica_lag_seconds`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbInstance, Tag};
use tandem_core::{Props, ResourceAddr, Value};
use tandem_engine::provider::{ErrorClass, Identity, Observed, OpContext, Provider, ProviderError};
use tandem_schema::{kinds, rds as schema, tags};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::{AwsError, CallError, OrNotFound};
use crate::presign;
use crate::props::{
    PropsBuilder, all_tags, bool_or, opt_i32, opt_int, opt_str, region_of, removed_tag_keys,
    req_str, schema_check,
};
use crate::secretsmanager::{self, SecretText};
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
    "db_parameter_group_name",
];

/// Whether the instance is stopped, or on its way there.
fn is_stopped(db: &DbInstance) -> bool {
    matches!(db.db_instance_status(), Some("stopped" | "stopping"))
}

/// The instance's VPC security groups, leaving out those on their way out (`removing`) or
/// inactive.
fn live_groups(db: &DbInstance) -> Vec<&str> {
    db.vpc_security_groups()
        .iter()
        .filter(|m| !matches!(m.status(), Some("removing" | "inactive")))
        .filter_map(|m| m.vpc_security_group_id())
        .collect()
}

/// The instance's DB subnet group, by name.
fn subnet_group_of(db: &DbInstance) -> Option<&str> {
    db.db_subnet_group().and_then(|g| g.db_subnet_group_name())
}

/// The instance's DB parameter group and its `ParameterApplyStatus` (`in-sync`, `applying`,
/// `pending-reboot`).
fn parameter_group_of(db: &DbInstance) -> Option<(&str, &str)> {
    let g = db.db_parameter_groups().first()?;
    Some((
        g.db_parameter_group_name()?,
        g.parameter_apply_status().unwrap_or("in-sync"),
    ))
}

/// A declared `engine_version` as read back: a major version (`16`) stays as declared while the
/// live version is of that major (`16.4`: RDS picks and upgrades the minor), so that it is not
/// drift; anything else is the live version.
fn version_read_back(declared: Option<&str>, live: Option<&str>) -> Option<String> {
    match (declared, live) {
        (Some(d), Some(l)) if l == d || l.starts_with(&format!("{d}.")) => Some(d.to_string()),
        (_, l) => l.map(str::to_string),
    }
}

/// Whether `CreateDBInstanceReadReplica` may name a parameter group for a replica of `engine`:
/// only for MySQL cross-region replicas, Db2 and Oracle (RDS API Reference,
/// CreateDBInstanceReadReplica, `DBParameterGroupName`); AWS refuses one for PostgreSQL
/// (`InvalidParameterCombination: A parameter group can't be specified during Read Replica
/// creation for the following DB engine: postgres`). Otherwise it is associated after the
/// creation (see [`associate_parameter_group`]).
fn parameter_group_at_creation(engine: &str, cross_region: bool) -> bool {
    (engine == "mysql" && cross_region) || engine.starts_with("oracle") || engine.starts_with("db2")
}

/// Warns when the instance's parameter group waits for a reboot: an update associates a group
/// (or RDS applies a changed static parameter) but does not reboot a running database.
fn warn_pending_reboot(db: &DbInstance, id: &str, region: &str) {
    if let Some((group, "pending-reboot")) = parameter_group_of(db) {
        tracing::warn!(
            %id, region, group,
            "the DB parameter group's parameters apply at the instance's next reboot \
             (RebootDBInstance): Tandem does not reboot a running database"
        );
    }
}

/// Whether `group` is the instance's only security group (an isolating group works only alone:
/// security groups allow the union of their rules).
fn isolated_in(db: &DbInstance, group: &str) -> bool {
    live_groups(db) == [group]
}

/// The fence group the inputs name, when known.
fn fence_group(inputs: &Props) -> Option<String> {
    opt_str(inputs, "fence_security_group_id").ok().flatten()
}

/// Whether the instance is fenced as `last` asks: stopped or stopping and, when `last` names a
/// `fence_security_group_id`, in that group alone. An instance AWS started again after seven days,
/// or moved out of its fence group, reads as not fenced: drift, which the next plan fences again.
fn fence_state(db: &DbInstance, last: &Props) -> bool {
    is_stopped(db) && fence_group(last).is_none_or(|g| isolated_in(db, &g))
}

/// `vpc_security_group_ids` as read back, when the last inputs name them: the live groups (in the
/// inputs' order when they are the same set), except while the instance is to be fenced (the fence
/// group stands in for them until it is unfenced, so they are the last inputs').
fn groups_read_back(db: &DbInstance, last: &Props) -> Option<Value> {
    let declared = last.get("vpc_security_group_ids")?;
    if bool_or(last, "fenced", false).unwrap_or(false) {
        return Some(declared.clone());
    }
    let live = live_groups(db);
    let wanted = crate::props::str_list(last, "vpc_security_group_ids").unwrap_or_default();
    let same = live.len() == wanted.len() && wanted.iter().all(|w| live.contains(&w.as_str()));
    Some(if same {
        declared.clone()
    } else {
        Value::List(live.into_iter().map(Value::str).collect())
    })
}

/// Waits until the instance is `available` in `group` alone, with that membership `active` (AWS
/// reports `adding` and `removing` while a change of groups applies, and does not stop an
/// instance that is `modifying`).
async fn wait_isolated(
    clients: &AwsClients,
    region: &str,
    id: &str,
    group: &str,
) -> Result<DbInstance, CallError> {
    let rds = clients.rds(region).await;
    let w = clients.wait();
    wait::until(
        "rds:DescribeDBInstances",
        &format!("DB instance {id} in {region} to be available in security group {group} alone"),
        w,
        w.rds_timeout,
        || async {
            let Some(db) = describe(clients, &rds, id).await? else {
                return Err(CallError::new(
                    "rds:DescribeDBInstances",
                    ErrorClass::NotFound,
                    format!("DB instance {id} in {region} does not exist"),
                ));
            };
            let all_active = db
                .vpc_security_groups()
                .iter()
                .all(|m| m.vpc_security_group_id() != Some(group) || m.status() == Some("active"));
            let status = db.db_instance_status().unwrap_or("unknown").to_string();
            if status == "available" && isolated_in(&db, group) && all_active {
                Ok(Check::Done(db))
            } else {
                Ok(Check::Pending(format!(
                    "{status}, groups {}",
                    live_groups(&db).join(",")
                )))
            }
        },
    )
    .await
}

/// Fences an available instance: moves it into `group` alone first when one is given
/// (`ModifyDBInstance` `VpcSecurityGroupIds=[group]`, `ApplyImmediately`; AWS does not modify a
/// stopped instance), waits for that, then stops it. When AWS refuses the group (for example one
/// of another VPC: the group must be in the instance's VPC), the instance is stopped all the same
/// (a stopped writer takes no writes) and the refusal is the error.
async fn fence_instance(
    clients: &AwsClients,
    region: &str,
    id: &str,
    group: Option<&str>,
) -> Result<DbInstance, ProviderError> {
    let live = wait_available(clients, region, id).await?;
    if let Some(g) = group {
        if !isolated_in(&live, g) {
            let rds = clients.rds(region).await;
            let res = call(clients.retry(), "rds:ModifyDBInstance", || {
                rds.modify_db_instance()
                    .db_instance_identifier(id)
                    .vpc_security_group_ids(g)
                    .apply_immediately(true)
                    .send()
            })
            .await;
            if let Err(e) = res {
                stop_instance(clients, region, id).await?;
                return Err(ProviderError::new(
                    e.class,
                    format!(
                        "{e}: DB instance {id} in {region} is stopped, but could not be moved to \
                         its fence security group {g} (it must be a group of the instance's VPC); \
                         AWS starts a stopped instance again after seven days"
                    ),
                ));
            }
            wait_isolated(clients, region, id, g).await?;
        }
    }
    stop_instance(clients, region, id).await
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

/// An in-place update's fencing: whether the instance is stopped now (read from its status,
/// whatever the last inputs said) and whether it is to be fenced, and into which group; and the
/// instance's ARN from that same read, by which [`retag`](Self::retag) tags it without describing
/// it again.
struct FenceChange {
    was_stopped: bool,
    fence: bool,
    group: Option<String>,
    arn: Option<String>,
}

impl FenceChange {
    /// Reads the instance, refuses to modify one that is and stays fenced (AWS does not modify a
    /// stopped instance), and starts it first when it is unfenced. `changing` names the
    /// modifiable inputs that change.
    ///
    /// A stopped instance that is to stay fenced but is not in its fence group alone (fenced
    /// before it had one) is refused too: isolating it would mean starting it, and a fenced
    /// writer is not started behind the operator's back.
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
                format!("rds:DescribeDBInstances: DB instance {id} does not exist in {region}"),
            )
        })?;
        let change = FenceChange {
            was_stopped: is_stopped(&live),
            fence: bool_or(new, "fenced", false)?,
            group: opt_str(new, "fence_security_group_id")?,
            arn: live.db_instance_arn().map(str::to_string),
        };
        if change.was_stopped && change.fence && !changing.is_empty() {
            return Err(ProviderError::invalid(format!(
                "rds:ModifyDBInstance: DB instance {id} in {region} is fenced (stopped) and AWS \
                 does not modify a stopped instance; unfence it (`fenced: false`) to change {}",
                changing.join(", ")
            )));
        }
        if let (true, true, Some(g)) = (change.was_stopped, change.fence, &change.group) {
            if !isolated_in(&live, g) {
                return Err(ProviderError::invalid(format!(
                    "rds:ModifyDBInstance: DB instance {id} in {region} is stopped but not in its \
                     fence security group {g} alone (its groups: {}), and AWS does not modify a \
                     stopped instance: it stays stopped, unisolated, until AWS starts it again \
                     after seven days; unfence it (`fenced: false`) and fence it again to isolate \
                     it now",
                    live_groups(&live).join(", ")
                )));
            }
        }
        if change.was_stopped && !change.fence {
            start_instance(clients, region, id).await?;
        }
        Ok(change)
    }

    /// Whether to call `ModifyDBInstance`: not on an instance that is and stays fenced.
    fn modify(&self) -> bool {
        !(self.was_stopped && self.fence)
    }

    /// The security groups a `ModifyDBInstance` of this change sets: `vpc_security_group_ids`
    /// when given, unless the instance is to be fenced (its fence group then stands in).
    fn groups(&self, new: &Props) -> Result<Option<Vec<String>>, ProviderError> {
        if self.fence || !new.contains_key("vpc_security_group_ids") {
            return Ok(None);
        }
        Ok(Some(crate::props::str_list(new, "vpc_security_group_ids")?))
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

    /// Fences the instance when it is to be (into its fence group, then stopped: see
    /// [`fence_instance`]), else waits until it is available. An instance unfenced without
    /// `vpc_security_group_ids` stays in its fence group: said in the log.
    async fn finish(
        &self,
        clients: &AwsClients,
        region: &str,
        id: &str,
        new: &Props,
    ) -> Result<DbInstance, ProviderError> {
        if self.fence {
            if self.was_stopped {
                // Stopped, and (checked in `begin`) in its fence group alone when it has one.
                return stop_instance(clients, region, id).await;
            }
            return fence_instance(clients, region, id, self.group.as_deref()).await;
        }
        let db = wait_available(clients, region, id).await?;
        if let Some(g) = &self.group {
            if isolated_in(&db, g) && !new.contains_key("vpc_security_group_ids") {
                tracing::warn!(
                    %id, region, group = %g,
                    "unfenced, but still in its fence security group: no `vpc_security_group_ids` \
                     to restore, so nothing can reach it"
                );
            }
        }
        Ok(db)
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
        .copy(last, "final_snapshot_identifier")
        // Not a property of the instance: the group a fence moves it into.
        .copy(last, "fence_security_group_id")
        .opt("vpc_security_group_ids", groups_read_back(db, last))
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
    // RDS puts an instance without them in the default subnet group and the family's default
    // parameter group: only named ones are compared.
    if last.contains_key("db_subnet_group_name") {
        b = b.opt("db_subnet_group_name", subnet_group_of(db));
    }
    if last.contains_key("db_parameter_group_name") {
        b = b.opt(
            "db_parameter_group_name",
            parameter_group_of(db).map(|(name, _)| name),
        );
    }
    b
}

/// Whether a deletion takes a final snapshot, and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FinalSnapshot {
    Skip,
    Take(String),
}

/// `t` in UTC as `yyyymmddhhmmss`: the suffix of a final snapshot named at deletion.
fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The final snapshot a deletion of `id` takes, from its inputs: none with `skip_final_snapshot`
/// (`skip_default` when absent), else `final_snapshot_identifier`, else
/// `<id>-final-<yyyymmddhhmmss>` (UTC, now): stable inputs, a new name at each deletion. A
/// snapshot is a manual snapshot: RDS keeps it until it is deleted.
fn final_snapshot(
    id: &str,
    inputs: &Props,
    skip_default: bool,
) -> Result<FinalSnapshot, ProviderError> {
    if bool_or(inputs, "skip_final_snapshot", skip_default)? {
        return Ok(FinalSnapshot::Skip);
    }
    let name = match opt_str(inputs, "final_snapshot_identifier")? {
        Some(n) => n,
        None => format!("{id}-final-{}", utc_stamp(SystemTime::now())),
    };
    schema::check_snapshot_identifier(&name).map_err(|e| ProviderError::invalid(e.0))?;
    Ok(FinalSnapshot::Take(name))
}

/// Deletes the instance (with its final snapshot, if any) and waits until it is gone.
async fn delete_instance(
    clients: &AwsClients,
    region: &str,
    id: &str,
    snapshot: FinalSnapshot,
) -> Result<(), ProviderError> {
    let rds = clients.rds(region).await;
    // RDS API Reference, DeleteDBInstance: `FinalDBSnapshotIdentifier` is required unless
    // `SkipFinalSnapshot` is set, and must not be sent with it.
    let res = call(clients.retry(), "rds:DeleteDBInstance", || {
        let req = rds.delete_db_instance().db_instance_identifier(id);
        match &snapshot {
            FinalSnapshot::Skip => req.skip_final_snapshot(true),
            FinalSnapshot::Take(name) => req
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(name),
        }
        .send()
    })
    .await;
    match res {
        Ok(_) => {
            if let FinalSnapshot::Take(name) = &snapshot {
                tracing::info!(%id, region, snapshot = %name, "deleting with a final snapshot");
            }
        }
        Err(e) if e.is_not_found() => return Ok(()),
        // Already being deleted: wait for it like any other delete.
        Err(e) if e.has_code("InvalidDBInstanceState") && e.detail.contains("delet") => {}
        Err(e) if e.has_code("DBSnapshotAlreadyExists") => {
            return Err(ProviderError::invalid(format!(
                "{e}: DB instance {id} in {region} was not deleted: its final snapshot's name is \
                 taken; name another with `final_snapshot_identifier`"
            )));
        }
        // The local cloud answers HTTP 500 when deleting a cross-region replica, yet deletes it;
        // and a promoted replica's source may be gone. Whatever the error, gone is done.
        Err(e) => {
            if describe(clients, &rds, id).await?.is_some() {
                let hint = match &snapshot {
                    // RDS deletes an instance in a failed state only without a final snapshot.
                    FinalSnapshot::Take(_) if e.has_code("InvalidDBInstanceState") => {
                        " (an instance that is failed, incompatible-restore or \
                         incompatible-network can only be deleted with `skip_final_snapshot`)"
                    }
                    _ => "",
                };
                return Err(ProviderError::new(
                    e.class,
                    format!("{e}: DB instance {id} in {region}{hint}"),
                ));
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

    /// `ModifyDBInstance` with the new settings (the changed ones among class, storage, version),
    /// `groups` (see [`FenceChange::groups`]) when given, and `password` (see
    /// [`MasterPassword`]) when it changes.
    async fn modify(
        &self,
        rds: &Client,
        id: &str,
        old: &Props,
        new: &Props,
        groups: Option<Vec<String>>,
        password: Option<&MasterPassword>,
    ) -> Result<(), ProviderError> {
        let changed = |k: &str| old.get(k) != new.get(k);
        let class = opt_str(new, "instance_class")?;
        let storage = opt_i32(new, "allocated_storage")?;
        let retention = opt_i32(new, "backup_retention_period")?.unwrap_or(7);
        let version = opt_str(new, "engine_version")?;
        let parameters = opt_str(new, "db_parameter_group_name")?;
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
            if changed("db_parameter_group_name") {
                req = req.set_db_parameter_group_name(parameters.clone());
            }
            if groups.is_some() {
                req = req.set_vpc_security_group_ids(groups.clone());
            }
            if let Some(p) = password {
                // RDS API Reference, ModifyDBInstance: `MasterUserPassword` cannot be given while
                // `ManageMasterUserPassword` is on; an instance made before Tandem managed its
                // secret is taken out of RDS's management in the same call.
                if p.unmanage {
                    req = req.manage_master_user_password(false);
                }
                req = req.master_user_password(p.password.expose());
            }
            req.send()
        })
        .await?;
        Ok(())
    }

    /// The master password an update sets: the secret's current one when
    /// `master_password_generation` (absent is 0) or `master_user_secret_arn` changes, read from
    /// the secret at `master_user_secret_arn` (in the region that ARN names).
    async fn password_change(
        &self,
        old: &Props,
        new: &Props,
    ) -> Result<Option<MasterPassword>, ProviderError> {
        let generation = |p: &Props| opt_int(p, "master_password_generation");
        let unmanage = !old.contains_key("master_user_secret_arn");
        let changed = unmanage
            || generation(old)?.unwrap_or(0) != generation(new)?.unwrap_or(0)
            || old.get("master_user_secret_arn") != new.get("master_user_secret_arn");
        if !changed {
            return Ok(None);
        }
        let arn = req_str(new, "master_user_secret_arn")?;
        let creds = secretsmanager::read_credentials(&self.clients, &arn)
            .await
            .map_err(|e| ProviderError::new(e.class(), e.to_string()))?;
        Ok(Some(MasterPassword {
            password: creds.password,
            unmanage,
        }))
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
                Value::Bool(fence_state(db, last)),
                Value::Bool(false),
            );
        // AWS picks a version when none is named; a named one is compared (a major one with the
        // live major: see `version_read_back`).
        if last.contains_key("engine_version") {
            let declared = last.get("engine_version").and_then(Value::as_str);
            b = b.opt(
                "engine_version",
                version_read_back(declared, db.engine_version()),
            );
        }
        // Not readable from RDS (it never returns a password): the last inputs'.
        b = b
            .copy(last, "master_user_secret_arn")
            .copy(last, "master_password_generation");
        let mut outputs = outputs(db);
        if let Some(arn) = last.get("master_user_secret_arn") {
            outputs.insert("master_user_secret_arn".into(), arn.clone());
        }
        Observed {
            id: db.db_instance_identifier().unwrap_or_default().to_string(),
            inputs: b.build(),
            outputs,
        }
    }
}

/// A master password an update sets, and whether the instance's password is RDS-managed until
/// then (an instance created before Tandem managed its secret).
struct MasterPassword {
    password: SecretText,
    unmanage: bool,
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
            // A move to another VPC: see the schema's documentation.
            "db_subnet_group_name",
        ]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["identifier"])
    }

    /// The schema's checks; the engine names the resource and its region in front of a refusal
    /// (`PlanError::Invalid`), so that a DB instance without `master_user_secret_arn` is refused
    /// as `REGION/rds:DbInstance/NAME (region REGION): `master_user_secret_arn` is required...`.
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
        // The master password, from the secret Tandem manages (read in the region its ARN names):
        // held in a `SecretText`, sent only as `MasterUserPassword`.
        let secret_arn = req_str(inputs, "master_user_secret_arn")?;
        let creds = secretsmanager::read_credentials(&self.clients, &secret_arn)
            .await
            .map_err(|e| ProviderError::new(e.class(), e.to_string()))?;
        if creds.username != username {
            return Err(ProviderError::invalid(format!(
                "secret {secret_arn} holds the credentials of user {:?}, but `master_username` is \
                 {username:?}: give both the same name",
                creds.username
            )));
        }
        let db_name = opt_str(inputs, "db_name")?;
        let deletion_protection = bool_or(inputs, "deletion_protection", false)?;
        let groups = inputs
            .contains_key("vpc_security_group_ids")
            .then(|| crate::props::str_list(inputs, "vpc_security_group_ids"))
            .transpose()?;
        // RDS API Reference, CreateDBInstance: `DBSubnetGroupName` places the instance in that
        // group's VPC (without one, the default VPC); `VpcSecurityGroupIds` are groups of that VPC.
        let subnet_group = opt_str(inputs, "db_subnet_group_name")?;
        let parameter_group = opt_str(inputs, "db_parameter_group_name")?;
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
                // RDS API Reference, CreateDBInstance: `MasterUserPassword` (not
                // `ManageMasterUserPassword`: RDS makes no cross-region replica of an instance
                // whose password it manages).
                .master_user_password(creds.password.expose())
                .set_db_name(db_name.clone())
                .deletion_protection(deletion_protection)
                .set_vpc_security_group_ids(groups.clone())
                .set_db_subnet_group_name(subnet_group.clone())
                .set_db_parameter_group_name(parameter_group.clone())
                .set_tags(Some(tag_list.clone()))
                .send()
        })
        .await;
        created_or_own(&self.clients, ctx, &region, &id, res).await?;
        let mut db = wait_available(&self.clients, &region, &id).await?;
        if bool_or(inputs, "fenced", false)? {
            let group = opt_str(inputs, "fence_security_group_id")?;
            db = fence_instance(&self.clients, &region, &id, group.as_deref()).await?;
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
        let password = self.password_change(old, new).await?;
        let changing: Vec<&str> = MODIFIABLE
            .iter()
            .copied()
            .filter(|k| old.get(*k) != new.get(*k))
            .chain(password.is_some().then_some("the master password"))
            .collect();
        let fencing = FenceChange::begin(&self.clients, &region, id, new, &changing).await?;
        if fencing.modify() {
            self.modify(&rds, id, old, new, fencing.groups(new)?, password.as_ref())
                .await?;
        }
        fencing.retag(&self.clients, &rds, ctx, old, new).await?;
        let db = fencing.finish(&self.clients, &region, id, new).await?;
        warn_pending_reboot(&db, id, &region);
        Ok(Self::observed(&db, new))
    }

    /// Deletes the instance, stopped (fenced) or not: RDS deletes stopped instances directly.
    /// Unless `skip_final_snapshot`, with a final snapshot (see [`final_snapshot`]).
    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        let snapshot = final_snapshot(id, inputs, false)?;
        delete_instance(&self.clients, &region, id, snapshot).await
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

    /// Reads `promoted` from the cloud: an instance that names no source has been promoted (and
    /// its `source_db_arn` is the last known one, so that a promoted replica whose source is gone
    /// is not planned for replacement). On AWS one that still names a source is not promoted,
    /// whatever the last inputs say (a promotion still under way included: it is complete once
    /// the source is gone, which the promotion waits for). On an emulated cloud
    /// ([`AwsClients::emulated`]) one that names a source keeps the last `promoted`: moto keeps
    /// the source after a promotion, so the cloud cannot tell there, and the last inputs (what the
    /// last promotion applied) are all there is.
    ///
    /// `backup_retention_period` is what the promotion applied: read from the instance once it is
    /// promoted, the last input's before.
    fn observed(db: &DbInstance, last: &Props, emulated: bool) -> Observed {
        let b = common_inputs(db, last);
        let (b, promoted) = match db.read_replica_source_db_instance_identifier() {
            Some(source) if emulated => {
                let promoted = bool_or(last, "promoted", false).unwrap_or(false);
                (
                    b.set("source_db_arn", source).copy(last, "promoted"),
                    promoted,
                )
            }
            Some(source) => (
                b.set("source_db_arn", source).defaulted(
                    last,
                    "promoted",
                    Value::Bool(false),
                    Value::Bool(false),
                ),
                false,
            ),
            None => (b.copy(last, "source_db_arn").set("promoted", true), true),
        };
        let b = if promoted && last.contains_key("backup_retention_period") {
            b.opt(
                "backup_retention_period",
                db.backup_retention_period().map(i64::from),
            )
        } else {
            b.copy(last, "backup_retention_period")
        };
        // Not returned by DescribeDBInstances: the source ARN names it.
        let b = b.copy(last, "source_region").defaulted(
            last,
            "fenced",
            Value::Bool(fence_state(db, last)),
            Value::Bool(false),
        );
        Observed {
            id: db.db_instance_identifier().unwrap_or_default().to_string(),
            inputs: b.build(),
            outputs: outputs(db),
        }
    }

    /// The final snapshot of a deletion: none for an instance that is still a read replica (RDS API
    /// Reference, DeleteDBInstance: `FinalDBSnapshotIdentifier` cannot be given when deleting a
    /// read replica, and `SkipFinalSnapshot` must be set), else as for `rds:DbInstance` (see
    /// [`final_snapshot`]): a promoted replica is a writer, or a former one. Whether it is still
    /// a replica is read from the cloud (it names a source); on an emulated cloud, which keeps the
    /// source after a promotion, from the last `promoted` input instead.
    async fn final_snapshot_of(
        &self,
        region: &str,
        id: &str,
        inputs: &Props,
    ) -> Result<FinalSnapshot, ProviderError> {
        let rds = self.clients.rds(region).await;
        let Some(db) = describe(&self.clients, &rds, id).await? else {
            return Ok(FinalSnapshot::Skip);
        };
        let replica = match db.read_replica_source_db_instance_identifier() {
            None => false,
            Some(_) if self.clients.emulated() => !bool_or(inputs, "promoted", false)?,
            Some(_) => true,
        };
        if replica {
            tracing::debug!(%id, region, "a read replica is deleted without a final snapshot");
            return Ok(FinalSnapshot::Skip);
        }
        final_snapshot(id, inputs, false)
    }
}

#[async_trait]
impl Provider for DbReadReplicaProvider {
    fn kind(&self) -> &'static str {
        kinds::RDS_DB_READ_REPLICA
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &[
            "identifier",
            "source_db_arn",
            "source_region",
            "kms_key_id",
            "db_subnet_group_name",
        ]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["identifier"])
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
        let (encrypted, source_engine) = match describe(&self.clients, &src_rds, &source).await? {
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
            Some(src) => (
                src.storage_encrypted() == Some(true),
                src.engine().unwrap_or_default().to_string(),
            ),
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
        let groups = inputs
            .contains_key("vpc_security_group_ids")
            .then(|| crate::props::str_list(inputs, "vpc_security_group_ids"))
            .transpose()?;
        let retention = opt_i32(inputs, "backup_retention_period")?;
        // RDS API Reference, CreateDBInstanceReadReplica, `DBSubnetGroupName`: a group of the
        // Region the operation runs in (the replica's), all replicas of one source in one Region
        // in the same VPC; without one a cross-region replica is created in the default VPC.
        let subnet_group = opt_str(inputs, "db_subnet_group_name")?;
        let parameter_group = opt_str(inputs, "db_parameter_group_name")?;
        let group_at_creation = parameter_group_at_creation(&source_engine, cross_region);
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
                    .set_vpc_security_group_ids(groups.clone())
                    .set_db_subnet_group_name(subnet_group.clone())
                    .set_db_parameter_group_name(if group_at_creation {
                        parameter_group.clone()
                    } else {
                        None
                    })
                    .set_tags(Some(tag_list.clone()))
                    .send()
            },
        )
        .await;
        created_or_own(&self.clients, ctx, &region, &id, res).await?;
        let mut db = wait_available(&self.clients, &region, &id).await?;
        if let Some(group) = parameter_group.as_deref().filter(|_| !group_at_creation) {
            db = associate_parameter_group(&self.clients, &region, &id, group).await?;
        }
        if bool_or(inputs, "promoted", false)? {
            db = promote(&self.clients, &region, &id, retention).await?;
            if bool_or(inputs, "fenced", false)? {
                let group = opt_str(inputs, "fence_security_group_id")?;
                db = fence_instance(&self.clients, &region, &id, group.as_deref()).await?;
            }
        }
        Ok(Self::observed(&db, inputs, self.clients.emulated()))
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
            .map(|db| Self::observed(&db, inputs, self.clients.emulated())))
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
            let retention = opt_i32(new, "backup_retention_period")?;
            promote(&self.clients, &region, id, retention).await?;
        }
        let rds = self.clients.rds(&region).await;
        let changed = |k: &str| old.get(k) != new.get(k);
        // The retention is the promotion's until then; a promoted instance's is modified.
        let retention_changed = was_promoted && changed("backup_retention_period");
        let changing: Vec<&str> = [
            "instance_class",
            "multi_az",
            "deletion_protection",
            "db_parameter_group_name",
        ]
        .into_iter()
        .filter(|k| changed(k))
        .chain(retention_changed.then_some("backup_retention_period"))
        .collect();
        let fencing = FenceChange::begin(&self.clients, &region, id, new, &changing).await?;
        if fencing.modify() {
            let class = opt_str(new, "instance_class")?;
            let class_changed = changed("instance_class");
            let multi_az = bool_or(new, "multi_az", false)?;
            let deletion_protection = bool_or(new, "deletion_protection", false)?;
            let retention = if retention_changed {
                opt_i32(new, "backup_retention_period")?
            } else {
                None
            };
            let groups = fencing.groups(new)?;
            let parameters = if changed("db_parameter_group_name") {
                opt_str(new, "db_parameter_group_name")?
            } else {
                None
            };
            call(self.clients.retry(), "rds:ModifyDBInstance", || {
                let mut req = rds
                    .modify_db_instance()
                    .db_instance_identifier(id)
                    .apply_immediately(true)
                    .publicly_accessible(false)
                    .multi_az(multi_az)
                    .deletion_protection(deletion_protection)
                    .set_backup_retention_period(retention)
                    .set_vpc_security_group_ids(groups.clone())
                    .set_db_parameter_group_name(parameters.clone());
                if class_changed {
                    req = req.set_db_instance_class(class.clone());
                }
                req.send()
            })
            .await?;
        }
        fencing.retag(&self.clients, &rds, ctx, old, new).await?;
        let db = fencing.finish(&self.clients, &region, id, new).await?;
        warn_pending_reboot(&db, id, &region);
        Ok(Self::observed(&db, new, self.clients.emulated()))
    }

    /// Deletes the instance; with a final snapshot once it is promoted, unless
    /// `skip_final_snapshot` (see [`final_snapshot_of`](Self::final_snapshot_of)).
    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        let snapshot = self.final_snapshot_of(&region, id, inputs).await?;
        delete_instance(&self.clients, &region, id, snapshot).await
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
            .map(|db| Self::observed(&db, inputs, self.clients.emulated())))
    }
}

/// Associates parameter group `group` with the new instance `id` (`ModifyDBInstance`
/// `DBParameterGroupName`, `ApplyImmediately`), waits until it is available with that group, and
/// reboots it while RDS says its parameters wait for a reboot (RDS User Guide, "Associating a DB
/// parameter group with a DB instance": a newly associated group's static and dynamic parameters
/// apply only after the instance is rebooted). Only for an instance just created, which serves
/// nobody yet: an update of a running database does not reboot it.
async fn associate_parameter_group(
    clients: &AwsClients,
    region: &str,
    id: &str,
    group: &str,
) -> Result<DbInstance, ProviderError> {
    let rds = clients.rds(region).await;
    let live = wait_available(clients, region, id).await?;
    if parameter_group_of(&live).map(|(g, _)| g) != Some(group) {
        call(clients.retry(), "rds:ModifyDBInstance", || {
            rds.modify_db_instance()
                .db_instance_identifier(id)
                .db_parameter_group_name(group)
                .apply_immediately(true)
                .send()
        })
        .await?;
    }
    let db = wait_parameter_group(clients, region, id, group, false).await?;
    if parameter_group_of(&db).map(|(_, s)| s) != Some("pending-reboot") {
        return Ok(db);
    }
    call(clients.retry(), "rds:RebootDBInstance", || {
        rds.reboot_db_instance().db_instance_identifier(id).send()
    })
    .await?;
    tracing::info!(%id, region, group, "rebooted the new instance so that it runs with its parameter group");
    Ok(wait_parameter_group(clients, region, id, group, true).await?)
}

/// Waits until the instance is `available` in parameter group `group`, its parameters no longer
/// `applying` (and `in-sync` when `in_sync`).
async fn wait_parameter_group(
    clients: &AwsClients,
    region: &str,
    id: &str,
    group: &str,
    in_sync: bool,
) -> Result<DbInstance, CallError> {
    let rds = clients.rds(region).await;
    let w = clients.wait();
    wait::until(
        "rds:DescribeDBInstances",
        &format!("DB instance {id} in {region} to be available with parameter group {group}"),
        w,
        w.rds_timeout,
        || async {
            let Some(db) = describe(clients, &rds, id).await? else {
                return Err(CallError::new(
                    "rds:DescribeDBInstances",
                    ErrorClass::NotFound,
                    format!("DB instance {id} in {region} does not exist"),
                ));
            };
            let status = db.db_instance_status().unwrap_or("unknown").to_string();
            if FAILED_STATES.contains(&status.as_str()) {
                return Err(CallError::new(
                    "rds:DescribeDBInstances",
                    ErrorClass::Other,
                    format!("DB instance {id} in {region} is in state {status:?}"),
                ));
            }
            let done = match parameter_group_of(&db) {
                Some((g, apply)) if g == group && status == "available" => {
                    apply == "in-sync" || (!in_sync && apply == "pending-reboot")
                }
                _ => false,
            };
            if done {
                Ok(Check::Done(db))
            } else {
                let (g, apply) = parameter_group_of(&db).unwrap_or(("none", "none"));
                Ok(Check::Pending(format!(
                    "{status}, parameter group {g} {apply}"
                )))
            }
        },
    )
    .await
}

/// [`promote_read_replica_with_retention`] as a provider step.
async fn promote(
    clients: &AwsClients,
    region: &str,
    id: &str,
    backup_retention_period: Option<i32>,
) -> Result<DbInstance, ProviderError> {
    promote_read_replica_with_retention(clients, region, id, backup_retention_period)
        .await
        .map_err(|e| ProviderError::new(e.class(), e.to_string()))
}

/// Promotes the read replica `id` in `region` to a standalone instance, and waits until it is a
/// writer (see [`promote_read_replica_with_retention`], which this is with AWS's default backup
/// retention on promotion, one day). Failover may call this directly; `rds:DbReadReplica`'s
/// `promoted: true` calls it as a planned change.
///
/// # Errors
/// As [`promote_read_replica_with_retention`].
pub async fn promote_read_replica(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbInstance, AwsError> {
    promote_read_replica_with_retention(clients, region, id, None).await
}

/// Promotes the read replica `id` with RDS `PromoteReadReplica` in `region` (the replica's), with
/// `BackupRetentionPeriod` = `backup_retention_period` days when given (RDS API Reference,
/// PromoteReadReplica: 0 to 35, default 1; a writer needs backups for a replica of its own), and
/// waits (bounded by [`WaitPolicy::rds_timeout`](crate::WaitPolicy)) until
/// `DescribeDBInstances` shows it `available` and naming no
/// `ReadReplicaSourceDBInstanceIdentifier`: on AWS the source is named until the promotion is
/// complete, and `available` alone may be seen before the promotion's reboot.
///
/// On an emulated cloud ([`AwsClients::emulated`]) only `available` is waited for: moto keeps the
/// source after a promotion, so that it no longer replicates cannot be verified there (said in
/// the debug log). A retried promotion of an instance already standalone carries on to the wait.
///
/// # Errors
/// An [`AwsError::Call`] naming `rds:PromoteReadReplica` (or the wait's `rds:DescribeDBInstances`),
/// the instance and the region, when RDS refuses (for example while the replica is `backing-up`,
/// which is retryable), the instance fails, or the wait times out.
pub async fn promote_read_replica_with_retention(
    clients: &AwsClients,
    region: &str,
    id: &str,
    backup_retention_period: Option<i32>,
) -> Result<DbInstance, AwsError> {
    let rds = clients.rds(region).await;
    let res = call(clients.retry(), "rds:PromoteReadReplica", || {
        rds.promote_read_replica()
            .db_instance_identifier(id)
            .set_backup_retention_period(backup_retention_period)
            .send()
    })
    .await;
    match res {
        Ok(_) => {}
        // Already standalone (a retried promotion): carry on to the wait.
        Err(e)
            if e.has_code("InvalidDBInstanceState") && e.detail.contains("not a read replica") => {}
        Err(e) => return Err(about(e, format!("DB instance {id} in {region}")).into()),
    }
    wait_writer(clients, region, id)
        .await
        .map_err(|e| about(e, format!("promotion of DB instance {id} in {region}")).into())
}

/// Waits until the instance is `available` and names no replication source (on an emulated cloud,
/// until it is `available`: see [`promote_read_replica_with_retention`]).
async fn wait_writer(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbInstance, CallError> {
    let emulated = clients.emulated();
    let rds = clients.rds(region).await;
    let w = clients.wait();
    wait::until(
        "rds:DescribeDBInstances",
        &format!("DB instance {id} to be a standalone writer"),
        w,
        w.rds_timeout,
        || async {
            let Some(db) = describe(clients, &rds, id).await? else {
                return Err(CallError::new(
                    "rds:DescribeDBInstances",
                    ErrorClass::NotFound,
                    format!("DB instance {id} does not exist"),
                ));
            };
            let status = db.db_instance_status().unwrap_or("unknown").to_string();
            if FAILED_STATES.contains(&status.as_str()) {
                return Err(CallError::new(
                    "rds:DescribeDBInstances",
                    ErrorClass::Other,
                    format!("DB instance {id} is in state {status:?} and will not become a writer"),
                ));
            }
            let source = db.read_replica_source_db_instance_identifier();
            match source {
                _ if status != "available" => Ok(Check::Pending(status)),
                None => Ok(Check::Done(db)),
                Some(src) if emulated => {
                    tracing::debug!(
                        %id, region, source = %src,
                        "promoted; the emulator keeps ReadReplicaSourceDBInstanceIdentifier after \
                         a promotion, so that it no longer replicates could not be verified"
                    );
                    Ok(Check::Done(db))
                }
                Some(src) => Ok(Check::Pending(format!(
                    "{status}, still replicating from {src}"
                ))),
            }
        },
    )
    .await
}

/// The latest `ReplicaLag` (seconds) CloudWatch has for `id` in the last ten minutes; `None` when
/// there is no datapoint. `-1` (RDS's "not replicating") is returned as is. The same reading as
/// [`replica_lag_sample`] at the current time, without the datapoint's timestamp.
pub async fn replica_lag_seconds(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<Option<f64>, AwsError> {
    Ok(replica_lag_sample(clients, region, id, SystemTime::now())
        .await?
        .map(|s| s.seconds))
}

/// How far back [`replica_lag_sample`] looks for a datapoint: RDS publishes `ReplicaLag` every
/// minute, so an older one says the metric stopped, not what the lag is.
pub const LAG_WINDOW: Duration = Duration::from_secs(600);

/// One `ReplicaLag` datapoint: the lag in seconds and when CloudWatch has it measured.
#[derive(Clone, Debug, PartialEq)]
pub struct LagSample {
    /// Seconds behind the source; `-1.0` is RDS's "not replicating" (replication broken or
    /// stopped), returned as is.
    pub seconds: f64,
    /// The datapoint's timestamp (the start of its one-minute period), so that the caller can
    /// say how old the reading is.
    pub at: SystemTime,
}

/// The last CloudWatch `AWS/RDS` `ReplicaLag` datapoint of DB instance `id` at or before `at`, and
/// no older than [`LAG_WINDOW`] (ten minutes) before it; `None` when there is none.
///
/// Calls CloudWatch `GetMetricStatistics` in `region` (the replica's region: RDS publishes a
/// replica's lag where the replica lives) for dimension `DBInstanceIdentifier = id`, statistic
/// `Maximum`, period 60 s, from `at - 10 min` to `at + 1 s` (CloudWatch API Reference,
/// GetMetricStatistics: `EndTime` is exclusive, so a datapoint stamped exactly `at` counts).
/// `seconds` is `-1.0` when RDS says the replica is not replicating: returned as is, never
/// mistaken for "no lag".
///
/// moto publishes no `ReplicaLag` of its own: against the local cloud only datapoints put with
/// `PutMetricData` are found (which is how the tests check which one is picked).
///
/// # Errors
/// [`AwsError::Call`] naming `cloudwatch:GetMetricStatistics`, the instance and the region when
/// CloudWatch fails.
pub async fn replica_lag_sample(
    clients: &AwsClients,
    region: &str,
    id: &str,
    at: SystemTime,
) -> Result<Option<LagSample>, AwsError> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let cw = clients.cloudwatch(region).await;
    let start = at.checked_sub(LAG_WINDOW).unwrap_or(SystemTime::UNIX_EPOCH);
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
            .end_time(DateTime::from(at + Duration::from_secs(1)))
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
    })
    .await
    .map_err(|e| about(e, format!("ReplicaLag of DB instance {id} in {region}")))?;
    let latest = out
        .datapoints()
        .iter()
        .filter_map(|d| {
            let when = SystemTime::try_from(*d.timestamp()?).ok()?;
            Some((when, d.maximum()?))
        })
        .filter(|(when, _)| *when <= at && *when >= start)
        .max_by_key(|(when, _)| *when);
    Ok(latest.map(|(at, seconds)| LagSample { seconds, at }))
}

/// `e` with what it was about (the resource and its region) in front of its detail.
fn about(e: CallError, what: String) -> CallError {
    CallError {
        detail: format!("{what}: {}", e.detail),
        ..e
    }
}

/// What RDS says a DB instance is now: see [`database_role`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbRoleReading {
    /// `DBInstanceStatus` (`available`, `stopped`, `modifying`, ...); empty when the instance is
    /// [`DbRole::Missing`].
    pub status: String,
    pub role: DbRole,
}

/// The replication role of a DB instance, as read from `DescribeDBInstances`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbRole {
    /// No instance of that identifier in that region. (One being deleted is still there, with
    /// status `deleting`.)
    Missing,
    /// A standalone instance: it names no replication source, so it takes writes when available.
    Writer,
    /// A read replica of `source` (`ReadReplicaSourceDBInstanceIdentifier`: an identifier, or an
    /// ARN for a cross-region source). On AWS an instance whose promotion is under way still
    /// names its source until the promotion completes.
    Replica { source: String },
    /// The cloud cannot tell; `why` says why (an emulator).
    NotVerifiable { why: String },
}

/// Reads DB instance `id`'s status and replication role with RDS `DescribeDBInstances` in
/// `region`.
///
/// On AWS an instance that names `ReadReplicaSourceDBInstanceIdentifier` is a
/// [`Replica`](DbRole::Replica), one that names none a [`Writer`](DbRole::Writer) (RDS API
/// Reference, DBInstance: the field is set only on a read replica). On an emulated cloud
/// ([`AwsClients::emulated`]) an instance that names a source is
/// [`NotVerifiable`](DbRole::NotVerifiable): moto keeps the field after `PromoteReadReplica`, so
/// a promoted writer and a replica look alike there; one that names none is a writer there too.
/// An instance that does not exist is [`Missing`](DbRole::Missing), not an error.
///
/// # Errors
/// [`AwsError::Call`] naming `rds:DescribeDBInstances`, the instance and the region when RDS
/// fails (unreachable, access denied, ...).
pub async fn database_role(
    clients: &AwsClients,
    region: &str,
    id: &str,
) -> Result<DbRoleReading, AwsError> {
    let rds = clients.rds(region).await;
    let db = describe(clients, &rds, id)
        .await
        .map_err(|e| about(e, format!("DB instance {id} in {region}")))?;
    let Some(db) = db else {
        return Ok(DbRoleReading {
            status: String::new(),
            role: DbRole::Missing,
        });
    };
    Ok(DbRoleReading {
        status: db.db_instance_status().unwrap_or_default().to_string(),
        role: role_of(&db, clients.emulated(), id, region),
    })
}

/// The role of an instance as [`database_role`] reads it.
fn role_of(db: &DbInstance, emulated: bool, id: &str, region: &str) -> DbRole {
    match db.read_replica_source_db_instance_identifier() {
        Some(source) if emulated => DbRole::NotVerifiable {
            why: format!(
                "DB instance {id} in {region} names the replication source {source}, but the \
                 emulator keeps ReadReplicaSourceDBInstanceIdentifier after a promotion: whether \
                 it still replicates is not verifiable here"
            ),
        },
        Some(source) => DbRole::Replica {
            source: source.to_string(),
        },
        None => DbRole::Writer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::types::VpcSecurityGroupMembership;

    #[test]
    fn final_snapshot_suffix_is_utc_to_the_second() {
        let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(utc_stamp(at(0)), "19700101000000");
        // 2000-02-29T23:59:59Z: a leap day of a century leap year.
        assert_eq!(utc_stamp(at(951_868_799)), "20000229235959");
        // 2026-12-02T05:45:01Z.
        assert_eq!(utc_stamp(at(1_796_190_301)), "20261202054501");
    }

    #[test]
    fn final_snapshot_follows_the_inputs() {
        let mut inputs = Props::new();
        let Ok(FinalSnapshot::Take(name)) = final_snapshot("app-db", &inputs, false) else {
            panic!("a snapshot by default");
        };
        assert!(
            name.starts_with("app-db-final-") && name.len() == 27,
            "{name}"
        );
        assert_eq!(
            final_snapshot("app-db", &inputs, true),
            Ok(FinalSnapshot::Skip)
        );
        inputs.insert("final_snapshot_identifier".into(), Value::str("last-one"));
        assert_eq!(
            final_snapshot("app-db", &inputs, false),
            Ok(FinalSnapshot::Take("last-one".into()))
        );
        inputs.insert("skip_final_snapshot".into(), Value::Bool(true));
        assert_eq!(
            final_snapshot("app-db", &inputs, false),
            Ok(FinalSnapshot::Skip)
        );
    }

    fn instance(status: &str, groups: &[(&str, &str)]) -> DbInstance {
        let mut b = DbInstance::builder().db_instance_status(status);
        for (id, st) in groups {
            b = b.vpc_security_groups(
                VpcSecurityGroupMembership::builder()
                    .vpc_security_group_id(*id)
                    .status(*st)
                    .build(),
            );
        }
        b.build()
    }

    #[test]
    fn a_named_source_is_a_replica_on_aws_and_not_verifiable_on_an_emulator() {
        let source = "arn:aws:rds:us-east-1:123456789012:db:app";
        let replica = DbInstance::builder()
            .db_instance_status("available")
            .read_replica_source_db_instance_identifier(source)
            .build();
        assert_eq!(
            role_of(&replica, false, "r", "us-west-2"),
            DbRole::Replica {
                source: source.into()
            }
        );
        let DbRole::NotVerifiable { why } = role_of(&replica, true, "r", "us-west-2") else {
            panic!("an emulator cannot tell");
        };
        assert!(
            why.contains("r in us-west-2") && why.contains("emulator"),
            "{why}"
        );
        let writer = instance("available", &[]);
        assert_eq!(role_of(&writer, false, "w", "us-east-1"), DbRole::Writer);
        assert_eq!(role_of(&writer, true, "w", "us-east-1"), DbRole::Writer);
    }

    #[test]
    fn promoted_is_read_from_the_cloud_on_aws() {
        let source = "arn:aws:rds:us-east-1:123456789012:db:app";
        let still_replica = DbInstance::builder()
            .db_instance_identifier("r")
            .db_instance_status("available")
            .read_replica_source_db_instance_identifier(source)
            .build();
        let mut last = Props::new();
        last.insert("promoted".into(), Value::Bool(true));
        last.insert("backup_retention_period".into(), Value::Int(7));
        // AWS: still replicating, whatever the last inputs say.
        let aws = DbReadReplicaProvider::observed(&still_replica, &last, false);
        assert_eq!(aws.inputs.get("promoted"), Some(&Value::Bool(false)));
        assert_eq!(
            aws.inputs.get("backup_retention_period"),
            Some(&Value::Int(7))
        );
        // An emulator keeps the source after a promotion: the last inputs are all there is.
        let emulated = DbReadReplicaProvider::observed(&still_replica, &last, true);
        assert_eq!(emulated.inputs.get("promoted"), Some(&Value::Bool(true)));
        // No source named: promoted, and the retention is the instance's.
        let writer = DbInstance::builder()
            .db_instance_identifier("r")
            .db_instance_status("available")
            .backup_retention_period(1)
            .build();
        let read = DbReadReplicaProvider::observed(&writer, &last, false);
        assert_eq!(read.inputs.get("promoted"), Some(&Value::Bool(true)));
        assert_eq!(
            read.inputs.get("backup_retention_period"),
            Some(&Value::Int(1)),
            "drift: the promotion applied AWS's default"
        );
    }

    #[test]
    fn fenced_means_stopped_and_alone_in_the_fence_group() {
        let mut last = Props::new();
        assert!(fence_state(
            &instance("stopped", &[("sg-app", "active")]),
            &last
        ));
        assert!(!fence_state(&instance("available", &[]), &last));
        last.insert("fence_security_group_id".into(), Value::str("sg-fence"));
        assert!(fence_state(
            &instance("stopped", &[("sg-fence", "active"), ("sg-app", "removing")]),
            &last
        ));
        assert!(fence_state(
            &instance("stopping", &[("sg-fence", "adding")]),
            &last
        ));
        // Restarted by AWS after seven days: drift.
        assert!(!fence_state(
            &instance("available", &[("sg-fence", "active")]),
            &last
        ));
        // Stopped, but reachable through another group.
        assert!(!fence_state(
            &instance("stopped", &[("sg-fence", "active"), ("sg-app", "active")]),
            &last
        ));
        assert!(!fence_state(
            &instance("stopped", &[("sg-app", "active")]),
            &last
        ));
    }

    #[test]
    fn a_major_engine_version_reads_back_while_the_live_one_is_of_that_major() {
        let read = |d: Option<&str>, l: Option<&str>| version_read_back(d, l);
        assert_eq!(read(Some("16"), Some("16.4")), Some("16".into()));
        assert_eq!(read(Some("16"), Some("16")), Some("16".into()));
        assert_eq!(read(Some("16.4"), Some("16.4")), Some("16.4".into()));
        // Another major, or a prefix that is not a major: drift.
        assert_eq!(read(Some("16"), Some("17.1")), Some("17.1".into()));
        assert_eq!(read(Some("1"), Some("16.4")), Some("16.4".into()));
        assert_eq!(read(Some("16.3"), Some("16.4")), Some("16.4".into()));
        assert_eq!(read(None, Some("16.4")), Some("16.4".into()));
    }

    #[test]
    fn a_postgres_replica_takes_its_parameter_group_after_creation() {
        assert!(!parameter_group_at_creation("postgres", true));
        assert!(!parameter_group_at_creation("postgres", false));
        assert!(parameter_group_at_creation("mysql", true));
        assert!(!parameter_group_at_creation("mysql", false));
        assert!(parameter_group_at_creation("oracle-ee", false));
        assert!(parameter_group_at_creation("db2-se", true));
        assert!(!parameter_group_at_creation("mariadb", true));
    }

    #[test]
    fn network_and_parameter_group_read_back_only_when_named() {
        let db = DbInstance::builder()
            .db_instance_identifier("app")
            .db_instance_status("available")
            .db_subnet_group(
                aws_sdk_rds::types::DbSubnetGroup::builder()
                    .db_subnet_group_name("tandem-prod-db")
                    .build(),
            )
            .db_parameter_groups(
                aws_sdk_rds::types::DbParameterGroupStatus::builder()
                    .db_parameter_group_name("tandem-prod-postgres16-tls")
                    .parameter_apply_status("pending-reboot")
                    .build(),
            )
            .build();
        let read = common_inputs(&db, &Props::new()).build();
        assert_eq!(read.get("db_subnet_group_name"), None);
        assert_eq!(read.get("db_parameter_group_name"), None);
        let mut last = Props::new();
        last.insert("db_subnet_group_name".into(), Value::str("other"));
        last.insert("db_parameter_group_name".into(), Value::str("other"));
        let read = common_inputs(&db, &last).build();
        assert_eq!(
            read.get("db_subnet_group_name"),
            Some(&Value::str("tandem-prod-db"))
        );
        assert_eq!(
            read.get("db_parameter_group_name"),
            Some(&Value::str("tandem-prod-postgres16-tls"))
        );
        assert_eq!(
            parameter_group_of(&db),
            Some(("tandem-prod-postgres16-tls", "pending-reboot"))
        );
    }

    #[test]
    fn security_groups_read_back_in_the_inputs_order_and_not_while_fenced() {
        let mut last = Props::new();
        let db = instance("available", &[("sg-b", "active"), ("sg-a", "active")]);
        assert_eq!(groups_read_back(&db, &last), None);
        let declared = Value::List(vec![Value::str("sg-a"), Value::str("sg-b")]);
        last.insert("vpc_security_group_ids".into(), declared.clone());
        assert_eq!(groups_read_back(&db, &last), Some(declared.clone()));
        let moved = instance("available", &[("sg-c", "active")]);
        assert_eq!(
            groups_read_back(&moved, &last),
            Some(Value::List(vec![Value::str("sg-c")]))
        );
        last.insert("fenced".into(), Value::Bool(true));
        assert_eq!(groups_read_back(&moved, &last), Some(declared));
    }
}
