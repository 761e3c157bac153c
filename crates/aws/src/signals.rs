//! [`AwsSignals`]: the failover library's [`CloudSignals`], read from AWS (or the local cloud)
//! through this crate's calls. Every answer names the API and region it was read from, or says
//! why it could not be: an emulator that cannot tell, a metric with no datapoints, a call that
//! failed.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tandem_failover::ControlPlane;
use tandem_failover::signals::{
    CloudSignals, DbRole, DbState, FailoverRecord, LagSample, Reading, Source,
};

use crate::clients::AwsClients;
use crate::route53::{Failover, HealthCheckStatus};
use crate::{dns, rds, route53};

/// How long a DNS question may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// The cloud's signals through the SDK clients.
#[derive(Clone, Debug)]
pub struct AwsSignals {
    clients: AwsClients,
    /// Where Route 53's failover records are read for a verdict. On the local cloud: moto itself,
    /// not the region gateway — the gateway cuts Route 53's control plane off with us-east-1,
    /// while the records it serves stand in for the DNS data plane, which AWS keeps up when the
    /// control plane is down. Elsewhere: the same clients.
    records: AwsClients,
    records_note: Option<String>,
    /// The URL whose answer says a control plane is up, by `global` or region name.
    control_urls: BTreeMap<String, String>,
}

impl AwsSignals {
    /// Signals read through `clients`; `control_urls` maps `global` and each region to the URL
    /// whose answer says its control plane is up.
    pub fn new(clients: AwsClients, control_urls: BTreeMap<String, String>) -> AwsSignals {
        AwsSignals {
            records: clients.clone(),
            clients,
            records_note: None,
            control_urls,
        }
    }

    /// Reads the failover records through `records` (on the local cloud, moto directly), saying
    /// so with `note` in each reading's source.
    pub fn with_records_from(mut self, records: AwsClients, note: &str) -> AwsSignals {
        self.records = records;
        self.records_note = Some(note.to_string());
        self
    }
}

fn failed<T>(error: impl ToString, api: &str, region: &str) -> Reading<T> {
    Reading::Failed {
        error: error.to_string(),
        source: Source::new(api, region),
    }
}

#[async_trait]
impl CloudSignals for AwsSignals {
    async fn reachable(&self, plane: &ControlPlane) -> bool {
        match self.control_urls.get(plane.as_str()) {
            Some(url) => tandem_probe::reachable(url).await,
            None => false,
        }
    }

    async fn replica_lag(
        &self,
        region: &str,
        identifier: &str,
        at: SystemTime,
    ) -> Reading<LagSample> {
        let api = "cloudwatch:GetMetricStatistics (AWS/RDS ReplicaLag)";
        match rds::replica_lag_sample(&self.clients, region, identifier, at).await {
            Ok(Some(s)) => Reading::read(
                LagSample {
                    seconds: s.seconds,
                    at: s.at,
                },
                Source::new(api, region),
            ),
            Ok(None) => Reading::NotMeasured {
                why: format!(
                    "CloudWatch in {region} has no ReplicaLag datapoint of {identifier} in the {} minutes before",
                    rds::LAG_WINDOW.as_secs() / 60
                ),
            },
            Err(e) => failed(e, api, region),
        }
    }

    async fn route53_health(&self, health_check_id: &str) -> Reading<bool> {
        let api = "route53:GetHealthCheckStatus";
        match route53::health_check_status(&self.clients, health_check_id).await {
            Ok(HealthCheckStatus::Reported(r)) => match r.healthy {
                Some(h) => Reading::read(h, Source::new(api, "global")),
                None => Reading::NotMeasured {
                    why: format!("no Route 53 checker has reported on {health_check_id} yet"),
                },
            },
            Ok(HealthCheckStatus::NotProvided(why)) => Reading::NotMeasured { why },
            Ok(HealthCheckStatus::NotFound) => Reading::NotMeasured {
                why: format!("health check {health_check_id} is not in Route 53"),
            },
            Err(e) => failed(e, api, "global"),
        }
    }

    async fn database(&self, region: &str, identifier: &str) -> Reading<DbState> {
        let api = "rds:DescribeDBInstances";
        match rds::database_role(&self.clients, region, identifier).await {
            Ok(r) => {
                let role = match r.role {
                    rds::DbRole::Missing => DbRole::Missing,
                    rds::DbRole::Writer => DbRole::Writer,
                    rds::DbRole::Replica { source } => DbRole::Replica { source },
                    rds::DbRole::NotVerifiable { why } => DbRole::Unknown { why },
                };
                Reading::read(
                    DbState {
                        role,
                        status: r.status,
                    },
                    Source::new(api, region),
                )
            }
            Err(e) => failed(e, api, region),
        }
    }

    async fn failover_records(&self, zone_id: &str, name: &str) -> Reading<Vec<FailoverRecord>> {
        let api = match &self.records_note {
            Some(note) => format!("route53:ListResourceRecordSets ({note})"),
            None => "route53:ListResourceRecordSets".to_string(),
        };
        match route53::failover_records(&self.records, zone_id, name).await {
            Ok(records) => Reading::read(
                records
                    .into_iter()
                    .map(|r| FailoverRecord {
                        set_identifier: r.set_identifier,
                        primary: r.role == Failover::Primary,
                        alias_target: r.alias_dns_name,
                        health_check_id: r.health_check_id,
                    })
                    .collect(),
                Source::new(api, "global"),
            ),
            Err(e) => failed(e, &api, "global"),
        }
    }

    async fn dns_answer(&self, name_servers: &[String], name: &str) -> Reading<Vec<IpAddr>> {
        if self.clients.emulated() {
            return Reading::NotVerifiable {
                why: "the emulator has no DNS data plane (no name servers answer for its zones)"
                    .into(),
            };
        }
        match dns::query_name_servers(name_servers, name, DNS_TIMEOUT).await {
            Ok(a) => Reading::read(
                a.addresses,
                Source::new(format!("DNS query to {}", a.server), "global"),
            ),
            Err(e) => failed(e, "DNS query to the hosted zone's name servers", "global"),
        }
    }

    async fn addresses_of(&self, name: &str) -> Reading<Vec<IpAddr>> {
        match dns::resolve(name, DNS_TIMEOUT).await {
            Ok(a) => Reading::read(a, Source::new("DNS lookup (system resolver)", "global")),
            Err(e) => failed(e, "DNS lookup (system resolver)", "global"),
        }
    }
}
