//! The Secrets Manager secrets that hold the databases' credentials (`secretsmanager:DatabaseSecret`,
//! `secretsmanager:SecretReplica`): TP016.

use tandem_core::{ResourceDecl, Value};
use tandem_schema::kinds;

use super::{At, Cx};
use crate::values::{KeyPlace, key_place, region_of};

pub(super) fn check(cx: &mut Cx<'_>) {
    let stack = cx.stack;
    for decl in stack.graph.in_order() {
        let region = region_of(stack, &decl.addr);
        match decl.addr.kind() {
            kinds::SECRETSMANAGER_DATABASE_SECRET => {
                encryption(cx, decl, &region, None);
                for (replica_region, key) in replica_keys(decl) {
                    encryption(cx, decl, &replica_region, Some(key));
                }
            }
            kinds::SECRETSMANAGER_SECRET_REPLICA => encryption(cx, decl, &region, None),
            _ => {}
        }
    }
}

/// The replica regions a secret declares, with the key of each (`Null` where the map holds no
/// key). An input that is not a map names no region here; the schema refuses it before the pack
/// runs, and a map not known before apply is judged as one key that cannot be placed.
fn replica_keys(decl: &ResourceDecl) -> Vec<(String, &Value)> {
    match decl.inputs.get("replica_regions") {
        Some(Value::Map(m)) => m.iter().map(|(r, k)| (r.clone(), k)).collect(),
        Some(v) if v.is_unknown() => vec![("(replica regions)".to_string(), v)],
        _ => Vec::new(),
    }
}

/// TP016: the secret (or one of its replicas, `replica_key` the key that `replica_regions` names
/// for `region`) is encrypted with a KMS key of `region`, the region that holds that copy.
fn encryption(cx: &mut Cx<'_>, decl: &ResourceDecl, region: &str, replica_key: Option<&Value>) {
    let (what, value, fix) = match replica_key {
        None if decl.addr.kind() == kinds::SECRETSMANAGER_SECRET_REPLICA => (
            "the secret's replica".to_string(),
            decl.inputs.get("kms_key_id"),
            "set the replica's `kms_key_id` to the KMS key of the replica's own region (the \
             region's stack instance output `KmsKeyArn`)",
        ),
        None => (
            "the secret".to_string(),
            decl.inputs.get("kms_key_id"),
            "set the secret's `kms_key_id` to the KMS key of the secret's own region (the \
             region's stack instance output `KmsKeyArn`)",
        ),
        Some(key) => (
            format!("the secret's replica in {region}"),
            Some(key),
            "map each region of `replica_regions` to the KMS key of that region (its stack \
             instance output `KmsKeyArn`), or declare the replica as a \
             `secretsmanager:SecretReplica` of its region",
        ),
    };
    let message = match key_place(cx.stack, value) {
        place if place.is_in(region) => return,
        KeyPlace::Missing => format!(
            "{what} names no KMS key: Secrets Manager would encrypt the database's credentials \
             with the AWS managed key `aws/secretsmanager`, not the region's own key"
        ),
        KeyPlace::Region(other) => format!(
            "{what} is encrypted with a key of {other}, not of {region}: the credentials kept in \
             {region} must not depend on another region's key"
        ),
        KeyPlace::Unverifiable(why) => format!("the key of {what} cannot be judged: {why}"),
        KeyPlace::CallersRegion => unreachable!("a key id is in the caller's region"),
    };
    let mut at = At::new(&decl.addr, region);
    if replica_key.is_some() {
        at = at.subject(format!("replica_regions.{region}"));
    }
    cx.report("TP016", at, message, fix);
}
