//! The executor: runs a plan wave by wave.
//!
//! Within a wave a step starts as soon as the steps it depends on are done, at most `parallel` at a
//! time. A failed step skips its dependents; independent steps go on; the run stops before the next
//! wave. Every provider call is preceded by an `intent` record in the journal and followed by its
//! outcome. References are resolved from the outputs of completed steps just before each call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tandem_core::{OutputRef, Props, ResourceAddr, SecretKey, Value, props_to_state_json};
use tokio::task::JoinSet;

use crate::diff::{Action, ResourceChange, differing, same_identity};
use crate::journal::{Journal, JournalRecord, OpKind};
use crate::plan::Plan;
use crate::provider::{Observed, OpContext, Provider, ProviderError, Providers};
use crate::state::{ResourceRecord, ResourceState, State, deposed_addr, deposed_origin};

/// How to apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// At most this many provider calls in flight (`--parallel`, default 10).
    pub parallel: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallel: 10 }
    }
}

/// Progress of an apply, for whoever displays it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    WaveStarted {
        wave: String,
        steps: usize,
    },
    StepStarted {
        addr: ResourceAddr,
        action: Action,
    },
    StepFinished {
        addr: ResourceAddr,
        action: Action,
        outcome: Outcome,
    },
    WaveFinished {
        wave: String,
        failed: usize,
    },
    /// The run stops: these waves are not started.
    Stopped {
        not_started: Vec<String>,
    },
}

/// Receives [`Event`]s. Called from executor tasks: keep it quick.
pub trait Observer: Send + Sync {
    fn on_event(&self, event: &Event);
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn on_event(&self, _: &Event) {}
}

/// How one step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not attempted, because a step it depends on failed.
    Skipped(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepResult {
    pub addr: ResourceAddr,
    pub action: Action,
    pub wave: String,
    pub outcome: Outcome,
}

/// What an apply did.
#[derive(Debug)]
pub struct ApplyReport {
    pub results: Vec<StepResult>,
    /// Waves not started because an earlier one failed.
    pub not_started: Vec<String>,
    /// The state after the run (also recoverable from the journal).
    pub state: State,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.not_started.is_empty()
            && self
                .results
                .iter()
                .all(|r| matches!(r.outcome, Outcome::Done))
    }

    pub fn failures(&self) -> impl Iterator<Item = &StepResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
    }
}

/// The unit the executor schedules.
#[derive(Clone, Debug)]
enum StepKind {
    Create,
    Update,
    Delete,
    /// The second half of a create-first replacement: delete the old resource, which its
    /// replacement's create deposed (kept in the state under [`deposed_addr`]).
    DeleteReplaced,
    /// Delete, then create (delete-before-replace).
    DeleteThenCreate,
    Forget,
}

#[derive(Debug)]
struct Step {
    kind: StepKind,
    change: Arc<ResourceChange>,
    deps: Vec<usize>,
}

struct Run {
    state: Mutex<State>,
    /// The state's stack and env, for each call's context without taking the state's lock.
    stack: String,
    env: String,
    /// The state's secret key: the journal records secrets as their digests under it.
    secret_key: SecretKey,
    journal: Arc<Journal>,
    providers: Providers,
    seq: AtomicU64,
    token_base: String,
}

/// Applies `plan` on top of `state`. Never panics on a provider error; see [`ApplyReport`].
pub async fn apply(
    plan: &Plan,
    state: State,
    providers: &Providers,
    journal: Arc<Journal>,
    options: &ApplyOptions,
    observer: Arc<dyn Observer>,
) -> ApplyReport {
    let run = Arc::new(Run {
        token_base: format!("{}:{}", state.lineage, state.serial),
        stack: state.stack.clone(),
        env: state.env.clone(),
        secret_key: state.secret_key.clone(),
        state: Mutex::new(state),
        journal,
        providers: providers.clone(),
        seq: AtomicU64::new(1),
    });
    let mut results = Vec::new();
    let mut not_started = Vec::new();
    let (deferred, mut later_deletes) = deferred_deletes(plan);
    for (i, wave) in plan.waves.iter().enumerate() {
        let changes: Vec<ResourceChange> = match later_deletes.remove(&i) {
            Some(extra) => wave.changes.iter().cloned().chain(extra).collect(),
            None => wave.changes.clone(),
        };
        let steps = steps_of(&changes, &deferred);
        observer.on_event(&Event::WaveStarted {
            wave: wave.name.clone(),
            steps: steps.len(),
        });
        let outcomes = run_wave(&steps, &run, options.parallel.max(1), &observer).await;
        let mut failed = 0;
        // One result per resource: a replacement's two steps report once, the worse outcome.
        let mut per_resource: Vec<StepResult> = Vec::new();
        let mut pos: HashMap<ResourceAddr, usize> = HashMap::new();
        for (step, outcome) in steps.iter().zip(outcomes) {
            if matches!(outcome, Outcome::Failed(_)) {
                failed += 1;
            }
            let addr = step.change.addr.clone();
            match pos.get(&addr) {
                Some(&p) => {
                    if matches!(per_resource[p].outcome, Outcome::Done) {
                        per_resource[p].outcome = outcome;
                    }
                }
                None => {
                    pos.insert(addr.clone(), per_resource.len());
                    per_resource.push(StepResult {
                        addr,
                        action: step.change.action,
                        wave: wave.name.clone(),
                        outcome,
                    });
                }
            }
        }
        results.extend(per_resource);
        observer.on_event(&Event::WaveFinished {
            wave: wave.name.clone(),
            failed,
        });
        if failed > 0 {
            not_started = plan.waves[i + 1..].iter().map(|w| w.name.clone()).collect();
            if !not_started.is_empty() {
                observer.on_event(&Event::Stopped {
                    not_started: not_started.clone(),
                });
            }
            break;
        }
    }
    let run = Arc::try_unwrap(run).unwrap_or_else(|_| unreachable!("all tasks have ended"));
    ApplyReport {
        results,
        not_started,
        state: run.state.into_inner().expect("state lock not poisoned"),
    }
}

/// The create-first replacements whose old resource cannot be deleted in their own wave, because
/// a resource changed in a later wave still uses it (a hosted zone whose records are replaced in a
/// regional wave): their addresses, and by wave index the deletes of the deposed old resources,
/// which run there after the resources that used them.
fn deferred_deletes(
    plan: &Plan,
) -> (
    std::collections::HashSet<ResourceAddr>,
    HashMap<usize, Vec<ResourceChange>>,
) {
    let mut deferred = std::collections::HashSet::new();
    let mut later: HashMap<usize, Vec<ResourceChange>> = HashMap::new();
    for (i, wave) in plan.waves.iter().enumerate() {
        for c in &wave.changes {
            let (Action::ReplaceCreateFirst, Some(prior)) = (c.action, &c.prior) else {
                continue;
            };
            let last_user = plan
                .waves
                .iter()
                .enumerate()
                .skip(i + 1)
                .rev()
                .find(|(_, w)| {
                    w.changes.iter().any(|u| {
                        u.action != Action::NoOp
                            && u.prior
                                .as_ref()
                                .is_some_and(|p| p.dependencies.contains(&c.addr))
                    })
                })
                .map(|(j, _)| j);
            if let Some(j) = last_user {
                deferred.insert(c.addr.clone());
                later.entry(j).or_default().push(ResourceChange {
                    addr: deposed_addr(&c.addr, &prior.id),
                    action: Action::Delete,
                    changes: Vec::new(),
                    replace_reasons: Vec::new(),
                    inputs: None,
                    prior: Some(prior.clone()),
                    dependencies: prior.dependencies.clone(),
                    protect: false,
                    retain_on_delete: false,
                });
            }
        }
    }
    (deferred, later)
}

/// Turns a wave's changes into steps with their dependencies inside the wave. The old halves of
/// the replacements in `deferred` are deleted in a later wave, not here.
fn steps_of(
    changes: &[ResourceChange],
    deferred: &std::collections::HashSet<ResourceAddr>,
) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut upsert_step: HashMap<&ResourceAddr, usize> = HashMap::new();
    let mut delete_step: HashMap<&ResourceAddr, usize> = HashMap::new();
    let mut replaced: Vec<(usize, &ResourceChange)> = Vec::new();
    for c in changes {
        let kind = match c.action {
            Action::NoOp => continue,
            Action::Create | Action::ReplaceCreateFirst => StepKind::Create,
            Action::Update => StepKind::Update,
            Action::ReplaceDeleteFirst => StepKind::DeleteThenCreate,
            Action::Delete => StepKind::Delete,
            Action::Forget => StepKind::Forget,
        };
        let change = Arc::new(c.clone());
        let idx = steps.len();
        if c.action.is_delete() {
            delete_step.insert(&c.addr, idx);
        } else {
            upsert_step.insert(&c.addr, idx);
        }
        steps.push(Step {
            kind,
            change: Arc::clone(&change),
            deps: Vec::new(),
        });
        if c.action == Action::ReplaceCreateFirst && !deferred.contains(&c.addr) {
            replaced.push((idx, c));
        }
    }
    // Creates and updates wait for what they depend on.
    for step in steps.iter_mut() {
        if !step.change.action.is_delete() {
            step.deps = step
                .change
                .dependencies
                .iter()
                .filter_map(|d| upsert_step.get(d).copied())
                .collect();
        }
    }
    // A delete waits for the deletes of the resources that depended on it.
    let deleted: Vec<(usize, Arc<ResourceChange>)> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.change.action.is_delete())
        .map(|(i, s)| (i, Arc::clone(&s.change)))
        .collect();
    // A deposed resource is depended on as the address it was replaced at.
    let mut deposed_step: HashMap<ResourceAddr, Vec<usize>> = HashMap::new();
    for (addr, &ix) in &delete_step {
        if let Some(origin) = deposed_origin(addr) {
            deposed_step.entry(origin).or_default().push(ix);
        }
    }
    for (dependent, change) in deleted {
        for d in &change.dependencies {
            let deposed = deposed_step.get(d).into_iter().flatten();
            for &ix in delete_step.get(d).into_iter().chain(deposed) {
                if ix != dependent {
                    steps[ix].deps.push(dependent);
                }
            }
        }
    }
    // A delete also waits for the resources that depended on it and are updated or replaced in
    // this wave: they stop referring to it first.
    let mut repointed: HashMap<ResourceAddr, Vec<usize>> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        if let (false, Some(prior)) = (s.change.action.is_delete(), &s.change.prior) {
            for d in &prior.dependencies {
                repointed.entry(d.clone()).or_default().push(i);
            }
        }
    }
    // A deposed resource (the old half of a replacement deferred to this wave) was used as the
    // address it was replaced at.
    for (addr, &ix) in &delete_step {
        let origin = deposed_origin(addr);
        let users = [Some(*addr), origin.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|a| repointed.get(a))
            .flatten()
            .copied()
            .collect::<Vec<usize>>();
        if let StepKind::Delete = &steps[ix].kind {
            steps[ix].deps.extend(users);
        }
    }
    // The old half of a create-first replacement goes after its replacement and after every
    // resource of this wave that depends on it has been repointed.
    // It also goes after the old halves of the replacements that used it (the records of a
    // replaced hosted zone).
    let first_old = steps.len();
    let old_half: HashMap<&ResourceAddr, usize> = replaced
        .iter()
        .enumerate()
        .map(|(n, (_, c))| (&c.addr, first_old + n))
        .collect();
    let mut old_steps = Vec::with_capacity(replaced.len());
    for &(create_idx, c) in &replaced {
        let mut deps = vec![create_idx];
        for (i, s) in steps.iter().enumerate() {
            let uses_new = !s.change.action.is_delete() && s.change.dependencies.contains(&c.addr);
            // A deleted resource that used the old one goes first.
            let used_old = matches!(s.kind, StepKind::Delete)
                && s.change
                    .prior
                    .as_ref()
                    .is_some_and(|p| p.dependencies.contains(&c.addr));
            if uses_new || used_old {
                deps.push(i);
            }
        }
        for &(_, user) in &replaced {
            if user.addr != c.addr
                && user
                    .prior
                    .as_ref()
                    .is_some_and(|p| p.dependencies.contains(&c.addr))
            {
                deps.push(old_half[&user.addr]);
            }
        }
        old_steps.push(Step {
            kind: StepKind::DeleteReplaced,
            change: Arc::clone(&steps[create_idx].change),
            deps,
        });
    }
    steps.extend(old_steps);
    // A resource deleted in this wave (a deposed one included) that the old half of a
    // replacement used goes after that old half.
    for &(_, c) in &replaced {
        for d in c.prior.iter().flat_map(|p| &p.dependencies) {
            let deposed = deposed_step.get(d).into_iter().flatten();
            for &ix in delete_step.get(d).into_iter().chain(deposed) {
                steps[ix].deps.push(old_half[&c.addr]);
            }
        }
    }
    for s in &mut steps {
        s.deps.sort_unstable();
        s.deps.dedup();
    }
    steps
}

async fn run_wave(
    steps: &[Step],
    run: &Arc<Run>,
    parallel: usize,
    observer: &Arc<dyn Observer>,
) -> Vec<Outcome> {
    let n = steps.len();
    let mut outcome: Vec<Option<Outcome>> = vec![None; n];
    let mut waiting: Vec<usize> = steps.iter().map(|s| s.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, s) in steps.iter().enumerate() {
        for &d in &s.deps {
            dependents[d].push(i);
        }
    }
    let mut ready: std::collections::VecDeque<usize> =
        (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut set: JoinSet<Result<(), String>> = JoinSet::new();
    let mut tasks: std::collections::HashMap<tokio::task::Id, usize> =
        std::collections::HashMap::new();
    let mut settled = 0;
    while settled < n {
        while set.len() < parallel
            && let Some(i) = ready.pop_front()
        {
            let step = &steps[i];
            observer.on_event(&Event::StepStarted {
                addr: step.change.addr.clone(),
                action: step.change.action,
            });
            let (kind, change, run) =
                (step.kind.clone(), Arc::clone(&step.change), Arc::clone(run));
            let task = set.spawn(async move { run_step(kind, &change, &run).await });
            tasks.insert(task.id(), i);
        }
        let Some(joined) = set.join_next_with_id().await else {
            break;
        };
        // A step whose task panicked failed like any other (its dependents are skipped).
        let (i, o) = match joined {
            Ok((id, Ok(()))) => (tasks[&id], Outcome::Done),
            Ok((id, Err(e))) => (tasks[&id], Outcome::Failed(e)),
            Err(e) => (
                tasks[&e.id()],
                Outcome::Failed(format!("the step stopped unexpectedly: {e}")),
            ),
        };
        observer.on_event(&Event::StepFinished {
            addr: steps[i].change.addr.clone(),
            action: steps[i].change.action,
            outcome: o.clone(),
        });
        settled += 1;
        let ok = o == Outcome::Done;
        outcome[i] = Some(o);
        if ok {
            for &d in &dependents[i] {
                waiting[d] -= 1;
                if waiting[d] == 0 && outcome[d].is_none() {
                    ready.push_back(d);
                }
            }
        } else {
            // Skip everything downstream.
            let mut stack = dependents[i].clone();
            while let Some(d) = stack.pop() {
                if outcome[d].is_none() {
                    let why = format!("skipped: {} failed", steps[i].change.addr);
                    observer.on_event(&Event::StepFinished {
                        addr: steps[d].change.addr.clone(),
                        action: steps[d].change.action,
                        outcome: Outcome::Skipped(why.clone()),
                    });
                    outcome[d] = Some(Outcome::Skipped(why));
                    settled += 1;
                    stack.extend(dependents[d].iter().copied());
                }
            }
        }
    }
    outcome
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Skipped("not started".into())))
        .collect()
}

/// The idempotency token of one operation on one resource in one run.
fn token(base: &str, addr: &ResourceAddr, op: OpKind) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(base.as_bytes());
    h.update(b"\0");
    h.update(addr.as_str().as_bytes());
    h.update(format!("\0{op:?}").as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("tandem-{hex}")
}

async fn run_step(kind: StepKind, change: &ResourceChange, run: &Run) -> Result<(), String> {
    match kind {
        StepKind::Create if change.action.is_replace() && !still_replaced(change, run)? => {
            update_instead(change, run).await
        }
        StepKind::Create => create(change, run).await,
        StepKind::Update => update(change, run).await,
        StepKind::Delete => delete(change, run).await,
        StepKind::DeleteReplaced => delete_deposed(change, run).await,
        StepKind::DeleteThenCreate if !still_replaced(change, run)? => {
            update_instead(change, run).await
        }
        StepKind::DeleteThenCreate => {
            delete(change, run).await?;
            create(change, run).await
        }
        StepKind::Forget => {
            journal(
                run,
                &JournalRecord::Forget {
                    addr: change.addr.clone(),
                },
            )
            .await?;
            run.state
                .lock()
                .expect("state lock")
                .resources
                .remove(&change.addr);
            Ok(())
        }
    }
}

/// Whether a replacement is still forced once its inputs are resolved: a property that forced it
/// may have been unknown at plan time and turn out unchanged (the primary database adopted with
/// the same ARN after its record was removed from the state).
fn still_replaced(change: &ResourceChange, run: &Run) -> Result<bool, String> {
    let Some(prior) = &change.prior else {
        return Ok(true);
    };
    let inputs = resolve_inputs(change, run)?;
    Ok(change
        .changes
        .iter()
        .filter(|p| p.forces_replacement)
        .any(|p| match (prior.inputs.get(&p.name), inputs.get(&p.name)) {
            (Some(old), Some(new)) => !new.same_as(old, &run.secret_key),
            (None, None) => false,
            _ => true,
        }))
}

/// A replacement that resolved inputs no longer force: updated in place, or only recorded with
/// its resolved inputs when nothing differs.
async fn update_instead(change: &ResourceChange, run: &Run) -> Result<(), String> {
    let prior = change.prior.as_ref().ok_or("update without prior state")?;
    let inputs = resolve_inputs(change, run)?;
    if differing(&prior.inputs, &inputs, &run.secret_key)
        .next()
        .is_some()
    {
        return update(change, run).await;
    }
    let seq = run.seq.fetch_add(1, Ordering::Relaxed);
    let rs = ResourceState {
        inputs,
        dependencies: change.dependencies.clone(),
        protect: change.protect,
        retain_on_delete: change.retain_on_delete,
        ..prior.clone()
    };
    record_done(run, seq, &change.addr, Some(rs)).await
}

fn resolve_inputs(change: &ResourceChange, run: &Run) -> Result<Props, String> {
    let state = run.state.lock().expect("state lock");
    let lookup = |r: &OutputRef| -> Option<Value> { state.output(&r.addr, &r.output).cloned() };
    let Some(inputs) = &change.inputs else {
        return Ok(Props::new());
    };
    // Shares with the plan the values that hold no reference.
    let out = inputs.resolve(&lookup);
    for ((k, v), (_, resolved)) in inputs.iter().zip(out.iter()) {
        if resolved.is_unknown() {
            let missing: Vec<String> = v
                .refs()
                .iter()
                .filter(|r| lookup(r).is_none())
                .map(|r| format!("{}.{}", r.addr, r.output))
                .collect();
            return Err(format!(
                "input `{k}` is still unknown: {} produced no such output",
                missing.join(", ")
            ));
        }
    }
    Ok(out)
}

/// The context of a call on `change`'s resource. A deposed resource is named to its provider by
/// the address it was made for (its `tandem:addr` tag says that one).
fn ctx(change: &ResourceChange, run: &Run, token: String) -> OpContext {
    OpContext {
        addr: deposed_origin(&change.addr).unwrap_or_else(|| change.addr.clone()),
        stack: run.stack.clone(),
        env: run.env.clone(),
        token,
    }
}

async fn journal(run: &Run, record: &JournalRecord) -> Result<(), String> {
    run.journal
        .append(record)
        .await
        .map_err(|e| format!("not attempted: {e}"))
}

fn provider_of<'a>(
    run: &'a Run,
    change: &ResourceChange,
) -> Result<&'a Arc<dyn crate::provider::Provider>, String> {
    run.providers
        .get(change.addr.kind())
        .ok_or_else(|| format!("no provider for resource kind {:?}", change.addr.kind()))
}

async fn create(change: &ResourceChange, run: &Run) -> Result<(), String> {
    let provider = provider_of(run, change)?;
    let inputs = resolve_inputs(change, run)?;
    provider.validate(&change.addr, &inputs)?;
    if let (Action::ReplaceCreateFirst, Some(prior)) = (change.action, &change.prior)
        && same_identity(provider.identity(), &prior.inputs, &inputs, &run.secret_key).is_some()
    {
        return Err(format!(
            "not replaced: the replacement would keep the same {} as {} (id {}), so creating it \
             first would make no new resource and deleting the old one would leave none; nothing \
             was changed: plan again, and the replacement deletes the old one first",
            provider.identity().names().join(", "),
            change.addr,
            prior.id
        ));
    }
    let (seq, ctx) = journal_write_intent(change, run, OpKind::Create, None, &inputs).await?;
    // A resource its kind names or tags deterministically may be there already: made by a run
    // whose journal or state was lost, or by a create that failed after making it. Adopt it.
    if change.action == Action::Create && provider.identity().findable_by_any_run() {
        match provider.find(&ctx, &inputs).await {
            Ok(Some(obs)) => return adopt(change, run, seq, provider, inputs, obs).await,
            Ok(None) => {}
            Err(e) => {
                return record_failed(
                    run,
                    seq,
                    &change.addr,
                    "create",
                    format!("could not look for an existing resource first: {e}"),
                )
                .await;
            }
        }
    }
    match provider.create(&ctx, &inputs).await {
        Ok(obs) => record_created(change, run, seq, inputs, obs).await,
        Err(e) => failed_create(change, run, seq, provider, &ctx, inputs, e).await,
    }
}

/// Records a created resource. The old half of a create-first replacement is deposed first: kept
/// in the state under [`deposed_addr`] until its delete, so that no crash or failure forgets it.
async fn record_created(
    change: &ResourceChange,
    run: &Run,
    seq: u64,
    inputs: Props,
    obs: Observed,
) -> Result<(), String> {
    if let (Action::ReplaceCreateFirst, Some(prior)) = (change.action, &change.prior)
        && prior.id != obs.id
    {
        let deposed = deposed_addr(&change.addr, &prior.id);
        let dseq = run.seq.fetch_add(1, Ordering::Relaxed);
        record_done(run, dseq, &deposed, Some(prior.clone())).await?;
    }
    record_written(change, run, seq, "create", inputs, Ok(obs)).await
}

/// Records a resource found where a create would have made one, then brings it to `inputs` with
/// an update when it differs in what can be updated in place.
async fn adopt(
    change: &ResourceChange,
    run: &Run,
    seq: u64,
    provider: &Arc<dyn Provider>,
    inputs: Props,
    obs: Observed,
) -> Result<(), String> {
    let id = obs.id.clone();
    let live = obs.inputs.clone();
    let differs: Vec<String> = differing(&live, &inputs, &run.secret_key)
        .map(|(name, _, _)| name.clone())
        .collect();
    let forced: Vec<&String> = differs
        .iter()
        .filter(|n| provider.replace_on().contains(&n.as_str()))
        .collect();
    record_written(change, run, seq, "create", live.clone(), Ok(obs)).await?;
    if !forced.is_empty() {
        return Err(format!(
            "found {id}, which this create would have made, and adopted it; its {} differ from the \
             program's and cannot change in place: the next plan replaces it",
            forced
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if differs.is_empty() {
        return Ok(());
    }
    let (useq, uctx) =
        journal_write_intent(change, run, OpKind::Update, Some(id.clone()), &inputs).await?;
    let observed = provider.update(&uctx, &id, &live, &inputs).await;
    record_written(
        change,
        run,
        useq,
        "update of the adopted resource",
        inputs,
        observed,
    )
    .await
}

/// A create failed: whether it made the resource first (a tag that failed after the create, a
/// time-out past the retry budget) is read from the cloud. Made, it is recorded, so that the next
/// run completes it instead of creating a second one; unreadable, the intent stays open in the
/// state and the next run reconciles it before planning.
async fn failed_create(
    change: &ResourceChange,
    run: &Run,
    seq: u64,
    provider: &Arc<dyn Provider>,
    ctx: &OpContext,
    inputs: Props,
    error: ProviderError,
) -> Result<(), String> {
    let prior_id = change.prior.as_ref().map(|p| p.id.as_str());
    match provider.find(ctx, &inputs).await {
        Ok(Some(obs)) if Some(obs.id.as_str()) != prior_id => {
            let id = obs.id.clone();
            let live = obs.inputs.clone();
            record_created(change, run, seq, live, obs).await?;
            Err(format!(
                "create failed after the resource was made: {error}; {id} is recorded in the \
                 state, and the next apply completes it"
            ))
        }
        Ok(_) => record_failed(run, seq, &change.addr, "create", error.to_string()).await,
        Err(find_error) => {
            let intent = JournalRecord::Intent {
                seq: 0,
                addr: change.addr.clone(),
                op: OpKind::Create,
                token: ctx.token.clone(),
                id: None,
                inputs: Some(props_to_state_json(&inputs, &run.secret_key)),
                dependencies: change.dependencies.clone(),
                protect: change.protect,
                retain_on_delete: change.retain_on_delete,
            };
            run.state
                .lock()
                .expect("state lock")
                .unreconciled
                .push(intent);
            Err(format!(
                "create failed: {error}; whether it made the resource could not be read \
                 ({find_error}): the next run looks for it before planning"
            ))
        }
    }
}

async fn update(change: &ResourceChange, run: &Run) -> Result<(), String> {
    let provider = provider_of(run, change)?;
    let prior = change.prior.as_ref().ok_or("update without prior state")?;
    let inputs = resolve_inputs(change, run)?;
    provider.validate(&change.addr, &inputs)?;
    let (seq, ctx) =
        journal_write_intent(change, run, OpKind::Update, Some(prior.id.clone()), &inputs).await?;
    let observed = provider
        .update(&ctx, &prior.id, &prior.inputs, &inputs)
        .await;
    record_written(change, run, seq, "update", inputs, observed).await
}

/// Journals the intent to create or update `change` with `inputs` (`id`: the prior resource's, for
/// an update). Returns the intent's sequence number and the context of the provider call.
async fn journal_write_intent(
    change: &ResourceChange,
    run: &Run,
    op: OpKind,
    id: Option<String>,
    inputs: &Props,
) -> Result<(u64, OpContext), String> {
    let seq = run.seq.fetch_add(1, Ordering::Relaxed);
    let token = token(&run.token_base, &change.addr, op);
    journal(
        run,
        &JournalRecord::Intent {
            seq,
            addr: change.addr.clone(),
            op,
            token: token.clone(),
            id,
            inputs: Some(props_to_state_json(inputs, &run.secret_key)),
            dependencies: change.dependencies.clone(),
            protect: change.protect,
            retain_on_delete: change.retain_on_delete,
        },
    )
    .await?;
    Ok((seq, ctx(change, run, token)))
}

/// Records the outcome of a create or update (`op`): the resource the provider observed, with
/// `inputs` and the change's dependencies and options, or the failure.
async fn record_written(
    change: &ResourceChange,
    run: &Run,
    seq: u64,
    op: &str,
    inputs: Props,
    observed: Result<Observed, ProviderError>,
) -> Result<(), String> {
    match observed {
        Ok(obs) => {
            let rs = ResourceState {
                id: obs.id,
                inputs,
                outputs: obs.outputs,
                dependencies: change.dependencies.clone(),
                protect: change.protect,
                retain_on_delete: change.retain_on_delete,
            };
            record_done(run, seq, &change.addr, Some(rs)).await
        }
        Err(e) => record_failed(run, seq, &change.addr, op, e.to_string()).await,
    }
}

/// Deletes the prior resource and removes its record.
async fn delete(change: &ResourceChange, run: &Run) -> Result<(), String> {
    let provider = provider_of(run, change)?;
    let prior = change.prior.as_ref().ok_or("delete without prior state")?;
    let seq = run.seq.fetch_add(1, Ordering::Relaxed);
    let token = token(&run.token_base, &change.addr, OpKind::Delete);
    journal(
        run,
        &JournalRecord::Intent {
            seq,
            addr: change.addr.clone(),
            op: OpKind::Delete,
            token: token.clone(),
            id: Some(prior.id.clone()),
            inputs: None,
            dependencies: prior.dependencies.clone(),
            protect: false,
            retain_on_delete: false,
        },
    )
    .await?;
    let ctx = ctx(change, run, token);
    match provider.delete(&ctx, &prior.id, &prior.inputs).await {
        Ok(()) => record_done(run, seq, &change.addr, None).await,
        Err(e) => {
            let kept = if deposed_origin(&change.addr).is_some() {
                format!(
                    "; it stays in the state as {}, and the next apply deletes it",
                    change.addr
                )
            } else {
                String::new()
            };
            record_failed(run, seq, &change.addr, "delete", format!("{e}{kept}")).await
        }
    }
}

/// Deletes the old half of a create-first replacement: the resource its create deposed. Nothing
/// is deleted when none was deposed (the create found the old resource itself).
async fn delete_deposed(change: &ResourceChange, run: &Run) -> Result<(), String> {
    let prior = change.prior.as_ref().ok_or("delete without prior state")?;
    let addr = deposed_addr(&change.addr, &prior.id);
    let Some(old) = run
        .state
        .lock()
        .expect("state lock")
        .resources
        .get(&addr)
        .cloned()
    else {
        return Ok(());
    };
    let gone = ResourceChange {
        addr,
        action: Action::Delete,
        changes: Vec::new(),
        replace_reasons: Vec::new(),
        inputs: None,
        dependencies: old.dependencies.clone(),
        prior: Some(old),
        protect: false,
        retain_on_delete: false,
    };
    delete(&gone, run).await
}

async fn record_done(
    run: &Run,
    seq: u64,
    addr: &ResourceAddr,
    rs: Option<ResourceState>,
) -> Result<(), String> {
    let record = rs
        .as_ref()
        .map(|r| ResourceRecord::from_state(addr, r, &run.secret_key));
    // The cloud has changed: keep the in-memory state true even if the journal write fails.
    {
        let mut state = run.state.lock().expect("state lock");
        match rs {
            Some(r) => state.resources.insert(addr.clone(), r),
            None => state.resources.remove(addr),
        };
    }
    journal(
        run,
        &JournalRecord::Done {
            seq,
            addr: addr.clone(),
            record,
        },
    )
    .await
    .map_err(|e| format!("succeeded, but the outcome could not be journaled: {e}"))
}

async fn record_failed(
    run: &Run,
    seq: u64,
    addr: &ResourceAddr,
    op: &str,
    error: String,
) -> Result<(), String> {
    let _ = journal(
        run,
        &JournalRecord::Failed {
            seq,
            addr: addr.clone(),
            error: error.clone(),
        },
    )
    .await;
    Err(format!("{op} failed: {error}"))
}
