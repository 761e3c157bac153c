//! The buckets, declared (`s3:Bucket`) and in templates (`AWS::S3::Bucket`): TP002, TP004,
//! TP005.

use serde_json::Value as Json;
use tandem_core::ResourceDecl;
use tandem_schema::kinds;

use super::templates::judge_template_key;
use super::{At, Cx};
use crate::template::{Deployment, items};
use crate::values::{KeyPlace, bool_input, key_place, region_of};

const FIX_KMS: &str = "set `kms_key_arn` to the KMS key of the bucket's own region (the region's \
                       stack instance output `KmsKeyArn`)";
const FIX_TLS: &str = "leave `deny_insecure_transport` at true (the bucket policy denies \
                       `aws:SecureTransport` false)";
const FIX_PUBLIC: &str = "leave `block_public_access` at true (all four public access block \
                          settings)";

pub(super) fn check(cx: &mut Cx<'_>) {
    let stack = cx.stack;
    for decl in stack
        .graph
        .in_order()
        .filter(|d| d.addr.kind() == kinds::S3_BUCKET)
    {
        let region = region_of(stack, &decl.addr);
        bucket(cx, decl, &region);
    }
}

fn bucket(cx: &mut Cx<'_>, decl: &ResourceDecl, region: &str) {
    let at = || At::new(&decl.addr, region);
    let message = match key_place(cx.stack, decl.inputs.get("kms_key_arn")) {
        place if place.is_in(region) => None,
        KeyPlace::Missing => Some(
            "no `kms_key_arn`: S3 encrypts with its own keys (SSE-S3), not with the region's \
             KMS key"
                .to_string(),
        ),
        KeyPlace::Region(other) => Some(format!(
            "`kms_key_arn` is a key of {other}, not of the bucket's region {region}"
        )),
        KeyPlace::Unverifiable(why) => Some(format!("`kms_key_arn` cannot be judged: {why}")),
        KeyPlace::CallersRegion => None,
    };
    if let Some(message) = message {
        cx.report("TP002", at(), message, FIX_KMS);
    }
    // Both default to true (the schema's defaults); only a value that is not true fails.
    for (key, id, what, fix) in [
        (
            "deny_insecure_transport",
            "TP004",
            "the bucket accepts requests without TLS",
            FIX_TLS,
        ),
        (
            "block_public_access",
            "TP005",
            "the bucket's public access block is off: a policy or ACL may make objects public",
            FIX_PUBLIC,
        ),
    ] {
        match bool_input(decl.inputs.get(key)) {
            Ok(None | Some(true)) => {}
            Ok(Some(false)) => cx.report(id, at(), format!("`{key}` is false: {what}"), fix),
            Err(v) => cx.report(
                id,
                at(),
                format!("`{key}` is {v}: the pack cannot tell that it is true"),
                fix,
            ),
        }
    }
}

/// Buckets a template declares: SSE-KMS with a key of the template's region, a bucket policy
/// denying requests without TLS, no public access block setting turned off. A load balancer's
/// access-log bucket takes SSE-S3: Elastic Load Balancing writes access logs to no other
/// (Elastic Load Balancing User Guide, "Access logs": the bucket's only supported server-side
/// encryption is Amazon S3-managed keys).
pub(super) fn check_template(cx: &mut Cx<'_>, d: &Deployment<'_>) {
    let policies = d.resources_of("AWS::S3::BucketPolicy");
    let access_logs = access_log_buckets(d);
    for (id, bucket) in d.resources_of("AWS::S3::Bucket") {
        let at = || At::new(d.addr, d.region.clone()).subject(id);
        let sse_s3_only = access_logs.iter().any(|b| b == id);
        for message in template_bucket_encryption(d, bucket, sse_s3_only) {
            cx.report(
                "TP002",
                at(),
                format!("bucket {id}: {message}"),
                "give the bucket `BucketEncryption` with `SSEAlgorithm: aws:kms` and \
                 `KMSMasterKeyID` the template's own KMS key",
            );
        }
        let denies_plain_http = policies.iter().any(|(_, p)| {
            d.property(p, "Bucket")
                .into_iter()
                .flatten()
                .any(|b| b.get("Ref").and_then(Json::as_str) == Some(id))
                && d.property(p, "PolicyDocument")
                    .into_iter()
                    .flatten()
                    .any(denies_insecure_transport)
        });
        if !denies_plain_http {
            cx.report(
                "TP004",
                at(),
                format!(
                    "bucket {id} has no bucket policy denying requests where \
                     `aws:SecureTransport` is false"
                ),
                "add an AWS::S3::BucketPolicy on it with a Deny statement on the condition \
                 `Bool` `aws:SecureTransport` `false`",
            );
        }
        for block in d.property(bucket, "PublicAccessBlockConfiguration") {
            let Some(block) = block else { continue };
            for key in [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ] {
                let off = block
                    .get(key)
                    .is_some_and(|v| v == &Json::Bool(false) || v == "false");
                if off {
                    cx.report(
                        "TP005",
                        at(),
                        format!("bucket {id}: `{key}` is false"),
                        "leave every public access block setting true",
                    );
                }
            }
        }
    }
}

/// The buckets the template's load balancers write access logs to (`access_logs.s3.bucket`).
fn access_log_buckets(d: &Deployment<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for (_, lb) in d.resources_of("AWS::ElasticLoadBalancingV2::LoadBalancer") {
        for attributes in d
            .property(lb, "LoadBalancerAttributes")
            .into_iter()
            .flatten()
        {
            for a in items(attributes) {
                if a.get("Key").and_then(Json::as_str) != Some("access_logs.s3.bucket") {
                    continue;
                }
                let values = a.get("Value").map(|v| d.variants(v)).unwrap_or_default();
                out.extend(
                    values
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.get("Ref")?.as_str().map(str::to_string)),
                );
            }
        }
    }
    out
}

/// What is wrong with a template bucket's encryption, once per variant. `sse_s3_only`: a
/// load balancer's access-log bucket, for which S3-managed keys are the only choice.
fn template_bucket_encryption(d: &Deployment<'_>, bucket: &Json, sse_s3_only: bool) -> Vec<String> {
    let mut out = Vec::new();
    for enc in d.property(bucket, "BucketEncryption") {
        let rules: Vec<&Json> = enc
            .and_then(|e| e.get("ServerSideEncryptionConfiguration"))
            .map(items)
            .unwrap_or_default();
        if sse_s3_only {
            let encrypted = rules.iter().any(|r| {
                r.get("ServerSideEncryptionByDefault")
                    .and_then(|x| x.get("SSEAlgorithm"))
                    .and_then(|a| d.scalar(a))
                    .is_some_and(|a| a == "AES256")
            });
            if !encrypted {
                out.push(
                    "a load balancer's access-log bucket without SSE-S3 (`AES256`), the only \
                     encryption Elastic Load Balancing writes access logs with"
                        .to_string(),
                );
            }
            continue;
        }
        let kms = rules.iter().find_map(|r| {
            let default = r.get("ServerSideEncryptionByDefault")?;
            let alg = default.get("SSEAlgorithm").and_then(|a| d.scalar(a))?;
            alg.starts_with("aws:kms").then_some(default)
        });
        match kms {
            None => out.push("no SSE-KMS encryption (S3 would use its own keys)".to_string()),
            Some(default) => {
                if let Some(why) = judge_template_key(d, default.get("KMSMasterKeyID")) {
                    out.push(format!("`KMSMasterKeyID` {why}"));
                }
            }
        }
    }
    out
}

/// Whether a policy document has a Deny statement on `aws:SecureTransport` false.
fn denies_insecure_transport(doc: &Json) -> bool {
    doc.get("Statement")
        .map(items)
        .unwrap_or_default()
        .into_iter()
        .any(|s| {
            s.get("Effect").and_then(Json::as_str) == Some("Deny")
                && s.get("Condition")
                    .and_then(|c| c.get("Bool"))
                    .and_then(|b| b.get("aws:SecureTransport"))
                    .is_some_and(|v| v == "false" || v == &Json::Bool(false))
        })
}
