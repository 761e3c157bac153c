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

use crate::diff::{Action, PlanError, ResourceChange, diff};
use crate::provider::Providers;
use crate::refresh::Drift;
use crate::state::State;

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
pub fn plan(
    desired: &DesiredStack,
    prior: &State,
    providers: &Providers,
    config: &PlanConfig,
) -> Result<Plan, PlanError> {
    let changes = diff(desired, prior, providers)?;
    let mut wave_names: Vec<String> = config.wave_order.clone();
    let mut extra: BTreeSet<&str> = BTreeSet::new();
    for c in &changes {
        if !wave_names.iter().any(|w| w == c.addr.region_str()) {
            extra.insert(c.addr.region_str());
        }
    }
    wave_names.extend(extra.into_iter().map(str::to_string));
    let base_wave: HashMap<&str, usize> = wave_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let base = |a: &ResourceAddr| base_wave[a.region_str()];

    // Desired resources, in dependency order: the latest of their own wave and their dependencies'.
    let mut wave_of: HashMap<&ResourceAddr, usize> = HashMap::with_capacity(changes.len());
    let mut moved: HashMap<&ResourceAddr, &ResourceAddr> = HashMap::new();
    for c in changes.iter().filter(|c| !c.action.is_delete()) {
        let mut w = base(&c.addr);
        for d in &c.dependencies {
            if let Some(&dw) = wave_of.get(d)
                && dw > w
            {
                w = dw;
                moved.insert(&c.addr, d);
            }
        }
        wave_of.insert(&c.addr, w);
    }
    // Deletes: the latest of their own wave and that of any deleted resource depending on them.
    let deletes: Vec<&ResourceChange> = changes.iter().filter(|c| c.action.is_delete()).collect();
    let delete_order = reverse_dependency_order(&deletes);
    let mut delete_wave: HashMap<&ResourceAddr, usize> = HashMap::new();
    {
        let deleted: HashMap<&ResourceAddr, &ResourceChange> =
            deletes.iter().map(|c| (&c.addr, *c)).collect();
        // Not before the changes of the resources that used it (they stop using it first).
        for c in changes
            .iter()
            .filter(|c| c.action != Action::NoOp && !c.action.is_delete())
        {
            let w = wave_of[&c.addr];
            for d in c.prior.iter().flat_map(|p| &p.dependencies) {
                if deleted.contains_key(d) {
                    let e = delete_wave.entry(d).or_insert(base(d));
                    if w > *e {
                        *e = w;
                        moved.insert(d, &c.addr);
                    }
                }
            }
        }
        for c in &delete_order {
            let w = *delete_wave.entry(&c.addr).or_insert(base(&c.addr));
            for d in &c.dependencies {
                if deleted.contains_key(d) {
                    let e = delete_wave.entry(d).or_insert(base(d));
                    if w > *e {
                        *e = w;
                        moved.insert(d, &c.addr);
                    }
                }
            }
        }
    }

    let final_outputs = {
        let lookup = |r: &tandem_core::OutputRef| -> Option<Value> {
            let unchanged_or_updated = changes
                .iter()
                .find(|c| c.addr == r.addr)
                .is_some_and(|c| matches!(c.action, Action::NoOp | Action::Update));
            if unchanged_or_updated {
                prior.output(&r.addr, &r.output).cloned()
            } else {
                None
            }
        };
        desired
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve_known(&lookup)))
            .collect()
    };

    let mut waves: Vec<Wave> = wave_names
        .iter()
        .map(|n| Wave {
            name: n.clone(),
            changes: Vec::new(),
            moved: BTreeMap::new(),
        })
        .collect();
    // Where each change goes, as (index in `changes`, wave), in the order of the waves' lists.
    let mut placement: Vec<(usize, usize)> = Vec::with_capacity(changes.len());
    let mut unchanged = 0;
    for (i, c) in changes.iter().enumerate() {
        if c.action == Action::NoOp {
            unchanged += 1;
        } else if !c.action.is_delete() {
            placement.push((i, wave_of[&c.addr]));
        }
    }
    let delete_index: HashMap<&ResourceAddr, usize> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.action.is_delete())
        .map(|(i, c)| (&c.addr, i))
        .collect();
    for c in &delete_order {
        placement.push((delete_index[&c.addr], delete_wave[&c.addr]));
    }
    for &(i, w) in &placement {
        let c = &changes[i];
        if c.addr.region_str() != waves[w].name
            && let Some(by) = moved.get(&c.addr)
        {
            let why = if c.action.is_delete() && delete_index.contains_key(by) {
                format!("after {by}, which depends on it, is deleted")
            } else if c.action.is_delete() {
                format!("after {by}, which used it, is changed")
            } else {
                format!("after {by}, which it depends on")
            };
            waves[w].moved.insert(c.addr.clone(), why);
        }
    }
    // Move the changes into their waves: a plan of a large stack is not held twice.
    let mut slots: Vec<Option<ResourceChange>> = changes.into_iter().map(Some).collect();
    for (i, w) in placement {
        if let Some(c) = slots[i].take() {
            waves[w].changes.push(c);
        }
    }
    drop(slots);
    waves.retain(|w| !w.changes.is_empty());

    Ok(Plan {
        stack: prior.stack.clone(),
        env: prior.env.clone(),
        lineage: prior.lineage.clone(),
        base_serial: prior.serial,
        waves,
        unchanged,
        drift: Vec::new(),
        outputs: final_outputs,
    })
}

/// Deleted resources ordered so that each comes before the resources it depended on.
fn reverse_dependency_order<'a>(deletes: &[&'a ResourceChange]) -> Vec<&'a ResourceChange> {
    let by_addr: BTreeMap<&ResourceAddr, &'a ResourceChange> =
        deletes.iter().map(|c| (&c.addr, *c)).collect();
    // Count, for each deleted resource, the deleted resources depending on it.
    let mut dependents: HashMap<&ResourceAddr, usize> = by_addr.keys().map(|a| (*a, 0)).collect();
    for c in deletes {
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
        let c = by_addr[a];
        order.push(c);
        for d in &c.dependencies {
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
        let seen: BTreeSet<&ResourceAddr> = order.iter().map(|c| &c.addr).collect();
        order.extend(by_addr.values().filter(|c| !seen.contains(&c.addr)));
    }
    order
}
