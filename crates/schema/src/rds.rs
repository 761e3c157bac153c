//! RDS: a primary DB instance and its cross-region read replica.
//!
//! # `rds:DbInstance` inputs
//! `identifier` (required; replaces), `engine` (required; replaces), `engine_version`,
//! `instance_class` (required), `allocated_storage` (GiB, required), `storage_encrypted` (true;
//! replaces), `kms_key_id` (replaces), `backup_retention_period` (days, 1 or more, default 7),
//! `publicly_accessible` (must be false), `multi_az` (false), `master_username` (`tandem`;
//! replaces), `db_name` (replaces), `deletion_protection` (false), `skip_final_snapshot` (false),
//! `final_snapshot_identifier`, `vpc_security_group_ids`, `db_subnet_group_name` (replaces),
//! `db_parameter_group_name`, `tags`, `fenced` (false) and
//! `fence_security_group_id` (see below), `master_user_secret_arn` (required) and
//! `master_password_generation` (0) (see below). There is no password property.
//! Outputs: `identifier`, `arn`, `endpoint`, `port`, `resource_id`, `master_user_secret_arn`.
//!
//! ## Master password
//! The master password is never RDS-managed (`ManageMasterUserPassword`): RDS does not create a
//! read replica of an instance whose password it manages (RDS User Guide, "Password management
//! with Amazon RDS and AWS Secrets Manager", limitations: except for SQL Server), and its managed
//! secret lives in the instance's region only. Instead `master_user_secret_arn` names a secret
//! Tandem manages (a [`crate::secretsmanager::DatabaseSecret`], replicated to the other region):
//! the provider reads `{"username", "password"}` from it when it creates the instance and passes
//! the password as `MasterUserPassword`; the password itself is never an input, an output or in
//! the state. A change of `master_password_generation` (bumped with the secret's
//! `password_generation`), or of `master_user_secret_arn`, sets the secret's current password on
//! the instance (`ModifyDBInstance` `MasterUserPassword`): a planned rotation. A fenced instance
//! is not modified (AWS does not modify a stopped one).
//!
//! ## Network and parameters
//! `db_subnet_group_name` puts the instance in the VPC of that DB subnet group (CreateDBInstance
//! `DBSubnetGroupName`; without one RDS uses the region's default VPC), and
//! `vpc_security_group_ids` are groups of that VPC (without them RDS uses the VPC's default
//! group). A change of subnet group replaces the instance: RDS moves an instance to another VPC
//! only under conditions a running deployment does not meet (RDS User Guide, "Updating the VPC for
//! a DB instance": not Multi-AZ, no read replicas, not a read replica). `db_parameter_group_name`
//! names a DB parameter group of the instance's engine family in its region (see
//! [`DbParameterGroup`]); `engine_version` may be a major version only (`16`: RDS picks the
//! minor), which then reads back as such while the live version is `16.x`.
//!
//! ## Final snapshots
//! Unless `skip_final_snapshot` is true, deleting the instance takes a final snapshot
//! (`DeleteDBInstance` with `SkipFinalSnapshot=false` and `FinalDBSnapshotIdentifier`). Its name is
//! `final_snapshot_identifier` when given (it must then be unique in the region at each deletion),
//! else `<identifier>-final-<yyyymmddhhmmss>` (UTC, at the deletion): a stable input that names a
//! new snapshot at every deletion. Final snapshots are manual snapshots: RDS keeps them until they
//! are deleted (the backup retention period does not apply to them). A snapshot identifier is 1
//! to 255 letters, digits and hyphens, begins with a letter, and neither ends with a hyphen nor
//! holds two in a row (RDS API Reference, DeleteDBInstance); `final_snapshot_identifier` with
//! `skip_final_snapshot: true` is refused.
//!
//! ## Fencing
//! `fenced: true` stops the instance (`StopDBInstance`), so that an old primary takes no writes
//! after a failover (no split brain); `false` starts it again. It is an in-place change, read back
//! from the instance's status (`stopped` or `stopping` is fenced). AWS does not stop an instance
//! that still has read replicas, nor modify a stopped one, and it starts a stopped instance by
//! itself after seven days. So that the fence outlasts that, `fence_security_group_id` (a security
//! group with no ingress, in the instance's VPC) moves the instance into that group alone before
//! stopping it (`ModifyDBInstance` `VpcSecurityGroupIds`), and `fenced` then reads back true only
//! while the instance is stopped **and** in that group alone: an instance AWS restarted shows as
//! drift, and the next plan stops it again. Unfencing restores `vpc_security_group_ids` when given
//! (without it the instance stays in the fence group: started, but unreachable).
//!
//! # `rds:DbReadReplica` inputs
//! Created in its own (destination) region: `identifier`, `source_db_arn` (the source's ARN),
//! `source_region`, `kms_key_id` (a key in the destination region; required when the source is
//! encrypted), `instance_class`, `publicly_accessible` (false), `multi_az` (false),
//! `deletion_protection`, `skip_final_snapshot` (false), `final_snapshot_identifier`,
//! `vpc_security_group_ids`, `db_subnet_group_name` (replaces), `db_parameter_group_name`,
//! `backup_retention_period` (days, 1 to 35; applied by the promotion),
//! `tags`, `promoted` (false), `fenced` (false) and `fence_security_group_id` (see below).
//! Outputs as for `rds:DbInstance`.
//!
//! `db_subnet_group_name` must name a subnet group **of the replica's region** (RDS API Reference,
//! CreateDBInstanceReadReplica, `DBSubnetGroupName`: the group must be in the Region in which the
//! operation runs, and all read replicas in one Region of the same source use subnet groups of
//! the same VPC or none); without one a cross-region replica lands in the region's default VPC.
//! `vpc_security_group_ids` are groups of that VPC (default: the VPC's default group).
//! `db_parameter_group_name` is applied after the replica is created for most engines: AWS takes a
//! parameter group in CreateDBInstanceReadReplica only for MySQL cross-region replicas, Db2 and
//! Oracle, and refuses one for PostgreSQL (`InvalidParameterCombination`); a cross-region replica
//! otherwise starts with the engine's default group. The provider then associates the group
//! (`ModifyDBInstance`) and reboots the new replica, so that it runs with it.
//!
//! `promoted: true` promotes the replica to a standalone instance (`PromoteReadReplica`, with
//! `BackupRetentionPeriod` = `backup_retention_period` when given: AWS's default on promotion is
//! one day), as a failover does; it is an in-place change, so the engine plans it like any other.
//! The way back is refused: a promoted instance can never become a replica again (replace it
//! instead, with a new `identifier`).
//!
//! A final snapshot is taken as for `rds:DbInstance`, but only of a promoted replica: AWS deletes a
//! read replica without one (RDS API Reference, DeleteDBInstance: `FinalDBSnapshotIdentifier`
//! cannot be given when deleting a read replica, and `SkipFinalSnapshot` must be set). A former
//! writer is therefore never deleted without a final snapshot unless `skip_final_snapshot` says
//! so, and a replica that never took writes is.
//!
//! `fenced: true` (false by default) stops a **promoted** replica, as for `rds:DbInstance`
//! (with `fence_security_group_id` likewise): a writer that was a replica once is fenced this way
//! when it is failed away from. AWS does not stop a read replica, so `fenced` without `promoted` is
//! refused.
//!
//! A replica has no password input: it takes its source's, replicated with the data, and keeps it
//! once promoted. Rotating a promoted writer's password (`ModifyDBInstance` `MasterUserPassword`
//! on it, from the secret as its region holds it) is not planned by Tandem yet; nor can a secret's
//! value change while its primary region is down (a replica secret is read-only until it is
//! promoted with `StopReplicationToReplica`).
//!
//! # `rds:DbParameterGroup` inputs
//! A DB parameter group of one region: `name` (required; replaces), `family` (required, for
//! example `postgres16`; replaces), `description` (required; replaces: RDS cannot change it),
//! `parameters` (a map of parameter names to values, changed in place) and `tags`.
//! Outputs: `name`, `arn`, `family`. Parameters are set with `ApplyMethod=pending-reboot`, valid
//! for static and dynamic parameters alike (RDS API Reference, ModifyDBParameterGroup): an
//! instance created with the group starts with them, and a running instance takes a change at its
//! next reboot. RDS does not delete a group that an instance still uses.

use tandem_core::Props;

use crate::kinds;
use crate::props::{
    PropError, bool_of, check_string_list, check_string_map, check_tags, int_of, required_str,
    str_of,
};
use crate::regions;

resource_builder!(
    /// An RDS DB instance with encryption, backups and its master password from a Secrets Manager
    /// secret.
    DbInstance,
    kinds::RDS_DB_INSTANCE
);

setters!(DbInstance {
    identifier => "identifier",
    engine => "engine",
    engine_version => "engine_version",
    instance_class => "instance_class",
    allocated_storage => "allocated_storage",
    storage_encrypted => "storage_encrypted",
    kms_key_id => "kms_key_id",
    backup_retention_period => "backup_retention_period",
    publicly_accessible => "publicly_accessible",
    multi_az => "multi_az",
    master_username => "master_username",
    db_name => "db_name",
    deletion_protection => "deletion_protection",
    skip_final_snapshot => "skip_final_snapshot",
    /// The final snapshot's name (default `<identifier>-final-<yyyymmddhhmmss>` at deletion).
    final_snapshot_identifier => "final_snapshot_identifier",
    /// The instance's VPC security groups (restored when it is unfenced).
    vpc_security_group_ids => "vpc_security_group_ids",
    /// The DB subnet group: the instance's VPC and subnets (replaces).
    db_subnet_group_name => "db_subnet_group_name",
    /// The DB parameter group, of the engine's family.
    db_parameter_group_name => "db_parameter_group_name",
    /// Stops the instance (fencing an old primary from writes); `false` starts it again.
    fenced => "fenced",
    /// The isolating security group a fenced instance is moved into before it is stopped.
    fence_security_group_id => "fence_security_group_id",
    /// The ARN of the Secrets Manager secret holding the master credentials (required).
    master_user_secret_arn => "master_user_secret_arn",
    /// Bump (with the secret's `password_generation`) to set the secret's new password.
    master_password_generation => "master_password_generation",
});

resource_builder!(
    /// A read replica of a DB instance, created in this resource's region.
    DbReadReplica,
    kinds::RDS_DB_READ_REPLICA
);

setters!(DbReadReplica {
    identifier => "identifier",
    /// The source instance's ARN (a reference to its `arn` output).
    source_db_arn => "source_db_arn",
    source_region => "source_region",
    /// A KMS key in the replica's region.
    kms_key_id => "kms_key_id",
    instance_class => "instance_class",
    publicly_accessible => "publicly_accessible",
    multi_az => "multi_az",
    deletion_protection => "deletion_protection",
    skip_final_snapshot => "skip_final_snapshot",
    /// The final snapshot's name once promoted (default `<identifier>-final-<yyyymmddhhmmss>`).
    final_snapshot_identifier => "final_snapshot_identifier",
    /// The instance's VPC security groups (restored when it is unfenced).
    vpc_security_group_ids => "vpc_security_group_ids",
    /// A DB subnet group of the replica's own region (replaces).
    db_subnet_group_name => "db_subnet_group_name",
    /// A DB parameter group of the replica's region (associated after creation: see above).
    db_parameter_group_name => "db_parameter_group_name",
    /// Days of automated backups the promotion turns on (AWS's default on promotion is 1).
    backup_retention_period => "backup_retention_period",
    /// Promotes the replica to a standalone instance (one way: it cannot be undone).
    promoted => "promoted",
    /// Stops the promoted instance so that it takes no writes (see the module documentation).
    fenced => "fenced",
    /// The isolating security group a fenced instance is moved into before it is stopped.
    fence_security_group_id => "fence_security_group_id",
});

resource_builder!(
    /// A DB parameter group of one region, for the DB instances of one engine family.
    DbParameterGroup,
    kinds::RDS_DB_PARAMETER_GROUP
);

setters!(DbParameterGroup {
    /// The group's name (RDS stores it in lowercase; replaces).
    name => "name",
    /// The engine family, for example `postgres16` (replaces).
    family => "family",
    /// Required by RDS, and fixed once created (replaces).
    description => "description",
    /// Parameter name → value, as strings (`rds.force_ssl` → `1`).
    parameters => "parameters",
});

/// Checks a DB instance identifier against RDS's rules.
pub fn check_identifier(id: &str) -> Result<(), PropError> {
    let bad = |why: &str| Err(PropError(format!("DB identifier {id:?} is invalid: {why}")));
    if id.is_empty() || id.len() > 63 {
        return bad("it must be 1 to 63 characters long");
    }
    if !id.as_bytes()[0].is_ascii_alphabetic() {
        return bad("it must begin with a letter");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return bad("use letters, digits and `-` only");
    }
    if id.ends_with('-') || id.contains("--") {
        return bad("it must not end with `-` or contain `--`");
    }
    Ok(())
}

/// Checks a DB snapshot identifier against RDS's rules (RDS API Reference, DeleteDBInstance,
/// `FinalDBSnapshotIdentifier`): 1 to 255 letters, digits and hyphens; the first a letter; not
/// ending with a hyphen, nor holding two hyphens in a row.
pub fn check_snapshot_identifier(id: &str) -> Result<(), PropError> {
    check_name_255("DB snapshot identifier", id)
}

/// Checks the name of a DB parameter group to create against RDS's rules (RDS API Reference,
/// CreateDBParameterGroup, `DBParameterGroupName`): the same as a snapshot identifier's.
pub fn check_parameter_group_name(name: &str) -> Result<(), PropError> {
    check_name_255("DB parameter group name", name)
}

/// 1 to 255 letters, digits and hyphens; the first a letter; no trailing or doubled hyphen.
fn check_name_255(what: &str, id: &str) -> Result<(), PropError> {
    let bad = |why: &str| Err(PropError(format!("{what} {id:?} is invalid: {why}")));
    if id.is_empty() || id.len() > 255 {
        return bad("it must be 1 to 255 characters long");
    }
    if !id.as_bytes()[0].is_ascii_alphabetic() {
        return bad("it must begin with a letter");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return bad("use letters, digits and `-` only");
    }
    if id.ends_with('-') || id.contains("--") {
        return bad("it must not end with `-` or contain `--`");
    }
    Ok(())
}

/// Checks a VPC security group id, when known: not empty, and not a group name with spaces.
/// Its form (`sg-` and hexadecimal digits) and its VPC are left to AWS, which checks both (moto
/// checks neither).
fn check_security_group_id(name: &str, id: &str) -> Result<(), PropError> {
    if id.trim().is_empty() || id.contains(char::is_whitespace) {
        return Err(PropError(format!(
            "`{name}` must be a VPC security group id (sg-...), not {id:?}"
        )));
    }
    Ok(())
}

/// Checks a reference to an existing DB subnet group: RDS's rule for subnet group names (RDS API
/// Reference, CreateDBSubnetGroup, `DBSubnetGroupName`: no more than 255 letters, numbers,
/// periods, underscores, spaces or hyphens). That it exists, in the instance's region, is AWS's
/// to check.
fn check_subnet_group_ref(name: &str) -> Result<(), PropError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ' ' | '-');
    if name.is_empty() || name.len() > 255 || !name.chars().all(ok) {
        return Err(PropError(format!(
            "`db_subnet_group_name` {name:?} is invalid: 1 to 255 letters, digits, periods, \
             underscores, spaces or hyphens"
        )));
    }
    Ok(())
}

/// Checks a reference to an existing DB parameter group: a name RDS accepts at creation, or one of
/// RDS's own default groups (`default.postgres16`, the only names with periods).
fn check_parameter_group_ref(name: &str) -> Result<(), PropError> {
    if name.starts_with("default.") {
        return Ok(());
    }
    check_parameter_group_name(name)
        .map_err(|e| PropError(format!("`db_parameter_group_name`: {}", e.0)))
}

/// The inputs about the network and the parameter group, shared by both instance kinds.
fn check_network_and_parameters(props: &Props) -> Result<(), PropError> {
    if let Some(g) = str_of(props, "db_subnet_group_name")? {
        check_subnet_group_ref(g)?;
    }
    if let Some(g) = str_of(props, "db_parameter_group_name")? {
        check_parameter_group_ref(g)?;
    }
    Ok(())
}

/// The inputs about final snapshots and security groups, shared by both kinds.
fn check_snapshot_and_groups(props: &Props) -> Result<(), PropError> {
    if let Some(snap) = str_of(props, "final_snapshot_identifier")? {
        check_snapshot_identifier(snap)?;
        if bool_of(props, "skip_final_snapshot")? == Some(true) {
            return Err(PropError(
                "`final_snapshot_identifier` is set but `skip_final_snapshot` is true: \
                 choose one"
                    .into(),
            ));
        }
    }
    if let Some(g) = str_of(props, "fence_security_group_id")? {
        check_security_group_id("fence_security_group_id", g)?;
    }
    check_string_list(props, "vpc_security_group_ids")?;
    if let Some(tandem_core::Value::List(l)) = props.get("vpc_security_group_ids") {
        for v in l {
            if let Some(g) = v.as_str() {
                check_security_group_id("vpc_security_group_ids", g)?;
            }
        }
    }
    Ok(())
}

/// Backups must be on (a replica needs them, and so does point-in-time recovery).
pub fn check_backup_retention(days: i64) -> Result<(), PropError> {
    if (1..=35).contains(&days) {
        Ok(())
    } else {
        Err(PropError(format!(
            "`backup_retention_period` must be 1 to 35 days (backups on), not {days}"
        )))
    }
}

fn check_not_public(props: &Props) -> Result<(), PropError> {
    if bool_of(props, "publicly_accessible")? == Some(true) {
        return Err(PropError(
            "`publicly_accessible` must be false: databases are never reachable from the internet"
                .into(),
        ));
    }
    Ok(())
}

fn check_no_password(props: &Props) -> Result<(), PropError> {
    for k in [
        "master_password",
        "master_user_password",
        "password",
        "manage_master_user_password",
    ] {
        if props.contains_key(k) {
            return Err(PropError(format!(
                "`{k}` is not accepted: the master password lives in a Secrets Manager secret \
                 Tandem manages (`master_user_secret_arn`)"
            )));
        }
    }
    Ok(())
}

/// The master password's source: a Secrets Manager secret ARN
/// (`arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`), required; and
/// `master_password_generation`, 0 or more.
fn check_master_secret(props: &Props) -> Result<(), PropError> {
    if matches!(
        props.get("master_user_secret_arn"),
        None | Some(tandem_core::Value::Null)
    ) {
        return Err(PropError(
            "`master_user_secret_arn` is required: the master password comes from a Secrets \
             Manager secret Tandem manages (a `secretsmanager:DatabaseSecret`'s `arn`), never \
             from RDS (`ManageMasterUserPassword`), which cannot have a cross-region read replica"
                .into(),
        ));
    }
    if let Some(arn) = required_str(props, "master_user_secret_arn")? {
        if crate::secretsmanager::secret_arn_region(arn).is_none() {
            return Err(PropError(format!(
                "`master_user_secret_arn` must be a Secrets Manager secret ARN \
                 (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME), not {arn:?}"
            )));
        }
    }
    if let Some(g) = int_of(props, "master_password_generation")? {
        if g < 0 {
            return Err(PropError(format!(
                "`master_password_generation` must be 0 or more, not {g}"
            )));
        }
    }
    Ok(())
}

/// Validates the inputs of an `rds:DbInstance`.
pub fn validate_db_instance(props: &Props) -> Result<(), PropError> {
    if let Some(id) = required_str(props, "identifier")? {
        check_identifier(id)?;
    }
    required_str(props, "engine")?;
    required_str(props, "instance_class")?;
    match int_of(props, "allocated_storage")? {
        Some(gib) if !(5..=65536).contains(&gib) => {
            return Err(PropError(format!(
                "`allocated_storage` must be 5 to 65536 GiB, not {gib}"
            )));
        }
        None if !props.contains_key("allocated_storage") => {
            return Err(PropError("`allocated_storage` is required".into()));
        }
        _ => {}
    }
    if let Some(d) = int_of(props, "backup_retention_period")? {
        check_backup_retention(d)?;
    }
    if bool_of(props, "storage_encrypted")? == Some(false) && props.contains_key("kms_key_id") {
        return Err(PropError(
            "`kms_key_id` is set but `storage_encrypted` is false".into(),
        ));
    }
    str_of(props, "kms_key_id")?;
    str_of(props, "engine_version")?;
    str_of(props, "master_username")?;
    str_of(props, "db_name")?;
    for b in [
        "multi_az",
        "deletion_protection",
        "skip_final_snapshot",
        "fenced",
    ] {
        bool_of(props, b)?;
    }
    check_snapshot_and_groups(props)?;
    check_network_and_parameters(props)?;
    check_not_public(props)?;
    check_no_password(props)?;
    check_master_secret(props)?;
    check_tags(props)
}

/// Validates the inputs of an `rds:DbReadReplica`.
pub fn validate_db_read_replica(props: &Props) -> Result<(), PropError> {
    if let Some(id) = required_str(props, "identifier")? {
        check_identifier(id)?;
    }
    if let Some(arn) = required_str(props, "source_db_arn")? {
        if !arn.starts_with("arn:") || !arn.contains(":rds:") || !arn.contains(":db:") {
            return Err(PropError(format!(
                "`source_db_arn` must be a DB instance ARN (arn:aws:rds:REGION:ACCOUNT:db:ID), not {arn:?}"
            )));
        }
        if let (Some(src_region), Some(arn_region)) =
            (str_of(props, "source_region")?, arn.split(':').nth(3))
        {
            if src_region != arn_region {
                return Err(PropError(format!(
                    "`source_region` {src_region:?} does not match the region of `source_db_arn` ({arn_region:?})"
                )));
            }
        }
    }
    if let Some(r) = required_str(props, "source_region")? {
        regions::check_region(r).map_err(PropError)?;
    }
    required_str(props, "instance_class")?;
    str_of(props, "kms_key_id")?;
    for b in [
        "multi_az",
        "deletion_protection",
        "skip_final_snapshot",
        "promoted",
        "fenced",
    ] {
        bool_of(props, b)?;
    }
    if bool_of(props, "fenced")? == Some(true) && bool_of(props, "promoted")? != Some(true) {
        return Err(PropError(
            "`fenced: true` needs `promoted: true`: AWS does not stop a read replica".into(),
        ));
    }
    if let Some(d) = int_of(props, "backup_retention_period")? {
        check_backup_retention(d)?;
    }
    check_snapshot_and_groups(props)?;
    check_network_and_parameters(props)?;
    check_not_public(props)?;
    check_no_password(props)?;
    check_tags(props)
}

/// Validates the inputs of an `rds:DbParameterGroup`.
pub fn validate_db_parameter_group(props: &Props) -> Result<(), PropError> {
    if let Some(name) = required_str(props, "name")? {
        check_parameter_group_name(name)?;
    }
    if let Some(family) = required_str(props, "family")? {
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
        if !family.chars().all(ok) {
            return Err(PropError(format!(
                "`family` {family:?} is not a DB parameter group family (like `postgres16`)"
            )));
        }
    }
    if let Some(d) = required_str(props, "description")? {
        if d.trim().is_empty() {
            // RDS API Reference, CreateDBParameterGroup: `Description` is required.
            return Err(PropError("`description` must not be blank".into()));
        }
    }
    check_string_map(props, "parameters")?;
    if let Some(tandem_core::Value::Map(m)) = props.get("parameters") {
        for (k, v) in m {
            if k.trim().is_empty() {
                return Err(PropError("`parameters` has an empty parameter name".into()));
            }
            if v.as_str() == Some("") {
                return Err(PropError(format!(
                    "`parameters.{k}` is empty: RDS takes no empty value (leave the parameter \
                     out to keep the family's default)"
                )));
            }
        }
    }
    check_tags(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::props_of;
    use tandem_core::Region;

    fn db() -> DbInstance {
        DbInstance::new(&Region::named("us-east-1"), "db")
            .unwrap()
            .identifier("app-db")
            .engine("postgres")
            .instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_user_secret_arn(SECRET_ARN)
    }

    const SECRET_ARN: &str =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:tandem/prod/database-a1b2c3";

    #[test]
    fn db_rules() {
        assert_eq!(validate_db_instance(&props_of(db())), Ok(()));
        let e = validate_db_instance(&props_of(db().backup_retention_period(0))).unwrap_err();
        assert!(e.0.contains("backups on"), "{e}");
        let e = validate_db_instance(&props_of(db().publicly_accessible(true))).unwrap_err();
        assert!(e.0.contains("never reachable"), "{e}");
        let e = validate_db_instance(&props_of(db().set("master_password", "x"))).unwrap_err();
        assert!(e.0.contains("Secrets Manager"), "{e}");
        let e = validate_db_instance(&props_of(db().identifier("1db"))).unwrap_err();
        assert!(e.0.contains("letter"), "{e}");
        assert_eq!(validate_db_instance(&props_of(db().fenced(true))), Ok(()));
        let e = validate_db_instance(&props_of(db().fenced("yes"))).unwrap_err();
        assert!(e.0.contains("`fenced`"), "{e}");
    }

    #[test]
    fn the_master_password_comes_from_a_tandem_secret() {
        let mut no_secret = props_of(db());
        no_secret.remove("master_user_secret_arn");
        let e = validate_db_instance(&no_secret).unwrap_err();
        assert!(
            e.0.contains("`master_user_secret_arn` is required") && e.0.contains("read replica"),
            "{e}"
        );
        let e =
            validate_db_instance(&props_of(db().master_user_secret_arn("tandem/db"))).unwrap_err();
        assert!(e.0.contains("Secrets Manager secret ARN"), "{e}");
        let e = validate_db_instance(&props_of(db().set("manage_master_user_password", true)))
            .unwrap_err();
        assert!(e.0.contains("`master_user_secret_arn`"), "{e}");
        assert_eq!(
            validate_db_instance(&props_of(db().master_password_generation(2))),
            Ok(())
        );
        let e = validate_db_instance(&props_of(db().master_password_generation(-1))).unwrap_err();
        assert!(e.0.contains("0 or more"), "{e}");
        // A reference not resolved yet is not judged.
        assert_eq!(
            validate_db_instance(&props_of(
                db().master_user_secret_arn(tandem_core::Value::Unknown)
            )),
            Ok(())
        );
    }

    #[test]
    fn snapshot_identifiers_follow_rds_rules() {
        for ok in [
            "a",
            "app-final-20260101120000",
            &format!("a{}", "b".repeat(254)),
        ] {
            assert_eq!(check_snapshot_identifier(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "1 to 255"),
            (&"a".repeat(256), "1 to 255"),
            ("1app", "letter"),
            ("-app", "letter"),
            ("app_final", "letters, digits"),
            ("app.final", "letters, digits"),
            ("app--final", "`--`"),
            ("app-", "end with"),
        ] {
            let e = check_snapshot_identifier(bad).unwrap_err();
            assert!(e.0.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn final_snapshot_and_fence_inputs() {
        let named = db().final_snapshot_identifier("app-db-final-1");
        assert_eq!(validate_db_instance(&props_of(named.clone())), Ok(()));
        let e = validate_db_instance(&props_of(named.skip_final_snapshot(true))).unwrap_err();
        assert!(e.0.contains("choose one"), "{e}");
        let e =
            validate_db_instance(&props_of(db().final_snapshot_identifier("app--x"))).unwrap_err();
        assert!(e.0.contains("`--`"), "{e}");
        let fenced = db()
            .fenced(true)
            .fence_security_group_id("sg-0123abcd")
            .vpc_security_group_ids(vec![tandem_core::Value::str("sg-0a1b2c")]);
        assert_eq!(validate_db_instance(&props_of(fenced)), Ok(()));
        let e = validate_db_instance(&props_of(db().fence_security_group_id(""))).unwrap_err();
        assert!(e.0.contains("security group id"), "{e}");
        let e = validate_db_instance(&props_of(
            db().vpc_security_group_ids(vec![tandem_core::Value::str("my group")]),
        ))
        .unwrap_err();
        assert!(e.0.contains("`vpc_security_group_ids`"), "{e}");
        // A reference not resolved yet is not judged.
        assert_eq!(
            validate_db_instance(&props_of(
                db().fence_security_group_id(tandem_core::Value::Unknown)
            )),
            Ok(())
        );
    }

    #[test]
    fn network_and_parameter_group_inputs() {
        let placed = db()
            .db_subnet_group_name("tandem-prod-db")
            .db_parameter_group_name("tandem-prod-postgres16-tls")
            .engine_version("16");
        assert_eq!(validate_db_instance(&props_of(placed)), Ok(()));
        assert_eq!(
            validate_db_instance(&props_of(
                db().db_parameter_group_name("default.postgres16")
            )),
            Ok(())
        );
        let e = validate_db_instance(&props_of(db().db_subnet_group_name("a/b"))).unwrap_err();
        assert!(e.0.contains("`db_subnet_group_name`"), "{e}");
        let e = validate_db_instance(&props_of(db().db_subnet_group_name(""))).unwrap_err();
        assert!(e.0.contains("1 to 255"), "{e}");
        let e =
            validate_db_instance(&props_of(db().db_parameter_group_name("tls--pg"))).unwrap_err();
        assert!(
            e.0.contains("`db_parameter_group_name`") && e.0.contains("`--`"),
            "{e}"
        );
        // References not resolved yet are not judged.
        assert_eq!(
            validate_db_instance(&props_of(
                db().db_subnet_group_name(tandem_core::Value::Unknown)
                    .db_parameter_group_name(tandem_core::Value::Unknown)
            )),
            Ok(())
        );
    }

    fn parameter_group() -> DbParameterGroup {
        DbParameterGroup::new(&Region::named("us-east-1"), "postgres-tls")
            .unwrap()
            .name("tandem-prod-postgres16-tls")
            .family("postgres16")
            .description("TLS required")
            .parameters(tandem_core::map([("rds.force_ssl", "1")]))
    }

    #[test]
    fn parameter_group_rules() {
        assert_eq!(
            validate_db_parameter_group(&props_of(parameter_group())),
            Ok(())
        );
        for (bad, why) in [
            (parameter_group().name("1pg"), "letter"),
            (parameter_group().name("pg_tls"), "letters, digits"),
            (parameter_group().name("pg-"), "end with"),
            (parameter_group().family(""), "must not be empty"),
            (parameter_group().family("postgres 16"), "family"),
            (parameter_group().description("  "), "blank"),
            (
                parameter_group().parameters(tandem_core::map([("rds.force_ssl", 1)])),
                "must be a string",
            ),
            (
                parameter_group().parameters(tandem_core::map([("rds.force_ssl", "")])),
                "is empty",
            ),
        ] {
            let e = validate_db_parameter_group(&props_of(bad)).unwrap_err();
            assert!(e.0.contains(why), "{why}: {e}");
        }
        let e = validate_db_parameter_group(&props_of(
            DbParameterGroup::new(&Region::named("us-east-1"), "pg").unwrap(),
        ))
        .unwrap_err();
        assert!(e.0.contains("`name` is required"), "{e}");
    }

    #[test]
    fn replica_rules() {
        let r = DbReadReplica::new(&Region::named("us-west-2"), "replica")
            .unwrap()
            .identifier("app-db-replica")
            .source_db_arn("arn:aws:rds:us-east-1:123456789012:db:app-db")
            .source_region("us-east-1")
            .instance_class("db.t3.micro");
        assert_eq!(validate_db_read_replica(&props_of(r.clone())), Ok(()));
        let e =
            validate_db_read_replica(&props_of(r.clone().source_region("eu-west-1"))).unwrap_err();
        assert!(e.0.contains("does not match"), "{e}");
        assert_eq!(
            validate_db_read_replica(&props_of(r.clone().promoted(true))),
            Ok(())
        );
        assert_eq!(
            validate_db_read_replica(&props_of(r.clone().promoted(true).fenced(true))),
            Ok(())
        );
        let e = validate_db_read_replica(&props_of(r.clone().fenced(true))).unwrap_err();
        assert!(e.0.contains("does not stop a read replica"), "{e}");
        let e = validate_db_read_replica(&props_of(r.clone().promoted(1))).unwrap_err();
        assert!(e.0.contains("`promoted`"), "{e}");
        assert_eq!(
            validate_db_read_replica(&props_of(r.clone().backup_retention_period(7))),
            Ok(())
        );
        let e =
            validate_db_read_replica(&props_of(r.clone().backup_retention_period(0))).unwrap_err();
        assert!(e.0.contains("backups on"), "{e}");
        let e = validate_db_read_replica(&props_of(
            r.clone()
                .skip_final_snapshot(true)
                .final_snapshot_identifier("x-final"),
        ))
        .unwrap_err();
        assert!(e.0.contains("choose one"), "{e}");
        assert_eq!(
            validate_db_read_replica(&props_of(
                r.promoted(true)
                    .fenced(true)
                    .fence_security_group_id("sg-0f00")
            )),
            Ok(())
        );
    }
}
