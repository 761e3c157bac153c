//! The databases (`rds:DbInstance`, `rds:DbReadReplica`) and the stateful resources of a
//! protected environment: TP001, TP006, TP007, TP008, TP009, TP010.

use tandem_core::{ResourceDecl, Value};
use tandem_schema::kinds;

use super::{At, Cx};
use crate::values::{KeyPlace, bool_input, int_input, key_place, region_of};

/// The backup retention the pack requires, in days.
pub(crate) const MIN_BACKUP_RETENTION_DAYS: i64 = 7;

/// The kinds whose data a deletion loses.
const STATEFUL: &[&str] = &[
    kinds::RDS_DB_INSTANCE,
    kinds::RDS_DB_READ_REPLICA,
    kinds::S3_BUCKET,
    kinds::ROUTE53_HOSTED_ZONE,
];

fn is_database(decl: &ResourceDecl) -> bool {
    matches!(
        decl.addr.kind(),
        kinds::RDS_DB_INSTANCE | kinds::RDS_DB_READ_REPLICA
    )
}

pub(super) fn check(cx: &mut Cx<'_>) {
    let stack = cx.stack;
    for decl in stack.graph.in_order() {
        let region = region_of(stack, &decl.addr);
        if is_database(decl) {
            encryption(cx, decl, &region);
            private(cx, decl, &region);
            in_vpc(cx, decl, &region);
            backups(cx, decl, &region);
        }
        if cx.ctx.protect_stateful && STATEFUL.contains(&decl.addr.kind()) {
            protected(cx, decl, &region);
        }
    }
}

/// TP001: storage encrypted (a replica inherits it from its source), with a key of the
/// database's own region.
fn encryption(cx: &mut Cx<'_>, decl: &ResourceDecl, region: &str) {
    let at = || At::new(&decl.addr, region);
    const FIX: &str = "set `storage_encrypted: true` and `kms_key_id` to the KMS key of the \
                       database's own region (the region's stack instance output `KmsKeyArn`)";
    if decl.addr.kind() == kinds::RDS_DB_INSTANCE {
        match bool_input(decl.inputs.get("storage_encrypted")) {
            Ok(Some(false)) => {
                cx.report(
                    "TP001",
                    at(),
                    "`storage_encrypted` is false: the database is not encrypted at rest".into(),
                    FIX,
                );
                return;
            }
            Err(v) => {
                cx.report(
                    "TP001",
                    at(),
                    format!("`storage_encrypted` is {v}: the pack cannot tell that it is true"),
                    FIX,
                );
                return;
            }
            // Absent: the schema's default is true.
            Ok(_) => {}
        }
    }
    let message = match key_place(cx.stack, decl.inputs.get("kms_key_id")) {
        place if place.is_in(region) => return,
        KeyPlace::Missing => "no `kms_key_id`: RDS would encrypt with the AWS managed key, not \
                              the region's own key"
            .to_string(),
        KeyPlace::Region(other) => format!(
            "`kms_key_id` is a key of {other}, not of the database's region {region}: a \
             region's data must not depend on another region's key"
        ),
        KeyPlace::Unverifiable(why) => format!("`kms_key_id` cannot be judged: {why}"),
        KeyPlace::CallersRegion => unreachable!("a key id is in the caller's region"),
    };
    cx.report("TP001", at(), message, FIX);
}

/// TP006: never publicly accessible.
fn private(cx: &mut Cx<'_>, decl: &ResourceDecl, region: &str) {
    let message = match bool_input(decl.inputs.get("publicly_accessible")) {
        Ok(None | Some(false)) => return,
        Ok(Some(true)) => "`publicly_accessible` is true: the database has a public address".into(),
        Err(v) => format!("`publicly_accessible` is {v}: the pack cannot tell that it is false"),
    };
    cx.report(
        "TP006",
        At::new(&decl.addr, region),
        message,
        "set `publicly_accessible: false` (reach the database from the VPC, or over peering)",
    );
}

/// TP007: in the stack's VPC, through a DB subnet group of its region.
fn in_vpc(cx: &mut Cx<'_>, decl: &ResourceDecl, region: &str) {
    match decl.inputs.get("db_subnet_group_name") {
        Some(Value::String(s)) if !s.is_empty() => return,
        Some(Value::Ref(_) | Value::Unknown) => return,
        _ => {}
    }
    cx.report(
        "TP007",
        At::new(&decl.addr, region),
        "no `db_subnet_group_name`: RDS places the database in the region's default VPC, outside \
         the stack's private subnets and security groups (and a fenced writer cannot be moved \
         into the stack's fence security group)"
            .into(),
        "set `db_subnet_group_name` to the DB subnet group of the database's own region (the \
         stack instance output `DbSubnetGroupName`) and `vpc_security_group_ids` to its \
         database security group",
    );
}

/// TP008: at least a week of automated backups on a writer; on a replica, the retention its
/// promotion applies (AWS's default on promotion is one day).
fn backups(cx: &mut Cx<'_>, decl: &ResourceDecl, region: &str) {
    let replica = decl.addr.kind() == kinds::RDS_DB_READ_REPLICA;
    let promoted = bool_input(decl.inputs.get("promoted")) == Ok(Some(true));
    let days = int_input(decl.inputs.get("backup_retention_period"));
    let message = match days {
        Ok(Some(d)) if d >= MIN_BACKUP_RETENTION_DAYS => return,
        // The schema's default for an instance is 7 days.
        Ok(None) if !replica => return,
        Ok(None) if promoted => "the promoted replica has no `backup_retention_period`: its \
                                 promotion kept AWS's default of one day"
            .to_string(),
        Ok(None) => "the replica has no `backup_retention_period`: a failover promotes it with \
                     AWS's default of one day"
            .to_string(),
        Ok(Some(d)) if replica && !promoted => format!(
            "`backup_retention_period` is {d} day(s): a failover promotes the replica into a \
             writer that keeps backups for less than {MIN_BACKUP_RETENTION_DAYS} days"
        ),
        Ok(Some(d)) => format!(
            "`backup_retention_period` is {d} day(s), less than {MIN_BACKUP_RETENTION_DAYS}: \
             point-in-time recovery reaches back too little"
        ),
        Err(v) => format!(
            "`backup_retention_period` is {v}: the pack cannot tell that it is at least \
             {MIN_BACKUP_RETENTION_DAYS} days"
        ),
    };
    cx.report(
        "TP008",
        At::new(&decl.addr, region),
        message,
        "set `backup_retention_period` to 7 days or more (the environment's \
         `[sizes] db_backup_retention_days`)",
    );
}

/// TP009 and TP010, in a protected environment: Tandem refuses to delete or replace the
/// resource (`protect`, or RDS deletion protection for a database), a bucket is not emptied on
/// deletion, and a database also has RDS deletion protection against deletions outside Tandem.
fn protected(cx: &mut Cx<'_>, decl: &ResourceDecl, region: &str) {
    let at = || At::new(&decl.addr, region);
    let deletion_protection = bool_input(decl.inputs.get("deletion_protection")) == Ok(Some(true));
    let database = is_database(decl);
    let guarded = decl.options.protect || (database && deletion_protection);
    if !guarded {
        cx.report(
            "TP009",
            at(),
            format!(
                "the environment protects stateful resources, but this {} is not protected: a \
                 plan may delete or replace it",
                decl.addr.kind()
            ),
            "declare it with the `protect` option (the program's stateful options)",
        );
    }
    let emptied = !matches!(
        bool_input(decl.inputs.get("force_destroy")),
        Ok(None | Some(false))
    );
    if decl.addr.kind() == kinds::S3_BUCKET && emptied {
        cx.report(
            "TP009",
            at(),
            "`force_destroy` is not false: deleting the bucket would delete every object \
             version in it"
                .into(),
            "set `force_destroy: false` in a protected environment",
        );
    }
    if database && !deletion_protection {
        cx.report(
            "TP010",
            at(),
            "no RDS deletion protection: `protect` guards against Tandem's own plans only; the \
             console or the API can still delete the database"
                .into(),
            "set `deletion_protection: true` on the databases of a protected environment",
        );
    }
}
