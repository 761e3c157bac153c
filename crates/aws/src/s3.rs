//! `s3:Bucket` and `s3:BucketReplication`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration,
    Metrics, MetricsStatus, ObjectIdentifier, PublicAccessBlockConfiguration,
    ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus,
    ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    SourceSelectionCriteria, SseKmsEncryptedObjects, SseKmsEncryptedObjectsStatus, StorageClass,
    Tag, Tagging, VersioningConfiguration,
};
use tandem_core::{Props, ResourceAddr, Value};
use tandem_engine::provider::{ErrorClass, Identity, Observed, OpContext, Provider, ProviderError};
use tandem_schema::{kinds, regions, s3 as schema};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::{CallError, OrNotFound, ReadBack, build_error, deleted};
use crate::props::{PropsBuilder, all_tags, bool_or, opt_str, region_of, req_str, schema_check};

/// The `Sid` of the statement Tandem owns in a bucket policy.
const DENY_INSECURE_SID: &str = "TandemDenyInsecureTransport";

/// Whether the bucket's versioning status is `Enabled` (not `Suspended`, nor never configured).
///
/// The local cloud (moto 5.2) answers with the root element `GetBucketVersioningResponse`
/// instead of `VersioningConfiguration`, which the SDK refuses; the rest of the body is right, so
/// such an answer is read leniently here (and only here).
async fn versioning_enabled(
    policy: &crate::call::RetryPolicy,
    s3: &Client,
    name: &str,
) -> Result<bool, CallError> {
    let status = call(policy, "s3:GetBucketVersioning", || async move {
        match s3.get_bucket_versioning().bucket(name).send().await {
            Ok(out) => Ok(out.status().map(|s| s.as_str().to_string())),
            Err(e) => match lenient_versioning_body(&e) {
                Some(status) => Ok(status),
                None => Err(e),
            },
        }
    })
    .await?;
    Ok(status.as_deref() == Some("Enabled"))
}

fn lenient_versioning_body<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<Option<String>> {
    let aws_sdk_s3::error::SdkError::ServiceError(ctx) = e else {
        return None;
    };
    if ctx.raw().status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(ctx.raw().body().bytes()?).ok()?;
    if !body.contains("<GetBucketVersioningResponse") {
        return None;
    }
    let status = body
        .split_once("<Status>")
        .and_then(|(_, rest)| rest.split_once("</Status>"))
        .map(|(s, _)| s.trim().to_string());
    Some(status)
}

/// `s3:Bucket`.
pub struct BucketProvider {
    clients: AwsClients,
}

impl BucketProvider {
    pub fn new(clients: AwsClients) -> BucketProvider {
        BucketProvider { clients }
    }
}

/// The bucket policy Tandem puts (`s3:PutBucketPolicy`) on a bucket whose
/// `deny_insecure_transport` is on: one statement denying every request not made over TLS. Its
/// resources are the bucket's ARN and its objects', in the partition of the bucket's region
/// ([`schema::bucket_arn`]): in GovCloud or China `arn:aws:s3:::NAME` is not this bucket, and S3
/// refuses a bucket policy whose resource is not the bucket (`MalformedPolicy`, "Policy has
/// invalid resource").
/// Creates bucket `name` in `region` (a location constraint outside us-east-1), for the stack's
/// buckets and the state bucket alike.
pub(crate) async fn create_bucket(
    s3: &Client,
    r: &crate::call::RetryPolicy,
    name: &str,
    region: &str,
) -> Result<(), CallError> {
    call(r, "s3:CreateBucket", || {
        let mut req = s3.create_bucket().bucket(name);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        req.send()
    })
    .await?;
    Ok(())
}

/// Sets bucket `name`'s versioning to `status`.
pub(crate) async fn put_versioning(
    s3: &Client,
    r: &crate::call::RetryPolicy,
    name: &str,
    status: BucketVersioningStatus,
) -> Result<(), CallError> {
    call(r, "s3:PutBucketVersioning", || {
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(status.clone())
                    .build(),
            )
            .send()
    })
    .await?;
    Ok(())
}

/// Sets bucket `name`'s default encryption to SSE-KMS with `key` (the AWS-managed `aws/s3` key
/// when `None`), with an S3 bucket key.
pub(crate) async fn put_sse_kms(
    s3: &Client,
    r: &crate::call::RetryPolicy,
    name: &str,
    key: Option<String>,
) -> Result<(), CallError> {
    const OPERATION: &str = "s3:PutBucketEncryption";
    let invalid = |e: aws_smithy_types::error::operation::BuildError| {
        CallError::new(
            OPERATION,
            ErrorClass::Invalid,
            format!("could not build the request: {e}"),
        )
    };
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .set_kms_master_key_id(key)
        .build()
        .map_err(invalid)?;
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .bucket_key_enabled(true)
                .build(),
        )
        .build()
        .map_err(invalid)?;
    call(r, OPERATION, || {
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(config.clone())
            .send()
    })
    .await?;
    Ok(())
}

/// Blocks public access to bucket `name` (all four settings), for the stack's buckets and the
/// state bucket alike.
pub(crate) async fn block_public_access(
    s3: &Client,
    r: &crate::call::RetryPolicy,
    name: &str,
) -> Result<(), CallError> {
    call(r, "s3:PutPublicAccessBlock", || {
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
    })
    .await?;
    Ok(())
}

pub fn deny_insecure_policy(region: &str, name: &str) -> String {
    let arn = schema::bucket_arn(region, name);
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": DENY_INSECURE_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
    .to_string()
}

fn policy_denies_insecure(policy: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    statements.iter().any(|s| {
        let flag = &s["Condition"]["Bool"]["aws:SecureTransport"];
        s["Effect"] == "Deny" && (*flag == serde_json::Value::Bool(false) || flag == "false")
    })
}

fn tag_set(tags: &BTreeMap<String, String>) -> Result<Tagging, ProviderError> {
    let set = tags
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_error("s3:PutBucketTagging"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(build_error("s3:PutBucketTagging"))
}

/// What the bucket's live configuration is.
struct LiveBucket {
    versioning: bool,
    kms_key_arn: Option<String>,
    block_public_access: bool,
    deny_insecure_transport: bool,
    tags: BTreeMap<String, String>,
}

impl BucketProvider {
    fn observed(&self, name: &str, region: &str, live: &LiveBucket, last: &Props) -> Observed {
        let inputs = PropsBuilder::new()
            .set("bucket", name)
            .defaulted(
                last,
                "versioning",
                Value::Bool(live.versioning),
                Value::Bool(false),
            )
            .opt("kms_key_arn", live.kms_key_arn.clone())
            .defaulted(
                last,
                "block_public_access",
                Value::Bool(live.block_public_access),
                Value::Bool(true),
            )
            .defaulted(
                last,
                "deny_insecure_transport",
                Value::Bool(live.deny_insecure_transport),
                Value::Bool(true),
            )
            .copy(last, "force_destroy")
            .user_tags(
                last,
                live.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
        let outputs = PropsBuilder::new()
            .set("bucket", name)
            .set("arn", schema::bucket_arn(region, name))
            .set("region", region)
            .set(
                "domain_name",
                format!("{name}.s3.{region}.{}", regions::dns_suffix(region)),
            )
            .build();
        Observed {
            id: name.to_string(),
            inputs: inputs.build(),
            outputs,
        }
    }

    async fn read_live(&self, s3: &Client, name: &str) -> Result<Option<LiveBucket>, CallError> {
        let r = self.clients.retry();
        if call(r, "s3:HeadBucket", || s3.head_bucket().bucket(name).send())
            .await
            .or_not_found()?
            .is_none()
        {
            return Ok(None);
        }
        // A sub-resource that is not configured answers a not-found error of its own; a bucket
        // deleted in between answers NoSuchBucket.
        let gone = |e: &CallError| e.has_code("NoSuchBucket");
        let versioning = match versioning_enabled(r, s3, name).await {
            Ok(v) => v,
            Err(e) if gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let kms_key_arn = match call(r, "s3:GetBucketEncryption", || {
            s3.get_bucket_encryption().bucket(name).send()
        })
        .await
        {
            Ok(out) => out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|rule| rule.apply_server_side_encryption_by_default())
                .filter(|d| d.sse_algorithm() == &ServerSideEncryption::AwsKms)
                .and_then(|d| d.kms_master_key_id().map(str::to_string)),
            Err(e) if gone(&e) => return Ok(None),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        let block_public_access = match call(r, "s3:GetPublicAccessBlock", || {
            s3.get_public_access_block().bucket(name).send()
        })
        .await
        {
            Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            }),
            Err(e) if gone(&e) => return Ok(None),
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e),
        };
        let deny_insecure_transport = match call(r, "s3:GetBucketPolicy", || {
            s3.get_bucket_policy().bucket(name).send()
        })
        .await
        {
            Ok(out) => out.policy().is_some_and(policy_denies_insecure),
            Err(e) if gone(&e) => return Ok(None),
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e),
        };
        let tags = match call(r, "s3:GetBucketTagging", || {
            s3.get_bucket_tagging().bucket(name).send()
        })
        .await
        {
            Ok(out) => out
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            Err(e) if gone(&e) => return Ok(None),
            Err(e) if e.is_not_found() => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Some(LiveBucket {
            versioning,
            kms_key_arn,
            block_public_access,
            deny_insecure_transport,
            tags,
        }))
    }

    /// Makes the bucket's configuration what `inputs` say (idempotent).
    ///
    /// `fresh` is a bucket this very operation created: it has no policy and no encryption
    /// configuration other than S3's default, so removing those is skipped. (Its public access
    /// block is still removed when not wanted: AWS blocks public access on new buckets.)
    async fn converge(
        &self,
        ctx: &OpContext,
        s3: &Client,
        name: &str,
        inputs: &Props,
        currently_versioned: bool,
        fresh: bool,
    ) -> Result<(), ProviderError> {
        let r = self.clients.retry();
        let tagging = tag_set(&all_tags(ctx, inputs)?)?;
        call(r, "s3:PutBucketTagging", || {
            s3.put_bucket_tagging()
                .bucket(name)
                .tagging(tagging.clone())
                .send()
        })
        .await?;
        let versioning = bool_or(inputs, "versioning", false)?;
        if versioning || currently_versioned {
            let status = if versioning {
                BucketVersioningStatus::Enabled
            } else {
                BucketVersioningStatus::Suspended
            };
            put_versioning(s3, r, name, status).await?;
        }
        match opt_str(inputs, "kms_key_arn")? {
            Some(key) => put_sse_kms(s3, r, name, Some(key)).await?,
            None if fresh => {}
            None => {
                call(r, "s3:DeleteBucketEncryption", || {
                    s3.delete_bucket_encryption().bucket(name).send()
                })
                .await
                .or_not_found()?;
            }
        }
        if bool_or(inputs, "block_public_access", true)? {
            block_public_access(s3, r, name).await?;
        } else {
            call(r, "s3:DeletePublicAccessBlock", || {
                s3.delete_public_access_block().bucket(name).send()
            })
            .await
            .or_not_found()?;
        }
        if bool_or(inputs, "deny_insecure_transport", true)? {
            let policy = deny_insecure_policy(&region_of(ctx)?, name);
            call(r, "s3:PutBucketPolicy", || {
                s3.put_bucket_policy().bucket(name).policy(&policy).send()
            })
            .await?;
        } else if !fresh {
            call(r, "s3:DeleteBucketPolicy", || {
                s3.delete_bucket_policy().bucket(name).send()
            })
            .await
            .or_not_found()?;
        }
        Ok(())
    }

    async fn read_observed(
        &self,
        region: &str,
        name: &str,
        last: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let s3 = self.clients.s3(region).await;
        Ok(self
            .read_live(&s3, name)
            .await?
            .map(|live| self.observed(name, region, &live, last)))
    }

    /// Deletes every object version and delete marker (for `force_destroy`).
    async fn empty(&self, s3: &Client, name: &str) -> Result<(), ProviderError> {
        let r = self.clients.retry();
        loop {
            let page = match call(r, "s3:ListObjectVersions", || {
                s3.list_object_versions().bucket(name).send()
            })
            .await
            .or_not_found()?
            {
                Some(p) => p,
                None => return Ok(()),
            };
            let mut ids = Vec::new();
            for v in page.versions() {
                if let Some(k) = v.key() {
                    ids.push((k.to_string(), v.version_id().map(str::to_string)));
                }
            }
            for m in page.delete_markers() {
                if let Some(k) = m.key() {
                    ids.push((k.to_string(), m.version_id().map(str::to_string)));
                }
            }
            if ids.is_empty() {
                return Ok(());
            }
            let objects = ids
                .into_iter()
                .map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v)
                        .build()
                        .map_err(build_error("s3:DeleteObjects"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(build_error("s3:DeleteObjects"))?;
            call(r, "s3:DeleteObjects", || {
                s3.delete_objects()
                    .bucket(name)
                    .delete(delete.clone())
                    .send()
            })
            .await?;
        }
    }
}

#[async_trait]
impl Provider for BucketProvider {
    fn kind(&self) -> &'static str {
        kinds::S3_BUCKET
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["bucket"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["bucket"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_bucket(inputs))
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let name = req_str(inputs, "bucket")?;
        let s3 = self.clients.s3(&region).await;
        let r = self.clients.retry();
        let created = create_bucket(&s3, r, &name, &region).await;
        let mut already_versioned = false;
        let fresh = match created {
            Ok(_) => true,
            // A retried create of our own bucket: carry on converging it.
            Err(e) if e.has_code("BucketAlreadyOwnedByYou") => {
                already_versioned = versioning_enabled(r, &s3, &name)
                    .await
                    .or_not_found()?
                    .unwrap_or(false);
                false
            }
            Err(e) if e.has_code("BucketAlreadyExists") => {
                return Err(ProviderError::new(
                    ErrorClass::Invalid,
                    format!(
                        "{e}: the name {name:?} belongs to another account; bucket names are global, choose another"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        self.converge(ctx, &s3, &name, inputs, already_versioned, fresh)
            .await?;
        if fresh {
            // Every call that configured the new bucket succeeded, so its configuration is what
            // they set: no read-back (six more calls per bucket). The next refresh reads it.
            let live = LiveBucket {
                versioning: bool_or(inputs, "versioning", false)?,
                kms_key_arn: opt_str(inputs, "kms_key_arn")?,
                block_public_access: bool_or(inputs, "block_public_access", true)?,
                deny_insecure_transport: bool_or(inputs, "deny_insecure_transport", true)?,
                tags: all_tags(ctx, inputs)?,
            };
            return Ok(self.observed(&name, &region, &live, inputs));
        }
        self.read_observed(&region, &name, inputs)
            .await?
            .found_after_create(|| {
                format!("s3:HeadBucket: bucket {name:?} vanished right after it was created")
            })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        self.read_observed(&region, id, inputs).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let s3 = self.clients.s3(&region).await;
        // Only versioning of the live configuration decides a call (suspend or leave alone).
        let versioned = versioning_enabled(self.clients.retry(), &s3, id)
            .await
            .or_not_found()?
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorClass::NotFound,
                    format!("s3:GetBucketVersioning: bucket {id:?} does not exist"),
                )
            })?;
        self.converge(ctx, &s3, id, new, versioned, false).await?;
        self.read_observed(&region, id, new)
            .await?
            .found_after_update(|| {
                format!("s3:HeadBucket: bucket {id:?} vanished during the update")
            })
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        let s3 = self.clients.s3(&region).await;
        if bool_or(inputs, "force_destroy", false).unwrap_or(false) {
            self.empty(&s3, id).await?;
        }
        let res = call(self.clients.retry(), "s3:DeleteBucket", || {
            s3.delete_bucket().bucket(id).send()
        })
        .await;
        deleted(
            res,
            "BucketNotEmpty",
            "empty it first, or set `force_destroy`",
        )
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        let name = req_str(inputs, "bucket")?;
        let s3 = self.clients.s3(&region).await;
        let Some(live) = self.read_live(&s3, &name).await? else {
            return Ok(None);
        };
        // The name is deterministic; refuse to adopt a bucket another address has claimed.
        if live
            .tags
            .get(tandem_schema::tags::ADDR)
            .is_some_and(|owner| owner != ctx.addr.as_str())
        {
            return Ok(None);
        }
        Ok(Some(self.observed(&name, &region, &live, inputs)))
    }
}

/// `s3:BucketReplication`: one replication rule on a source bucket.
pub struct BucketReplicationProvider {
    clients: AwsClients,
}

impl BucketReplicationProvider {
    pub fn new(clients: AwsClients) -> BucketReplicationProvider {
        BucketReplicationProvider { clients }
    }

    /// The region a bucket lives in.
    async fn bucket_region(&self, name: &str) -> Result<Option<String>, CallError> {
        let s3 = self.clients.s3(self.clients.home_region()).await;
        let out = call(self.clients.retry(), "s3:GetBucketLocation", || {
            s3.get_bucket_location().bucket(name).send()
        })
        .await
        .or_not_found()?;
        Ok(
            out.map(|o| match o.location_constraint().map(|c| c.as_str()) {
                None | Some("") => "us-east-1".to_string(),
                Some("EU") => "eu-west-1".to_string(),
                Some(r) => r.to_string(),
            }),
        )
    }

    async fn versioning_enabled(&self, region: &str, name: &str) -> Result<bool, CallError> {
        let s3 = self.clients.s3(region).await;
        versioning_enabled(self.clients.retry(), &s3, name).await
    }

    /// What AWS checks and the local cloud does not: both buckets exist and are versioned.
    async fn check_buckets(&self, region: &str, inputs: &Props) -> Result<(), ProviderError> {
        let source = req_str(inputs, "bucket")?;
        let dest_arn = req_str(inputs, "destination_bucket_arn")?;
        let dest = schema::bucket_name_from_arn(&dest_arn).ok_or_else(|| {
            ProviderError::invalid(format!(
                "`destination_bucket_arn` {dest_arn:?} is not an S3 bucket ARN"
            ))
        })?;
        match self.versioning_enabled(region, &source).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(ProviderError::invalid(format!(
                    "s3:PutBucketReplication: source bucket {source:?} does not have versioning enabled; \
                     replication needs versioning on both buckets"
                )));
            }
            Err(e) if e.is_not_found() => {
                return Err(ProviderError::invalid(format!(
                    "s3:PutBucketReplication: source bucket {source:?} does not exist in {region}"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let Some(dest_region) = self.bucket_region(dest).await? else {
            return Err(ProviderError::invalid(format!(
                "s3:PutBucketReplication: destination bucket {dest:?} does not exist; create it \
                 (with versioning) before replicating into it"
            )));
        };
        if !self.versioning_enabled(&dest_region, dest).await? {
            return Err(ProviderError::invalid(format!(
                "s3:PutBucketReplication: destination bucket {dest:?} (in {dest_region}) does not have \
                 versioning enabled; replication needs versioning on both buckets"
            )));
        }
        Ok(())
    }

    fn configuration(&self, inputs: &Props) -> Result<ReplicationConfiguration, ProviderError> {
        let op = "s3:PutBucketReplication";
        let kms = opt_str(inputs, "replica_kms_key_id")?;
        let rtc = bool_or(inputs, "replication_time_control", false)?;
        let mut dest = Destination::builder().bucket(req_str(inputs, "destination_bucket_arn")?);
        if let Some(k) = &kms {
            dest = dest.encryption_configuration(
                EncryptionConfiguration::builder()
                    .replica_kms_key_id(k)
                    .build(),
            );
        }
        if let Some(sc) = opt_str(inputs, "storage_class")? {
            dest = dest.storage_class(StorageClass::from(sc.as_str()));
        }
        if rtc {
            dest = dest
                .replication_time(
                    ReplicationTime::builder()
                        .status(ReplicationTimeStatus::Enabled)
                        .time(ReplicationTimeValue::builder().minutes(15).build())
                        .build()
                        .map_err(build_error(op))?,
                )
                .metrics(
                    Metrics::builder()
                        .status(MetricsStatus::Enabled)
                        .event_threshold(ReplicationTimeValue::builder().minutes(15).build())
                        .build()
                        .map_err(build_error(op))?,
                );
        }
        let mut rule = ReplicationRule::builder()
            .id(opt_str(inputs, "rule_id")?.unwrap_or_else(|| "tandem-replication".into()))
            .priority(1)
            .status(ReplicationRuleStatus::Enabled)
            .filter(ReplicationRuleFilter::builder().prefix("").build())
            .delete_marker_replication(
                DeleteMarkerReplication::builder()
                    .status(if bool_or(inputs, "delete_marker_replication", false)? {
                        DeleteMarkerReplicationStatus::Enabled
                    } else {
                        DeleteMarkerReplicationStatus::Disabled
                    })
                    .build(),
            )
            .destination(dest.build().map_err(build_error(op))?);
        if bool_or(inputs, "sse_kms_encrypted_objects", kms.is_some())? {
            rule = rule.source_selection_criteria(
                SourceSelectionCriteria::builder()
                    .sse_kms_encrypted_objects(
                        SseKmsEncryptedObjects::builder()
                            .status(SseKmsEncryptedObjectsStatus::Enabled)
                            .build()
                            .map_err(build_error(op))?,
                    )
                    .build(),
            );
        }
        ReplicationConfiguration::builder()
            .role(req_str(inputs, "role_arn")?)
            .rules(rule.build().map_err(build_error(op))?)
            .build()
            .map_err(build_error(op))
    }

    async fn put(&self, region: &str, inputs: &Props) -> Result<(), ProviderError> {
        let source = req_str(inputs, "bucket")?;
        let config = self.configuration(inputs)?;
        let s3 = self.clients.s3(region).await;
        call(self.clients.retry(), "s3:PutBucketReplication", || {
            s3.put_bucket_replication()
                .bucket(&source)
                .replication_configuration(config.clone())
                .send()
        })
        .await?;
        Ok(())
    }

    async fn read_observed(
        &self,
        region: &str,
        source: &str,
        last: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let s3 = self.clients.s3(region).await;
        let Some(out) = call(self.clients.retry(), "s3:GetBucketReplication", || {
            s3.get_bucket_replication().bucket(source).send()
        })
        .await
        .or_not_found()?
        else {
            return Ok(None);
        };
        let Some(config) = out.replication_configuration() else {
            return Ok(None);
        };
        let wanted_id = opt_str(last, "rule_id")
            .ok()
            .flatten()
            .unwrap_or_else(|| "tandem-replication".into());
        let Some(rule) = config
            .rules()
            .iter()
            .find(|r| r.id() == Some(wanted_id.as_str()))
            .or_else(|| config.rules().first())
        else {
            return Ok(None);
        };
        let dest = rule.destination();
        let kms = dest
            .and_then(|d| d.encryption_configuration())
            .and_then(|e| e.replica_kms_key_id())
            .map(str::to_string);
        let sse = rule
            .source_selection_criteria()
            .and_then(|s| s.sse_kms_encrypted_objects())
            .is_some_and(|s| s.status() == &SseKmsEncryptedObjectsStatus::Enabled);
        let dmr = rule
            .delete_marker_replication()
            .and_then(|d| d.status())
            .is_some_and(|s| s == &DeleteMarkerReplicationStatus::Enabled);
        let rtc = dest
            .and_then(|d| d.replication_time())
            .is_some_and(|t| t.status() == &ReplicationTimeStatus::Enabled);
        let rule_id = rule.id().unwrap_or(&wanted_id).to_string();
        let inputs = PropsBuilder::new()
            .set("bucket", source)
            .set("role_arn", config.role())
            .opt(
                "destination_bucket_arn",
                dest.map(|d| d.bucket().to_string()),
            )
            .opt("replica_kms_key_id", kms.clone())
            .opt(
                "storage_class",
                dest.and_then(|d| d.storage_class())
                    .map(|s| s.as_str().to_string()),
            )
            .defaulted(
                last,
                "rule_id",
                Value::str(&rule_id),
                Value::str("tandem-replication"),
            )
            .defaulted(
                last,
                "replication_time_control",
                Value::Bool(rtc),
                Value::Bool(false),
            );
        // moto always answers `DeleteMarkerReplication: Disabled` and drops
        // `SourceSelectionCriteria`: against it, these two are what was last set.
        let inputs = if self.clients.local_cloud() {
            inputs
                .copy(last, "sse_kms_encrypted_objects")
                .copy(last, "delete_marker_replication")
        } else {
            inputs
                .defaulted(
                    last,
                    "sse_kms_encrypted_objects",
                    Value::Bool(sse),
                    Value::Bool(kms.is_some()),
                )
                .defaulted(
                    last,
                    "delete_marker_replication",
                    Value::Bool(dmr),
                    Value::Bool(false),
                )
        }
        .build();
        Ok(Some(Observed {
            id: source.to_string(),
            inputs,
            outputs: PropsBuilder::new()
                .set("bucket", source)
                .set("rule_id", rule_id)
                .build(),
        }))
    }
}

#[async_trait]
impl Provider for BucketReplicationProvider {
    fn kind(&self) -> &'static str {
        kinds::S3_BUCKET_REPLICATION
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["bucket"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["bucket"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_bucket_replication(inputs))
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        self.check_buckets(&region, inputs).await?;
        self.put(&region, inputs).await?;
        let source = req_str(inputs, "bucket")?;
        self.read_observed(&region, &source, inputs)
            .await?
            .found_after_create(|| format!(
                    "s3:GetBucketReplication: the replication of {source:?} was not found right after it was set"
                ))
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        self.read_observed(&region, id, inputs).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        self.check_buckets(&region, new).await?;
        self.put(&region, new).await?;
        self.read_observed(&region, id, new)
            .await?
            .found_after_update(|| {
                format!("s3:GetBucketReplication: the replication of {id:?} vanished")
            })
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Props,
    ) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        let s3 = self.clients.s3(&region).await;
        call(self.clients.retry(), "s3:DeleteBucketReplication", || {
            s3.delete_bucket_replication().bucket(id).send()
        })
        .await
        .or_not_found()?;
        Ok(())
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        let source = req_str(inputs, "bucket")?;
        self.read_observed(&region, &source, inputs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_policy_names_the_bucket_in_its_region_partition() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("us-gov-west-1", "aws-us-gov"),
            ("cn-north-1", "aws-cn"),
        ] {
            let policy: serde_json::Value =
                serde_json::from_str(&deny_insecure_policy(region, "b")).unwrap();
            assert_eq!(
                policy["Statement"][0]["Resource"],
                serde_json::json!([
                    format!("arn:{partition}:s3:::b"),
                    format!("arn:{partition}:s3:::b/*")
                ]),
                "{region}"
            );
            assert!(policy_denies_insecure(&policy.to_string()));
        }
    }
}
