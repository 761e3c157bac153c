//! The stack's [`Topology`]: which of its resources the failover library promotes, fences,
//! scales, checks and swaps, derived from the environment alone (the same for every posture).

use std::collections::BTreeMap;

use tandem_core::{Region, ResourceAddr, Value};
use tandem_posture::{DbKind, DbMember, Role, Topology};
use tandem_schema::kinds;

use crate::config::Environment;

/// The multi-region stack's topology for one environment.
#[derive(Clone, Debug)]
pub struct MultiRegionTopology {
    env: Environment,
}

impl MultiRegionTopology {
    pub fn new(env: Environment) -> MultiRegionTopology {
        MultiRegionTopology { env }
    }
}

/// An address the program declares: its region and name are valid by construction.
fn addr(region: &str, kind: &str, name: &str) -> ResourceAddr {
    let region = Region::parse(region).expect("the environment's regions are validated");
    ResourceAddr::new(&region, kind, name).expect("the program's names are valid")
}

/// The DB instance identifier of a database member: `app-db` → `tandem-<env>-app`.
pub(crate) fn db_identifier(env: &Environment, member: &str) -> String {
    format!(
        "tandem-{}-{}",
        env.name,
        member.replacen("app-db", "app", 1)
    )
}

impl Topology for MultiRegionTopology {
    fn database(&self, member: &DbMember) -> ResourceAddr {
        let kind = match member.kind {
            DbKind::Instance => kinds::RDS_DB_INSTANCE,
            DbKind::Replica => kinds::RDS_DB_READ_REPLICA,
        };
        addr(&member.region, kind, &member.name)
    }

    fn database_identifier(&self, member: &DbMember) -> String {
        db_identifier(&self.env, &member.name)
    }

    fn health_check(&self, region: &str) -> ResourceAddr {
        addr(
            "global",
            kinds::ROUTE53_HEALTH_CHECK,
            &format!("app-{region}"),
        )
    }

    fn failover_records(&self) -> ResourceAddr {
        addr("global", kinds::ROUTE53_RECORD_SET, "app")
    }

    fn hosted_zone(&self) -> ResourceAddr {
        addr("global", kinds::ROUTE53_HOSTED_ZONE, "zone")
    }

    fn app_name(&self) -> String {
        self.env.domain_name.clone()
    }

    fn capacity(&self, region: &str) -> ResourceAddr {
        addr(region, kinds::AUTOSCALING_GROUP_CAPACITY, "app")
    }

    fn serving_capacity(&self) -> i64 {
        i64::from(self.env.sizes.primary_desired_capacity)
    }

    fn role(&self, addr: &ResourceAddr) -> Option<Role> {
        match addr.kind() {
            kinds::RDS_DB_INSTANCE | kinds::RDS_DB_READ_REPLICA => Some(Role::Database),
            kinds::AUTOSCALING_GROUP_CAPACITY => Some(Role::Capacity),
            kinds::ROUTE53_RECORD_SET => Some(Role::FailoverRecords),
            kinds::ROUTE53_HEALTH_CHECK => Some(Role::HealthCheck),
            kinds::S3_BUCKET_REPLICATION => Some(Role::Replication),
            _ => None,
        }
    }

    fn health_url(&self, region: &str, outputs: &BTreeMap<String, Value>) -> Option<String> {
        if let Some(url) = self.env.app_health_url(region) {
            return Some(url);
        }
        let dns = self.load_balancer_name(region, outputs)?;
        let scheme = if self.env.http_only { "http" } else { "https" };
        Some(format!("{scheme}://{dns}/health"))
    }

    fn load_balancer_name(
        &self,
        region: &str,
        outputs: &BTreeMap<String, Value>,
    ) -> Option<String> {
        outputs
            .get(&format!("alb_dns_{region}"))?
            .as_str()
            .map(str::to_string)
    }

    fn protects_databases(&self) -> bool {
        self.env.protect_stateful
    }
}
