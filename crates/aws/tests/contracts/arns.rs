//! (b) ARNs carry the partition of their region: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`
//! (AWS General Reference, "Amazon Resource Names"), the partition `aws-us-gov` in GovCloud and
//! `aws-cn` in China. moto answers every region as `aws`, so only these tests see a wrong one.

use tandem_aws::s3::deny_insecure_policy;
use tandem_schema::regions::partition;
use tandem_schema::s3::bucket_arn;

const CASES: &[(&str, &str)] = &[
    ("us-east-1", "aws"),
    ("eu-north-1", "aws"),
    ("us-gov-west-1", "aws-us-gov"),
    ("us-gov-east-1", "aws-us-gov"),
    ("cn-north-1", "aws-cn"),
    ("cn-northwest-1", "aws-cn"),
];

#[test]
fn the_partition_is_the_regions() {
    for &(region, expected) in CASES {
        assert_eq!(partition(region), expected, "{region}");
    }
}

/// The bucket ARN (the `s3:Bucket` output `arn`, the destination of a replication) and the
/// resources of the TLS-only bucket policy (`s3:PutBucketPolicy`).
#[test]
fn s3_arns_carry_the_partition() {
    for &(region, expected) in CASES {
        assert_eq!(
            bucket_arn(region, "tandem-assets"),
            format!("arn:{expected}:s3:::tandem-assets"),
            "{region}"
        );
        let policy: serde_json::Value =
            serde_json::from_str(&deny_insecure_policy(region, "tandem-assets")).unwrap();
        let resources: Vec<&str> = policy["Statement"][0]["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(
            resources,
            [
                format!("arn:{expected}:s3:::tandem-assets"),
                format!("arn:{expected}:s3:::tandem-assets/*")
            ],
            "{region}"
        );
    }
}
