//! Operations: what the commands do, composed from the store, the journal, plan, apply and refresh.
//! The CLI parses and prints; these functions do the work.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tandem_core::{DesiredStack, OutputRef, Value};

use crate::apply::{ApplyOptions, ApplyReport, Observer, apply};
use crate::backend::StateBackend;
use crate::error::EngineError;
use crate::journal::JournalRecord;
use crate::plan::{Plan, PlanConfig, plan};
use crate::provider::Providers;
use crate::recovery::{FoldError, PendingOp, Reconciled, fold, reconcile};
use crate::refresh::{Drift, refresh};
use crate::state::State;
use crate::store::{StateLock, StoreError, next_serial};

/// A new random lineage, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn new_lineage() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The stack's state, or a new empty one (with a fresh lineage) when there is none, with any
/// completed journal records folded in. Read-only: nothing is written.
///
/// Returns the number of operations an interrupted run left pending (reconciled by the next apply).
pub fn read_state(
    store: &dyn StateBackend,
    stack: &str,
    env: &str,
) -> Result<(State, usize), EngineError> {
    let (state, records, journal) = load_with_journal(store, stack, env)?;
    let folded = fold(state, &records).map_err(|e| journal_error(&journal, e))?;
    let pending = folded.pending.len() + folded.state.unreconciled.len();
    Ok((folded.state, pending))
}

/// [`read_state`] for commands that only show the state (`state list`, `state show`): a journal
/// that cannot be read or folded does not stop them. They get the saved state as it is, and the
/// journal's error to print as a warning (it says how to repair the journal).
pub fn read_state_for_display(
    store: &dyn StateBackend,
    stack: &str,
    env: &str,
) -> Result<(State, usize, Option<EngineError>), EngineError> {
    match read_state(store, stack, env) {
        Ok((state, pending)) => Ok((state, pending, None)),
        Err(e @ EngineError::Journal(_)) => {
            let state = store
                .load(stack, env)?
                .unwrap_or_else(|| State::new(stack, env, new_lineage()));
            Ok((state, 0, Some(e)))
        }
        Err(e) => Err(e),
    }
}

/// The saved state (or the state before the first apply) and the records of the journal beside it,
/// with the journal's path.
fn load_with_journal(
    store: &dyn StateBackend,
    stack: &str,
    env: &str,
) -> Result<(State, Vec<JournalRecord>, PathBuf), EngineError> {
    let journal = store.journal_location(stack, env);
    let loaded = store.load(stack, env)?;
    let records = store.read_journal(stack, env)?;
    let state = loaded.unwrap_or_else(|| first_state(stack, env, &records));
    Ok((state, records, journal))
}

/// The state before the first apply: empty, with the lineage of the journal a killed first apply
/// left (its records continue that lineage; folding them brings back its secret key too), or a
/// fresh one.
fn first_state(stack: &str, env: &str, records: &[JournalRecord]) -> State {
    let lineage = match records.first() {
        Some(JournalRecord::Begin { lineage, .. }) => lineage.clone(),
        _ => new_lineage(),
    };
    State::new(stack, env, lineage)
}

fn journal_error(path: &Path, e: FoldError) -> EngineError {
    EngineError::Journal(crate::journal::JournalError::Corrupt {
        path: path.to_path_buf(),
        line: e.line,
        message: e.message,
    })
}

/// Under the lock: folds a journal left by an interrupted run into the state, reconciles its pending
/// operations by reading the cloud, saves, and removes the journal. Returns the state to work from.
pub async fn recover(
    store: &dyn StateBackend,
    lock: &StateLock,
    stack: &str,
    env: &str,
    providers: &Providers,
) -> Result<(State, Vec<Reconciled>), EngineError> {
    recover_except(store, lock, stack, env, providers, &|_| false).await
}

/// [`recover`], except that the pending operations on resources `skip` selects (a region whose
/// control plane does not answer) are not read: they are kept in the state as unreconciled, and
/// the next recovery that can read their region reconciles them (before anything newer).
pub async fn recover_except(
    store: &dyn StateBackend,
    _lock: &StateLock,
    stack: &str,
    env: &str,
    providers: &Providers,
    skip: &(dyn Fn(&tandem_core::ResourceAddr) -> bool + Sync),
) -> Result<(State, Vec<Reconciled>), EngineError> {
    let (state, records, journal) = load_with_journal(store, stack, env)?;
    if records.is_empty() && state.unreconciled.is_empty() {
        return Ok((state, Vec::new()));
    }
    let mut folded = fold(state, &records).map_err(|e| journal_error(&journal, e))?;
    let replayed = folded.replayed;
    let earlier: Vec<PendingOp> = std::mem::take(&mut folded.state.unreconciled)
        .iter()
        .map(PendingOp::from_intent)
        .collect::<Result<_, _>>()
        .map_err(EngineError::Internal)?;
    let had_earlier = !earlier.is_empty();
    let (kept, now): (Vec<PendingOp>, Vec<PendingOp>) = earlier
        .into_iter()
        .chain(std::mem::take(&mut folded.pending))
        .partition(|p| skip(&p.addr));
    folded.pending = now;
    let (mut state, mut notes) = reconcile(folded, providers).await?;
    for p in &kept {
        notes.push(Reconciled {
            addr: p.addr.clone(),
            op: p.op,
            finding: format!(
                "not reconciled: {} does not answer; kept in the state for the next run",
                p.addr.region_str()
            ),
        });
    }
    state.unreconciled = kept
        .iter()
        .map(|p| p.to_intent(&state.secret_key))
        .collect();
    if replayed > 0 || !notes.is_empty() || had_earlier {
        state.serial = next_serial(state.serial, &store.state_location(stack, env))?;
        store.save(&state)?;
    }
    store.remove_journal(stack, env)?;
    Ok((state, notes))
}

/// Plans, optionally after a refresh whose drift is attached to the plan.
pub async fn make_plan(
    desired: &DesiredStack,
    state: &State,
    providers: &Providers,
    config: &PlanConfig,
    refresh_first: Option<usize>,
) -> Result<(Plan, State), EngineError> {
    let (base, drift): (State, Vec<Drift>) = match refresh_first {
        Some(parallel) => refresh(state, providers, parallel).await?,
        None => (state.clone(), Vec::new()),
    };
    let mut p = plan(desired, &base, providers, config)?;
    p.drift = drift;
    Ok((p, base))
}

/// [`make_plan`] without reading the resources `skip` selects (a region that does not answer).
pub async fn make_plan_except(
    desired: &DesiredStack,
    state: &State,
    providers: &Providers,
    config: &PlanConfig,
    parallel: usize,
    skip: &(dyn Fn(&tandem_core::ResourceAddr) -> bool + Sync),
) -> Result<(Plan, State), EngineError> {
    let (base, drift) = crate::refresh::refresh_except(state, providers, parallel, skip).await?;
    let mut p = plan(desired, &base, providers, config)?;
    p.drift = drift;
    Ok((p, base))
}

/// Applies a plan under the lock, journaling every step, then saves the new state (serial + 1)
/// and removes the journal. The state is saved even when steps failed: it records what was done.
#[expect(
    clippy::too_many_arguments,
    reason = "the CLI calls it with each piece it owns"
)]
pub async fn apply_plan(
    store: &dyn StateBackend,
    _lock: &StateLock,
    plan: &Plan,
    state: State,
    desired_outputs: &std::collections::BTreeMap<String, Value>,
    providers: &Providers,
    options: &ApplyOptions,
    observer: Arc<dyn Observer>,
    operation: &str,
) -> Result<ApplyReport, EngineError> {
    let (stack, env) = (state.stack.clone(), state.env.clone());
    // Refused before any change is made: the state saved after it could not move its serial on.
    let serial = next_serial(state.serial, &store.state_location(&stack, &env))?;
    let journal = Arc::new(store.create_journal(
        &stack,
        &env,
        &JournalRecord::Begin {
            lineage: state.lineage.clone(),
            base_serial: state.serial,
            operation: operation.to_string(),
            secret_key: Some(state.secret_key.to_hex()),
        },
    )?);
    let mut report = apply(
        plan,
        state,
        providers,
        Arc::clone(&journal),
        options,
        observer,
    )
    .await;
    drop(journal);
    let succeeded = report.succeeded();
    let s = &mut report.state;
    let resolved: std::collections::BTreeMap<String, Value> = {
        let lookup = |r: &OutputRef| s.output(&r.addr, &r.output).cloned();
        desired_outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve(&lookup)))
            .collect()
    };
    if succeeded {
        s.outputs = resolved;
    }
    s.serial = serial;
    store.save(s)?;
    store.remove_journal(&stack, &env)?;
    Ok(report)
}

/// Saves a state under the lock (serial + 1), for `refresh` and `state rm`.
pub fn save_state(
    store: &dyn StateBackend,
    _lock: &StateLock,
    state: &mut State,
) -> Result<(), StoreError> {
    let location = store.state_location(&state.stack, &state.env);
    state.serial = next_serial(state.serial, &location)?;
    store.save(state)
}
