//! Plan: resource changes grouped in region waves, ordered, deterministic.
//!
//! A wave is the set of changes applied to one region (or to global services) before the next
//! region is touched. Waves run in the configured order (global, primary, secondary by default).
//! A resource runs in its own region's wave, or later when something it depends on runs in a later
//! wave (a global health check on a regional load balancer runs in that region's wave). A delete
//! runs in its own wave, or later when a resource that depended on it is deleted or changed in a
//! later wave.
//! Within a wave: creates, updates and replacements in dependency order, then deletes in reverse
//! dependency order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tandem_core::{DesiredStack, ResourceAddr, Value};

use crate::diff::{Action, NoOpDetail, PlanError, ResourceChange, diff_each};
use crate::provider::Providers;
use crate::refresh::Drift;
use crate::state::{State, deposed_origin};

/// How to plan.
#[derive(Clone, Debug)]
pub struct PlanConfig {
    /// Wave names in order: `global` and region names. Regions not listed run after, sorted.
    pub wave_order: Vec<String>,
}

/// One region's changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Wave {
    /// `global` or a region name.
    pub name: String,
    pub changes: Vec<ResourceChange>,
    /// For changes that run in this wave though their address names another region: why.
    pub moved: BTreeMap<ResourceAddr, String>,
}

/// What an apply will do, and on top of which state.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub stack: String,
    pub env: String,
    pub lineage: String,
    pub base_serial: u64,
    pub waves: Vec<Wave>,
    /// Resources with no change.
    pub unchanged: usize,
    /// Changes made outside Tandem, found by refresh (shown apart from code changes).
    pub drift: Vec<Drift>,
    /// Stack outputs as they will be (references resolved where known).
    pub outputs: BTreeMap<String, Value>,
}

/// Counts per action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Summary {
    pub fn total_changes(&self) -> usize {
        self.create + self.update + self.replace + self.delete
    }

    fn add(&mut self, action: Action) {
        match action {
            Action::NoOp => self.unchanged += 1,
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::ReplaceCreateFirst | Action::ReplaceDeleteFirst => self.replace += 1,
            Action::Delete | Action::Forget => self.delete += 1,
        }
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            unchanged: self.unchanged,
            ..Summary::default()
        };
        for c in self.changes() {
            s.add(c.action);
        }
        s
    }

    pub fn wave_summary(wave: &Wave) -> Summary {
        let mut s = Summary::default();
        for c in &wave.changes {
            s.add(c.action);
        }
        s
    }

    pub fn changes(&self) -> impl Iterator<Item = &ResourceChange> {
        self.waves.iter().flat_map(|w| w.changes.iter())
    }

    pub fn has_changes(&self) -> bool {
        self.waves.iter().any(|w| !w.changes.is_empty())
    }

    /// Keeps only the wave named `name` (`--region`).
    pub fn only_wave(mut self, name: &str) -> Result<Plan, PlanError> {
        let names: Vec<String> = self.waves.iter().map(|w| w.name.clone()).collect();
        let Some(pos) = names.iter().position(|n| n == name) else {
            return Err(PlanError::UnknownWave(name.to_string(), names.join(", ")));
        };
        let wave = self.waves.swap_remove(pos);
        self.waves = vec![wave];
        Ok(self)
    }
}

/// Plans the changes that take `prior` to `desired`.
///
/// Each change goes to its wave as soon as the diff makes it, and a change with nothing to do is
/// only counted: the changes of a large stack are held once.
pub fn plan(
    desired: &DesiredStack,
    prior: &State,
    providers: &Providers,
    config: &PlanConfig,
) -> Result<Plan, PlanError> {
    let is_deleted = |a: &ResourceAddr| !desired.graph.contains(a);
    let mut wave_names: Vec<String> = config.wave_order.clone();
    let mut extra: BTreeSet<&str> = BTreeSet::new();
    let addrs = desired
        .graph
        .in_order()
        .map(|d| &d.addr)
        .chain(prior.resources.keys().filter(|a| is_deleted(a)));
    for a in addrs {
        if !wave_names.iter().any(|w| w == a.region_str()) {
            extra.insert(a.region_str());
        }
    }
    wave_names.extend(extra.into_iter().map(str::to_string));
    let base_wave: HashMap<&str, usize> = wave_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let base = |a: &ResourceAddr| base_wave[a.region_str()];
    let mut waves: Vec<Wave> = wave_names
        .iter()
        .map(|n| Wave {
            name: n.clone(),
            changes: Vec::new(),
            moved: BTreeMap::new(),
        })
        .collect();

    // The wave and action of each desired resource.
    let mut placed: HashMap<&ResourceAddr, (usize, Action)> =
        HashMap::with_capacity(desired.graph.len());
    let mut unchanged = 0;
    let mut deletes: Vec<(&ResourceAddr, ResourceChange)> = Vec::new();
    // Deleted resources whose wave is later than their own, and the resource that moved them.
    let mut delete_wave: HashMap<&ResourceAddr, usize> = HashMap::new();
    let mut delete_moved: HashMap<&ResourceAddr, ResourceAddr> = HashMap::new();
    // The prior state's key for `a` when `a` is deleted.
    let deleted_key = |a: &ResourceAddr| {
        prior
            .resources
            .get_key_value(a)
            .map(|(k, _)| k)
            .filter(|k| is_deleted(k))
    };
    // Deposed resources (old halves of replacements not deleted yet) by the address they were
    // replaced at: what used that address used them.
    let mut deposed: HashMap<ResourceAddr, Vec<&ResourceAddr>> = HashMap::new();
    for a in prior.resources.keys().filter(|a| is_deleted(a)) {
        if let Some(origin) = deposed_origin(a) {
            deposed.entry(origin).or_default().push(a);
        }
    }
    // The deleted resources that what depended on `a` used: `a` itself and its deposed ones.
    let deleted_keys = |a: &ResourceAddr| -> Vec<&ResourceAddr> {
        deleted_key(a)
            .into_iter()
            .chain(deposed.get(a).into_iter().flatten().copied())
            .collect()
    };
    diff_each(desired, prior, providers, NoOpDetail::Light, |addr, c| {
        if c.action.is_delete() {
            deletes.push((addr, c));
            return;
        }
        // Desired resources come in dependency order: the latest of their own wave and their
        // dependencies'.
        let mut w = base(addr);
        let mut by = None;
        for d in &c.dependencies {
            if let Some(&(dw, _)) = placed.get(d)
                && dw > w
            {
                w = dw;
                by = Some(d);
            }
        }
        let why = by.map(|by| reason(&["after ", by.as_str(), ", which it depends on"]));
        placed.insert(addr, (w, c.action));
        if c.action == Action::NoOp {
            unchanged += 1;
            return;
        }
        // A deleted resource goes not before the changes of the resources that used it (they stop
        // using it first).
        for d in c.prior.iter().flat_map(|p| &p.dependencies) {
            for d in deleted_keys(d) {
                let e = delete_wave.entry(d).or_insert(base(d));
                if w > *e {
                    *e = w;
                    delete_moved.insert(d, addr.clone());
                }
            }
        }
        if addr.region_str() != waves[w].name
            && let Some(why) = why
        {
            waves[w].moved.insert(addr.clone(), why);
        }
        push(&mut waves[w].changes, c);
    })?;

    // Deletes: the latest of their own wave and that of any deleted resource depending on them.
    let delete_order = reverse_dependency_order(&deletes);
    for &i in &delete_order {
        let (addr, c) = &deletes[i];
        let w = *delete_wave.entry(addr).or_insert(base(addr));
        for d in &c.dependencies {
            for d in deleted_keys(d) {
                let e = delete_wave.entry(d).or_insert(base(d));
                if w > *e {
                    *e = w;
                    delete_moved.insert(d, (*addr).clone());
                }
            }
        }
    }
    let mut slots: Vec<Option<(&ResourceAddr, ResourceChange)>> =
        deletes.into_iter().map(Some).collect();
    for i in delete_order {
        let Some((addr, c)) = slots[i].take() else {
            continue;
        };
        let w = delete_wave[addr];
        if addr.region_str() != waves[w].name
            && let Some(by) = delete_moved.get(addr)
        {
            let why = if is_deleted(by) {
                reason(&["after ", by.as_str(), ", which depends on it, is deleted"])
            } else {
                reason(&["after ", by.as_str(), ", which used it, is changed"])
            };
            waves[w].moved.insert(addr.clone(), why);
        }
        push(&mut waves[w].changes, c);
    }
    drop(slots);
    waves.retain(|w| !w.changes.is_empty());

    let outputs = {
        let lookup = |r: &tandem_core::OutputRef| -> Option<Value> {
            match placed.get(&r.addr) {
                Some((_, Action::NoOp | Action::Update)) => {
                    prior.output(&r.addr, &r.output).cloned()
                }
                _ => None,
            }
        };
        desired
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve_known(&lookup)))
            .collect()
    };

    Ok(Plan {
        stack: prior.stack.clone(),
        env: prior.env.clone(),
        lineage: prior.lineage.clone(),
        base_serial: prior.serial,
        waves,
        unchanged,
        drift: Vec::new(),
        outputs,
    })
}

/// Text made of `parts`, without spare capacity: a plan holds one per moved change.
fn reason(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| s.push_str(p));
    s
}

/// Appends to a wave's changes, growing the list by a quarter at a time rather than doubling it:
/// one wave may hold nearly every change of a large stack.
fn push(changes: &mut Vec<ResourceChange>, c: ResourceChange) {
    if changes.len() == changes.capacity() {
        changes.reserve_exact((changes.len() / 4).max(16));
    }
    changes.push(c);
}

/// Deleted resources ordered so that each comes before the resources it depended on, as indices
/// into `deletes`.
fn reverse_dependency_order(deletes: &[(&ResourceAddr, ResourceChange)]) -> Vec<usize> {
    let by_addr: BTreeMap<&ResourceAddr, usize> = deletes
        .iter()
        .enumerate()
        .map(|(i, (a, _))| (*a, i))
        .collect();
    // Count, for each deleted resource, the deleted resources depending on it.
    let mut dependents: HashMap<&ResourceAddr, usize> = by_addr.keys().map(|a| (*a, 0)).collect();
    for (_, c) in deletes {
        for d in &c.dependencies {
            if let Some(n) = dependents.get_mut(d) {
                *n += 1;
            }
        }
    }
    let mut ready: BTreeSet<&ResourceAddr> = dependents
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(a, _)| *a)
        .collect();
    let mut order = Vec::with_capacity(deletes.len());
    while let Some(a) = ready.pop_first() {
        let i = by_addr[a];
        order.push(i);
        for d in &deletes[i].1.dependencies {
            if let Some(n) = dependents.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
    }
    if order.len() < deletes.len() {
        // A cycle in recorded dependencies (a damaged state): fall back to address order for the
        // rest rather than refusing to plan.
        let seen: BTreeSet<usize> = order.iter().copied().collect();
        order.extend(by_addr.values().filter(|i| !seen.contains(i)));
    }
    order
}
