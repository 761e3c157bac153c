//! Recovery: folds a journal left by an interrupted run into the state, and reconciles the
//! operations whose outcome was never recorded by reading the cloud — never by redoing them blindly.

use tandem_core::{Props, ResourceAddr, SecretKey, props_from_json};

use crate::error::EngineError;
use crate::journal::{JournalRecord, OpKind};
use crate::provider::{OpContext, Providers};
use crate::state::{ResourceState, State, deposed_addr, deposed_origin};

/// A provider call whose intent was journaled but whose outcome was not.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingOp {
    pub addr: ResourceAddr,
    pub op: OpKind,
    pub token: String,
    pub id: Option<String>,
    pub inputs: Props,
    pub dependencies: Vec<ResourceAddr>,
    pub protect: bool,
    pub retain_on_delete: bool,
}

impl PendingOp {
    /// The pending operation of a journal intent record.
    pub fn from_intent(record: &JournalRecord) -> Result<PendingOp, String> {
        let JournalRecord::Intent {
            seq,
            addr,
            op,
            token,
            id,
            inputs,
            dependencies,
            protect,
            retain_on_delete,
        } = record
        else {
            return Err("not an intent record".into());
        };
        let inputs = match inputs {
            Some(j) => props_from_json(j).map_err(|e| format!("intent {seq}: {e}"))?,
            None => Props::new(),
        };
        Ok(PendingOp {
            addr: addr.clone(),
            op: *op,
            token: token.clone(),
            id: id.clone(),
            inputs,
            dependencies: dependencies.clone(),
            protect: *protect,
            retain_on_delete: *retain_on_delete,
        })
    }

    /// The journal intent record of this operation (`seq` 0: it is kept apart from any journal),
    /// secrets as their digests under `key`, the state's key.
    pub fn to_intent(&self, key: &SecretKey) -> JournalRecord {
        JournalRecord::Intent {
            seq: 0,
            addr: self.addr.clone(),
            op: self.op,
            token: self.token.clone(),
            id: self.id.clone(),
            inputs: (!self.inputs.is_empty())
                .then(|| tandem_core::props_to_state_json(&self.inputs, key)),
            dependencies: self.dependencies.clone(),
            protect: self.protect,
            retain_on_delete: self.retain_on_delete,
        }
    }
}

/// The state with a journal's completed records applied, and what is still pending.
#[derive(Clone, Debug)]
pub struct Folded {
    pub state: State,
    pub pending: Vec<PendingOp>,
    /// Records applied from the journal.
    pub replayed: usize,
}

/// Why a journal cannot be folded into the state: the line of the record at fault, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoldError {
    pub line: usize,
    pub message: String,
}

/// Applies a journal's records on top of `state`.
///
/// A journal whose base serial is older than the state's was already folded (a crash between the
/// state write and the journal's removal) and is ignored.
pub fn fold(mut state: State, records: &[JournalRecord]) -> Result<Folded, FoldError> {
    let at = |line: usize| move |message: String| FoldError { line, message };
    let Some(first) = records.first() else {
        return Ok(Folded {
            state,
            pending: Vec::new(),
            replayed: 0,
        });
    };
    let JournalRecord::Begin {
        lineage,
        base_serial,
        secret_key,
        ..
    } = first
    else {
        return Err(at(1)(
            "the journal does not start with a begin record".into(),
        ));
    };
    if *lineage != state.lineage {
        return Err(at(1)(format!(
            "the journal belongs to state lineage {lineage}, the state file has {}",
            state.lineage
        )));
    }
    if *base_serial < state.serial {
        return Ok(Folded {
            state,
            pending: Vec::new(),
            replayed: 0,
        });
    }
    if *base_serial > state.serial {
        return Err(at(1)(format!(
            "the journal continues state serial {base_serial}, but the state file is at serial {}",
            state.serial
        )));
    }
    // The run made its digests under this key: the state keeps it (it differs only when the run
    // began on a state not yet saved with its key).
    if let Some(hex) = secret_key {
        state.secret_key =
            SecretKey::from_hex(hex).map_err(|e| at(1)(format!("secret_key: {e}")))?;
    }
    let mut pending: Vec<(u64, PendingOp)> = Vec::new();
    let mut replayed = 0;
    for (i, rec) in records.iter().enumerate().skip(1) {
        let bad = at(i + 1);
        replayed += 1;
        match rec {
            JournalRecord::Begin { .. } => return Err(bad("a second begin record".into())),
            JournalRecord::Intent { seq, .. } => {
                pending.push((*seq, PendingOp::from_intent(rec).map_err(&bad)?));
            }
            JournalRecord::Done { seq, addr, record } => {
                pending.retain(|(s, _)| s != seq);
                match record {
                    Some(r) => {
                        let rs = r.to_state().map_err(|e| bad(e.to_string()))?;
                        state.resources.insert(addr.clone(), rs);
                    }
                    None => {
                        state.resources.remove(addr);
                    }
                }
            }
            JournalRecord::Failed { seq, .. } => pending.retain(|(s, _)| s != seq),
            JournalRecord::Forget { addr } => {
                state.resources.remove(addr);
            }
            JournalRecord::Extension { key, value } => {
                state.extensions.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(Folded {
        state,
        pending: pending.into_iter().map(|(_, p)| p).collect(),
        replayed,
    })
}

/// What reconciling one pending operation found.
#[derive(Clone, Debug, PartialEq)]
pub struct Reconciled {
    pub addr: ResourceAddr,
    pub op: OpKind,
    pub finding: String,
}

/// Reads the cloud for each pending operation and records what is really there.
pub async fn reconcile(
    mut folded: Folded,
    providers: &Providers,
) -> Result<(State, Vec<Reconciled>), EngineError> {
    let mut notes = Vec::new();
    for p in std::mem::take(&mut folded.pending) {
        let provider = providers
            .get(p.addr.kind())
            .ok_or_else(|| EngineError::NoProvider {
                addr: p.addr.clone(),
                kind: p.addr.kind().to_string(),
            })?;
        let ctx = OpContext {
            addr: deposed_origin(&p.addr).unwrap_or_else(|| p.addr.clone()),
            stack: folded.state.stack.clone(),
            env: folded.state.env.clone(),
            token: p.token.clone(),
        };
        let err = |operation, source| EngineError::Provider {
            addr: p.addr.clone(),
            region: p.addr.region_str().to_string(),
            operation,
            source,
        };
        let finding = match p.op {
            OpKind::Create => match provider
                .find(&ctx, &p.inputs)
                .await
                .map_err(|e| err("find", e))?
            {
                Some(obs) => {
                    // The create of a create-first replacement: the resource it replaces is kept
                    // (deposed) for the next apply to delete, not forgotten.
                    let replaced = folded
                        .state
                        .resources
                        .get(&p.addr)
                        .filter(|old| old.id != obs.id)
                        .cloned();
                    let kept = match replaced {
                        Some(old) => {
                            let at = deposed_addr(&p.addr, &old.id);
                            let note = format!(
                                "; the resource it replaces ({}) is kept as {at} for the next apply to delete",
                                old.id
                            );
                            folded.state.resources.insert(at, old);
                            note
                        }
                        None => String::new(),
                    };
                    folded.state.resources.insert(
                        p.addr.clone(),
                        ResourceState {
                            id: obs.id.clone(),
                            inputs: p.inputs.clone(),
                            outputs: obs.outputs,
                            dependencies: p.dependencies.clone(),
                            protect: p.protect,
                            retain_on_delete: p.retain_on_delete,
                        },
                    );
                    format!(
                        "the interrupted create had made it ({}); adopted{kept}",
                        obs.id
                    )
                }
                None => format!(
                    "the interrupted create had not happened (looked up {}); it will be planned again",
                    provider.identity().describe()
                ),
            },
            OpKind::Update | OpKind::Delete => {
                let id = p.id.clone().unwrap_or_default();
                let last_inputs = folded
                    .state
                    .resources
                    .get(&p.addr)
                    .map(|r| r.inputs.clone())
                    .unwrap_or_else(|| p.inputs.clone());
                match provider
                    .read(&ctx, &id, &last_inputs)
                    .await
                    .map_err(|e| err("read", e))?
                {
                    None => {
                        let recorded_id = folded.state.resources.get(&p.addr).map(|r| r.id.clone());
                        if recorded_id.as_deref() == Some(id.as_str()) {
                            folded.state.resources.remove(&p.addr);
                        }
                        format!("{id} no longer exists")
                    }
                    Some(obs) if obs.id != id => {
                        format!("{id} still exists; it is no longer tracked by this address")
                    }
                    Some(obs) => {
                        if let Some(r) = folded.state.resources.get_mut(&p.addr) {
                            r.inputs = obs.inputs;
                            r.outputs = obs.outputs;
                        }
                        "read back its live properties".into()
                    }
                }
            }
        };
        notes.push(Reconciled {
            addr: p.addr,
            op: p.op,
            finding,
        });
    }
    Ok((folded.state, notes))
}
