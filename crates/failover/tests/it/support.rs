//! Fakes of everything the failover library reads and changes: a small stack program declared
//! from the posture (databases, capacities, failover records, replication, health checks), its
//! topology, the engine's in-memory `FakeCloud` as the providers, fake cloud signals and probes,
//! and a fake outage simulator.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use tandem_core::{DesiredStack, Region, ResourceAddr, ResourceDecl, StackBuilder, Value};
use tandem_engine::testing::FakeCloud;
use tandem_engine::{EngineError, LocalStore, PlanConfig, Providers, State, StateLock};
use tandem_failover::audit::AuditLog;
use tandem_failover::context::{Cloud, Context, Event, Events, put_posture};
use tandem_failover::outage::OutageSimulator;
use tandem_failover::signals::{
    AppProbe, CloudSignals, DbRole, DbState, FailoverRecord, LagSample, Probe, Reading, Source,
};
use tandem_failover::{ControlPlane, DbKind, DbMember, Posture, Role, Topology};

pub const EAST: &str = "us-east-1";
pub const WEST: &str = "us-west-2";

fn addr(region: &str, kind: &str, name: &str) -> ResourceAddr {
    ResourceAddr::new(&Region::parse(region).unwrap(), kind, name).unwrap()
}

/// The fake stack's topology.
pub struct FakeTopology {
    pub protected: bool,
}

impl Topology for FakeTopology {
    fn database(&self, m: &DbMember) -> ResourceAddr {
        let kind = match m.kind {
            DbKind::Instance => "rds:DbInstance",
            DbKind::Replica => "rds:DbReadReplica",
        };
        addr(&m.region, kind, &m.name)
    }
    fn database_identifier(&self, m: &DbMember) -> String {
        format!("db-{}", m.name)
    }
    fn health_check(&self, region: &str) -> ResourceAddr {
        addr("global", "route53:HealthCheck", &format!("app-{region}"))
    }
    fn failover_records(&self) -> ResourceAddr {
        addr("global", "route53:RecordSet", "app")
    }
    fn hosted_zone(&self) -> ResourceAddr {
        addr("global", "route53:HostedZone", "zone")
    }
    fn app_name(&self) -> String {
        "app.example.com".into()
    }
    fn capacity(&self, region: &str) -> ResourceAddr {
        addr(region, "autoscaling:GroupCapacity", "app")
    }
    fn serving_capacity(&self) -> i64 {
        2
    }
    fn role(&self, a: &ResourceAddr) -> Option<Role> {
        match a.kind() {
            "rds:DbInstance" | "rds:DbReadReplica" => Some(Role::Database),
            "autoscaling:GroupCapacity" => Some(Role::Capacity),
            "route53:RecordSet" => Some(Role::FailoverRecords),
            "route53:HealthCheck" => Some(Role::HealthCheck),
            "s3:BucketReplication" => Some(Role::Replication),
            _ => None,
        }
    }
    fn health_url(&self, region: &str, _: &BTreeMap<String, Value>) -> Option<String> {
        Some(format!("http://{region}.test/health"))
    }
    fn load_balancer_name(&self, region: &str, _: &BTreeMap<String, Value>) -> Option<String> {
        Some(format!("{region}.elb.test"))
    }
    fn protects_databases(&self) -> bool {
        self.protected
    }
}

/// The fake stack program: what the multi-region program declares from a posture, reduced to
/// the properties failover changes.
pub fn program(p: &Posture) -> Result<DesiredStack, EngineError> {
    let t = FakeTopology { protected: false };
    let mut s = StackBuilder::new();
    s.declare(ResourceDecl::new(t.hosted_zone()).input("domain", "app.example.com"));
    for m in p.db_members() {
        let mut d = ResourceDecl::new(t.database(m)).input("fenced", m.fenced);
        if m.kind == DbKind::Replica {
            d = d.input("promoted", m.promoted);
        }
        s.declare(d);
    }
    for region in [EAST, WEST] {
        let desired = if p.is_quiesced(region) {
            0
        } else if p.serves(region) {
            2
        } else {
            1
        };
        s.declare(ResourceDecl::new(t.capacity(region)).input("desired_capacity", desired as i64));
        s.declare(
            ResourceDecl::new(t.health_check(region))
                .input("inverted", p.simulated_outage.as_deref() == Some(region)),
        );
    }
    s.declare(ResourceDecl::new(t.failover_records()).input("primary", p.dns_primary()));
    s.declare(
        ResourceDecl::new(addr(
            p.replication_source(),
            "s3:BucketReplication",
            "assets",
        ))
        .input(
            "destination",
            if p.replication_source() == EAST {
                WEST
            } else {
                EAST
            },
        ),
    );
    Ok(s.finish().map_err(tandem_core::EvaluateError::Graph)?)
}

pub fn providers(cloud: &Arc<FakeCloud>) -> Providers {
    let mut p = Providers::new();
    for kind in [
        "route53:HostedZone",
        "rds:DbInstance",
        "rds:DbReadReplica",
        "autoscaling:GroupCapacity",
        "route53:HealthCheck",
        "route53:RecordSet",
        "s3:BucketReplication",
    ] {
        p.add(cloud.provider(kind, &[]));
    }
    p
}

/// Cloud signals with answers set by the test. Database roles default to what the fake cloud's
/// properties say (a replica not promoted replicates; anything else writes), unless overridden.
#[derive(Default)]
pub struct FakeSignals {
    pub cloud: Option<Arc<FakeCloud>>,
    pub unreachable: Mutex<BTreeSet<ControlPlane>>,
    pub roles: Mutex<BTreeMap<String, Reading<DbState>>>,
    pub lag: Mutex<Option<f64>>,
    pub route53: Mutex<Option<bool>>,
    pub records: Mutex<Option<Vec<FailoverRecord>>>,
    pub dns: Mutex<Option<Vec<IpAddr>>>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeSignals {
    pub fn set_role(&self, identifier: &str, reading: Reading<DbState>) {
        self.roles
            .lock()
            .unwrap()
            .insert(identifier.to_string(), reading);
    }
}

fn src(api: &str, region: &str) -> Source {
    Source::new(api, region)
}

#[async_trait]
impl CloudSignals for FakeSignals {
    async fn reachable(&self, plane: &ControlPlane) -> bool {
        !self.unreachable.lock().unwrap().contains(plane)
    }
    async fn replica_lag(&self, region: &str, _: &str, at: SystemTime) -> Reading<LagSample> {
        match *self.lag.lock().unwrap() {
            Some(seconds) => Reading::read(
                LagSample {
                    seconds,
                    at: at - std::time::Duration::from_secs(30),
                },
                src("cloudwatch:GetMetricStatistics", region),
            ),
            None => Reading::NotMeasured {
                why: "no ReplicaLag datapoints".into(),
            },
        }
    }
    async fn route53_health(&self, _: &str) -> Reading<bool> {
        match *self.route53.lock().unwrap() {
            Some(h) => Reading::read(h, src("route53:GetHealthCheckStatus", "global")),
            None => Reading::NotMeasured {
                why: "fixed answer".into(),
            },
        }
    }
    async fn database(&self, region: &str, identifier: &str) -> Reading<DbState> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("database {identifier}"));
        if let Some(r) = self.roles.lock().unwrap().get(identifier) {
            return r.clone();
        }
        let name = identifier.trim_start_matches("db-");
        let cloud = self.cloud.as_ref().expect("a cloud");
        let found = cloud
            .resources()
            .into_iter()
            .find(|(_, a, _)| a.name() == name && a.region_str() == region);
        let state = match found {
            None => DbState {
                role: DbRole::Missing,
                status: String::new(),
            },
            Some((_, a, props)) => {
                let replica = a.kind() == "rds:DbReadReplica"
                    && props.get("promoted").and_then(Value::as_bool) != Some(true);
                let fenced = props.get("fenced").and_then(Value::as_bool) == Some(true);
                DbState {
                    role: if replica {
                        DbRole::Replica {
                            source: "db-app-db".into(),
                        }
                    } else {
                        DbRole::Writer
                    },
                    status: if fenced { "stopped" } else { "available" }.into(),
                }
            }
        };
        Reading::read(state, src("rds:DescribeDBInstances", region))
    }
    async fn failover_records(&self, _: &str, _: &str) -> Reading<Vec<FailoverRecord>> {
        match self.records.lock().unwrap().clone() {
            Some(r) => Reading::read(r, src("route53:ListResourceRecordSets", "global")),
            None => {
                // The records as the fake cloud holds them.
                let cloud = self.cloud.as_ref().expect("a cloud");
                let primary = cloud
                    .resources()
                    .into_iter()
                    .find(|(_, a, _)| a.kind() == "route53:RecordSet")
                    .and_then(|(_, _, p)| {
                        p.get("primary").and_then(Value::as_str).map(String::from)
                    })
                    .unwrap_or_default();
                let other = if primary == EAST { WEST } else { EAST };
                let rec = |region: &str, primary: bool| FailoverRecord {
                    set_identifier: format!("app-{region}"),
                    primary,
                    alias_target: Some(format!("{region}.elb.test")),
                    health_check_id: None,
                };
                Reading::read(
                    vec![rec(&primary, true), rec(other, false)],
                    src("route53:ListResourceRecordSets", "global"),
                )
            }
        }
    }
    async fn dns_answer(&self, _: &[String], _: &str) -> Reading<Vec<IpAddr>> {
        match self.dns.lock().unwrap().clone() {
            Some(a) => Reading::read(a, src("DNS query to ns-1.test", "global")),
            None => Reading::NotVerifiable {
                why: "no DNS data plane".into(),
            },
        }
    }
    async fn addresses_of(&self, name: &str) -> Reading<Vec<IpAddr>> {
        let ip: IpAddr = if name.starts_with(EAST) {
            "10.0.0.1".parse().unwrap()
        } else {
            "10.0.0.2".parse().unwrap()
        };
        Reading::read(vec![ip], src("DNS lookup", "global"))
    }
}

/// Probes that answer per region.
#[derive(Default)]
pub struct FakeProbe {
    pub down: Mutex<BTreeSet<String>>,
}

#[async_trait]
impl AppProbe for FakeProbe {
    async fn probe(&self, url: &str) -> Probe {
        let down = self.down.lock().unwrap().iter().any(|r| url.contains(r));
        Probe {
            healthy: !down,
            status: Some(if down { 503 } else { 200 }),
            latency: std::time::Duration::from_millis(1),
            error: down.then(|| "HTTP status 503".into()),
            tls: false,
        }
    }
}

/// An outage simulator that marks the region down for the probe and the signals.
pub struct FakeOutage<'a> {
    pub probe: &'a FakeProbe,
    pub signals: &'a FakeSignals,
    pub fail: bool,
}

#[async_trait]
impl OutageSimulator for FakeOutage<'_> {
    fn method(&self) -> String {
        "a fake cut".into()
    }
    async fn apply(
        &self,
        _: &Context<'_>,
        _: &mut State,
        _: &Posture,
        region: &str,
        cut: bool,
    ) -> Result<(), String> {
        if self.fail {
            return Err("the gateway did not answer".into());
        }
        let plane = ControlPlane::Region(region.to_string());
        let mut down = self.probe.down.lock().unwrap();
        let mut unreachable = self.signals.unreachable.lock().unwrap();
        if cut {
            down.insert(region.to_string());
            unreachable.insert(plane);
        } else {
            down.remove(region);
            unreachable.remove(&plane);
        }
        Ok(())
    }
}

/// Events kept for the test to read.
#[derive(Default)]
pub struct Recorded(pub Mutex<Vec<Event>>);

impl Events for Recorded {
    fn event(&self, e: Event) {
        self.0.lock().unwrap().push(e);
    }
}

/// A deployed fake stack: its cloud, store and lock, and the fakes.
pub struct Harness {
    /// Holds the state directory for the harness's life.
    pub _dir: tempfile::TempDir,
    pub cloud: Arc<FakeCloud>,
    pub providers: Providers,
    pub store: LocalStore,
    pub lock: StateLock,
    pub signals: FakeSignals,
    pub probe: FakeProbe,
    pub topology: FakeTopology,
    pub audit: AuditLog,
    pub events: Recorded,
}

pub fn regions() -> [String; 2] {
    [EAST.to_string(), WEST.to_string()]
}

impl Harness {
    /// The fake stack deployed in its initial posture.
    pub async fn deployed() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let cloud = FakeCloud::in_memory();
        let providers = providers(&cloud);
        let store = LocalStore::new(dir.path().join("state"));
        let lock = store.lock("fake", "test", "test").unwrap();
        let signals = FakeSignals {
            cloud: Some(Arc::clone(&cloud)),
            ..FakeSignals::default()
        };
        let audit = AuditLog::open(&dir.path().join("audit.jsonl"), "test");
        let h = Harness {
            _dir: dir,
            cloud,
            providers,
            store,
            lock,
            signals,
            probe: FakeProbe::default(),
            topology: FakeTopology { protected: false },
            audit,
            events: Recorded::default(),
        };
        let mut state = State::new("fake", "test", "lineage".into());
        let p = Posture::initial(EAST, WEST);
        put_posture(&mut state, &p);
        let desired = program(&p).unwrap();
        let plan = tandem_engine::plan(&desired, &state, &h.providers, &plan_config()).unwrap();
        let report = tandem_engine::ops::apply_plan(
            &h.store,
            &h.lock,
            &plan,
            state,
            &desired.outputs,
            &h.providers,
            &Default::default(),
            Arc::new(tandem_engine::Silent),
            "deploy",
        )
        .await
        .unwrap();
        assert!(report.succeeded());
        h
    }

    pub fn state(&self) -> State {
        tandem_engine::ops::read_state(&self.store, "fake", "test")
            .unwrap()
            .0
    }

    pub fn cloud_view(&self) -> Cloud<'_> {
        Cloud {
            signals: &self.signals,
            probe: &self.probe,
            topology: &self.topology,
            providers: &self.providers,
        }
    }

    pub fn context(&self, unreachable: &[ControlPlane]) -> Context<'_> {
        Context {
            cloud: self.cloud_view(),
            store: &self.store,
            lock: &self.lock,
            plan_config: plan_config(),
            program: &program,
            observer: Arc::new(tandem_engine::Silent),
            events: &self.events,
            audit: &self.audit,
            parallel: 4,
            regions: regions(),
            unreachable: unreachable.iter().cloned().collect(),
        }
    }

    /// A resource's properties in the fake cloud.
    pub fn live(&self, region: &str, kind: &str, name: &str) -> Option<tandem_core::Props> {
        self.cloud
            .resources()
            .into_iter()
            .find(|(_, a, _)| a.region_str() == region && a.kind() == kind && a.name() == name)
            .map(|(_, _, p)| p)
    }
}

pub fn plan_config() -> PlanConfig {
    PlanConfig {
        wave_order: vec!["global".into(), EAST.into(), WEST.into()],
    }
}
