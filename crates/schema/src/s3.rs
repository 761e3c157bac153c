//! S3: buckets and their cross-region replication.
//!
//! # `s3:Bucket` inputs
//! | property | type | default | notes |
//! |---|---|---|---|
//! | `bucket` | string | required | the bucket's name, globally unique; changing it replaces |
//! | `versioning` | bool | false | |
//! | `kms_key_arn` | string | none | SSE-KMS with this key; none means S3's default encryption |
//! | `block_public_access` | bool | true | all four public-access-block flags |
//! | `deny_insecure_transport` | bool | true | bucket policy denying `aws:SecureTransport` false |
//! | `force_destroy` | bool | false | delete every object version before deleting the bucket |
//! | `tags` | map | {} | user tags; Tandem adds `tandem:stack`, `tandem:env`, `tandem:addr` |
//!
//! Outputs: `bucket`, `arn`, `region`, `domain_name`.
//!
//! # `s3:BucketReplication` inputs
//! `bucket` (the source, required), `role_arn` (required), `destination_bucket_arn` (required),
//! `replica_kms_key_id` (a destination-region key), `sse_kms_encrypted_objects` (bool, default: true
//! when `replica_kms_key_id` is set), `delete_marker_replication` (bool, false),
//! `replication_time_control` (bool, false), `rule_id` (string, `tandem-replication`),
//! `storage_class` (string, none). Outputs: `bucket`, `rule_id`.

use tandem_core::Props;

use crate::kinds;
use crate::props::{PropError, bool_of, check_tags, required_str, str_of};

resource_builder!(
    /// An S3 bucket. `Bucket::new(&region, "assets")?.bucket("acme-assets-prod").versioning(true)`.
    Bucket,
    kinds::S3_BUCKET
);

setters!(Bucket {
    /// The bucket's name (globally unique).
    bucket => "bucket",
    versioning => "versioning",
    /// Turns on SSE-KMS with this key ARN (often a reference to a key's output).
    kms_key_arn => "kms_key_arn",
    block_public_access => "block_public_access",
    deny_insecure_transport => "deny_insecure_transport",
    force_destroy => "force_destroy",
});

resource_builder!(
    /// Replication of a bucket's new objects into a bucket in another region.
    BucketReplication,
    kinds::S3_BUCKET_REPLICATION
);

setters!(BucketReplication {
    /// The source bucket's name.
    bucket => "bucket",
    role_arn => "role_arn",
    destination_bucket_arn => "destination_bucket_arn",
    /// A KMS key in the destination region, for SSE-KMS replicas.
    replica_kms_key_id => "replica_kms_key_id",
    sse_kms_encrypted_objects => "sse_kms_encrypted_objects",
    delete_marker_replication => "delete_marker_replication",
    replication_time_control => "replication_time_control",
    rule_id => "rule_id",
    storage_class => "storage_class",
});

/// Checks an S3 bucket name against AWS's naming rules.
pub fn check_bucket_name(name: &str) -> Result<(), PropError> {
    let bad = |why: &str| Err(PropError(format!("bucket name {name:?} is invalid: {why}")));
    if name.len() < 3 || name.len() > 63 {
        return bad("it must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("use lowercase letters, digits, `.` and `-` only");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("it must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return bad("it must not contain two adjacent dots");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return bad("it must not look like an IP address");
    }
    Ok(())
}

/// Validates the inputs of an `s3:Bucket`.
pub fn validate_bucket(props: &Props) -> Result<(), PropError> {
    if let Some(name) = required_str(props, "bucket")? {
        check_bucket_name(name)?;
    }
    for b in [
        "versioning",
        "block_public_access",
        "deny_insecure_transport",
        "force_destroy",
    ] {
        bool_of(props, b)?;
    }
    if let Some(arn) = str_of(props, "kms_key_arn")? {
        if !arn.starts_with("arn:") || !arn.contains(":kms:") {
            return Err(PropError(format!(
                "`kms_key_arn` must be a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID), not {arn:?}"
            )));
        }
    }
    check_tags(props)
}

/// The ARN of bucket `name` in `region`: `arn:PARTITION:s3:::NAME`, the partition from the region
/// ([`crate::regions::partition`]: `aws-us-gov` in GovCloud, `aws-cn` in China). A bucket ARN
/// names no region and no account (AWS General Reference, "Amazon Resource Names"; S3 User
/// Guide, "Policy resources for Amazon S3"), but its partition is the bucket's region's.
pub fn bucket_arn(region: &str, name: &str) -> String {
    format!("arn:{}:s3:::{name}", crate::regions::partition(region))
}

/// The bucket name inside an S3 bucket ARN `arn:PARTITION:s3:::NAME` (any partition).
pub fn bucket_name_from_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let _partition = parts.next()?;
    if parts.next()? != "s3" {
        return None;
    }
    let name = parts.nth(2)?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// Validates the inputs of an `s3:BucketReplication`.
pub fn validate_bucket_replication(props: &Props) -> Result<(), PropError> {
    if let Some(name) = required_str(props, "bucket")? {
        check_bucket_name(name)?;
    }
    if let Some(arn) = required_str(props, "role_arn")? {
        if !arn.starts_with("arn:") || !arn.contains(":iam::") {
            return Err(PropError(format!(
                "`role_arn` must be an IAM role ARN, not {arn:?}"
            )));
        }
    }
    if let Some(arn) = required_str(props, "destination_bucket_arn")? {
        match bucket_name_from_arn(arn) {
            Some(dest) => {
                check_bucket_name(dest)?;
                if Some(dest) == str_of(props, "bucket")? {
                    return Err(PropError(
                        "a bucket cannot replicate into itself: `destination_bucket_arn` names the source bucket"
                            .into(),
                    ));
                }
            }
            None => {
                return Err(PropError(format!(
                    "`destination_bucket_arn` must be an S3 bucket ARN (arn:PARTITION:s3:::NAME), not {arn:?}"
                )));
            }
        }
    }
    str_of(props, "replica_kms_key_id")?;
    str_of(props, "rule_id")?;
    str_of(props, "storage_class")?;
    for b in [
        "sse_kms_encrypted_objects",
        "delete_marker_replication",
        "replication_time_control",
    ] {
        bool_of(props, b)?;
    }
    if bool_of(props, "sse_kms_encrypted_objects")? == Some(true)
        && !props.contains_key("replica_kms_key_id")
    {
        return Err(PropError(
            "`sse_kms_encrypted_objects` needs `replica_kms_key_id`, a KMS key in the destination region"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::{Region, Value};

    #[test]
    fn bucket_builder_and_validation() {
        let r = Region::named("us-east-1");
        let key = Value::reference("us-east-1/kms:Key/k".parse().unwrap(), "arn");
        let b = Bucket::new(&r, "assets")
            .unwrap()
            .bucket("acme-assets")
            .versioning(true)
            .kms_key_arn(key)
            .tag("team", "infra");
        assert_eq!(b.addr().to_string(), "us-east-1/s3:Bucket/assets");
        let decl: tandem_core::ResourceDecl = b.into();
        assert_eq!(decl.dependencies().len(), 1);
        assert_eq!(validate_bucket(&decl.inputs), Ok(()));

        let bad = props_of(Bucket::new(&r, "x").unwrap().bucket("Bad_Name"));
        assert!(validate_bucket(&bad).unwrap_err().0.contains("lowercase"));
        let reserved = props_of(
            Bucket::new(&r, "x")
                .unwrap()
                .bucket("ok-name")
                .tag("tandem:addr", "x"),
        );
        assert!(
            validate_bucket(&reserved)
                .unwrap_err()
                .0
                .contains("reserved")
        );
        assert!(Bucket::new(&r, "bad name").is_err());
    }

    use crate::props_of;

    #[test]
    fn replication_validation() {
        let r = Region::named("us-east-1");
        let ok = props_of(
            BucketReplication::new(&r, "rep")
                .unwrap()
                .bucket("src-b")
                .role_arn("arn:aws:iam::123456789012:role/r")
                .destination_bucket_arn("arn:aws:s3:::dst-b"),
        );
        assert_eq!(validate_bucket_replication(&ok), Ok(()));
        let mut bad = ok.clone();
        bad.insert("destination_bucket_arn".into(), Value::str("dst-b"));
        assert!(validate_bucket_replication(&bad).is_err());
        let mut kms = ok.clone();
        kms.insert("sse_kms_encrypted_objects".into(), Value::Bool(true));
        assert!(
            validate_bucket_replication(&kms)
                .unwrap_err()
                .0
                .contains("replica_kms_key_id")
        );
        assert_eq!(bucket_name_from_arn("arn:aws:s3:::a-b"), Some("a-b"));
        assert_eq!(bucket_name_from_arn("arn:aws:s3:::a-b/k"), None);
        assert_eq!(bucket_name_from_arn("arn:aws-us-gov:s3:::a-b"), Some("a-b"));
        assert_eq!(bucket_name_from_arn("arn:aws-cn:s3:::a-b"), Some("a-b"));
    }

    #[test]
    fn bucket_arns_carry_the_region_partition() {
        assert_eq!(bucket_arn("us-east-1", "b"), "arn:aws:s3:::b");
        assert_eq!(bucket_arn("eu-north-1", "b"), "arn:aws:s3:::b");
        assert_eq!(bucket_arn("us-gov-west-1", "b"), "arn:aws-us-gov:s3:::b");
        assert_eq!(bucket_arn("cn-north-1", "b"), "arn:aws-cn:s3:::b");
        assert_eq!(
            bucket_name_from_arn(&bucket_arn("cn-northwest-1", "b")),
            Some("b")
        );
    }
}
