//! AWS providers on the official Rust SDK: the only crate that imports `aws-sdk-*`.
//!
//! The principal types are [`AwsClients`] (one SDK configuration per region, with endpoint
//! overrides for the local cloud, built from [`ClientSettings`]) and one [`Provider`] per resource
//! kind, all registered by [`providers`]:
//! [`s3::BucketProvider`], [`s3::BucketReplicationProvider`], [`route53::HostedZoneProvider`],
//! [`route53::HealthCheckProvider`], [`route53::RecordSetProvider`], [`rds::DbInstanceProvider`],
//! [`rds::DbReadReplicaProvider`], [`rds_params::DbParameterGroupProvider`],
//! [`cloudformation::StackProvider`],
//! [`cloudformation::StackSetProvider`], [`cloudformation::StackInstanceProvider`] and
//! [`cloudwatch::AlarmProvider`] and [`autoscaling::GroupCapacityProvider`] and
//! [`secretsmanager::DatabaseSecretProvider`] (with [`secretsmanager::SecretReplicaProvider`]). Outside the trait: [`preflight`] (STS: refuse the wrong account),
//! [`rds::promote_read_replica`] and [`rds::replica_lag_seconds`] for failover, and
//! [`health_check_status`] (Route 53's own verdict on a health check) for `check-health`. The failover
//! operations that change resources are also properties, so the engine plans them like any change:
//! `rds:DbReadReplica` `promoted` (one way) and `rds:DbInstance` `fenced` (stop/start, into an
//! isolating security group first when one is given).
//!
//! Read-only signals, so that a failover verdict is read from the cloud (or said not to be
//! verifiable here, [`AwsClients::emulated`]): [`rds::database_role`] (writer, replica, missing),
//! [`rds::replica_lag_sample`] (the last `ReplicaLag` datapoint and its time),
//! [`route53::failover_records`] (the failover records as the control plane holds them) and
//! [`dns`] (what the hosted zone's name servers answer, and the system resolver's addresses).
//!
//! [`state_s3`] is the S3 state backend (`[state] backend = "s3"`): the engine's `StateBackend`
//! on a versioned, SSE-KMS, TLS-only bucket, with a conditional-write lock and per-batch journal
//! objects.
//!
//! [`iam`] declares, as data, the API operations each provider operation and each direct call
//! makes, the IAM actions and resources each needs, and builds the least-privilege policy of an
//! environment from them (`tandem iam-policy`); its tests check the declaration against this
//! crate's sources.
//!
//! # Invariants
//! - Every AWS call goes through [`call::call`]: errors are classified in one place
//!   ([`error::classify`]) into the engine's [`ErrorClass`](tandem_engine::ErrorClass), and
//!   retryable ones are retried with jittered exponential backoff, a bounded number of times.
//! - Every provider validates with `tandem_schema` before it calls the cloud, reads back live
//!   inputs in the same property vocabulary as the schema builders, treats not-found on delete as
//!   done, and can `find` what an interrupted create made (deterministic names, tags or tokens).
//! - Waits (RDS, CloudFormation, Route 53) are bounded polls whose first check is immediate.
//! - No password is ever stored, logged or shown: a database's master password lives in a
//!   Secrets Manager secret Tandem manages ([`secretsmanager`]); it is read from there into the one
//!   request that needs it (`MasterUserPassword`), held in a [`secretsmanager::SecretText`] on the
//!   way, and the state keeps the secret's ARN. After a failover the promoted writer's credentials
//!   are read in its own region, from the replica ([`secretsmanager::secret_arn_for_region`]).
//!
//! # Known gaps, and what the local cloud (moto 5.2) cannot verify
//! - The Rust SDK has no `SourceRegion` pre-signing for `CreateDBInstanceReadReplica`: [`presign`]
//!   builds the `PreSignedUrl` AWS needs for an encrypted cross-region replica. moto ignores it,
//!   so only its shape (and a signature cross-checked with botocore) is tested.
//! - moto answers `GetBucketVersioning` with the wrong XML root (read leniently in [`s3`]), always
//!   reports `DeleteMarkerReplication` Disabled and drops `SourceSelectionCriteria` on read (with
//!   [`ClientSettings::local_cloud`] set, those two are copied from the last inputs instead), and
//!   answers `DescribeStackInstance` of a deleted instance with HTTP 500 (so existence is checked
//!   with `ListStackInstances` first).
//! - moto answers `GetHealthCheckStatus` of any existing check with one fixed `Success`
//!   observation, whatever the endpoint does: with [`ClientSettings::local_cloud`] set,
//!   [`health_check_status`] says the status is not provided instead of believing it.
//! - moto enforces the TLS-only bucket policy against its own plain-http endpoint: object
//!   operations on such buckets are denied locally.
//! - moto keeps no key for a replicated secret (`ReplicationStatus` always names
//!   `alias/aws/secretsmanager`; `DescribeSecret` in the replica's region answers the primary's key):
//!   with [`ClientSettings::local_cloud`] set, a replica's key is read back from the last inputs.
//!   moto stores a DB instance's `MasterUserPassword` but never returns it: the tests record the
//!   requests on the way to moto instead.
//! - RDS networks and parameters ([`rds`], [`rds_params`]): moto resolves a cross-region replica's
//!   `DBSubnetGroupName` in its source's region (so its VPC there is the source's; the name is
//!   what is checked), copies the source's parameter group onto a new replica (AWS starts a
//!   cross-region one in the engine's default group) and answers HTTP 500 when the replica's
//!   region has no group of that name, refuses no parameter group at replica creation (AWS refuses
//!   one for PostgreSQL), always reports `ParameterApplyStatus` `in-sync` (so the reboot of a new
//!   replica into its group is not exercised), deletes a parameter group still in use (AWS refuses:
//!   `InvalidDBParameterGroupState`), answers `ResetDBParameterGroup` with HTTP 500, and lists a
//!   missing parameter group as an empty list instead of `DBParameterGroupNotFound`.

pub mod autoscaling;
pub mod call;
pub mod clients;
pub mod cloudformation;
pub mod cloudwatch;
pub mod dns;
pub mod error;
pub mod iam;
pub mod presign;
pub mod props;
pub mod rds;
pub mod rds_params;
pub mod route53;
pub mod s3;
pub mod secretsmanager;
pub mod signals;
pub mod state_s3;
pub mod sts;
pub mod wait;

use std::sync::Arc;

use tandem_engine::provider::{Provider, Providers};

pub use call::RetryPolicy;
pub use clients::{AwsClients, ClientSettings, StaticCredentials};
pub use error::{AwsError, CallError};
pub use route53::{CheckerReport, HealthCheckStatus, health_check_status};
pub use signals::AwsSignals;
pub use sts::{CallerIdentity, preflight};
pub use wait::WaitPolicy;

/// Every AWS provider, sharing `clients` (and one set of stack-set locks).
///
/// The deployment's tags (`tandem:stack`, `tandem:env`) are taken from each operation's
/// [`OpContext`](tandem_engine::OpContext).
pub fn providers(clients: AwsClients) -> Providers {
    let locks = cloudformation::StackSetLocks::new();
    let list: Vec<Arc<dyn Provider>> = vec![
        Arc::new(s3::BucketProvider::new(clients.clone())),
        Arc::new(s3::BucketReplicationProvider::new(clients.clone())),
        Arc::new(route53::HostedZoneProvider::new(clients.clone())),
        Arc::new(rds::DbInstanceProvider::new(clients.clone())),
        Arc::new(cloudformation::StackProvider::new(clients.clone())),
        Arc::new(cloudformation::StackSetProvider::new(
            clients.clone(),
            locks.clone(),
        )),
        Arc::new(cloudformation::StackInstanceProvider::new(
            clients.clone(),
            locks,
        )),
        Arc::new(rds::DbReadReplicaProvider::new(clients.clone())),
        Arc::new(rds_params::DbParameterGroupProvider::new(clients.clone())),
        Arc::new(route53::HealthCheckProvider::new(clients.clone())),
        Arc::new(route53::RecordSetProvider::new(clients.clone())),
        Arc::new(cloudwatch::AlarmProvider::new(clients.clone())),
        Arc::new(autoscaling::GroupCapacityProvider::new(clients.clone())),
        Arc::new(secretsmanager::DatabaseSecretProvider::new(clients.clone())),
        Arc::new(secretsmanager::SecretReplicaProvider::new(clients.clone())),
    ];
    let mut p = Providers::new();
    for provider in list {
        p.add(provider);
    }
    p
}
