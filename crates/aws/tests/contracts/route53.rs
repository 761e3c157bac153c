//! Route 53 `ChangeResourceRecordSets`: the batches that create and swap a failover pair.
//!
//! Rules, from the Route 53 API Reference (`ChangeResourceRecordSets`, the `Change` and
//! `ResourceRecordSet` data types) and the Developer Guide ("Failover routing"):
//! - a change batch is transactional: all of its changes are made, or none;
//! - `DELETE` deletes an existing record that has the specified values: every value must match the
//!   record as it exists (name, type, set identifier, failover, health check, alias target);
//! - `CREATE` creates a record, and fails when one of that name, type and set identifier exists;
//! - `UPSERT` creates the record or updates the one of that name, type and set identifier;
//! - among the records of one name and type, one at most is `PRIMARY` and one at most
//!   `SECONDARY`. Two UPSERTs that flip the roles of a pair in place break this between them
//!   (and were reported refused by AWS): a role change is a DELETE of the old record and a CREATE
//!   of the new one.

use aws_sdk_route53::types::{
    AliasTarget, ChangeAction, ChangeBatch, ResourceRecordSet, ResourceRecordSetFailover,
};
use tandem_aws::route53::{BatchShape, record_set_change_batch};
use tandem_aws::{AwsClients, ClientSettings};
use tandem_core::Props;

use crate::failover_pair;

type Key = (String, String, Option<String>);

fn key(r: &ResourceRecordSet) -> Key {
    (
        r.name().trim_end_matches('.').to_ascii_lowercase(),
        r.r#type().as_str().to_string(),
        r.set_identifier().map(str::to_string),
    )
}

/// Route 53's semantics of a batch on the records of a zone, by the rules above, checked after
/// every change. `Err` names the first change AWS refuses.
fn apply(
    zone: &[ResourceRecordSet],
    batch: &ChangeBatch,
) -> Result<Vec<ResourceRecordSet>, String> {
    let mut records = zone.to_vec();
    for (i, c) in batch.changes().iter().enumerate() {
        let r = c.resource_record_set().expect("a record set");
        let at = records.iter().position(|l| key(l) == key(r));
        match c.action() {
            ChangeAction::Delete => match at {
                Some(p) if records[p] == *r => {
                    records.remove(p);
                }
                _ => {
                    return Err(format!(
                        "change {i}: DELETE of a record that does not exist with these values: {r:?}"
                    ));
                }
            },
            ChangeAction::Create => {
                if at.is_some() {
                    return Err(format!("change {i}: CREATE of a record that exists: {r:?}"));
                }
                records.push(r.clone());
            }
            ChangeAction::Upsert => match at {
                Some(p) => records[p] = r.clone(),
                None => records.push(r.clone()),
            },
            other => return Err(format!("change {i}: unknown action {other:?}")),
        }
        for role in [
            ResourceRecordSetFailover::Primary,
            ResourceRecordSetFailover::Secondary,
        ] {
            let holders: Vec<&ResourceRecordSet> = records
                .iter()
                .filter(|l| key(l).0 == key(r).0 && key(l).1 == key(r).1)
                .filter(|l| l.failover() == Some(&role))
                .collect();
            if holders.len() > 1 {
                return Err(format!(
                    "change {i}: two {} records of {} at once",
                    role.as_str(),
                    r.name()
                ));
            }
        }
    }
    Ok(records)
}

/// The zone's records as `ListResourceRecordSets` gives them back (the alias name with the
/// trailing dot Route 53 stores).
fn as_listed(records: Vec<ResourceRecordSet>) -> Vec<ResourceRecordSet> {
    records
        .into_iter()
        .map(|r| match r.alias_target() {
            Some(a) if !a.dns_name().ends_with('.') => {
                let alias = AliasTarget::builder()
                    .hosted_zone_id(a.hosted_zone_id())
                    .dns_name(format!("{}.", a.dns_name()))
                    .evaluate_target_health(a.evaluate_target_health())
                    .build()
                    .unwrap();
                ResourceRecordSet::builder()
                    .name(r.name())
                    .r#type(r.r#type().clone())
                    .set_set_identifier(r.set_identifier().map(str::to_string))
                    .set_failover(r.failover().cloned())
                    .set_health_check_id(r.health_check_id().map(str::to_string))
                    .alias_target(alias)
                    .build()
                    .unwrap()
            }
            _ => r,
        })
        .collect()
}

fn roles(records: &[ResourceRecordSet]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r.set_identifier().unwrap_or_default().to_string(),
                r.failover()
                    .map(|f| f.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

fn expected_roles(primary: &str, secondary: &str) -> Vec<(String, String)> {
    let mut v = vec![
        (format!("app-{primary}"), "PRIMARY".to_string()),
        (format!("app-{secondary}"), "SECONDARY".to_string()),
    ];
    v.sort();
    v
}

fn batch_for(inputs: &Props, old: Option<&Props>, live: &[ResourceRecordSet]) -> ChangeBatch {
    record_set_change_batch(inputs, old, live, BatchShape::Aws)
        .expect("a batch")
        .expect("something to change")
}

const PAIRS: &[(&str, &str)] = &[
    ("us-east-1", "us-west-2"),
    ("eu-north-1", "eu-west-1"),
    ("us-gov-west-1", "us-gov-east-1"),
    ("cn-north-1", "cn-northwest-1"),
];

/// (a) Failover, failback and failover again: each swap is DELETE of the two live records with
/// their exact values, then CREATE of the two new ones, never an UPSERT; Route 53's rules hold
/// after every change and the roles end swapped.
#[test]
fn a_swap_deletes_the_exact_old_records_and_creates_the_new_ones() {
    for &(a, b) in PAIRS {
        let mut inputs = failover_pair(a, b);
        let create = batch_for(&inputs, None, &[]);
        assert!(
            create
                .changes()
                .iter()
                .all(|c| c.action() == &ChangeAction::Upsert),
            "{a}/{b}: the first creation is UPSERTs"
        );
        let mut zone = as_listed(apply(&[], &create).unwrap());
        assert_eq!(roles(&zone), expected_roles(a, b));
        for (primary, secondary) in [(b, a), (a, b), (b, a)] {
            let next = failover_pair(primary, secondary);
            let batch = batch_for(&next, Some(&inputs), &zone);
            let changes = batch.changes();
            let actions: Vec<&ChangeAction> = changes.iter().map(|c| c.action()).collect();
            assert_eq!(
                actions,
                [
                    &ChangeAction::Delete,
                    &ChangeAction::Delete,
                    &ChangeAction::Create,
                    &ChangeAction::Create
                ],
                "{a}/{b}: swap to {primary}"
            );
            for c in &changes[..2] {
                let r = c.resource_record_set().unwrap();
                assert!(
                    zone.contains(r),
                    "{a}/{b}: a DELETE repeats the live record exactly: {r:?}"
                );
            }
            let created: Vec<(String, String)> = changes[2..]
                .iter()
                .map(|c| {
                    let r = c.resource_record_set().unwrap();
                    (
                        r.set_identifier().unwrap().to_string(),
                        r.failover().unwrap().as_str().to_string(),
                    )
                })
                .collect();
            let mut created = created;
            created.sort();
            assert_eq!(created, expected_roles(primary, secondary));
            zone = as_listed(apply(&zone, &batch).unwrap_or_else(|e| panic!("{a}/{b}: {e}")));
            assert_eq!(roles(&zone), expected_roles(primary, secondary));
            inputs = next;
        }
    }
}

/// (a) Two UPSERTs flipping the roles are what the emulator gets, never AWS: clients with no
/// endpoint override are AWS's and get the DELETE + CREATE shape; the two UPSERTs break the
/// one-PRIMARY rule between them.
#[test]
fn two_upserts_flipping_roles_are_never_sent_to_aws() {
    let env_override = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| !u.is_empty());
    if !env_override {
        assert_eq!(
            BatchShape::for_clients(&AwsClients::new(ClientSettings::default())),
            BatchShape::Aws
        );
    }
    let before = failover_pair("us-east-1", "us-west-2");
    let after = failover_pair("us-west-2", "us-east-1");
    let zone = as_listed(apply(&[], &batch_for(&before, None, &[])).unwrap());
    let emulator = record_set_change_batch(&after, Some(&before), &zone, BatchShape::Emulator)
        .unwrap()
        .unwrap();
    assert!(
        emulator
            .changes()
            .iter()
            .all(|c| c.action() == &ChangeAction::Upsert)
    );
    let refused = apply(&zone, &emulator).unwrap_err();
    assert!(refused.contains("two PRIMARY"), "{refused}");
    let aws = batch_for(&after, Some(&before), &zone);
    for c in aws.changes() {
        let r = c.resource_record_set().unwrap();
        let live = zone.iter().find(|l| key(l) == key(r)).unwrap();
        assert!(
            !(c.action() == &ChangeAction::Upsert && live.failover() != r.failover()),
            "no UPSERT changes a record's role in place: {r:?}"
        );
    }
}

/// UPSERT stays where it is valid: a change that keeps every role (a new health check id) is
/// UPSERTs only, and Route 53's rules hold.
#[test]
fn a_change_that_keeps_the_roles_is_upserts() {
    let before = failover_pair("us-east-1", "us-west-2");
    let zone = as_listed(apply(&[], &batch_for(&before, None, &[])).unwrap());
    let mut after = before.clone();
    if let Some(tandem_core::Value::List(records)) = after.get_mut("records") {
        for r in records.iter_mut() {
            if let tandem_core::Value::Map(m) = r {
                m.insert("health_check_id".into(), tandem_core::Value::str("hc-new"));
            }
        }
    }
    let batch = batch_for(&after, Some(&before), &zone);
    assert!(
        batch
            .changes()
            .iter()
            .all(|c| c.action() == &ChangeAction::Upsert)
    );
    let zone = apply(&zone, &batch).unwrap();
    assert!(zone.iter().all(|r| r.health_check_id() == Some("hc-new")));
    assert_eq!(roles(&zone), expected_roles("us-east-1", "us-west-2"));
}
