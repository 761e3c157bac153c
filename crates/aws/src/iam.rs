//! The IAM permissions Tandem needs, declared as data beside the code that needs them.
//!
//! Three tables, and the policy made from them:
//! - [`CALLS`]: what each provider operation (read, create, update, delete, find) and each direct
//!   call of the failover library calls, by API operation as [`call`](crate::call::call) names it
//!   (`s3:HeadBucket`). A test reads this crate's sources: it fails when a `call` names an
//!   operation missing here, when one here is called nowhere, or when an SDK request does not go
//!   through `call` at all.
//! - [`API_ACTIONS`]: for each API operation, the IAM actions AWS checks (`s3:HeadBucket` is
//!   authorized by `s3:ListBucket`) and the resources they act on ([`Scope`]).
//! - [`DEPENDENT`]: what AWS checks beyond an operation's own action: `iam:PassRole` for the roles
//!   a stack set and a replication rule name, KMS grants for encrypted databases, the secret RDS
//!   makes for the master password, tags on create, a final snapshot, and what the CloudFormation
//!   stacks Tandem creates without a service role do with the caller's own permissions (the stack
//!   set's IAM roles, VPC peering). No request shows these: they are read from AWS's
//!   documentation, not measured, and the local cloud cannot check them.
//!
//! [`policy`] turns them into the least-privilege policy document of one environment
//! ([`PolicyTarget`]): one statement per [`Scope`], grouped by service; no `*` action; a `*`
//! resource only where the service has no resource-level permission for the action, and the
//! statement's `Sid` says so. `tandem iam-policy` prints it; the CLI's end-to-end IAM coverage test
//! checks every request the local cloud's region gateway saw during a deploy, failover, failback
//! and destroy against it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use tandem_schema::{kinds, regions};

/// What a provider is asked to do (or what a direct call does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Read,
    Create,
    Update,
    Delete,
    Find,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Find => "find",
        }
    }

    /// Whether the operation only reads the cloud (what a preview or `plan` needs).
    pub fn reads_only(self) -> bool {
        matches!(self, Operation::Read | Operation::Find)
    }
}

/// One operation of one user of the API and the API operations it may call.
#[derive(Debug)]
pub struct CallSite {
    /// A resource kind (`s3:Bucket`) or a direct call (`rds::promote_read_replica`).
    pub user: &'static str,
    pub operation: Operation,
    /// API operations as [`call`](crate::call::call) names them (`SERVICE:Operation`).
    pub apis: &'static [&'static str],
}

/// The IAM side of one API operation.
#[derive(Debug)]
pub struct ApiAction {
    /// `SERVICE:Operation`, as [`call`](crate::call::call) names it and as it travels on the wire.
    pub api: &'static str,
    /// The IAM actions AWS checks for it.
    pub actions: &'static [&'static str],
    /// What they act on.
    pub scopes: &'static [Scope],
}

/// A permission AWS checks for a call beyond the call's own action.
#[derive(Debug)]
pub struct Dependent {
    /// Which calls need it, and why.
    pub because: &'static str,
    /// Only needed when the environment uses this.
    pub only_with: Option<Feature>,
    pub actions: &'static [&'static str],
    pub scopes: &'static [Scope],
}

/// An optional part of the architecture that needs permissions of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// `vpc_peering`: the peering stacks create EC2 resources with the caller's permissions.
    VpcPeering,
}

/// The resources of one statement: resource ARN patterns with the placeholders `${Partition}`,
/// `${Account}`, `${Env}` (the environment's name: every Tandem name starts `tandem-${Env}-`),
/// `${Region}` (each of the environment's two regions, primary and secondary, where its resources
/// live), `${StackSetRegion}` (the stack set's administration region, where only the stack set
/// and the stack of its roles live) and `${AlarmRegion}` (the two regions and
/// [`ROUTE53_METRICS_REGION`]); and the statement's condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    StsAny,
    CfnStacks,
    CfnStackSetInstanceStacks,
    CfnStackSet,
    CfnStackSetTargets,
    IamPassStackSetAdministrationRole,
    IamPassReplicationRole,
    IamStackSetRoles,
    S3Buckets,
    S3BucketObjects,
    /// The state bucket of the S3 state backend (`state_s3.rs`) and its objects, named by the
    /// environment's `[state]` ([`PolicyTarget::state_bucket`]); no statement without one.
    StateBucket,
    StateObjects,
    RdsDbInstances,
    RdsCreateDbInstances,
    RdsParameterGroups,
    RdsFinalSnapshots,
    KmsKeysViaRds,
    KmsKeysViaSecretsManager,
    SecretsManagerSecrets,
    SecretsManagerAnyInRegions,
    Route53Any,
    Route53HostedZones,
    Route53Records,
    Route53HealthChecks,
    Route53Changes,
    CloudWatchAlarms,
    CloudWatchAlarmList,
    CloudWatchAnyInRegions,
    AutoScalingGroups,
    AutoScalingAnyInRegions,
    Ec2PeeringViaCloudFormation,
    Ec2DescribeViaCloudFormation,
}

/// Where Route 53 publishes its health checks' metrics, hence where the program puts the health
/// alarms (`stacks/multi-region/src/program.rs`, `metrics_region`).
pub const ROUTE53_METRICS_REGION: &str = "us-east-1";

const CALLED_VIA_CLOUDFORMATION: &str = "cloudformation.amazonaws.com";

impl Scope {
    /// The statement's `Sid`: the service, what it covers, and for a `*` resource why.
    pub fn sid(self) -> &'static str {
        match self {
            Scope::StsAny => "StsNoResourceType",
            Scope::CfnStacks => "CloudFormationStacks",
            Scope::CfnStackSetInstanceStacks => "CloudFormationReadInstanceStacks",
            Scope::CfnStackSet => "CloudFormationStackSet",
            Scope::CfnStackSetTargets => "CloudFormationStackSetTargets",
            Scope::IamPassStackSetAdministrationRole => "PassStackSetAdminRole",
            Scope::IamPassReplicationRole => "PassReplicationRoleToS3",
            Scope::IamStackSetRoles => "StackSetRolesViaCloudFormation",
            Scope::S3Buckets => "S3Buckets",
            Scope::S3BucketObjects => "S3EmptyBuckets",
            Scope::StateBucket => "StateBucket",
            Scope::StateObjects => "StateObjects",
            Scope::RdsDbInstances => "RdsInstances",
            Scope::RdsCreateDbInstances => "RdsCreateWithDefaultOptionGroupAndOwnSubnetGroup",
            Scope::RdsParameterGroups => "RdsParameterGroups",
            Scope::RdsFinalSnapshots => "RdsFinalSnapshots",
            Scope::KmsKeysViaRds => "KmsViaRdsKeyIdsRandom",
            Scope::KmsKeysViaSecretsManager => "KmsViaSecretsManagerKeyIdsRandom",
            Scope::SecretsManagerSecrets => "SecretsManagerDatabaseSecrets",
            Scope::SecretsManagerAnyInRegions => {
                "SecretsManagerGetRandomPasswordNoResourceLevelPermissions"
            }
            Scope::Route53Any => "Route53NoResourceLevelPermissions",
            Scope::Route53HostedZones => "Route53ZoneIdsRandom",
            Scope::Route53Records => "Route53DomainRecordsOnly",
            Scope::Route53HealthChecks => "Route53HealthCheckIdsRandom",
            Scope::Route53Changes => "Route53ChangeIdsRandom",
            Scope::CloudWatchAlarms => "CloudWatchAlarms",
            Scope::CloudWatchAlarmList => "CloudWatchDescribeAlarms",
            Scope::CloudWatchAnyInRegions => "CloudWatchMetricsNoResourceLevelPermissions",
            Scope::AutoScalingGroups => "AutoScalingStackSetGroups",
            Scope::AutoScalingAnyInRegions => "AutoScalingDescribeNoResourceLevelPermissions",
            Scope::Ec2PeeringViaCloudFormation => "Ec2PeeringViaCloudFormation",
            Scope::Ec2DescribeViaCloudFormation => "Ec2DescribeNoResourceLevelPermissions",
        }
    }

    /// The resource ARN patterns, with placeholders (see [`Scope`]); `["*"]` where the service
    /// allows nothing narrower.
    pub fn resources(self) -> &'static [&'static str] {
        match self {
            Scope::StsAny
            | Scope::Route53Any
            | Scope::CloudWatchAnyInRegions
            | Scope::AutoScalingAnyInRegions
            | Scope::SecretsManagerAnyInRegions
            | Scope::Ec2DescribeViaCloudFormation => &["*"],
            // The peering stacks in the two regions, the stack set's roles' in its region.
            Scope::CfnStacks => &[
                "arn:${Partition}:cloudformation:${Region}:${Account}:stack/tandem-${Env}-*/*",
                "arn:${Partition}:cloudformation:${StackSetRegion}:${Account}:stack/tandem-${Env}-*/*",
            ],
            // The stack set's instances' stacks: `StackSet-<stack set name>-<uuid>`.
            Scope::CfnStackSetInstanceStacks => &[
                "arn:${Partition}:cloudformation:${Region}:${Account}:stack/StackSet-tandem-${Env}-*/*",
            ],
            Scope::CfnStackSet => &[
                "arn:${Partition}:cloudformation:${StackSetRegion}:${Account}:stackset/tandem-${Env}-*:*",
            ],
            Scope::CfnStackSetTargets => &[
                "arn:${Partition}:cloudformation:${StackSetRegion}:${Account}:stackset-target/*",
                "arn:${Partition}:cloudformation:${Region}:*:type/resource/*",
            ],
            Scope::IamPassStackSetAdministrationRole => {
                &["arn:${Partition}:iam::${Account}:role/tandem-${Env}-StackSetAdministration"]
            }
            // The baseline template's `ReplicationRole` has no fixed name: CloudFormation names
            // it after the instance's stack, `StackSet-tandem-<env>-baseline-...`.
            Scope::IamPassReplicationRole => {
                &["arn:${Partition}:iam::${Account}:role/StackSet-tandem-${Env}-*"]
            }
            Scope::IamStackSetRoles => {
                &["arn:${Partition}:iam::${Account}:role/tandem-${Env}-StackSet*"]
            }
            Scope::S3Buckets => &["arn:${Partition}:s3:::tandem-${Env}-*"],
            Scope::S3BucketObjects => &["arn:${Partition}:s3:::tandem-${Env}-*/*"],
            // Named by the environment's `[state]`, not by the stack.
            Scope::StateBucket => &["arn:${Partition}:s3:::${StateBucket}"],
            Scope::StateObjects => &["arn:${Partition}:s3:::${StateBucket}/*"],
            Scope::RdsDbInstances => {
                &["arn:${Partition}:rds:${Region}:${Account}:db:tandem-${Env}-*"]
            }
            // CreateDBInstance is authorized on the instance (`RdsDbInstances`) and on the option
            // group, parameter group (`RdsParameterGroups`) and subnet group it uses: the engine's
            // default option group, the environment's own parameter group
            // (`tandem-<env>-postgres16-tls`) and subnet group (`tandem-<env>-db`).
            Scope::RdsCreateDbInstances => &[
                "arn:${Partition}:rds:${Region}:${Account}:og:default:*",
                "arn:${Partition}:rds:${Region}:${Account}:subgrp:tandem-${Env}-*",
            ],
            Scope::RdsParameterGroups => {
                &["arn:${Partition}:rds:${Region}:${Account}:pg:tandem-${Env}-*"]
            }
            Scope::RdsFinalSnapshots => {
                &["arn:${Partition}:rds:${Region}:${Account}:snapshot:tandem-${Env}-*"]
            }
            Scope::KmsKeysViaRds | Scope::KmsKeysViaSecretsManager => {
                &["arn:${Partition}:kms:${Region}:${Account}:key/*"]
            }
            // `tandem/<env>/database`, and the random suffix Secrets Manager adds to its ARN.
            Scope::SecretsManagerSecrets => {
                &["arn:${Partition}:secretsmanager:${Region}:${Account}:secret:tandem/${Env}/*"]
            }
            Scope::Route53HostedZones | Scope::Route53Records => {
                &["arn:${Partition}:route53:::hostedzone/*"]
            }
            Scope::Route53HealthChecks => &["arn:${Partition}:route53:::healthcheck/*"],
            Scope::Route53Changes => &["arn:${Partition}:route53:::change/*"],
            Scope::CloudWatchAlarms => {
                &["arn:${Partition}:cloudwatch:${AlarmRegion}:${Account}:alarm:tandem-${Env}-*"]
            }
            Scope::CloudWatchAlarmList => {
                &["arn:${Partition}:cloudwatch:${AlarmRegion}:${Account}:alarm:*"]
            }
            Scope::AutoScalingGroups => &[
                "arn:${Partition}:autoscaling:${Region}:${Account}:autoScalingGroup:*:autoScalingGroupName/StackSet-tandem-${Env}-*",
            ],
            Scope::Ec2PeeringViaCloudFormation => &[
                "arn:${Partition}:ec2:${Region}:${Account}:vpc/*",
                "arn:${Partition}:ec2:${Region}:${Account}:vpc-peering-connection/*",
                "arn:${Partition}:ec2:${Region}:${Account}:route-table/*",
            ],
        }
    }

    /// Why the resources are not narrower than they are, where they could not be.
    pub fn why_wide(self) -> Option<&'static str> {
        Some(match self {
            Scope::StsAny => "sts:GetCallerIdentity has no resource type (and is never denied)",
            Scope::Route53Any => {
                "route53:CreateHostedZone, CreateHealthCheck, ListHostedZonesByName and \
                 ListHealthChecks have no resource-level permissions"
            }
            Scope::CloudWatchAnyInRegions => {
                "cloudwatch:GetMetricStatistics has no resource-level permissions: limited to the \
                 environment's regions by aws:RequestedRegion"
            }
            Scope::AutoScalingAnyInRegions => {
                "autoscaling:DescribeAutoScalingGroups has no resource-level permissions: limited \
                 to the environment's regions by aws:RequestedRegion"
            }
            Scope::Ec2DescribeViaCloudFormation => {
                "EC2 Describe actions have no resource-level permissions: only through \
                 CloudFormation, in the environment's regions"
            }
            Scope::Route53HostedZones | Scope::Route53HealthChecks | Scope::Route53Changes => {
                "Route 53 ids are random and Route 53 has no tag condition: every zone, health \
                 check or change of the account"
            }
            Scope::Route53Records => {
                "any zone (ids are random), but only the environment's domain name, by \
                 route53:ChangeResourceRecordSetsNormalizedRecordNames"
            }
            Scope::KmsKeysViaRds => {
                "key ids are random: any key of the environment's regions, only through RDS \
                 (kms:ViaService)"
            }
            Scope::KmsKeysViaSecretsManager => {
                "key ids are random: any key of the environment's regions, only through Secrets \
                 Manager (kms:ViaService)"
            }
            Scope::SecretsManagerAnyInRegions => {
                "secretsmanager:GetRandomPassword has no resource-level permissions: limited to \
                 the environment's regions by aws:RequestedRegion"
            }
            Scope::IamPassReplicationRole => {
                "CloudFormation names the replication role after the stack set instance's stack"
            }
            Scope::CloudWatchAlarmList => "cloudwatch:DescribeAlarms is authorized on alarm:*",
            Scope::CfnStackSetTargets => {
                "stack instance operations are authorized on the stack set's targets and the \
                 resource types of its template"
            }
            Scope::RdsCreateDbInstances => {
                "CreateDBInstance is also authorized on the engine's default option groups"
            }
            _ => return None,
        })
    }

    /// The statement's condition, if any.
    fn condition(self, t: &Expansion<'_>) -> Option<Value> {
        let via_cloudformation = || json!({"aws:CalledVia": CALLED_VIA_CLOUDFORMATION});
        match self {
            Scope::CloudWatchAnyInRegions
            | Scope::AutoScalingAnyInRegions
            | Scope::SecretsManagerAnyInRegions => Some(json!({
                "StringEquals": {"aws:RequestedRegion": t.regions}
            })),
            Scope::Ec2DescribeViaCloudFormation => Some(json!({
                "StringEquals": {"aws:RequestedRegion": t.regions},
                "ForAnyValue:StringEquals": via_cloudformation(),
            })),
            Scope::Ec2PeeringViaCloudFormation | Scope::IamStackSetRoles => {
                Some(json!({"ForAnyValue:StringEquals": via_cloudformation()}))
            }
            Scope::IamPassStackSetAdministrationRole => Some(json!({
                "StringEquals": {"iam:PassedToService": CALLED_VIA_CLOUDFORMATION}
            })),
            Scope::IamPassReplicationRole => Some(json!({
                "StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}
            })),
            Scope::KmsKeysViaRds | Scope::KmsKeysViaSecretsManager => {
                let service = if self == Scope::KmsKeysViaRds {
                    "rds"
                } else {
                    "secretsmanager"
                };
                let services: Vec<String> = t
                    .regions
                    .iter()
                    .map(|r| format!("{service}.{r}.{}", regions::dns_suffix(r)))
                    .collect();
                Some(json!({"StringEquals": {"kms:ViaService": services}}))
            }
            Scope::Route53Records => Some(json!({
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": [t.domain]
                }
            })),
            _ => None,
        }
    }
}

use Operation::{Create, Delete, Find, Read, Update};

// The API operations of each provider's operations, by reading its code (`s3.rs`, `rds.rs`,
// `route53.rs`, `cloudformation.rs`, `cloudwatch.rs`, `autoscaling.rs`, `sts.rs`).
const S3_BUCKET_READ: &[&str] = &[
    "s3:HeadBucket",
    "s3:GetBucketVersioning",
    "s3:GetBucketEncryption",
    "s3:GetPublicAccessBlock",
    "s3:GetBucketPolicy",
    "s3:GetBucketTagging",
];
const S3_BUCKET_CONVERGE: &[&str] = &[
    "s3:GetBucketVersioning",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutBucketEncryption",
    "s3:DeleteBucketEncryption",
    "s3:PutPublicAccessBlock",
    "s3:DeletePublicAccessBlock",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
];
const S3_REPLICATION_PUT: &[&str] = &[
    "s3:GetBucketVersioning",
    "s3:GetBucketLocation",
    "s3:PutBucketReplication",
    "s3:GetBucketReplication",
];
const RDS_DESCRIBE: &[&str] = &["rds:DescribeDBInstances"];
const PARAMETER_GROUP_READ: &[&str] = &[
    "rds:DescribeDBParameterGroups",
    "rds:DescribeDBParameters",
    "rds:ListTagsForResource",
];
const RDS_UPDATE: &[&str] = &[
    "rds:DescribeDBInstances",
    "rds:StartDBInstance",
    "rds:ModifyDBInstance",
    "rds:StopDBInstance",
    "rds:AddTagsToResource",
    "rds:RemoveTagsFromResource",
];
const RDS_DELETE: &[&str] = &["rds:DescribeDBInstances", "rds:DeleteDBInstance"];
const HOSTED_ZONE_FIND: &[&str] = &["route53:ListHostedZonesByName", "route53:GetHostedZone"];
const HEALTH_CHECK_READ: &[&str] = &["route53:GetHealthCheck", "route53:ListTagsForResource"];
const RECORDS_READ: &[&str] = &["route53:ListResourceRecordSets"];
const RECORDS_CHANGE: &[&str] = &[
    "route53:ListResourceRecordSets",
    "route53:ChangeResourceRecordSets",
    "route53:GetChange",
];
const SECRET_READ: &[&str] = &["secretsmanager:DescribeSecret"];
const SECRET_CONVERGE: &[&str] = &[
    "secretsmanager:DescribeSecret",
    "secretsmanager:UpdateSecret",
    "secretsmanager:RemoveRegionsFromReplication",
    "secretsmanager:ReplicateSecretToRegions",
    "secretsmanager:GetRandomPassword",
    "secretsmanager:PutSecretValue",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
];
const SECRET_REPLICATE: &[&str] = &[
    "secretsmanager:DescribeSecret",
    "secretsmanager:RemoveRegionsFromReplication",
    "secretsmanager:ReplicateSecretToRegions",
];
const STACK_READ: &[&str] = &["cloudformation:DescribeStacks"];
const STACK_SET_READ: &[&str] = &["cloudformation:DescribeStackSet"];
const STACK_INSTANCE_READ: &[&str] = &[
    "sts:GetCallerIdentity",
    "cloudformation:ListStackInstances",
    "cloudformation:DescribeStackInstance",
    "cloudformation:DescribeStacks",
];
const ALARM_READ: &[&str] = &[
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
];
const GROUP_READ: &[&str] = &["autoscaling:DescribeAutoScalingGroups"];
const GROUP_SCALE: &[&str] = &[
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:UpdateAutoScalingGroup",
];

const fn site(user: &'static str, operation: Operation, apis: &'static [&'static str]) -> CallSite {
    CallSite {
        user,
        operation,
        apis,
    }
}

/// Every operation of every provider, and every direct call, with the API operations it calls.
pub const CALLS: &[CallSite] = &[
    // s3.rs
    site(kinds::S3_BUCKET, Read, S3_BUCKET_READ),
    site(kinds::S3_BUCKET, Find, S3_BUCKET_READ),
    site(kinds::S3_BUCKET, Create, &["s3:CreateBucket"]),
    site(kinds::S3_BUCKET, Create, S3_BUCKET_CONVERGE),
    site(kinds::S3_BUCKET, Create, S3_BUCKET_READ),
    site(kinds::S3_BUCKET, Update, S3_BUCKET_CONVERGE),
    site(kinds::S3_BUCKET, Update, S3_BUCKET_READ),
    site(
        kinds::S3_BUCKET,
        Delete,
        &[
            "s3:ListObjectVersions",
            "s3:DeleteObjects",
            "s3:DeleteBucket",
        ],
    ),
    site(
        kinds::S3_BUCKET_REPLICATION,
        Read,
        &["s3:GetBucketReplication"],
    ),
    site(
        kinds::S3_BUCKET_REPLICATION,
        Find,
        &["s3:GetBucketReplication"],
    ),
    site(kinds::S3_BUCKET_REPLICATION, Create, S3_REPLICATION_PUT),
    site(kinds::S3_BUCKET_REPLICATION, Update, S3_REPLICATION_PUT),
    site(
        kinds::S3_BUCKET_REPLICATION,
        Delete,
        &["s3:DeleteBucketReplication"],
    ),
    // route53.rs
    site(kinds::ROUTE53_HOSTED_ZONE, Read, &["route53:GetHostedZone"]),
    site(kinds::ROUTE53_HOSTED_ZONE, Find, HOSTED_ZONE_FIND),
    site(
        kinds::ROUTE53_HOSTED_ZONE,
        Create,
        &[
            "route53:ListHostedZonesByName",
            "route53:UpdateHostedZoneComment",
            "route53:CreateHostedZone",
            "route53:GetChange",
            "route53:ChangeTagsForResource",
            "route53:GetHostedZone",
        ],
    ),
    site(
        kinds::ROUTE53_HOSTED_ZONE,
        Update,
        &["route53:UpdateHostedZoneComment", "route53:GetHostedZone"],
    ),
    site(
        kinds::ROUTE53_HOSTED_ZONE,
        Delete,
        &["route53:DeleteHostedZone"],
    ),
    site(kinds::ROUTE53_HEALTH_CHECK, Read, HEALTH_CHECK_READ),
    site(
        kinds::ROUTE53_HEALTH_CHECK,
        Find,
        &[
            "route53:ListHealthChecks",
            "route53:ListTagsForResource",
            "route53:GetHealthCheck",
        ],
    ),
    site(
        kinds::ROUTE53_HEALTH_CHECK,
        Create,
        &[
            "route53:CreateHealthCheck",
            "route53:ChangeTagsForResource",
            "route53:GetHealthCheck",
            "route53:ListTagsForResource",
        ],
    ),
    site(
        kinds::ROUTE53_HEALTH_CHECK,
        Update,
        &[
            "route53:GetHealthCheck",
            "route53:UpdateHealthCheck",
            "route53:ChangeTagsForResource",
            "route53:ListTagsForResource",
        ],
    ),
    site(
        kinds::ROUTE53_HEALTH_CHECK,
        Delete,
        &["route53:DeleteHealthCheck"],
    ),
    site(kinds::ROUTE53_RECORD_SET, Read, RECORDS_READ),
    site(kinds::ROUTE53_RECORD_SET, Find, RECORDS_READ),
    site(kinds::ROUTE53_RECORD_SET, Create, RECORDS_CHANGE),
    site(kinds::ROUTE53_RECORD_SET, Update, RECORDS_CHANGE),
    site(kinds::ROUTE53_RECORD_SET, Delete, RECORDS_CHANGE),
    // rds.rs
    site(kinds::RDS_DB_INSTANCE, Read, RDS_DESCRIBE),
    site(kinds::RDS_DB_INSTANCE, Find, RDS_DESCRIBE),
    site(
        kinds::RDS_DB_INSTANCE,
        Create,
        &[
            "secretsmanager:GetSecretValue",
            "rds:CreateDBInstance",
            "rds:DescribeDBInstances",
            "rds:ModifyDBInstance",
            "rds:StopDBInstance",
        ],
    ),
    site(kinds::RDS_DB_INSTANCE, Update, RDS_UPDATE),
    site(
        kinds::RDS_DB_INSTANCE,
        Update,
        &["secretsmanager:GetSecretValue"],
    ),
    site(kinds::RDS_DB_INSTANCE, Delete, RDS_DELETE),
    site(kinds::RDS_DB_READ_REPLICA, Read, RDS_DESCRIBE),
    site(kinds::RDS_DB_READ_REPLICA, Find, RDS_DESCRIBE),
    site(
        kinds::RDS_DB_READ_REPLICA,
        Create,
        &[
            "rds:DescribeDBInstances",
            "rds:CreateDBInstanceReadReplica",
            "rds:ModifyDBInstance",
            "rds:RebootDBInstance",
            "rds:PromoteReadReplica",
            "rds:StopDBInstance",
        ],
    ),
    site(kinds::RDS_DB_READ_REPLICA, Update, RDS_UPDATE),
    site(
        kinds::RDS_DB_READ_REPLICA,
        Update,
        &["rds:PromoteReadReplica"],
    ),
    site(kinds::RDS_DB_READ_REPLICA, Delete, RDS_DELETE),
    // rds_params.rs
    site(kinds::RDS_DB_PARAMETER_GROUP, Read, PARAMETER_GROUP_READ),
    site(kinds::RDS_DB_PARAMETER_GROUP, Find, PARAMETER_GROUP_READ),
    site(
        kinds::RDS_DB_PARAMETER_GROUP,
        Create,
        &["rds:CreateDBParameterGroup", "rds:ModifyDBParameterGroup"],
    ),
    site(kinds::RDS_DB_PARAMETER_GROUP, Create, PARAMETER_GROUP_READ),
    site(
        kinds::RDS_DB_PARAMETER_GROUP,
        Update,
        &[
            "rds:ModifyDBParameterGroup",
            "rds:ResetDBParameterGroup",
            "rds:AddTagsToResource",
            "rds:RemoveTagsFromResource",
        ],
    ),
    site(kinds::RDS_DB_PARAMETER_GROUP, Update, PARAMETER_GROUP_READ),
    site(
        kinds::RDS_DB_PARAMETER_GROUP,
        Delete,
        &["rds:DeleteDBParameterGroup"],
    ),
    // secretsmanager.rs
    site(kinds::SECRETSMANAGER_DATABASE_SECRET, Read, SECRET_READ),
    site(kinds::SECRETSMANAGER_DATABASE_SECRET, Find, SECRET_READ),
    site(
        kinds::SECRETSMANAGER_DATABASE_SECRET,
        Create,
        &[
            "secretsmanager:GetRandomPassword",
            "secretsmanager:CreateSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:RestoreSecret",
        ],
    ),
    site(
        kinds::SECRETSMANAGER_DATABASE_SECRET,
        Create,
        SECRET_CONVERGE,
    ),
    site(
        kinds::SECRETSMANAGER_DATABASE_SECRET,
        Update,
        SECRET_CONVERGE,
    ),
    site(
        kinds::SECRETSMANAGER_DATABASE_SECRET,
        Delete,
        &[
            "secretsmanager:DescribeSecret",
            "secretsmanager:RemoveRegionsFromReplication",
            "secretsmanager:DeleteSecret",
        ],
    ),
    site(kinds::SECRETSMANAGER_SECRET_REPLICA, Read, SECRET_READ),
    site(kinds::SECRETSMANAGER_SECRET_REPLICA, Find, SECRET_READ),
    site(
        kinds::SECRETSMANAGER_SECRET_REPLICA,
        Create,
        SECRET_REPLICATE,
    ),
    site(
        kinds::SECRETSMANAGER_SECRET_REPLICA,
        Update,
        SECRET_REPLICATE,
    ),
    site(
        kinds::SECRETSMANAGER_SECRET_REPLICA,
        Delete,
        &[
            "secretsmanager:DescribeSecret",
            "secretsmanager:RemoveRegionsFromReplication",
        ],
    ),
    // cloudformation.rs
    site(kinds::CLOUDFORMATION_STACK, Read, STACK_READ),
    site(kinds::CLOUDFORMATION_STACK, Find, STACK_READ),
    site(
        kinds::CLOUDFORMATION_STACK,
        Create,
        &[
            "cloudformation:CreateStack",
            "cloudformation:DescribeStacks",
        ],
    ),
    site(
        kinds::CLOUDFORMATION_STACK,
        Update,
        &[
            "cloudformation:UpdateStack",
            "cloudformation:DescribeStacks",
        ],
    ),
    site(
        kinds::CLOUDFORMATION_STACK,
        Delete,
        &[
            "cloudformation:DescribeStacks",
            "cloudformation:DeleteStack",
        ],
    ),
    site(kinds::CLOUDFORMATION_STACK_SET, Read, STACK_SET_READ),
    site(kinds::CLOUDFORMATION_STACK_SET, Find, STACK_SET_READ),
    site(
        kinds::CLOUDFORMATION_STACK_SET,
        Create,
        &[
            "cloudformation:CreateStackSet",
            "cloudformation:DescribeStackSet",
        ],
    ),
    site(
        kinds::CLOUDFORMATION_STACK_SET,
        Update,
        &[
            "cloudformation:UpdateStackSet",
            "cloudformation:DescribeStackSetOperation",
            "cloudformation:DescribeStackSet",
        ],
    ),
    site(
        kinds::CLOUDFORMATION_STACK_SET,
        Delete,
        &["cloudformation:DeleteStackSet"],
    ),
    site(
        kinds::CLOUDFORMATION_STACK_INSTANCE,
        Read,
        STACK_INSTANCE_READ,
    ),
    site(
        kinds::CLOUDFORMATION_STACK_INSTANCE,
        Find,
        STACK_INSTANCE_READ,
    ),
    site(
        kinds::CLOUDFORMATION_STACK_INSTANCE,
        Create,
        &[
            "cloudformation:CreateStackInstances",
            "cloudformation:DescribeStackSetOperation",
        ],
    ),
    site(
        kinds::CLOUDFORMATION_STACK_INSTANCE,
        Create,
        STACK_INSTANCE_READ,
    ),
    site(
        kinds::CLOUDFORMATION_STACK_INSTANCE,
        Update,
        &[
            "cloudformation:UpdateStackInstances",
            "cloudformation:DescribeStackSetOperation",
        ],
    ),
    site(
        kinds::CLOUDFORMATION_STACK_INSTANCE,
        Update,
        STACK_INSTANCE_READ,
    ),
    site(
        kinds::CLOUDFORMATION_STACK_INSTANCE,
        Delete,
        &[
            "sts:GetCallerIdentity",
            "cloudformation:ListStackInstances",
            "cloudformation:DeleteStackInstances",
            "cloudformation:DescribeStackSetOperation",
        ],
    ),
    // cloudwatch.rs
    site(kinds::CLOUDWATCH_ALARM, Read, ALARM_READ),
    site(kinds::CLOUDWATCH_ALARM, Find, ALARM_READ),
    site(
        kinds::CLOUDWATCH_ALARM,
        Create,
        &["cloudwatch:PutMetricAlarm"],
    ),
    site(kinds::CLOUDWATCH_ALARM, Create, ALARM_READ),
    site(
        kinds::CLOUDWATCH_ALARM,
        Update,
        &[
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
        ],
    ),
    site(kinds::CLOUDWATCH_ALARM, Update, ALARM_READ),
    site(
        kinds::CLOUDWATCH_ALARM,
        Delete,
        &["cloudwatch:DeleteAlarms"],
    ),
    // autoscaling.rs (a delete leaves the group alone: no call)
    site(kinds::AUTOSCALING_GROUP_CAPACITY, Read, GROUP_READ),
    site(kinds::AUTOSCALING_GROUP_CAPACITY, Find, GROUP_READ),
    site(kinds::AUTOSCALING_GROUP_CAPACITY, Create, GROUP_SCALE),
    site(kinds::AUTOSCALING_GROUP_CAPACITY, Update, GROUP_SCALE),
    // Direct calls: the account preflight (sts.rs), the failover library's signals (signals.rs,
    // through rds.rs and route53.rs) and the promotion outside a plan.
    site("sts::preflight", Read, &["sts:GetCallerIdentity"]),
    // The S3 state backend (state_s3.rs): the state, the lock, the journal; `state init`, whose
    // bucket settings are an administrator's one-off (README) and stay out of the run's policy.
    site(
        "state_s3::S3Backend",
        Read,
        &["s3:GetObject", "s3:ListObjectsV2"],
    ),
    site(
        "state_s3::S3Backend",
        Update,
        &["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjects"],
    ),
    site(
        "state_s3::init",
        Create,
        &[
            "s3:HeadBucket",
            "s3:CreateBucket",
            "s3:PutBucketVersioning",
            "s3:PutBucketEncryption",
            "s3:PutPublicAccessBlock",
            "s3:PutBucketPolicy",
        ],
    ),
    site("rds::database_role", Read, RDS_DESCRIBE),
    site(
        "rds::replica_lag_sample",
        Read,
        &["cloudwatch:GetMetricStatistics"],
    ),
    site("route53::failover_records", Read, RECORDS_READ),
    site(
        "route53::health_check_status",
        Read,
        &["route53:GetHealthCheck", "route53:GetHealthCheckStatus"],
    ),
    site(
        "rds::promote_read_replica",
        Update,
        &["rds:PromoteReadReplica", "rds:DescribeDBInstances"],
    ),
];

const fn api(
    api: &'static str,
    actions: &'static [&'static str],
    scopes: &'static [Scope],
) -> ApiAction {
    ApiAction {
        api,
        actions,
        scopes,
    }
}

use Scope::*;

/// The IAM actions of each API operation Tandem calls (AWS Service Authorization Reference).
/// Where the operation's name is its action, `actions` repeats it.
pub const API_ACTIONS: &[ApiAction] = &[
    api(
        "sts:GetCallerIdentity",
        &["sts:GetCallerIdentity"],
        &[StsAny],
    ),
    // CloudFormation.
    api(
        "cloudformation:DescribeStacks",
        &["cloudformation:DescribeStacks"],
        &[CfnStacks, CfnStackSetInstanceStacks],
    ),
    api(
        "cloudformation:CreateStack",
        &["cloudformation:CreateStack"],
        &[CfnStacks],
    ),
    api(
        "cloudformation:UpdateStack",
        &["cloudformation:UpdateStack"],
        &[CfnStacks],
    ),
    api(
        "cloudformation:DeleteStack",
        &["cloudformation:DeleteStack"],
        &[CfnStacks],
    ),
    api(
        "cloudformation:DescribeStackSet",
        &["cloudformation:DescribeStackSet"],
        &[CfnStackSet],
    ),
    api(
        "cloudformation:DescribeStackSetOperation",
        &["cloudformation:DescribeStackSetOperation"],
        &[CfnStackSet],
    ),
    api(
        "cloudformation:CreateStackSet",
        &["cloudformation:CreateStackSet"],
        &[CfnStackSet],
    ),
    api(
        "cloudformation:UpdateStackSet",
        &["cloudformation:UpdateStackSet"],
        &[CfnStackSet, CfnStackSetTargets],
    ),
    api(
        "cloudformation:DeleteStackSet",
        &["cloudformation:DeleteStackSet"],
        &[CfnStackSet],
    ),
    api(
        "cloudformation:ListStackInstances",
        &["cloudformation:ListStackInstances"],
        &[CfnStackSet],
    ),
    api(
        "cloudformation:DescribeStackInstance",
        &["cloudformation:DescribeStackInstance"],
        &[CfnStackSet],
    ),
    api(
        "cloudformation:CreateStackInstances",
        &["cloudformation:CreateStackInstances"],
        &[CfnStackSet, CfnStackSetTargets],
    ),
    api(
        "cloudformation:UpdateStackInstances",
        &["cloudformation:UpdateStackInstances"],
        &[CfnStackSet, CfnStackSetTargets],
    ),
    api(
        "cloudformation:DeleteStackInstances",
        &["cloudformation:DeleteStackInstances"],
        &[CfnStackSet, CfnStackSetTargets],
    ),
    // S3: several operations are authorized by an action of another name.
    api("s3:HeadBucket", &["s3:ListBucket"], &[S3Buckets]),
    api(
        "s3:GetBucketVersioning",
        &["s3:GetBucketVersioning"],
        &[S3Buckets],
    ),
    api(
        "s3:PutBucketVersioning",
        &["s3:PutBucketVersioning"],
        &[S3Buckets],
    ),
    api(
        "s3:GetBucketEncryption",
        &["s3:GetEncryptionConfiguration"],
        &[S3Buckets],
    ),
    api(
        "s3:PutBucketEncryption",
        &["s3:PutEncryptionConfiguration"],
        &[S3Buckets],
    ),
    api(
        "s3:DeleteBucketEncryption",
        &["s3:PutEncryptionConfiguration"],
        &[S3Buckets],
    ),
    api(
        "s3:GetPublicAccessBlock",
        &["s3:GetBucketPublicAccessBlock"],
        &[S3Buckets],
    ),
    api(
        "s3:PutPublicAccessBlock",
        &["s3:PutBucketPublicAccessBlock"],
        &[S3Buckets],
    ),
    api(
        "s3:DeletePublicAccessBlock",
        &["s3:PutBucketPublicAccessBlock"],
        &[S3Buckets],
    ),
    api("s3:GetBucketPolicy", &["s3:GetBucketPolicy"], &[S3Buckets]),
    api("s3:PutBucketPolicy", &["s3:PutBucketPolicy"], &[S3Buckets]),
    api(
        "s3:DeleteBucketPolicy",
        &["s3:DeleteBucketPolicy"],
        &[S3Buckets],
    ),
    api(
        "s3:GetBucketTagging",
        &["s3:GetBucketTagging"],
        &[S3Buckets],
    ),
    api(
        "s3:PutBucketTagging",
        &["s3:PutBucketTagging"],
        &[S3Buckets],
    ),
    api(
        "s3:GetBucketLocation",
        &["s3:GetBucketLocation"],
        &[S3Buckets],
    ),
    api("s3:CreateBucket", &["s3:CreateBucket"], &[S3Buckets]),
    // The state backend's objects. A conditional delete (`If-Match` on an ETag) is authorized by
    // both s3:DeleteObject and s3:GetObject; SSE-KMS adds kms:GenerateDataKey (put) and
    // kms:Decrypt (get) on the state's key (README).
    api("s3:GetObject", &["s3:GetObject"], &[StateObjects]),
    api("s3:PutObject", &["s3:PutObject"], &[StateObjects]),
    api(
        "s3:DeleteObject",
        &["s3:DeleteObject", "s3:GetObject"],
        &[StateObjects],
    ),
    api("s3:ListObjectsV2", &["s3:ListBucket"], &[StateBucket]),
    api("s3:DeleteBucket", &["s3:DeleteBucket"], &[S3Buckets]),
    api(
        "s3:ListObjectVersions",
        &["s3:ListBucketVersions"],
        &[S3Buckets],
    ),
    api(
        "s3:DeleteObjects",
        &["s3:DeleteObject", "s3:DeleteObjectVersion"],
        &[S3BucketObjects, StateObjects],
    ),
    api(
        "s3:GetBucketReplication",
        &["s3:GetReplicationConfiguration"],
        &[S3Buckets],
    ),
    api(
        "s3:PutBucketReplication",
        &["s3:PutReplicationConfiguration"],
        &[S3Buckets],
    ),
    api(
        "s3:DeleteBucketReplication",
        &["s3:PutReplicationConfiguration"],
        &[S3Buckets],
    ),
    // RDS.
    api(
        "rds:DescribeDBInstances",
        &["rds:DescribeDBInstances"],
        &[RdsDbInstances],
    ),
    api(
        "rds:CreateDBInstance",
        &["rds:CreateDBInstance"],
        &[RdsDbInstances, RdsParameterGroups, RdsCreateDbInstances],
    ),
    api(
        "rds:CreateDBInstanceReadReplica",
        &["rds:CreateDBInstanceReadReplica"],
        &[RdsDbInstances, RdsParameterGroups, RdsCreateDbInstances],
    ),
    api(
        "rds:ModifyDBInstance",
        &["rds:ModifyDBInstance"],
        &[RdsDbInstances, RdsParameterGroups],
    ),
    api(
        "rds:RebootDBInstance",
        &["rds:RebootDBInstance"],
        &[RdsDbInstances],
    ),
    api(
        "rds:StopDBInstance",
        &["rds:StopDBInstance"],
        &[RdsDbInstances],
    ),
    api(
        "rds:StartDBInstance",
        &["rds:StartDBInstance"],
        &[RdsDbInstances],
    ),
    api(
        "rds:PromoteReadReplica",
        &["rds:PromoteReadReplica"],
        &[RdsDbInstances],
    ),
    api(
        "rds:DeleteDBInstance",
        &["rds:DeleteDBInstance"],
        &[RdsDbInstances],
    ),
    api(
        "rds:AddTagsToResource",
        &["rds:AddTagsToResource"],
        &[RdsDbInstances, RdsParameterGroups],
    ),
    api(
        "rds:RemoveTagsFromResource",
        &["rds:RemoveTagsFromResource"],
        &[RdsDbInstances, RdsParameterGroups],
    ),
    // rds:DbParameterGroup.
    api(
        "rds:DescribeDBParameterGroups",
        &["rds:DescribeDBParameterGroups"],
        &[RdsParameterGroups],
    ),
    api(
        "rds:DescribeDBParameters",
        &["rds:DescribeDBParameters"],
        &[RdsParameterGroups],
    ),
    api(
        "rds:ListTagsForResource",
        &["rds:ListTagsForResource"],
        &[RdsParameterGroups],
    ),
    api(
        "rds:CreateDBParameterGroup",
        &["rds:CreateDBParameterGroup"],
        &[RdsParameterGroups],
    ),
    api(
        "rds:ModifyDBParameterGroup",
        &["rds:ModifyDBParameterGroup"],
        &[RdsParameterGroups],
    ),
    api(
        "rds:ResetDBParameterGroup",
        &["rds:ResetDBParameterGroup"],
        &[RdsParameterGroups],
    ),
    api(
        "rds:DeleteDBParameterGroup",
        &["rds:DeleteDBParameterGroup"],
        &[RdsParameterGroups],
    ),
    // Secrets Manager.
    api(
        "secretsmanager:GetRandomPassword",
        &["secretsmanager:GetRandomPassword"],
        &[SecretsManagerAnyInRegions],
    ),
    api(
        "secretsmanager:DescribeSecret",
        &["secretsmanager:DescribeSecret"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:GetSecretValue",
        &["secretsmanager:GetSecretValue"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:CreateSecret",
        &["secretsmanager:CreateSecret"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:RestoreSecret",
        &["secretsmanager:RestoreSecret"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:UpdateSecret",
        &["secretsmanager:UpdateSecret"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:PutSecretValue",
        &["secretsmanager:PutSecretValue"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:TagResource",
        &["secretsmanager:TagResource"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:UntagResource",
        &["secretsmanager:UntagResource"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:ReplicateSecretToRegions",
        &["secretsmanager:ReplicateSecretToRegions"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:RemoveRegionsFromReplication",
        &["secretsmanager:RemoveRegionsFromReplication"],
        &[SecretsManagerSecrets],
    ),
    api(
        "secretsmanager:DeleteSecret",
        &["secretsmanager:DeleteSecret"],
        &[SecretsManagerSecrets],
    ),
    // Route 53.
    api(
        "route53:CreateHostedZone",
        &["route53:CreateHostedZone"],
        &[Route53Any],
    ),
    api(
        "route53:ListHostedZonesByName",
        &["route53:ListHostedZonesByName"],
        &[Route53Any],
    ),
    api(
        "route53:CreateHealthCheck",
        &["route53:CreateHealthCheck"],
        &[Route53Any],
    ),
    api(
        "route53:ListHealthChecks",
        &["route53:ListHealthChecks"],
        &[Route53Any],
    ),
    api(
        "route53:GetHostedZone",
        &["route53:GetHostedZone"],
        &[Route53HostedZones],
    ),
    api(
        "route53:UpdateHostedZoneComment",
        &["route53:UpdateHostedZoneComment"],
        &[Route53HostedZones],
    ),
    api(
        "route53:DeleteHostedZone",
        &["route53:DeleteHostedZone"],
        &[Route53HostedZones],
    ),
    api(
        "route53:ListResourceRecordSets",
        &["route53:ListResourceRecordSets"],
        &[Route53HostedZones],
    ),
    api(
        "route53:ChangeResourceRecordSets",
        &["route53:ChangeResourceRecordSets"],
        &[Route53Records],
    ),
    api(
        "route53:GetHealthCheck",
        &["route53:GetHealthCheck"],
        &[Route53HealthChecks],
    ),
    api(
        "route53:UpdateHealthCheck",
        &["route53:UpdateHealthCheck"],
        &[Route53HealthChecks],
    ),
    api(
        "route53:DeleteHealthCheck",
        &["route53:DeleteHealthCheck"],
        &[Route53HealthChecks],
    ),
    api(
        "route53:GetHealthCheckStatus",
        &["route53:GetHealthCheckStatus"],
        &[Route53HealthChecks],
    ),
    api(
        "route53:ChangeTagsForResource",
        &["route53:ChangeTagsForResource"],
        &[Route53HostedZones, Route53HealthChecks],
    ),
    api(
        "route53:ListTagsForResource",
        &["route53:ListTagsForResource"],
        &[Route53HostedZones, Route53HealthChecks],
    ),
    api(
        "route53:GetChange",
        &["route53:GetChange"],
        &[Route53Changes],
    ),
    // CloudWatch.
    api(
        "cloudwatch:DescribeAlarms",
        &["cloudwatch:DescribeAlarms"],
        &[CloudWatchAlarmList],
    ),
    api(
        "cloudwatch:ListTagsForResource",
        &["cloudwatch:ListTagsForResource"],
        &[CloudWatchAlarms],
    ),
    api(
        "cloudwatch:PutMetricAlarm",
        &["cloudwatch:PutMetricAlarm"],
        &[CloudWatchAlarms],
    ),
    api(
        "cloudwatch:DeleteAlarms",
        &["cloudwatch:DeleteAlarms"],
        &[CloudWatchAlarms],
    ),
    api(
        "cloudwatch:TagResource",
        &["cloudwatch:TagResource"],
        &[CloudWatchAlarms],
    ),
    api(
        "cloudwatch:UntagResource",
        &["cloudwatch:UntagResource"],
        &[CloudWatchAlarms],
    ),
    api(
        "cloudwatch:GetMetricStatistics",
        &["cloudwatch:GetMetricStatistics"],
        &[CloudWatchAnyInRegions],
    ),
    // Auto Scaling.
    api(
        "autoscaling:DescribeAutoScalingGroups",
        &["autoscaling:DescribeAutoScalingGroups"],
        &[AutoScalingAnyInRegions],
    ),
    api(
        "autoscaling:UpdateAutoScalingGroup",
        &["autoscaling:UpdateAutoScalingGroup"],
        &[AutoScalingGroups],
    ),
];

/// What AWS checks beyond the operations' own actions (AWS's documentation, not measured: the
/// local cloud enforces no IAM).
pub const DEPENDENT: &[Dependent] = &[
    Dependent {
        because: "CreateStackSet and UpdateStackSet name the stack set's administration role \
                  (stacks/multi-region: tandem-<env>-StackSetAdministration)",
        only_with: None,
        actions: &["iam:PassRole"],
        scopes: &[IamPassStackSetAdministrationRole],
    },
    Dependent {
        because: "PutBucketReplication names the replication role of the baseline template",
        only_with: None,
        actions: &["iam:PassRole"],
        scopes: &[IamPassReplicationRole],
    },
    Dependent {
        because: "the stack tandem-<env>-stackset-roles has no service role: CloudFormation \
                  creates, updates and deletes the stack set's two IAM roles and their inline \
                  policies with the caller's permissions (no managed policy is attached)",
        only_with: None,
        actions: &[
            "iam:CreateRole",
            "iam:GetRole",
            "iam:DeleteRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:PutRolePolicy",
            "iam:GetRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:TagRole",
            "iam:UntagRole",
        ],
        scopes: &[IamStackSetRoles],
    },
    Dependent {
        because: "CreateDBInstance and CreateDBInstanceReadReplica encrypt with each region's \
                  baseline KMS key: RDS makes a grant with the caller's permissions",
        only_with: None,
        actions: &["kms:CreateGrant", "kms:DescribeKey"],
        scopes: &[KmsKeysViaRds],
    },
    Dependent {
        because: "the database secret is encrypted with each region's baseline KMS key: \
                  CreateSecret, PutSecretValue and GetSecretValue, and ReplicateSecretToRegions \
                  (its replica's key), use it with the caller's permissions",
        only_with: None,
        actions: &[
            "kms:GenerateDataKey",
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:DescribeKey",
        ],
        scopes: &[KmsKeysViaSecretsManager],
    },
    Dependent {
        because: "CreateSecret with Tags (tags on create) and with AddReplicaRegions",
        only_with: None,
        actions: &[
            "secretsmanager:TagResource",
            "secretsmanager:ReplicateSecretToRegions",
        ],
        scopes: &[SecretsManagerSecrets],
    },
    Dependent {
        because: "CreateDBInstance, CreateDBInstanceReadReplica and CreateDBParameterGroup with \
                  Tags (tags on create)",
        only_with: None,
        actions: &["rds:AddTagsToResource"],
        scopes: &[RdsDbInstances, RdsParameterGroups],
    },
    Dependent {
        because: "DeleteDBInstance with FinalDBSnapshotIdentifier takes a snapshot",
        only_with: None,
        actions: &["rds:CreateDBSnapshot"],
        scopes: &[RdsFinalSnapshots],
    },
    Dependent {
        because: "PutMetricAlarm with Tags (tags on create)",
        only_with: None,
        actions: &["cloudwatch:TagResource"],
        scopes: &[CloudWatchAlarms],
    },
    Dependent {
        because: "CreateStack and CreateStackSet with Tags (tags on create)",
        only_with: None,
        actions: &["cloudformation:TagResource"],
        scopes: &[CfnStacks, CfnStackSet],
    },
    Dependent {
        because: "the VPC peering stacks have no service role: CloudFormation peers the VPCs and \
                  adds the routes with the caller's permissions",
        only_with: Some(Feature::VpcPeering),
        actions: &[
            "ec2:CreateVpcPeeringConnection",
            "ec2:AcceptVpcPeeringConnection",
            "ec2:DeleteVpcPeeringConnection",
            "ec2:CreateRoute",
            "ec2:ReplaceRoute",
            "ec2:DeleteRoute",
            "ec2:CreateTags",
        ],
        scopes: &[Ec2PeeringViaCloudFormation],
    },
    Dependent {
        because: "the VPC peering stacks read what they made",
        only_with: Some(Feature::VpcPeering),
        actions: &[
            "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeRouteTables",
        ],
        scopes: &[Ec2DescribeViaCloudFormation],
    },
];

/// The IAM side of `api`, if declared.
pub fn api_action(api: &str) -> Option<&'static ApiAction> {
    API_ACTIONS.iter().find(|a| a.api == api)
}

/// One use of the API, flattened: who calls (`kind`: a resource kind or a direct call), for what
/// operation, which API operation, the IAM actions it needs and on what resources (patterns with
/// placeholders).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionUse {
    pub kind: &'static str,
    pub operation: Operation,
    pub api: &'static str,
    pub actions: Vec<&'static str>,
    pub resources: Vec<&'static str>,
}

/// Every use of the API: [`CALLS`] joined with [`API_ACTIONS`].
///
/// # Panics
/// When a call site names an API operation [`API_ACTIONS`] does not declare (a test rules it
/// out).
pub fn actions() -> Vec<ActionUse> {
    let mut out = Vec::new();
    for site in CALLS {
        for api in site.apis {
            let a = api_action(api).unwrap_or_else(|| panic!("{api} is not in API_ACTIONS"));
            out.push(ActionUse {
                kind: site.user,
                operation: site.operation,
                api,
                actions: a.actions.to_vec(),
                resources: a
                    .scopes
                    .iter()
                    .flat_map(|s| s.resources())
                    .copied()
                    .collect(),
            });
        }
    }
    out
}

/// The environment a policy is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyTarget {
    /// The environment's name (`tandem-<env>-*` names).
    pub env: String,
    /// 12 digits.
    pub account: String,
    pub primary_region: String,
    pub secondary_region: String,
    pub stackset_region: String,
    /// The Route 53 domain whose records Tandem changes.
    pub domain: String,
    pub vpc_peering: bool,
    /// Only what reading the cloud needs (`plan`, `preview`, `status`, `check-health`).
    pub read_only: bool,
    /// The S3 state backend's bucket (`[state] bucket`), if the environment keeps its state in S3.
    pub state_bucket: Option<String>,
}

/// What the placeholders expand to.
struct Expansion<'a> {
    partition: &'static str,
    account: &'a str,
    env: &'a str,
    /// The environment's two regions: primary, secondary.
    regions: Vec<String>,
    alarm_regions: Vec<String>,
    stackset_region: &'a str,
    domain: String,
    state_bucket: Option<&'a str>,
}

impl Expansion<'_> {
    fn expand(&self, pattern: &str) -> Vec<String> {
        let pattern = &match (pattern.contains("${StateBucket}"), self.state_bucket) {
            (false, _) => pattern.to_string(),
            (true, Some(bucket)) => pattern.replace("${StateBucket}", bucket),
            (true, None) => return Vec::new(),
        };
        let fixed = pattern
            .replace("${Partition}", self.partition)
            .replace("${Account}", self.account)
            .replace("${Env}", self.env)
            .replace("${StackSetRegion}", self.stackset_region);
        let per = |key: &str, list: &[String]| -> Vec<String> {
            list.iter().map(|r| fixed.replace(key, r)).collect()
        };
        if fixed.contains("${Region}") {
            per("${Region}", &self.regions)
        } else if fixed.contains("${AlarmRegion}") {
            per("${AlarmRegion}", &self.alarm_regions)
        } else {
            vec![fixed]
        }
    }
}

/// The API operations the target needs: every one, or those of reads only.
fn apis_needed(read_only: bool) -> BTreeSet<&'static str> {
    CALLS
        .iter()
        .filter(|s| !read_only || s.operation.reads_only())
        .flat_map(|s| s.apis.iter().copied())
        .collect()
}

/// The least-privilege IAM policy document for running Tandem on `t` (`Version` 2012-10-17): one
/// statement per [`Scope`], in the order of the services, actions sorted.
pub fn policy(t: &PolicyTarget) -> Value {
    let regions_list = vec![t.primary_region.clone(), t.secondary_region.clone()];
    let mut alarm_regions = regions_list.clone();
    if !alarm_regions.iter().any(|r| r == ROUTE53_METRICS_REGION) {
        alarm_regions.push(ROUTE53_METRICS_REGION.to_string());
    }
    let x = Expansion {
        partition: regions::partition(&t.primary_region),
        account: &t.account,
        env: &t.env,
        regions: regions_list,
        alarm_regions,
        stackset_region: &t.stackset_region,
        domain: t.domain.trim_end_matches('.').to_ascii_lowercase(),
        state_bucket: t.state_bucket.as_deref(),
    };
    let mut by_scope: BTreeMap<Scope, BTreeSet<&'static str>> = BTreeMap::new();
    for api in apis_needed(t.read_only) {
        if let Some(a) = api_action(api) {
            for scope in a.scopes {
                by_scope.entry(*scope).or_default().extend(a.actions);
            }
        }
    }
    if !t.read_only {
        for d in DEPENDENT {
            if d.only_with == Some(Feature::VpcPeering) && !t.vpc_peering {
                continue;
            }
            for scope in d.scopes {
                by_scope.entry(*scope).or_default().extend(d.actions);
            }
        }
    }
    let statements: Vec<Value> = by_scope
        .into_iter()
        .filter(|(scope, _)| scope.resources().iter().any(|p| !x.expand(p).is_empty()))
        .map(|(scope, actions)| {
            let mut resources: Vec<String> = Vec::new();
            for r in scope.resources().iter().flat_map(|p| x.expand(p)) {
                if !resources.contains(&r) {
                    resources.push(r);
                }
            }
            let mut s = serde_json::Map::new();
            s.insert("Sid".into(), json!(scope.sid()));
            s.insert("Effect".into(), json!("Allow"));
            s.insert("Action".into(), json!(actions));
            s.insert(
                "Resource".into(),
                if resources.len() == 1 {
                    json!(resources[0])
                } else {
                    json!(resources)
                },
            );
            if let Some(c) = scope.condition(&x) {
                s.insert("Condition".into(), c);
            }
            Value::Object(s)
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Whether an IAM action pattern (`rds:Describe*`, `s3:*`) matches `action`: case-insensitive,
/// `*` for any run of characters, `?` for one.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

#[cfg(test)]
mod tests;
