//! Which resources lose data when deleted or replaced: they get the louder banner.

use tandem_schema::kinds;

/// Kinds whose deletion or replacement loses data: they get the louder banner.
pub const STATEFUL_KINDS: &[&str] = &[
    kinds::RDS_DB_INSTANCE,
    kinds::RDS_DB_READ_REPLICA,
    kinds::S3_BUCKET,
    kinds::ROUTE53_HOSTED_ZONE,
];

pub fn is_stateful(kind: &str) -> bool {
    STATEFUL_KINDS.contains(&kind)
}
