//! RDS: a primary DB instance and its cross-region read replica.
//!
//! # `rds:DbInstance` inputs
//! `identifier` (required; replaces), `engine` (required; replaces), `engine_version`,
//! `instance_class` (required), `allocated_storage` (GiB, required), `storage_encrypted` (true;
//! replaces), `kms_key_id` (replaces), `backup_retention_period` (days, 1 or more, default 7),
//! `publicly_accessible` (must be false), `multi_az` (false), `master_username` (`tandem`;
//! replaces), `db_name` (replaces), `deletion_protection` (false), `skip_final_snapshot` (false),
//! `tags`, `fenced` (false; see below). The master password is always managed by RDS in Secrets
//! Manager (`ManageMasterUserPassword`): there is no password property.
//! Outputs: `identifier`, `arn`, `endpoint`, `port`, `resource_id`, `master_user_secret_arn`.
//!
//! `fenced: true` stops the instance (`StopDBInstance`), so that an old primary takes no writes
//! after a failover (no split brain); `false` starts it again. It is an in-place change, read back
//! from the instance's status (`stopped` or `stopping` is fenced). AWS starts a stopped instance
//! by itself after seven days: the next plan then shows the drift and stops it again. AWS does
//! not stop an instance that still has read replicas, nor modify a stopped one.
//!
//! # `rds:DbReadReplica` inputs
//! Created in its own (destination) region: `identifier`, `source_db_arn` (the source's ARN),
//! `source_region`, `kms_key_id` (a key in the destination region; required when the source is
//! encrypted), `instance_class`, `publicly_accessible` (false), `multi_az` (false),
//! `deletion_protection`, `skip_final_snapshot` (true), `tags`, `promoted` (false; see below).
//! Outputs as for `rds:DbInstance`.
//!
//! `promoted: true` promotes the replica to a standalone instance (`PromoteReadReplica`), as a
//! failover does; it is an in-place change, so the engine plans it like any other. The way back is
//! refused: a promoted instance can never become a replica again (replace it instead, with a new
//! `identifier`).
//!
//! `fenced: true` (false by default) stops a **promoted** replica, as for `rds:DbInstance`: a
//! writer that was a replica once is fenced this way when it is failed away from. AWS does not
//! stop a read replica, so `fenced` without `promoted` is refused.

use tandem_core::Props;

use crate::kinds;
use crate::props::{PropError, bool_of, check_tags, int_of, required_str, str_of};
use crate::regions;

resource_builder!(
    /// An RDS DB instance with managed master password, encryption and backups.
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
    /// Stops the instance (fencing an old primary from writes); `false` starts it again.
    fenced => "fenced",
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
    /// Promotes the replica to a standalone instance (one way: it cannot be undone).
    promoted => "promoted",
    /// Stops the promoted instance so that it takes no writes (see the module documentation).
    fenced => "fenced",
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
    for k in ["master_password", "master_user_password", "password"] {
        if props.contains_key(k) {
            return Err(PropError(format!(
                "`{k}` is not accepted: the master password is managed by RDS in Secrets Manager"
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
    check_not_public(props)?;
    check_no_password(props)?;
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
    check_not_public(props)?;
    check_no_password(props)?;
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
    }

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
        let e = validate_db_read_replica(&props_of(r.promoted(1))).unwrap_err();
        assert!(e.0.contains("`promoted`"), "{e}");
    }
}
