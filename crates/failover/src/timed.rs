//! Timing the cloud: wrappers of the providers, the signals and the probe that add up the time
//! spent waiting on the cloud, so that a drill can report its own overhead apart from it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tandem_core::{Props, ResourceAddr};
use tandem_engine::{Observed, OpContext, Provider, ProviderError, Providers};

/// Time spent waiting on the cloud, added up across calls.
#[derive(Default, Debug)]
pub struct CloudClock {
    nanos: AtomicU64,
}

impl CloudClock {
    pub fn add(&self, d: Duration) {
        self.nanos.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    /// Runs `f`, counting its time as waiting on the cloud.
    pub async fn time<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        let t = Instant::now();
        let out = f.await;
        self.add(t.elapsed());
        out
    }
}

struct Timed {
    inner: Arc<dyn Provider>,
    clock: Arc<CloudClock>,
}

/// The same providers, each call timed into `clock`.
pub fn timed(providers: &Providers, clock: &Arc<CloudClock>) -> Providers {
    let mut out = Providers::new();
    for kind in providers.kinds() {
        let inner = Arc::clone(providers.get(kind).expect("listed kind"));
        out.add(Arc::new(Timed {
            inner,
            clock: Arc::clone(clock),
        }));
    }
    out
}

#[async_trait]
impl Provider for Timed {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn replace_on(&self) -> &'static [&'static str] {
        self.inner.replace_on()
    }

    fn identity(&self) -> tandem_engine::provider::Identity {
        self.inner.identity()
    }

    fn validate(&self, addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        self.inner.validate(addr, inputs)
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        self.clock.time(self.inner.create(ctx, inputs)).await
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        self.clock.time(self.inner.read(ctx, id, inputs)).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        self.clock.time(self.inner.update(ctx, id, old, new)).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError> {
        self.clock.time(self.inner.delete(ctx, id, inputs)).await
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        self.clock.time(self.inner.find(ctx, inputs)).await
    }
}

/// The same signals, each call timed into the clock.
pub struct TimedSignals<'a> {
    pub inner: &'a dyn crate::signals::CloudSignals,
    pub clock: Arc<CloudClock>,
}

#[async_trait]
impl crate::signals::CloudSignals for TimedSignals<'_> {
    async fn reachable(&self, plane: &tandem_posture::ControlPlane) -> bool {
        self.clock.time(self.inner.reachable(plane)).await
    }

    async fn replica_lag(
        &self,
        region: &str,
        identifier: &str,
        at: std::time::SystemTime,
    ) -> crate::signals::Reading<crate::signals::LagSample> {
        self.clock
            .time(self.inner.replica_lag(region, identifier, at))
            .await
    }

    async fn route53_health(&self, health_check_id: &str) -> crate::signals::Reading<bool> {
        self.clock
            .time(self.inner.route53_health(health_check_id))
            .await
    }

    async fn database(
        &self,
        region: &str,
        identifier: &str,
    ) -> crate::signals::Reading<crate::signals::DbState> {
        self.clock
            .time(self.inner.database(region, identifier))
            .await
    }

    async fn failover_records(
        &self,
        zone_id: &str,
        name: &str,
    ) -> crate::signals::Reading<Vec<crate::signals::FailoverRecord>> {
        self.clock
            .time(self.inner.failover_records(zone_id, name))
            .await
    }

    async fn dns_answer(
        &self,
        name_servers: &[String],
        name: &str,
    ) -> crate::signals::Reading<Vec<std::net::IpAddr>> {
        self.clock
            .time(self.inner.dns_answer(name_servers, name))
            .await
    }

    async fn addresses_of(&self, name: &str) -> crate::signals::Reading<Vec<std::net::IpAddr>> {
        self.clock.time(self.inner.addresses_of(name)).await
    }
}

/// The same probe, each probe timed into the clock.
pub struct TimedProbe<'a> {
    pub inner: &'a dyn crate::signals::AppProbe,
    pub clock: Arc<CloudClock>,
}

#[async_trait]
impl crate::signals::AppProbe for TimedProbe<'_> {
    async fn probe(&self, url: &str) -> crate::signals::Probe {
        self.clock.time(self.inner.probe(url)).await
    }
}
