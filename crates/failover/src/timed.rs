//! Timing the cloud: a provider wrapper that adds up the time spent inside provider calls, so a
//! drill can report its own overhead apart from the time spent waiting on the cloud.

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
