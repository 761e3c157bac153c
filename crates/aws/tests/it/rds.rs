use std::time::{Duration, SystemTime};

use tandem_aws::rds::{
    DbInstanceProvider, DbReadReplicaProvider, DbRole, database_role, promote_read_replica,
    replica_lag_sample, replica_lag_seconds,
};
use tandem_core::{ResourceDecl, Value, map};
use tandem_engine::provider::Provider;
use tandem_schema::rds::{DbInstance, DbReadReplica};

use crate::{
    assert_gone, clients, ctx_for, delete_for_good, reads_back, str_prop, unique,
    update_reads_back, us_east_1, us_west_2, validate_and_create,
};

pub(crate) fn db(name: &str, id: &str) -> DbInstance {
    DbInstance::new(&us_east_1(), name)
        .unwrap()
        .identifier(id)
        .engine("postgres")
        .instance_class("db.t3.micro")
        .allocated_storage(20)
        .storage_encrypted(true)
        .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/source-key")
        .backup_retention_period(7)
        .master_user_secret_arn(crate::secretsmanager::shared_db_secret_arn())
}

/// A source instance in us-east-1 (with a name of its own from `prefix`): its identifier,
/// declaration and ARN.
async fn source_db(primary: &DbInstanceProvider, prefix: &str) -> (String, ResourceDecl, String) {
    let id = unique(prefix);
    let decl: ResourceDecl = db("app-db", &id).skip_final_snapshot(true).into();
    let src = validate_and_create(primary, &decl).await.unwrap();
    (id, decl, str_prop(&src.outputs, "arn").to_string())
}

/// A replica in us-west-2 of `source_arn`, with a key of its own region.
pub(crate) fn replica(id: &str, source_arn: &str) -> DbReadReplica {
    DbReadReplica::new(&us_west_2(), "app-db-replica")
        .unwrap()
        .identifier(id)
        .source_db_arn(source_arn)
        .source_region("us-east-1")
        .kms_key_id("arn:aws:kms:us-west-2:123456789012:key/replica-key")
        .instance_class("db.t3.micro")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_instance_lifecycle_with_drift() {
    let p = DbInstanceProvider::new(clients());
    let id = unique("db");
    let decl: ResourceDecl = db("app-db", &id).skip_final_snapshot(true).into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    assert_eq!(created.id, id);
    assert!(str_prop(&created.outputs, "arn").ends_with(&format!(":db:{id}")));
    reads_back(&p, &ctx, &id, &decl.inputs).await;

    let mut new = decl.inputs.clone();
    new.insert("instance_class".into(), Value::str("db.t3.small"));
    new.insert("backup_retention_period".into(), Value::Int(14));
    // Tagged in the same update, by the ARN the update's one describe found.
    new.insert("tags".into(), map([("team", "data")]));
    update_reads_back(&p, &ctx, &id, &decl.inputs, &new).await;

    // Drift: backups shortened behind the tool's back.
    let rds = clients().rds("us-east-1").await;
    rds.modify_db_instance()
        .db_instance_identifier(&id)
        .backup_retention_period(1)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let read = p.read(&ctx, &id, &new).await.unwrap().unwrap();
    assert_eq!(
        read.inputs.get("backup_retention_period"),
        Some(&Value::Int(1))
    );
    assert_eq!(p.find(&ctx, &new).await.unwrap().unwrap().id, id);

    delete_for_good(&p, &ctx, &id, &new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_db_settings_are_refused() {
    let p = DbInstanceProvider::new(clients());
    for (decl, expect) in [
        (
            db("x", &unique("db-bad")).backup_retention_period(0),
            "backups on",
        ),
        (
            db("x", &unique("db-bad")).publicly_accessible(true),
            "never reachable",
        ),
        (
            db("x", &unique("db-bad")).set("master_password", "hunter2"),
            "Secrets Manager",
        ),
    ] {
        let decl: ResourceDecl = decl.into();
        let e = validate_and_create(&p, &decl).await.unwrap_err();
        assert!(e.contains(expect), "{e}");
        assert!(!e.contains("hunter2"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_region_replica_promotion_and_lag() {
    let primary = DbInstanceProvider::new(clients());
    let replicas = DbReadReplicaProvider::new(clients());
    let (src_id, src_decl, src_arn) = source_db(&primary, "db-src").await;
    assert!(src_arn.starts_with("arn:aws:rds:us-east-1:"), "{src_arn}");

    let rep_id = unique("db-rep");
    let decl: ResourceDecl = replica(&rep_id, &src_arn).into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&replicas, &decl).await.unwrap();
    assert!(str_prop(&created.outputs, "arn").starts_with("arn:aws:rds:us-west-2:"));
    assert_eq!(str_prop(&created.outputs, "source_db_arn"), src_arn);
    // The replica reads back with the source's ARN.
    reads_back(&replicas, &ctx, &rep_id, &decl.inputs).await;

    // A replica without a destination-region key of an encrypted source is refused.
    let mut no_key = decl.inputs.clone();
    no_key.remove("kms_key_id");
    no_key.insert("identifier".into(), Value::str(unique("db-nokey")));
    let e = replicas.create(&ctx_for(&decl), &no_key).await.unwrap_err();
    assert!(e.message.contains("kms_key_id"), "{e}");

    // Lag: moto publishes none, so publish one as RDS would, then read it.
    let cw = clients().cloudwatch("us-west-2").await;
    cw.put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("ReplicaLag")
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("DBInstanceIdentifier")
                        .value(rep_id.as_str())
                        .build(),
                )
                .value(3.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let lag = replica_lag_seconds(&clients(), "us-west-2", &rep_id)
        .await
        .unwrap();
    assert_eq!(lag, Some(3.0));
    assert_eq!(
        replica_lag_seconds(&clients(), "us-west-2", "no-such-db")
            .await
            .unwrap(),
        None
    );

    let promoted = promote_read_replica(&clients(), "us-west-2", &rep_id)
        .await
        .unwrap();
    assert_eq!(promoted.db_instance_status(), Some("available"));

    replicas.delete(&ctx, &rep_id, &decl.inputs).await.unwrap();
    assert_gone(&replicas, &ctx, &rep_id, &decl.inputs).await;
    primary
        .delete(&ctx_for(&src_decl), &src_id, &src_decl.inputs)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_promoted_through_update_and_never_back() {
    let primary = DbInstanceProvider::new(clients());
    let replicas = DbReadReplicaProvider::new(clients());
    let (src_id, src_decl, src_arn) = source_db(&primary, "db-psrc").await;

    let rep_id = unique("db-prep");
    let decl: ResourceDecl = replica(&rep_id, &src_arn).promoted(false).into();
    let ctx = ctx_for(&decl);
    validate_and_create(&replicas, &decl).await.unwrap();
    reads_back(&replicas, &ctx, &rep_id, &decl.inputs).await;

    // Promotion is an in-place change of `promoted`.
    let mut promoted = decl.inputs.clone();
    promoted.insert("promoted".into(), Value::Bool(true));
    // Tags change in place too.
    promoted.insert("tags".into(), map([("team", "data")]));
    replicas.validate(&decl.addr, &promoted).unwrap();
    // Promoted, and no other difference.
    let updated = update_reads_back(&replicas, &ctx, &rep_id, &decl.inputs, &promoted).await;
    assert_eq!(updated.inputs.get("promoted"), Some(&Value::Bool(true)));

    // The way back is refused, before any call.
    let e = replicas
        .update(&ctx, &rep_id, &promoted, &decl.inputs)
        .await
        .unwrap_err();
    assert!(e.message.contains("never become a read replica"), "{e}");
    assert_eq!(e.class, tandem_engine::provider::ErrorClass::Invalid);

    // A replica that is not promoted cannot be fenced: AWS does not stop a read replica.
    let mut fenced_replica = decl.inputs.clone();
    fenced_replica.insert("fenced".into(), Value::Bool(true));
    assert!(replicas.validate(&decl.addr, &fenced_replica).is_err());

    // The promoted writer is fenced (stopped) as a failback leaves it, and reads back so.
    let mut fenced = promoted.clone();
    fenced.insert("fenced".into(), Value::Bool(true));
    replicas.validate(&decl.addr, &fenced).unwrap();
    // Fenced, and no other difference.
    let updated = update_reads_back(&replicas, &ctx, &rep_id, &promoted, &fenced).await;
    assert_eq!(updated.inputs.get("fenced"), Some(&Value::Bool(true)));
    let read_as_unfenced = replicas
        .read(&ctx, &rep_id, &promoted)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read_as_unfenced.inputs.get("fenced"),
        Some(&Value::Bool(true)),
        "the instance's status, not the last inputs, says it is fenced"
    );

    // The old source goes away: the promoted instance still reads and deletes, stopped or not.
    primary
        .delete(&ctx_for(&src_decl), &src_id, &src_decl.inputs)
        .await
        .unwrap();
    let read = replicas.read(&ctx, &rep_id, &fenced).await.unwrap();
    assert_eq!(
        read.unwrap().inputs.get("promoted"),
        Some(&Value::Bool(true))
    );
    replicas.delete(&ctx, &rep_id, &fenced).await.unwrap();
    assert_gone(&replicas, &ctx, &rep_id, &fenced).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_instance_fenced_and_unfenced_through_update() {
    let p = DbInstanceProvider::new(clients());
    let id = unique("db-fence");
    let decl: ResourceDecl = db("old-primary", &id).skip_final_snapshot(true).into();
    let ctx = ctx_for(&decl);
    validate_and_create(&p, &decl).await.unwrap();

    let mut fenced = decl.inputs.clone();
    fenced.insert("fenced".into(), Value::Bool(true));
    p.validate(&decl.addr, &fenced).unwrap();
    let updated = update_reads_back(&p, &ctx, &id, &decl.inputs, &fenced).await;
    assert_eq!(updated.inputs, fenced);
    let rds = clients().rds("us-east-1").await;
    let status = |out: aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput| {
        out.db_instances()[0]
            .db_instance_status()
            .unwrap_or_default()
            .to_string()
    };
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(status(out), "stopped");

    // A fenced instance is not modified: refused before any call.
    let mut bigger = fenced.clone();
    bigger.insert("instance_class".into(), Value::str("db.t3.small"));
    let e = p.update(&ctx, &id, &fenced, &bigger).await.unwrap_err();
    assert!(e.message.contains("fenced"), "{e}");

    // Unfenced: started again, and it reads back as not fenced.
    let updated = update_reads_back(&p, &ctx, &id, &fenced, &decl.inputs).await;
    assert_eq!(updated.inputs, decl.inputs);

    // Fenced again, then deleted while stopped.
    p.update(&ctx, &id, &decl.inputs, &fenced).await.unwrap();
    p.delete(&ctx, &id, &fenced).await.unwrap();
    assert_gone(&p, &ctx, &id, &fenced).await;
}

/// Puts one `ReplicaLag` datapoint of `id` at `at`, as RDS would publish it.
async fn put_lag(region: &str, id: &str, at: SystemTime, seconds: f64) {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    clients()
        .cloudwatch(region)
        .await
        .put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ReplicaLag")
                .dimensions(
                    Dimension::builder()
                        .name("DBInstanceIdentifier")
                        .value(id)
                        .build(),
                )
                .timestamp(DateTime::from(at))
                .value(seconds)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn secs_between(a: SystemTime, b: SystemTime) -> u64 {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_lag_sample_is_the_last_datapoint_at_or_before_the_time() {
    let id = unique("db-lag");
    let now = SystemTime::now();
    let min = |m: u64| Duration::from_secs(60 * m);
    let at = now - min(2);
    put_lag("us-west-2", &id, at - min(12), 9.0).await; // older than ten minutes before `at`
    put_lag("us-west-2", &id, at - min(8), 1.0).await;
    put_lag("us-west-2", &id, at - min(4), 2.0).await;
    put_lag("us-west-2", &id, at + min(2), 7.0).await; // after `at`
    let c = clients();
    let sample = replica_lag_sample(&c, "us-west-2", &id, at)
        .await
        .unwrap()
        .expect("a datapoint");
    assert_eq!(sample.seconds, 2.0);
    assert!(secs_between(sample.at, at - min(4)) < 60, "{sample:?}");
    // Later, the newest one; earlier, the one before.
    let latest = replica_lag_sample(&c, "us-west-2", &id, now).await.unwrap();
    assert_eq!(latest.map(|s| s.seconds), Some(7.0));
    assert_eq!(
        replica_lag_seconds(&c, "us-west-2", &id).await.unwrap(),
        Some(7.0)
    );
    let earlier = replica_lag_sample(&c, "us-west-2", &id, at - min(5)).await;
    assert_eq!(earlier.unwrap().map(|s| s.seconds), Some(1.0));
    // Nothing within the ten minutes before: none, not the older datapoint.
    assert_eq!(
        replica_lag_sample(&c, "us-west-2", &id, at - min(30))
            .await
            .unwrap(),
        None
    );
    // No datapoint at all, and another region's datapoints are not this one's.
    assert_eq!(
        replica_lag_sample(&c, "us-west-2", "no-such-db", now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        replica_lag_sample(&c, "us-east-1", &id, now).await.unwrap(),
        None
    );
    // -1 (not replicating) is returned as is.
    let broken = unique("db-lag-broken");
    put_lag("us-west-2", &broken, now - min(1), -1.0).await;
    let s = replica_lag_sample(&c, "us-west-2", &broken, now)
        .await
        .unwrap();
    assert_eq!(s.map(|s| s.seconds), Some(-1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_role_as_an_emulator_can_tell_it() {
    let primary = DbInstanceProvider::new(clients());
    let replicas = DbReadReplicaProvider::new(clients());
    let c = clients();
    assert!(c.emulated(), "clients with endpoint overrides are emulated");
    let (src_id, src_decl, src_arn) = source_db(&primary, "db-role-src").await;
    let writer = database_role(&c, "us-east-1", &src_id).await.unwrap();
    assert_eq!(writer.role, DbRole::Writer);
    assert_eq!(writer.status, "available");

    let rep_id = unique("db-role-rep");
    let decl: ResourceDecl = replica(&rep_id, &src_arn).into();
    validate_and_create(&replicas, &decl).await.unwrap();
    // moto keeps the source after a promotion: a replica cannot be told from a promoted one.
    for _ in 0..2 {
        let read = database_role(&c, "us-west-2", &rep_id).await.unwrap();
        match read.role {
            DbRole::NotVerifiable { why } => {
                assert!(why.contains(&rep_id) && why.contains("us-west-2"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        promote_read_replica(&c, "us-west-2", &rep_id)
            .await
            .unwrap();
    }
    // Not found is an answer, not an error; and another region's instance is not this one.
    let missing = database_role(&c, "us-west-2", "no-such-db").await.unwrap();
    assert_eq!(missing.role, DbRole::Missing);
    assert_eq!(missing.status, "");
    let elsewhere = database_role(&c, "eu-west-1", &src_id).await.unwrap();
    assert_eq!(elsewhere.role, DbRole::Missing);

    let ctx = ctx_for(&decl);
    let mut promoted = decl.inputs.clone();
    promoted.insert("promoted".into(), Value::Bool(true));
    replicas.delete(&ctx, &rep_id, &promoted).await.unwrap();
    primary
        .delete(&ctx_for(&src_decl), &src_id, &src_decl.inputs)
        .await
        .unwrap();
}

/// The manual snapshots of DB instance `id` in `region`.
async fn snapshots_of(region: &str, id: &str) -> Vec<String> {
    let out = clients()
        .rds(region)
        .await
        .describe_db_snapshots()
        .db_instance_identifier(id)
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    out.db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_writer_takes_a_final_snapshot() {
    let p = DbInstanceProvider::new(clients());
    // Named by the provider at deletion: <identifier>-final-<yyyymmddhhmmss>.
    let id = unique("db-final");
    let decl: ResourceDecl = db("app-db", &id).into();
    let ctx = ctx_for(&decl);
    validate_and_create(&p, &decl).await.unwrap();
    reads_back(&p, &ctx, &id, &decl.inputs).await;
    p.delete(&ctx, &id, &decl.inputs).await.unwrap();
    assert_gone(&p, &ctx, &id, &decl.inputs).await;
    let snaps = snapshots_of("us-east-1", &id).await;
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let suffix = snaps[0]
        .strip_prefix(&format!("{id}-final-"))
        .unwrap_or_else(|| panic!("{snaps:?}"));
    assert!(
        suffix.len() == 14 && suffix.bytes().all(|b| b.is_ascii_digit()),
        "{suffix}"
    );

    // Named by the program.
    let id = unique("db-named");
    let name = format!("{id}-last");
    let decl: ResourceDecl = db("app-db", &id)
        .final_snapshot_identifier(name.as_str())
        .into();
    let ctx = ctx_for(&decl);
    validate_and_create(&p, &decl).await.unwrap();
    reads_back(&p, &ctx, &id, &decl.inputs).await;
    p.delete(&ctx, &id, &decl.inputs).await.unwrap();
    assert_eq!(snapshots_of("us-east-1", &id).await, [name]);

    // Skipped.
    let id = unique("db-skip");
    let decl: ResourceDecl = db("app-db", &id).skip_final_snapshot(true).into();
    let ctx = ctx_for(&decl);
    validate_and_create(&p, &decl).await.unwrap();
    p.delete(&ctx, &id, &decl.inputs).await.unwrap();
    assert!(snapshots_of("us-east-1", &id).await.is_empty());

    // An invalid name is refused before any call.
    let bad: ResourceDecl = db("app-db", &unique("db-bad"))
        .final_snapshot_identifier("bad--name")
        .into();
    let e = validate_and_create(&p, &bad).await.unwrap_err();
    assert!(e.contains("`--`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_takes_a_final_snapshot_once_promoted_and_its_retention() {
    let primary = DbInstanceProvider::new(clients());
    let replicas = DbReadReplicaProvider::new(clients());
    let (src_id, src_decl, src_arn) = source_db(&primary, "db-rsrc").await;

    // Never promoted: deleted without a snapshot (AWS refuses one for a read replica).
    let plain_id = unique("db-rplain");
    let plain: ResourceDecl = replica(&plain_id, &src_arn).into();
    validate_and_create(&replicas, &plain).await.unwrap();
    let ctx = ctx_for(&plain);
    replicas
        .delete(&ctx, &plain_id, &plain.inputs)
        .await
        .unwrap();
    assert_gone(&replicas, &ctx, &plain_id, &plain.inputs).await;
    assert!(snapshots_of("us-west-2", &plain_id).await.is_empty());

    // Promoted with a retention of its own: the promotion applies it, and it reads back.
    let rep_id = unique("db-rret");
    let decl: ResourceDecl = replica(&rep_id, &src_arn)
        .backup_retention_period(9)
        .promoted(false)
        .into();
    let ctx = ctx_for(&decl);
    validate_and_create(&replicas, &decl).await.unwrap();
    reads_back(&replicas, &ctx, &rep_id, &decl.inputs).await;
    let mut promoted = decl.inputs.clone();
    promoted.insert("promoted".into(), Value::Bool(true));
    update_reads_back(&replicas, &ctx, &rep_id, &decl.inputs, &promoted).await;
    let live = clients()
        .rds("us-west-2")
        .await
        .describe_db_instances()
        .db_instance_identifier(&rep_id)
        .send()
        .await
        .unwrap();
    assert_eq!(live.db_instances()[0].backup_retention_period(), Some(9));
    // Changed afterwards: modified in place.
    let mut longer = promoted.clone();
    longer.insert("backup_retention_period".into(), Value::Int(14));
    update_reads_back(&replicas, &ctx, &rep_id, &promoted, &longer).await;

    // A former writer's deletion takes a final snapshot.
    replicas.delete(&ctx, &rep_id, &longer).await.unwrap();
    assert_gone(&replicas, &ctx, &rep_id, &longer).await;
    let snaps = snapshots_of("us-west-2", &rep_id).await;
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert!(
        snaps[0].starts_with(&format!("{rep_id}-final-")),
        "{snaps:?}"
    );

    primary
        .delete(&ctx_for(&src_decl), &src_id, &src_decl.inputs)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fence_isolates_and_a_restart_by_aws_is_drift() {
    // moto does not check that a security group exists, nor its VPC: these ids are made up.
    let (app_sg, fence_sg) = ("sg-0a1b2c3d4e5f60001", "sg-0fe0ce0000000001");
    let p = DbInstanceProvider::new(clients());
    let id = unique("db-iso");
    let decl: ResourceDecl = db("old-primary", &id)
        .skip_final_snapshot(true)
        .vpc_security_group_ids(vec![Value::str(app_sg)])
        .fence_security_group_id(fence_sg)
        .into();
    let ctx = ctx_for(&decl);
    validate_and_create(&p, &decl).await.unwrap();
    reads_back(&p, &ctx, &id, &decl.inputs).await;
    let rds = clients().rds("us-east-1").await;
    let live = || async {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier(&id)
            .send()
            .await
            .unwrap();
        let db = out.db_instances()[0].clone();
        let groups: Vec<String> = db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect();
        (
            db.db_instance_status().unwrap_or_default().to_string(),
            groups,
        )
    };
    assert_eq!(live().await, ("available".into(), vec![app_sg.to_string()]));

    // Fenced: moved into the fence group alone, then stopped.
    let mut fenced = decl.inputs.clone();
    fenced.insert("fenced".into(), Value::Bool(true));
    p.validate(&decl.addr, &fenced).unwrap();
    update_reads_back(&p, &ctx, &id, &decl.inputs, &fenced).await;
    assert_eq!(live().await, ("stopped".into(), vec![fence_sg.to_string()]));

    // AWS starts a stopped instance after seven days: not fenced any more, and the next apply
    // stops it again.
    rds.start_db_instance()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap();
    let read = p.read(&ctx, &id, &fenced).await.unwrap().unwrap();
    assert_eq!(read.inputs.get("fenced"), Some(&Value::Bool(false)));
    update_reads_back(&p, &ctx, &id, &read.inputs, &fenced).await;
    assert_eq!(live().await, ("stopped".into(), vec![fence_sg.to_string()]));

    // Moved out of the fence group behind the tool's back (moto modifies a stopped instance; AWS
    // does not): drift, and refused rather than started to isolate it.
    rds.modify_db_instance()
        .db_instance_identifier(&id)
        .vpc_security_group_ids(app_sg)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let read = p.read(&ctx, &id, &fenced).await.unwrap().unwrap();
    assert_eq!(read.inputs.get("fenced"), Some(&Value::Bool(false)));
    let e = p.update(&ctx, &id, &fenced, &fenced).await.unwrap_err();
    assert!(e.message.contains("not in its fence security group"), "{e}");
    assert!(
        e.message.contains(&id) && e.message.contains("us-east-1"),
        "{e}"
    );
    assert_eq!(live().await.0, "stopped");

    // Unfenced: started, and its own groups restored.
    update_reads_back(&p, &ctx, &id, &fenced, &decl.inputs).await;
    assert_eq!(live().await, ("available".into(), vec![app_sg.to_string()]));
    p.update(&ctx, &id, &decl.inputs, &fenced).await.unwrap();
    assert_eq!(live().await, ("stopped".into(), vec![fence_sg.to_string()]));
    delete_for_good(&p, &ctx, &id, &fenced).await;
}

/// A database of a protected environment: RDS holds deletion protection on (read back from
/// DescribeDBInstances), and turning it off is an update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_protection_is_set_and_read_back() {
    let p = DbInstanceProvider::new(clients());
    let id = unique("protected");
    let decl: ResourceDecl = db("app-db", &id)
        .skip_final_snapshot(true)
        .deletion_protection(true)
        .into();
    let ctx = ctx_for(&decl);
    validate_and_create(&p, &decl).await.unwrap();
    let rds = clients().rds("us-east-1").await;
    let live = rds
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        live.db_instances()[0].deletion_protection(),
        Some(true),
        "RDS holds the protection"
    );
    let read = p.read(&ctx, &id, &decl.inputs).await.unwrap().unwrap();
    assert_eq!(
        read.inputs.get("deletion_protection"),
        Some(&Value::Bool(true))
    );
    let mut off = decl.inputs.clone();
    off.insert("deletion_protection".into(), Value::Bool(false));
    update_reads_back(&p, &ctx, &id, &decl.inputs, &off).await;
    delete_for_good(&p, &ctx, &id, &off).await;
}
