//! What the failover library needs to know of a stack: which of its resources play which part.

use std::collections::BTreeMap;

use tandem_core::{ResourceAddr, Value};

use crate::posture::DbMember;

/// The part a resource plays in a failover: which phase changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A database member (promoted, fenced, created or deleted by the phases that name it).
    Database,
    /// A region's application capacity (the scale phases).
    Capacity,
    /// The failover record pair (the DNS phase).
    FailoverRecords,
    /// A region's health check (outage simulation on AWS inverts it).
    HealthCheck,
    /// Replication of assets between the regions (the replication phase).
    Replication,
}

/// The stack's topology, implemented by the stack program: which resources are the databases,
/// health checks, failover records and capacities, and where to read what a check needs.
///
/// Implementations are pure: they derive addresses and names from the environment, and read
/// endpoints from the outputs they are given.
pub trait Topology: Send + Sync {
    /// The address a database member is declared at.
    fn database(&self, member: &DbMember) -> ResourceAddr;
    /// The database's identifier in the cloud (`DBInstanceIdentifier`).
    fn database_identifier(&self, member: &DbMember) -> String;
    /// The address of `region`'s Route 53 health check.
    fn health_check(&self, region: &str) -> ResourceAddr;
    /// The address of the failover record pair.
    fn failover_records(&self) -> ResourceAddr;
    /// The address of the hosted zone holding the records.
    fn hosted_zone(&self) -> ResourceAddr;
    /// The name users resolve (the failover records' name).
    fn app_name(&self) -> String;
    /// The address of `region`'s application capacity.
    fn capacity(&self, region: &str) -> ResourceAddr;
    /// The desired capacity of a region that serves traffic.
    fn serving_capacity(&self) -> i64;
    /// The part `addr` plays in a failover, if any.
    fn role(&self, addr: &ResourceAddr) -> Option<Role>;
    /// The URL of `region`'s application health endpoint, as Route 53's checker probes it, from
    /// the stack's outputs (`None` before the region is deployed).
    fn health_url(&self, region: &str, outputs: &BTreeMap<String, Value>) -> Option<String>;
    /// The DNS name of `region`'s load balancer, from the stack's outputs: the DNS answer for
    /// [`Topology::app_name`] is that load balancer's addresses when the records send traffic there.
    fn load_balancer_name(&self, region: &str, outputs: &BTreeMap<String, Value>)
    -> Option<String>;
    /// Whether the environment protects its databases from deletion (a failback then keeps its
    /// former writers instead of deleting them).
    fn protects_databases(&self) -> bool;
}
