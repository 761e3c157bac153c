//! Typed descriptions of the AWS resources Tandem manages, with no I/O and no AWS SDK.
//!
//! Each resource kind has a Pulumi-style builder that turns into a [`tandem_core::ResourceDecl`]:
//! [`s3::Bucket`], [`s3::BucketReplication`], [`route53::HostedZone`], [`route53::HealthCheck`],
//! [`route53::RecordSet`] (with [`route53::Record`]), [`rds::DbInstance`], [`rds::DbReadReplica`],
//! [`rds::DbParameterGroup`], [`cloudformation::Stack`], [`cloudformation::StackSet`],
//! [`cloudformation::StackInstance`], [`cloudwatch::Alarm`], [`autoscaling::GroupCapacity`] and
//! [`secretsmanager::DatabaseSecret`] (with [`secretsmanager::SecretReplica`]).
//! Every property setter accepts anything that converts into a [`tandem_core::Value`], so the
//! output of another resource (a reference) works wherever a literal does.
//!
//! The kind names live in [`kinds`]; the pure validation functions the providers run before any cloud
//! call live next to each builder (`s3::validate_bucket`, `route53::validate_health_check`, ...);
//! [`regions`] holds the table of known AWS regions and AWS's published canonical hosted-zone ids of
//! application load balancers.
//!
//! # Invariants
//! Nothing here performs I/O or panics on bad input: invalid names are errors from the constructors,
//! invalid properties are errors from the `validate_*` functions.

#[macro_use]
mod builder;
pub mod autoscaling;
pub mod cloudformation;
pub mod cloudwatch;
mod props;
pub mod rds;
pub mod regions;
pub mod route53;
pub mod s3;
pub mod secretsmanager;

pub use props::{PropError, props_of};

/// The resource kind names, `service:Type`, as they appear in resource addresses.
pub mod kinds {
    pub const S3_BUCKET: &str = "s3:Bucket";
    pub const S3_BUCKET_REPLICATION: &str = "s3:BucketReplication";
    pub const ROUTE53_HOSTED_ZONE: &str = "route53:HostedZone";
    pub const ROUTE53_HEALTH_CHECK: &str = "route53:HealthCheck";
    pub const ROUTE53_RECORD_SET: &str = "route53:RecordSet";
    pub const RDS_DB_INSTANCE: &str = "rds:DbInstance";
    pub const RDS_DB_READ_REPLICA: &str = "rds:DbReadReplica";
    pub const RDS_DB_PARAMETER_GROUP: &str = "rds:DbParameterGroup";
    pub const CLOUDFORMATION_STACK: &str = "cloudformation:Stack";
    pub const CLOUDFORMATION_STACK_SET: &str = "cloudformation:StackSet";
    pub const CLOUDFORMATION_STACK_INSTANCE: &str = "cloudformation:StackInstance";
    pub const CLOUDWATCH_ALARM: &str = "cloudwatch:Alarm";
    pub const AUTOSCALING_GROUP_CAPACITY: &str = "autoscaling:GroupCapacity";
    pub const SECRETSMANAGER_DATABASE_SECRET: &str = "secretsmanager:DatabaseSecret";
    pub const SECRETSMANAGER_SECRET_REPLICA: &str = "secretsmanager:SecretReplica";

    /// Every kind above.
    pub const ALL: &[&str] = &[
        S3_BUCKET,
        S3_BUCKET_REPLICATION,
        ROUTE53_HOSTED_ZONE,
        ROUTE53_HEALTH_CHECK,
        ROUTE53_RECORD_SET,
        RDS_DB_INSTANCE,
        RDS_DB_READ_REPLICA,
        RDS_DB_PARAMETER_GROUP,
        CLOUDFORMATION_STACK,
        CLOUDFORMATION_STACK_SET,
        CLOUDFORMATION_STACK_INSTANCE,
        CLOUDWATCH_ALARM,
        AUTOSCALING_GROUP_CAPACITY,
        SECRETSMANAGER_DATABASE_SECRET,
        SECRETSMANAGER_SECRET_REPLICA,
    ];
}

/// The tag keys Tandem puts on every resource that takes tags.
pub mod tags {
    pub const STACK: &str = "tandem:stack";
    pub const ENV: &str = "tandem:env";
    pub const ADDR: &str = "tandem:addr";
    /// The prefix of Tandem's own tags; user tags may not use it.
    pub const PREFIX: &str = "tandem:";
}
