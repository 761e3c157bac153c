use tandem_aws::s3::{BucketProvider, BucketReplicationProvider};
use tandem_core::{ResourceDecl, Value};
use tandem_engine::provider::{ErrorClass, Provider};
use tandem_schema::s3::{Bucket, BucketReplication};

use crate::{
    assert_gone, clients, ctx_for, delete_for_good, local_clients, reads_back, str_prop, unique,
    update_reads_back, us_east_1, us_west_2, validate_and_create,
};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_lifecycle_create_read_update_delete() {
    let p = BucketProvider::new(clients());
    let name = unique("tb-life");
    let decl: ResourceDecl = Bucket::new(&us_west_2(), "assets")
        .unwrap()
        .bucket(name.as_str())
        .versioning(true)
        .kms_key_arn(KEY_ARN)
        .tag("team", "infra")
        .into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    assert_eq!(created.id, name);
    assert_eq!(
        str_prop(&created.outputs, "arn"),
        format!("arn:aws:s3:::{name}")
    );
    assert_eq!(str_prop(&created.outputs, "region"), "us-west-2");

    let read = reads_back(&p, &ctx, &name, &decl.inputs).await;
    assert_eq!(read, created, "a create reports what a read then finds");

    // Tandem's own tags are on the bucket, not in the user's vocabulary.
    let s3 = clients().s3("us-west-2").await;
    let tags = s3.get_bucket_tagging().bucket(&name).send().await.unwrap();
    let tag = |k: &str| {
        tags.tag_set()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(
        tag("tandem:addr").as_deref(),
        Some("us-west-2/s3:Bucket/assets")
    );
    assert_eq!(tag("tandem:stack").as_deref(), Some("it"));
    assert_eq!(tag("tandem:env").as_deref(), Some("local"));
    let policy = s3.get_bucket_policy().bucket(&name).send().await.unwrap();
    assert!(policy.policy().unwrap().contains("aws:SecureTransport"));

    // Update in place: versioning suspended, no KMS, public access block off, new tag.
    let new: ResourceDecl = Bucket::new(&us_west_2(), "assets")
        .unwrap()
        .bucket(name.as_str())
        .versioning(false)
        .block_public_access(false)
        .tag("team", "platform")
        .into();
    let updated = update_reads_back(&p, &ctx, &name, &decl.inputs, &new.inputs).await;
    assert_eq!(updated.inputs, new.inputs);
    assert!(!updated.inputs.contains_key("kms_key_arn"));

    delete_for_good(&p, &ctx, &name, &new.inputs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_drift_is_read_and_find_adopts() {
    let p = BucketProvider::new(clients());
    let name = unique("tb-drift");
    let decl: ResourceDecl = Bucket::new(&us_east_1(), "logs")
        .unwrap()
        .bucket(name.as_str())
        .versioning(true)
        .into();
    let ctx = ctx_for(&decl);
    validate_and_create(&p, &decl).await.unwrap();

    // Behind the tool's back: suspend versioning and drop the TLS-only policy.
    let s3 = clients().s3("us-east-1").await;
    s3.put_bucket_versioning()
        .bucket(&name)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.delete_bucket_policy()
        .bucket(&name)
        .send()
        .await
        .unwrap();

    let read = p.read(&ctx, &name, &decl.inputs).await.unwrap().unwrap();
    assert_eq!(read.inputs.get("versioning"), Some(&Value::Bool(false)));
    assert_eq!(
        read.inputs.get("deny_insecure_transport"),
        Some(&Value::Bool(false))
    );

    // An interrupted create is adopted by its deterministic name...
    let found = p.find(&ctx, &decl.inputs).await.unwrap().expect("adopted");
    assert_eq!(found.id, name);
    // ...but not by another address.
    let other: ResourceDecl = Bucket::new(&us_east_1(), "other")
        .unwrap()
        .bucket(name.as_str())
        .into();
    assert!(
        p.find(&ctx_for(&other), &other.inputs)
            .await
            .unwrap()
            .is_none()
    );
    p.delete(&ctx, &name, &decl.inputs).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_force_destroy_empties_versions() {
    let p = BucketProvider::new(clients());
    let name = unique("tb-force");
    let decl: ResourceDecl = Bucket::new(&us_east_1(), "full")
        .unwrap()
        .bucket(name.as_str())
        .versioning(true)
        .force_destroy(true)
        // moto enforces the TLS-only policy, and it listens on plain http.
        .deny_insecure_transport(false)
        .into();
    let ctx = ctx_for(&decl);
    validate_and_create(&p, &decl).await.unwrap();
    let s3 = clients().s3("us-east-1").await;
    for body in ["one", "two"] {
        s3.put_object()
            .bucket(&name)
            .key("k")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    p.delete(&ctx, &name, &decl.inputs).await.unwrap();
    assert_gone(&p, &ctx, &name, &decl.inputs).await;
    // An update of what is gone is not found, and does not make it again.
    let e = p
        .update(&ctx, &name, &decl.inputs, &decl.inputs)
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::NotFound, "{e}");
    assert_gone(&p, &ctx, &name, &decl.inputs).await;
}

async fn versioned_bucket(region: &tandem_core::Region, prefix: &str, versioning: bool) -> String {
    let p = BucketProvider::new(clients());
    let name = unique(prefix);
    let decl: ResourceDecl = Bucket::new(region, prefix)
        .unwrap()
        .bucket(name.as_str())
        .versioning(versioning)
        .into();
    validate_and_create(&p, &decl).await.unwrap();
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_lifecycle_and_aws_side_checks() {
    let p = BucketReplicationProvider::new(clients());
    let src = versioned_bucket(&us_east_1(), "tr-src", true).await;
    let dst = versioned_bucket(&us_west_2(), "tr-dst", true).await;
    let dst2 = versioned_bucket(&us_west_2(), "tr-dst2", true).await;
    let unversioned = versioned_bucket(&us_west_2(), "tr-nover", false).await;
    let role = "arn:aws:iam::123456789012:role/replication";
    let replica_key = "arn:aws:kms:us-west-2:123456789012:key/dest-key";
    let decl = |dest: &str| -> ResourceDecl {
        BucketReplication::new(&us_east_1(), "assets-replication")
            .unwrap()
            .bucket(src.as_str())
            .role_arn(role)
            .destination_bucket_arn(format!("arn:aws:s3:::{dest}"))
            .replica_kms_key_id(replica_key)
            .delete_marker_replication(true)
            .into()
    };

    // AWS refuses these; moto would accept them: the provider checks first.
    let missing = decl(&unique("tr-missing"));
    let e = validate_and_create(&p, &missing).await.unwrap_err();
    assert!(e.contains("does not exist"), "{e}");
    let nover = decl(&unversioned);
    let e = validate_and_create(&p, &nover).await.unwrap_err();
    assert!(e.contains("versioning"), "{e}");
    // Nothing created.
    assert_gone(&p, &ctx_for(&nover), &src, &nover.inputs).await;

    let good = decl(&dst);
    let ctx = ctx_for(&good);
    let created = validate_and_create(&p, &good).await.unwrap();
    assert_eq!(created.id, src);
    let read = p.read(&ctx, &src, &good.inputs).await.unwrap().unwrap();
    // moto hard-codes DeleteMarkerReplication to Disabled and drops SourceSelectionCriteria on
    // read, so only what it keeps is compared here (real AWS returns both).
    let kept = [
        "bucket",
        "role_arn",
        "destination_bucket_arn",
        "replica_kms_key_id",
    ];
    for k in kept {
        assert_eq!(read.inputs.get(k), good.inputs.get(k), "{k}");
    }
    assert_eq!(
        read.outputs.get("rule_id"),
        Some(&Value::str("tandem-replication"))
    );

    let mut changed = good.inputs.clone();
    changed.insert("replication_time_control".into(), Value::Bool(true));
    changed.insert(
        "destination_bucket_arn".into(),
        Value::str(format!("arn:aws:s3:::{dst2}")),
    );
    p.update(&ctx, &src, &good.inputs, &changed).await.unwrap();
    let read = p.read(&ctx, &src, &changed).await.unwrap().unwrap();
    assert_eq!(
        read.inputs.get("replication_time_control"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        read.inputs.get("destination_bucket_arn"),
        changed.get("destination_bucket_arn")
    );

    delete_for_good(&p, &ctx, &src, &changed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_reads_back_without_false_drift_on_the_local_cloud() {
    let p = BucketReplicationProvider::new(local_clients());
    let src = versioned_bucket(&us_east_1(), "trl-src", true).await;
    let dst = versioned_bucket(&us_west_2(), "trl-dst", true).await;
    let decl: ResourceDecl = BucketReplication::new(&us_east_1(), "local-replication")
        .unwrap()
        .bucket(src.as_str())
        .role_arn("arn:aws:iam::123456789012:role/replication")
        .destination_bucket_arn(format!("arn:aws:s3:::{dst}"))
        .replica_kms_key_id("arn:aws:kms:us-west-2:123456789012:key/dest-key")
        .sse_kms_encrypted_objects(true)
        .delete_marker_replication(true)
        .into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    assert_eq!(created.inputs, decl.inputs);
    // No difference on the local cloud.
    reads_back(&p, &ctx, &src, &decl.inputs).await;

    p.delete(&ctx, &src, &decl.inputs).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_converges_the_bucket_it_already_made() {
    let p = BucketProvider::new(clients());
    let name = unique("tb-again");
    let versioned: ResourceDecl = Bucket::new(&us_west_2(), "again")
        .unwrap()
        .bucket(name.as_str())
        .versioning(true)
        .into();
    let ctx = ctx_for(&versioned);
    validate_and_create(&p, &versioned).await.unwrap();
    // The same create again (an interrupted apply resumed), now without versioning: the bucket
    // is ours, so it is converged, its versioning suspended.
    let unversioned: ResourceDecl = Bucket::new(&us_west_2(), "again")
        .unwrap()
        .bucket(name.as_str())
        .versioning(false)
        .into();
    let again = p.create(&ctx, &unversioned.inputs).await.unwrap();
    assert_eq!(again.inputs, unversioned.inputs);
    reads_back(&p, &ctx, &name, &unversioned.inputs).await;
    delete_for_good(&p, &ctx, &name, &unversioned.inputs).await;
}
