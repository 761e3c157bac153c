//! What the failover library reads of the cloud, behind small traits: [`CloudSignals`] (replica
//! lag, Route 53's verdict, control-plane reachability, the DNS answer, a database's role),
//! implemented by `tandem-aws`; [`AppProbe`] (an application's health endpoint probed as Route
//! 53's checkers do), implemented by [`HttpProbe`]. Tests use fakes of both.
//!
//! Every answer is a [`Reading`]: a value *and where it was read* ([`Source`]: the API and the
//! region), or why there is none — the cloud cannot tell ([`Reading::NotVerifiable`]), gives no
//! such measurement ([`Reading::NotMeasured`]), or failed ([`Reading::Failed`]). A verdict built
//! on a reading says which.

use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use async_trait::async_trait;
use tandem_posture::ControlPlane;

pub use tandem_probe::{Probe, ProbeConfig};

/// Where a reading comes from: the API called and the region it was called in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The API, `service:Operation` (`rds:DescribeDBInstances`), or a description of a probe.
    pub api: String,
    /// The region called (`global` for Route 53).
    pub region: String,
}

impl Source {
    pub fn new(api: impl Into<String>, region: impl Into<String>) -> Source {
        Source {
            api: api.into(),
            region: region.into(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.api, self.region)
    }
}

/// A value read from the cloud with its source, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading<T> {
    Read {
        value: T,
        source: Source,
    },
    /// The cloud answered, but its answer cannot tell (an emulator's bookkeeping, say).
    NotVerifiable {
        why: String,
    },
    /// The cloud gives no such measurement (no datapoints, a fixed answer).
    NotMeasured {
        why: String,
    },
    /// The call failed.
    Failed {
        error: String,
        source: Source,
    },
}

impl<T> Reading<T> {
    pub fn read(value: T, source: Source) -> Reading<T> {
        Reading::Read { value, source }
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Reading::Read { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn source(&self) -> Option<&Source> {
        match self {
            Reading::Read { source, .. } | Reading::Failed { source, .. } => Some(source),
            _ => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reading<U> {
        match self {
            Reading::Read { value, source } => Reading::Read {
                value: f(value),
                source,
            },
            Reading::NotVerifiable { why } => Reading::NotVerifiable { why },
            Reading::NotMeasured { why } => Reading::NotMeasured { why },
            Reading::Failed { error, source } => Reading::Failed { error, source },
        }
    }

    /// Why there is no value (`None` when there is one).
    pub fn why_not(&self) -> Option<String> {
        match self {
            Reading::Read { .. } => None,
            Reading::NotVerifiable { why } => Some(format!("not verifiable here: {why}")),
            Reading::NotMeasured { why } => Some(format!("not measured: {why}")),
            Reading::Failed { error, source } => Some(format!("{source} failed: {error}")),
        }
    }
}

/// A `ReplicaLag` datapoint: the lag and when it was measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LagSample {
    /// Seconds; -1 when the replica does not replicate.
    pub seconds: f64,
    pub at: SystemTime,
}

impl LagSample {
    /// The sample's age at `now`, in seconds (0 if it is in the future).
    pub fn age_at(&self, now: SystemTime) -> f64 {
        now.duration_since(self.at)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// A database's role, as the cloud reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbRole {
    /// The cloud has no such instance.
    Missing,
    /// A standalone instance: it takes writes.
    Writer,
    /// It still replicates `source`.
    Replica { source: String },
    /// The cloud cannot tell (an emulator keeps a promoted replica's source): `why`.
    Unknown { why: String },
}

/// A database instance as the cloud reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbState {
    pub role: DbRole,
    /// `available`, `stopped`, `stopping`, ... (empty when missing).
    pub status: String,
}

impl DbState {
    /// Stopped or on its way there: it takes no writes.
    pub fn is_stopped(&self) -> bool {
        matches!(self.status.as_str(), "stopped" | "stopping")
    }
}

/// One failover record as Route 53 holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverRecord {
    pub set_identifier: String,
    /// PRIMARY (true) or SECONDARY.
    pub primary: bool,
    /// The alias target's DNS name (a load balancer), if an alias.
    pub alias_target: Option<String>,
    pub health_check_id: Option<String>,
}

/// The cloud's signals a failover decides on. Implementations never panic and never fail as a
/// whole: each answer says what was read from where, or why nothing was.
#[async_trait]
pub trait CloudSignals: Send + Sync {
    /// Whether `plane`'s API answers at all (any HTTP answer counts).
    async fn reachable(&self, plane: &ControlPlane) -> bool;
    /// The last `ReplicaLag` datapoint of database `identifier` in `region` at or before `at`.
    async fn replica_lag(
        &self,
        region: &str,
        identifier: &str,
        at: SystemTime,
    ) -> Reading<LagSample>;
    /// Route 53's verdict on health check `health_check_id` (healthy or not).
    async fn route53_health(&self, health_check_id: &str) -> Reading<bool>;
    /// Database `identifier` in `region`: its role and status.
    async fn database(&self, region: &str, identifier: &str) -> Reading<DbState>;
    /// The failover records named `name` in hosted zone `zone_id`, read from Route 53's API.
    async fn failover_records(&self, zone_id: &str, name: &str) -> Reading<Vec<FailoverRecord>>;
    /// The addresses the DNS data plane (the hosted zone's own `name_servers`) answers for
    /// `name`; `NotVerifiable` where the cloud has no DNS data plane.
    async fn dns_answer(&self, name_servers: &[String], name: &str) -> Reading<Vec<IpAddr>>;
    /// The addresses `name` resolves to (a load balancer's, to map a DNS answer to a region).
    async fn addresses_of(&self, name: &str) -> Reading<Vec<IpAddr>>;
}

/// An application's health endpoint, probed once as Route 53's checkers do.
#[async_trait]
pub trait AppProbe: Send + Sync {
    async fn probe(&self, url: &str) -> Probe;
}

/// Real HTTP(S) probes ([`tandem_probe`]): TCP within 4 s, a 2xx/3xx status within 2 s, TLS
/// without certificate validation.
#[derive(Clone, Debug, Default)]
pub struct HttpProbe {
    pub config: ProbeConfig,
}

#[async_trait]
impl AppProbe for HttpProbe {
    async fn probe(&self, url: &str) -> Probe {
        tandem_probe::probe(url, &self.config).await
    }
}
