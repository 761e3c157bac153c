//! `FakeCloud`: a provider test double for the engine's own tests and benchmarks; and
//! [`applied_state`], the state an apply would leave, for tests of plans that need no cloud.
//!
//! `FakeCloud` is not a model of AWS. It keeps resources in memory, or in a directory (one file per resource)
//! so that a test can kill a process mid-apply and look at what the "cloud" holds afterwards. It can
//! delay operations, fail chosen resources, and it counts calls and the peak number in flight.
//! Like a real cloud it never gives a secret back: a read or find answers each secret input with
//! what the caller recorded for it (in a directory, secrets are kept masked).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::{
    DesiredStack, OutputRef, Props, ResourceAddr, Value, props_from_json, props_to_json,
};

use crate::provider::{ErrorClass, Identity, Observed, OpContext, Provider, ProviderError};
use crate::state::{ResourceState, State};

/// The state an apply of `desired` would leave on top of `state`, without any cloud: in dependency
/// order, each resource's inputs resolved against the outputs recorded before it, and its id and
/// outputs those `observe` gives for its address and resolved inputs.
pub fn applied_state(
    desired: &DesiredStack,
    mut state: State,
    mut observe: impl FnMut(&ResourceAddr, &Props) -> (String, Props),
) -> State {
    for d in desired.graph.in_order() {
        let inputs: Props = {
            let lookup = |r: &OutputRef| state.output(&r.addr, &r.output).cloned();
            d.inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.resolve(&lookup)))
                .collect()
        };
        let (id, outputs) = observe(&d.addr, &inputs);
        state.resources.insert(
            d.addr.clone(),
            ResourceState {
                id,
                inputs,
                outputs,
                dependencies: d.dependencies(),
                protect: d.options.protect,
                retain_on_delete: d.options.retain_on_delete,
            },
        );
    }
    state
}

/// The shared fake cloud behind one or more [`FakeProvider`]s.
pub struct FakeCloud {
    dir: Option<PathBuf>,
    memory: Mutex<BTreeMap<String, (ResourceAddr, Props)>>,
    next_id: AtomicUsize,
    pub delay: Mutex<Duration>,
    /// Resource names whose create, update or delete fails.
    pub fail: Mutex<BTreeSet<String>>,
    /// Resource names whose create, update or delete panics (a provider bug).
    pub panic: Mutex<BTreeSet<String>>,
    /// Resource names whose create makes the resource, then fails (a tag call that failed).
    pub fail_after_create: Mutex<BTreeSet<String>>,
    /// Resource names whose `find` fails (the cloud does not answer).
    pub fail_find: Mutex<BTreeSet<String>>,
    /// When set, a delete fails while another resource holds the deleted one's id or arn in an
    /// input (a hosted zone that still has records).
    pub refuse_delete_in_use: std::sync::atomic::AtomicBool,
    in_flight: AtomicUsize,
    pub peak_in_flight: AtomicUsize,
    pub calls: Mutex<Vec<String>>,
}

impl FakeCloud {
    pub fn in_memory() -> Arc<FakeCloud> {
        Arc::new(FakeCloud::new(None))
    }

    /// Keeps resources as files in `dir`, so they outlive the process.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Arc<FakeCloud> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).expect("create fake cloud dir");
        Arc::new(FakeCloud::new(Some(dir)))
    }

    fn new(dir: Option<PathBuf>) -> FakeCloud {
        FakeCloud {
            dir,
            memory: Mutex::new(BTreeMap::new()),
            next_id: AtomicUsize::new(1),
            delay: Mutex::new(Duration::ZERO),
            fail: Mutex::new(BTreeSet::new()),
            panic: Mutex::new(BTreeSet::new()),
            fail_after_create: Mutex::new(BTreeSet::new()),
            fail_find: Mutex::new(BTreeSet::new()),
            refuse_delete_in_use: std::sync::atomic::AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// A provider for `kind` whose changes to `replace_on` force replacement.
    pub fn provider(
        self: &Arc<Self>,
        kind: &'static str,
        replace_on: &'static [&'static str],
    ) -> Arc<FakeProvider> {
        self.provider_with(kind, replace_on, Identity::Token)
    }

    /// [`FakeCloud::provider`] whose resources are identified as `identity` says: `find` looks a
    /// [`Identity::Named`] one up by those inputs, any other by its address (like tags).
    pub fn provider_with(
        self: &Arc<Self>,
        kind: &'static str,
        replace_on: &'static [&'static str],
        identity: Identity,
    ) -> Arc<FakeProvider> {
        Arc::new(FakeProvider {
            cloud: Arc::clone(self),
            kind,
            replace_on,
            identity,
        })
    }

    pub fn fail_after_create_on(&self, name: &str) {
        self.fail_after_create
            .lock()
            .unwrap()
            .insert(name.to_string());
    }

    pub fn fail_find_on(&self, name: &str) {
        self.fail_find.lock().unwrap().insert(name.to_string());
    }

    pub fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    pub fn fail_on(&self, name: &str) {
        self.fail.lock().unwrap().insert(name.to_string());
    }

    pub fn panic_on(&self, name: &str) {
        self.panic.lock().unwrap().insert(name.to_string());
    }

    /// Every resource the cloud holds: (id, address, properties).
    pub fn resources(&self) -> Vec<(String, ResourceAddr, Props)> {
        match &self.dir {
            None => self
                .memory
                .lock()
                .unwrap()
                .iter()
                .map(|(id, (a, p))| (id.clone(), a.clone(), p.clone()))
                .collect(),
            Some(dir) => {
                let mut out = Vec::new();
                let mut entries: Vec<_> = std::fs::read_dir(dir)
                    .expect("read fake cloud dir")
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                entries.sort();
                for p in entries {
                    let Ok(bytes) = std::fs::read(&p) else {
                        continue;
                    };
                    let Ok(j) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                        continue;
                    };
                    let id = p.file_stem().unwrap().to_string_lossy().into_owned();
                    let addr: ResourceAddr = j["addr"].as_str().unwrap().parse().unwrap();
                    let props = props_from_json(&j["props"]).unwrap();
                    out.push((id, addr, props));
                }
                out
            }
        }
    }

    /// How many resources the cloud holds for `addr` (more than one is a duplicate create).
    pub fn count(&self, addr: &ResourceAddr) -> usize {
        self.resources()
            .iter()
            .filter(|(_, a, _)| a == addr)
            .count()
    }

    fn get(&self, id: &str) -> Option<(ResourceAddr, Props)> {
        self.resources()
            .into_iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, a, p)| (a, p))
    }

    fn put(&self, id: &str, addr: &ResourceAddr, props: &Props) {
        match &self.dir {
            None => {
                self.memory
                    .lock()
                    .unwrap()
                    .insert(id.to_string(), (addr.clone(), props.clone()));
            }
            Some(dir) => {
                let body = json!({"addr": addr.as_str(), "props": props_to_json(props)});
                let tmp = dir.join(format!("{id}.tmp"));
                std::fs::write(&tmp, serde_json::to_vec(&body).unwrap()).unwrap();
                std::fs::rename(&tmp, dir.join(format!("{id}.json"))).unwrap();
            }
        }
    }

    fn remove(&self, id: &str) -> bool {
        match &self.dir {
            None => self.memory.lock().unwrap().remove(id).is_some(),
            Some(dir) => std::fs::remove_file(dir.join(format!("{id}.json"))).is_ok(),
        }
    }

    fn new_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let r: u32 = rand::random();
        format!("fake-{n}-{r:08x}")
    }

    async fn enter(
        &self,
        what: String,
        addr: &ResourceAddr,
    ) -> Result<InFlight<'_>, ProviderError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight(self);
        self.calls.lock().unwrap().push(what);
        let d = *self.delay.lock().unwrap();
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
        if self.panic.lock().unwrap().contains(addr.name()) {
            panic!("injected panic for {}", addr.name());
        }
        if self.fail.lock().unwrap().contains(addr.name()) {
            return Err(ProviderError::new(
                ErrorClass::Invalid,
                format!("injected failure for {}", addr.name()),
            ));
        }
        Ok(guard)
    }
}

struct InFlight<'a>(&'a FakeCloud);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The properties a fake resource holds, each secret as `recorded` (the caller's inputs) has it:
/// what a provider reading a real cloud answers, since no cloud gives a secret back.
fn secrets_as_recorded(held: Props, recorded: &Props) -> Props {
    held.iter()
        .map(|(k, v)| match recorded.get(k) {
            Some(r) if v.is_secret() || v.holds_masked_secret() => (k.clone(), r.clone()),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

/// One kind of fake resource. Outputs: `id`, and `arn` = `arn:fake:<kind>:<id>`.
pub struct FakeProvider {
    cloud: Arc<FakeCloud>,
    kind: &'static str,
    replace_on: &'static [&'static str],
    identity: Identity,
}

fn outputs(kind: &str, id: &str) -> Props {
    let mut o = Props::new();
    o.insert("id".into(), Value::str(id));
    o.insert("arn".into(), Value::str(format!("arn:fake:{kind}:{id}")));
    o
}

#[async_trait]
impl Provider for FakeProvider {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn replace_on(&self) -> &'static [&'static str] {
        self.replace_on
    }

    fn identity(&self) -> Identity {
        self.identity
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        match inputs.get("size").and_then(Value::as_i64) {
            Some(n) if n < 0 => Err(format!("size must be at least 0, got {n}")),
            _ => Ok(()),
        }
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let _g = self
            .cloud
            .enter(format!("create {}", ctx.addr), &ctx.addr)
            .await?;
        // One resource per name, like the cloud: a create of a name that exists answers with it
        // (as RDS does for an instance tagged as this resource's own).
        if matches!(self.identity, Identity::Named(_))
            && let Some(existing) = self.find(ctx, inputs).await?
        {
            return Ok(existing);
        }
        let id = self.cloud.new_id();
        self.cloud.put(&id, &ctx.addr, inputs);
        if self
            .cloud
            .fail_after_create
            .lock()
            .unwrap()
            .contains(ctx.addr.name())
        {
            return Err(ProviderError::new(
                ErrorClass::Retryable,
                format!("injected failure after creating {id}"),
            ));
        }
        Ok(Observed {
            outputs: outputs(self.kind, &id),
            id,
            inputs: inputs.clone(),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        self.cloud
            .calls
            .lock()
            .unwrap()
            .push(format!("read {}", ctx.addr));
        Ok(self.cloud.get(id).map(|(_, props)| Observed {
            id: id.to_string(),
            inputs: secrets_as_recorded(props, inputs),
            outputs: outputs(self.kind, id),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let _g = self
            .cloud
            .enter(format!("update {}", ctx.addr), &ctx.addr)
            .await?;
        if self.cloud.get(id).is_none() {
            return Err(ProviderError::new(
                ErrorClass::NotFound,
                format!("{id} not found"),
            ));
        }
        self.cloud.put(id, &ctx.addr, new);
        Ok(Observed {
            id: id.to_string(),
            inputs: new.clone(),
            outputs: outputs(self.kind, id),
        })
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Props,
    ) -> Result<(), ProviderError> {
        let _g = self
            .cloud
            .enter(format!("delete {}", ctx.addr), &ctx.addr)
            .await?;
        if self.cloud.refuse_delete_in_use.load(Ordering::SeqCst) {
            let arn = format!("arn:fake:{}:{id}", self.kind);
            let holds = |v: &Value| v.as_str().is_some_and(|s| s == id || s == arn);
            if let Some((user, _, _)) = self
                .cloud
                .resources()
                .into_iter()
                .find(|(other, _, props)| other != id && props.values().any(holds))
            {
                return Err(ProviderError::new(
                    ErrorClass::Other,
                    format!("{id} is in use by {user}"),
                ));
            }
        }
        self.cloud.remove(id);
        Ok(())
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        if self
            .cloud
            .fail_find
            .lock()
            .unwrap()
            .contains(ctx.addr.name())
        {
            return Err(ProviderError::new(
                ErrorClass::Retryable,
                format!("injected failure of find for {}", ctx.addr.name()),
            ));
        }
        let names = self.identity.names();
        Ok(self
            .cloud
            .resources()
            .into_iter()
            .find(|(_, a, props)| {
                if names.is_empty() {
                    return a == &ctx.addr;
                }
                a.kind() == ctx.addr.kind()
                    && a.region() == ctx.addr.region()
                    && names.iter().all(|n| props.get(*n) == inputs.get(*n))
            })
            .map(|(id, _, props)| Observed {
                outputs: outputs(self.kind, &id),
                id,
                inputs: secrets_as_recorded(props, inputs),
            }))
    }
}
