//! Diff: the desired graph against the prior state, one [`ResourceChange`] per resource.

use std::borrow::Cow;
use std::collections::HashMap;

use tandem_core::{DesiredStack, OutputRef, Props, ResourceAddr, SecretKey, Value};

use crate::provider::{Identity, Providers};
use crate::state::{ResourceState, State};

/// What will happen to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Create the replacement, repoint dependents, then delete the old one.
    ReplaceCreateFirst,
    /// Delete the old one, then create the replacement (`delete_before_replace`).
    ReplaceDeleteFirst,
    Delete,
    /// Remove from state, leave in the cloud (`retain_on_delete`).
    Forget,
}

impl Action {
    /// The plan marker: `+`, `~`, `+/-`, `-/+`, `-`.
    pub fn marker(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::ReplaceCreateFirst => "+/-",
            Action::ReplaceDeleteFirst => "-/+",
            Action::Delete | Action::Forget => "-",
        }
    }

    /// A stable lowercase name, for JSON and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Update => "update",
            Action::ReplaceCreateFirst => "replace",
            Action::ReplaceDeleteFirst => "replace-delete-first",
            Action::Delete => "delete",
            Action::Forget => "forget",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        [
            Action::NoOp,
            Action::Create,
            Action::Update,
            Action::ReplaceCreateFirst,
            Action::ReplaceDeleteFirst,
            Action::Delete,
            Action::Forget,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    pub fn is_replace(self) -> bool {
        matches!(
            self,
            Action::ReplaceCreateFirst | Action::ReplaceDeleteFirst
        )
    }

    pub fn is_delete(self) -> bool {
        matches!(self, Action::Delete | Action::Forget)
    }
}

/// One property's change. `None` means absent.
#[derive(Clone, Debug, PartialEq)]
pub struct PropertyChange {
    pub name: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub forces_replacement: bool,
}

/// What will happen to one resource, and why.
///
/// Two changes are equal when they mean the same: a create with its inputs listed in `changes` equals
/// the same create with `changes` left empty.
#[derive(Clone, Debug)]
pub struct ResourceChange {
    pub addr: ResourceAddr,
    pub action: Action,
    /// Per-property changes. Empty for deletes, and for creates as the diff makes them: every input
    /// of a create is a change, kept once in `inputs`. Read them with
    /// [`ResourceChange::property_changes`], which lists a create's inputs.
    pub changes: Vec<PropertyChange>,
    /// Why the resource is replaced, one sentence per property.
    pub replace_reasons: Vec<String>,
    /// The desired inputs, references resolved where already known. `None` for deletes.
    pub inputs: Option<Props>,
    /// What the state knew before. `None` for creates.
    pub prior: Option<ResourceState>,
    /// What it depends on (desired graph; the prior dependencies for deletes).
    pub dependencies: Vec<ResourceAddr>,
    pub protect: bool,
    pub retain_on_delete: bool,
}

impl ResourceChange {
    /// Per-property changes: `changes`, or for a create that leaves it empty, every input (as `+`).
    pub fn property_changes(&self) -> Cow<'_, [PropertyChange]> {
        match &self.inputs {
            Some(inputs) if self.action == Action::Create && self.changes.is_empty() => {
                Cow::Owned(inputs.iter().map(created).collect())
            }
            _ => Cow::Borrowed(&self.changes),
        }
    }
}

/// The change of one input of a created resource.
fn created((name, value): (&String, &Value)) -> PropertyChange {
    PropertyChange {
        name: name.clone(),
        old: None,
        new: Some(value.clone()),
        forces_replacement: false,
    }
}

impl PartialEq for ResourceChange {
    fn eq(&self, other: &ResourceChange) -> bool {
        self.addr == other.addr
            && self.action == other.action
            && self.property_changes() == other.property_changes()
            && self.replace_reasons == other.replace_reasons
            && self.inputs == other.inputs
            && self.prior == other.prior
            && self.dependencies == other.dependencies
            && self.protect == other.protect
            && self.retain_on_delete == other.retain_on_delete
    }
}

/// Why no plan could be made. Each names the resource.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum PlanError {
    #[error("{addr}: no provider for resource kind {kind:?}")]
    UnknownKind { addr: ResourceAddr, kind: String },
    #[error("{addr} is protected, but this plan would {action} it{}", reasons_suffix(.reasons))]
    Protected {
        addr: ResourceAddr,
        action: &'static str,
        reasons: Vec<String>,
    },
    #[error("{addr} (region {region}): {message}")]
    Invalid {
        addr: ResourceAddr,
        region: String,
        message: String,
    },
    #[error("--region {0}: no such wave in this plan (waves: {1})")]
    UnknownWave(String, String),
}

fn reasons_suffix(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join("; "))
    }
}

/// Compares the desired stack with the prior state.
///
/// References to resources that stay unchanged (or are updated in place) resolve to their recorded
/// outputs; references to resources yet to be created or replaced stay unknown until apply.
pub fn diff(
    desired: &DesiredStack,
    prior: &State,
    providers: &Providers,
) -> Result<Vec<ResourceChange>, PlanError> {
    let mut out = Vec::with_capacity(desired.graph.len() + 8);
    diff_each(desired, prior, providers, NoOpDetail::Full, |_, c| {
        out.push(c)
    })?;
    Ok(out)
}

/// What [`diff_each`] keeps of a change with nothing to do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoOpDetail {
    /// Everything, as for any other change.
    Full,
    /// Only the address, the action and the dependencies: what a plan needs of it.
    Light,
}

/// [`diff`], handing each change to `emit` as soon as it is known, with the address as the desired
/// graph or the prior state holds it: the desired resources in dependency order, then the deletes
/// in the prior state's order.
pub(crate) fn diff_each<'a>(
    desired: &'a DesiredStack,
    prior: &'a State,
    providers: &Providers,
    noop: NoOpDetail,
    mut emit: impl FnMut(&'a ResourceAddr, ResourceChange),
) -> Result<(), PlanError> {
    let mut planned: HashMap<&ResourceAddr, Action> = HashMap::with_capacity(desired.graph.len());
    for decl in desired.graph.in_order() {
        let addr = &decl.addr;
        let provider = providers
            .get(addr.kind())
            .ok_or_else(|| PlanError::UnknownKind {
                addr: addr.clone(),
                kind: addr.kind().to_string(),
            })?;
        let lookup = |r: &OutputRef| -> Option<Value> {
            match planned.get(&r.addr) {
                Some(Action::NoOp | Action::Update) => prior.output(&r.addr, &r.output).cloned(),
                _ => None,
            }
        };
        // Shares with the declaration whatever holds no reference.
        let mut inputs: Props = decl.inputs.resolve_known(&lookup);
        provider
            .validate(addr, &inputs)
            .map_err(|message| PlanError::Invalid {
                addr: addr.clone(),
                region: addr.region_str().to_string(),
                message,
            })?;
        let dependencies = decl.dependencies();
        let opts = &decl.options;
        let change = match prior.resources.get(addr) {
            None => ResourceChange {
                addr: addr.clone(),
                action: Action::Create,
                // Every input: see `property_changes`.
                changes: Vec::new(),
                replace_reasons: Vec::new(),
                inputs: Some(inputs),
                prior: None,
                dependencies,
                protect: opts.protect,
                retain_on_delete: opts.retain_on_delete,
            },
            Some(old) => {
                for name in &opts.ignore_changes {
                    match old.inputs.get(name) {
                        Some(v) => inputs.insert(name.clone(), v.clone()),
                        None => inputs.remove(name),
                    };
                }
                let provider_forces = provider.replace_on();
                let mut changes = Vec::new();
                let mut replace_reasons = Vec::new();
                for (name, o, n) in differing(&old.inputs, &inputs, &prior.secret_key) {
                    let by_provider = provider_forces.contains(&name.as_str());
                    let by_option = opts.replace_on_changes.iter().any(|r| r == name);
                    if by_provider {
                        replace_reasons.push(format!(
                            "changing `{name}` forces replacement ({} cannot change it in place)",
                            addr.kind()
                        ));
                    } else if by_option {
                        replace_reasons.push(format!("`{name}` is listed in replace_on_changes"));
                    }
                    changes.push(PropertyChange {
                        name: name.clone(),
                        old: o.cloned(),
                        new: n.cloned(),
                        forces_replacement: by_provider || by_option,
                    });
                }
                // Held until apply: no spare capacity.
                changes.shrink_to_fit();
                replace_reasons.shrink_to_fit();
                let action = if changes.is_empty() {
                    Action::NoOp
                } else if replace_reasons.is_empty() {
                    Action::Update
                } else if opts.delete_before_replace {
                    Action::ReplaceDeleteFirst
                } else if let Some(why) =
                    same_identity(provider.identity(), &old.inputs, &inputs, &prior.secret_key)
                {
                    // Created first, the replacement would be the old resource itself (a create
                    // that finds it adopts it), and the delete that follows would remove it.
                    replace_reasons.push(why);
                    Action::ReplaceDeleteFirst
                } else {
                    Action::ReplaceCreateFirst
                };
                if action.is_replace() && (opts.protect || old.protect) {
                    return Err(PlanError::Protected {
                        addr: addr.clone(),
                        action: "replace",
                        reasons: replace_reasons,
                    });
                }
                let light = action == Action::NoOp && noop == NoOpDetail::Light;
                ResourceChange {
                    addr: addr.clone(),
                    action,
                    changes,
                    replace_reasons,
                    inputs: (!light).then_some(inputs),
                    // Cheap: the recorded properties are shared, not copied.
                    prior: (!light).then(|| old.clone()),
                    dependencies,
                    protect: opts.protect,
                    retain_on_delete: opts.retain_on_delete,
                }
            }
        };
        planned.insert(addr, change.action);
        emit(addr, change);
    }
    for (addr, old) in &prior.resources {
        if desired.graph.contains(addr) {
            continue;
        }
        if old.protect {
            return Err(PlanError::Protected {
                addr: addr.clone(),
                action: "delete",
                reasons: vec!["it is no longer declared".to_string()],
            });
        }
        emit(
            addr,
            ResourceChange {
                addr: addr.clone(),
                action: if old.retain_on_delete {
                    Action::Forget
                } else {
                    Action::Delete
                },
                changes: Vec::new(),
                replace_reasons: Vec::new(),
                inputs: None,
                prior: Some(old.clone()),
                dependencies: old.dependencies.clone(),
                protect: false,
                retain_on_delete: old.retain_on_delete,
            },
        );
    }
    Ok(())
}

/// Why a replacement of a resource named by `identity` must delete the old one first: its naming
/// inputs are unchanged in `new` (or not known before apply, so they may be), so the replacement
/// would have the old one's identity. `None` when they change, or the kind is not named by inputs.
pub(crate) fn same_identity(
    identity: Identity,
    old: &Props,
    new: &Props,
    key: &SecretKey,
) -> Option<String> {
    let names = identity.names();
    if names.is_empty() {
        return None;
    }
    let mut unknown = Vec::new();
    for name in names {
        match (old.get(*name), new.get(*name)) {
            (_, Some(n)) if n.is_unknown() => unknown.push(*name),
            (Some(o), Some(n)) if n.same_as(o, key) => {}
            (None, None) => {}
            _ => return None,
        }
    }
    let named = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(if unknown.is_empty() {
        format!(
            "the replacement keeps the same {named}, so it is the same resource in the cloud: \
             the old one is deleted first"
        )
    } else {
        format!(
            "the replacement may keep the same {named} (not known before apply): the old one is \
             deleted first"
        )
    })
}

/// The properties whose values differ between `old` and `new` (present on one side only, or not
/// [`Value::same_as`] the other, secrets compared under `key`, the state's), in name order, with
/// their value on each side.
pub(crate) fn differing<'p>(
    old: &'p Props,
    new: &'p Props,
    key: &'p SecretKey,
) -> impl Iterator<Item = (&'p String, Option<&'p Value>, Option<&'p Value>)> {
    union(old, new).filter(move |(_, o, n)| match (o, n) {
        (Some(o), Some(n)) => !n.same_as(o, key),
        _ => true,
    })
}

/// Every property name of `old` or `new`, in order, with its value on each side.
fn union<'p>(
    old: &'p Props,
    new: &'p Props,
) -> impl Iterator<Item = (&'p String, Option<&'p Value>, Option<&'p Value>)> {
    let mut o = old.iter().peekable();
    let mut n = new.iter().peekable();
    std::iter::from_fn(move || match (o.peek(), n.peek()) {
        (None, None) => None,
        (Some(_), None) => o.next().map(|(k, v)| (k, Some(v), None)),
        (None, Some(_)) => n.next().map(|(k, v)| (k, None, Some(v))),
        (Some((ko, _)), Some((kn, _))) => match ko.cmp(kn) {
            std::cmp::Ordering::Less => o.next().map(|(k, v)| (k, Some(v), None)),
            std::cmp::Ordering::Greater => n.next().map(|(k, v)| (k, None, Some(v))),
            std::cmp::Ordering::Equal => {
                let (k, vo) = o.next().expect("peeked");
                let (_, vn) = n.next().expect("peeked");
                Some((k, Some(vo), Some(vn)))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use tandem_core::{ResourceDecl, StackBuilder};

    use super::*;
    use crate::testing::FakeCloud;

    #[test]
    fn a_create_keeps_its_inputs_once_and_lists_them_as_changes() {
        let cloud = FakeCloud::in_memory();
        let mut providers = Providers::new();
        providers.add(cloud.provider("x:Thing", &[]));
        let mut stack = StackBuilder::new();
        stack.declare(
            ResourceDecl::new("us-east-1/x:Thing/a".parse().unwrap())
                .input("size", 1)
                .input("name", "a"),
        );
        let desired = stack.finish().unwrap();
        let changes = diff(&desired, &State::new("s", "dev", "l".into()), &providers).unwrap();
        let c = &changes[0];
        assert_eq!(c.action, Action::Create);
        assert!(c.changes.is_empty());
        let listed = c.property_changes();
        let shown: Vec<(&str, Option<&Value>, Option<&Value>)> = listed
            .iter()
            .map(|p| (p.name.as_str(), p.old.as_ref(), p.new.as_ref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("name", None, Some(&Value::str("a"))),
                ("size", None, Some(&Value::from(1))),
            ]
        );
        // Listed explicitly, the same create compares equal; listed differently, it does not.
        let mut expanded = c.clone();
        expanded.changes = listed.into_owned();
        assert_eq!(expanded, *c);
        assert_eq!(expanded.property_changes(), c.property_changes());
        expanded.changes.pop();
        assert_ne!(expanded, *c);
    }
}
