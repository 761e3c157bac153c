//! Refresh: read every recorded resource through its provider and report drift, the changes
//! made outside Tandem, apart from code changes.

use tandem_core::ResourceAddr;
use tokio::task::JoinSet;

use crate::diff::{PropertyChange, differing};
use crate::error::EngineError;
use crate::provider::{OpContext, Providers};
use crate::state::{State, deposed_origin};

/// A change made outside Tandem.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    pub addr: ResourceAddr,
    pub kind: DriftKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DriftKind {
    /// Properties differ from what Tandem last applied.
    Changed(Vec<PropertyChange>),
    /// The resource no longer exists.
    Deleted,
}

/// Reads the live state of every resource in `state`, at most `parallel` at a time.
///
/// Returns the refreshed state (live inputs and outputs; vanished resources removed) and the drift.
/// The serial is not changed: saving is the caller's decision.
pub async fn refresh(
    state: &State,
    providers: &Providers,
    parallel: usize,
) -> Result<(State, Vec<Drift>), EngineError> {
    refresh_except(state, providers, parallel, &|_| false).await
}

/// [`refresh`], leaving out the resources `skip` selects (those of a region that does not
/// answer): their recorded state is kept as it is.
pub async fn refresh_except(
    state: &State,
    providers: &Providers,
    parallel: usize,
    skip: &(dyn Fn(&ResourceAddr) -> bool + Sync),
) -> Result<(State, Vec<Drift>), EngineError> {
    let mut set = JoinSet::new();
    let mut queue: Vec<ResourceAddr> = state
        .resources
        .keys()
        .filter(|a| !skip(a))
        .cloned()
        .collect();
    queue.reverse();
    let mut results = Vec::with_capacity(queue.len());
    loop {
        while set.len() < parallel.max(1)
            && let Some(addr) = queue.pop()
        {
            let provider =
                providers
                    .get(addr.kind())
                    .cloned()
                    .ok_or_else(|| EngineError::NoProvider {
                        addr: addr.clone(),
                        kind: addr.kind().to_string(),
                    })?;
            let r = &state.resources[&addr];
            // Each task takes what it reads: the inputs are shared, not copied.
            let (id, inputs) = (r.id.clone(), r.inputs.clone());
            // A deposed resource is named to its provider by the address it was made for.
            let ctx = OpContext {
                addr: deposed_origin(&addr).unwrap_or_else(|| addr.clone()),
                stack: state.stack.clone(),
                env: state.env.clone(),
                token: String::new(),
            };
            set.spawn(async move {
                let res = provider.read(&ctx, &id, &inputs).await;
                (addr, res)
            });
        }
        match set.join_next().await {
            Some(joined) => {
                let (addr, res) = joined.map_err(|e| EngineError::Internal(e.to_string()))?;
                let observed = res.map_err(|source| EngineError::Provider {
                    region: addr.region_str().to_string(),
                    addr: addr.clone(),
                    operation: "read",
                    source,
                })?;
                results.push((addr, observed));
            }
            None => break,
        }
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut new_state = state.clone();
    let mut drift = Vec::new();
    for (addr, observed) in results {
        match observed {
            None => {
                new_state.resources.remove(&addr);
                drift.push(Drift {
                    addr,
                    kind: DriftKind::Deleted,
                });
            }
            Some(obs) => {
                let rec = new_state.resources.get_mut(&addr).expect("read from state");
                let changes: Vec<PropertyChange> =
                    differing(&rec.inputs, &obs.inputs, &state.secret_key)
                        .map(|(name, o, n)| PropertyChange {
                            name: name.clone(),
                            old: o.cloned(),
                            new: n.cloned(),
                            forces_replacement: false,
                        })
                        .collect();
                if !changes.is_empty() {
                    drift.push(Drift {
                        addr: addr.clone(),
                        kind: DriftKind::Changed(changes),
                    });
                }
                rec.inputs = obs.inputs;
                rec.outputs = obs.outputs;
                rec.id = obs.id;
            }
        }
    }
    Ok((new_state, drift))
}
