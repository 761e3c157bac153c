use tandem_aws::rds::{
    DbInstanceProvider, DbReadReplicaProvider, promote_read_replica, replica_lag_seconds,
};
use tandem_core::{ResourceDecl, Value, map};
use tandem_engine::provider::Provider;
use tandem_schema::rds::{DbInstance, DbReadReplica};

use crate::{
    assert_gone, clients, ctx_for, delete_for_good, reads_back, str_prop, unique,
    update_reads_back, us_east_1, us_west_2, validate_and_create,
};

fn db(name: &str, id: &str) -> DbInstance {
    DbInstance::new(&us_east_1(), name)
        .unwrap()
        .identifier(id)
        .engine("postgres")
        .instance_class("db.t3.micro")
        .allocated_storage(20)
        .storage_encrypted(true)
        .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/source-key")
        .backup_retention_period(7)
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
fn replica(id: &str, source_arn: &str) -> DbReadReplica {
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
