//! Saved plans: `tandem plan --out FILE` writes one, `tandem apply FILE` applies exactly it.
//!
//! A [`SavedPlan`] is a [`Plan`] with the fingerprint of the program and configuration it was made
//! from. Its file form is versioned JSON that round-trips the plan exactly: every wave, change,
//! action, property change, replace reason and moved note, the resolved inputs (references still
//! unresolved stay `{"$ref": "ADDR#OUTPUT"}`), the prior state of each changed resource, the drift
//! and the outputs. A SHA-256 checksum of the plan's text guards against edits and damage.
//!
//! ```text
//! {
//!   "format": "tandem-plan",
//!   "format_version": 1,
//!   "checksum": "sha256:…",          // of the compact JSON text of "plan"
//!   "plan": {
//!     "stack", "env", "lineage", "base_serial", "fingerprint", "unchanged",
//!     "waves":   [{ "name", "changes": [CHANGE], "moved": { ADDR: WHY } }],
//!     "drift":   [{ "address", "kind": "changed" | "deleted", "properties": [PROPERTY] }],
//!     "outputs": { NAME: VALUE }
//!   }
//! }
//! CHANGE   = { "address", "action", "properties": [PROPERTY], "replace_reasons": [TEXT],
//!              "inputs"?: { NAME: VALUE }, "prior"?: RESOURCE, "dependencies": [ADDR],
//!              "protect", "retain_on_delete" }
//! PROPERTY = { "name", "old"?: VALUE, "new"?: VALUE, "forces_replacement" }   // absent = none
//! RESOURCE = the state file's resource record
//! VALUE    = `tandem_core::Value::to_json`
//! ```
//!
//! # Secrets
//! Files hold neither secrets nor their digests: every secret is `{"$secret": "masked"}`
//! ([`Value::to_json`]); the digests are only in the state. The executor needs the values, so a
//! plan whose inputs hold a [`Value::Secret`] is refused at save ([`PlanFileError::Secret`]): apply
//! such changes with a plain `tandem apply`, which re-runs the program and has the values. The
//! digests a masked plan leaves out (a prior resource's, an input kept by `ignore_changes`) are
//! taken back from the state at apply ([`SavedPlan::restore_secrets`]).
//!
//! # Freshness
//! [`check_fresh`] refuses a saved plan when the state's lineage differs, when its serial moved
//! since the plan was made, or when the program or configuration fingerprint changed.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as Json;
use tandem_core::{Props, ResourceAddr, Value, props_from_json, props_to_json};

use crate::diff::{Action, PropertyChange, ResourceChange};
use crate::plan::{Plan, Wave};
use crate::refresh::{Drift, DriftKind};
use crate::state::{ResourceRecord, State};
use crate::store::{StoreError, write_atomically};

/// The newest saved-plan format this build reads, and the one it writes.
pub const PLAN_FILE_VERSION: u32 = 1;

/// The value of the file's `format` key.
const PLAN_FILE_FORMAT: &str = "tandem-plan";

/// A plan as it was reviewed, with what it was made from.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedPlan {
    /// The plan; its `lineage` and `base_serial` name the state it was made on.
    pub plan: Plan,
    /// [`tandem_core::Program::fingerprint`] of the program and configuration it was made from.
    pub fingerprint: String,
}

/// Why a saved plan could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "cannot save the plan: input `{property}` of {addr} is a secret, and a saved plan holds only digests of secrets, so applying it could not supply the value; run `tandem apply` without a saved plan"
    )]
    Secret {
        addr: ResourceAddr,
        property: String,
    },
    #[error("{} is not a usable saved plan: {source}", path.display())]
    Decode {
        path: PathBuf,
        source: PlanDecodeError,
    },
}

/// Why saved-plan bytes could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanDecodeError {
    #[error("{0}")]
    Corrupt(String),
    #[error(
        "its checksum does not match its contents: the file was edited or damaged; make a new plan"
    )]
    Checksum,
    #[error(
        "saved-plan format version {0} is newer than this tandem reads (up to {PLAN_FILE_VERSION}): upgrade tandem"
    )]
    NewerVersion(u32),
}

/// Why a saved plan may not be applied to the current state.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Stale {
    #[error("the plan was made for stack {plan_stack} env {plan_env}, not stack {stack} env {env}")]
    OtherStack {
        plan_stack: String,
        plan_env: String,
        stack: String,
        env: String,
    },
    #[error(
        "the plan was made on another state (lineage {plan} ≠ {state}): the state was replaced or belongs elsewhere; make a new plan"
    )]
    LineageDiffers { plan: String, state: String },
    #[error(
        "stale plan: the state changed since the plan was made (serial {planned} → {current}); make a new plan"
    )]
    SerialMoved { planned: u64, current: u64 },
    #[error(
        "the program or configuration changed since the plan was made (fingerprint {} → {}); make a new plan",
        short(.planned),
        short(.current)
    )]
    FingerprintDiffers { planned: String, current: String },
}

/// The first 12 characters of a fingerprint, enough to tell two apart in a message.
fn short(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

/// Writes `plan` to `path` atomically, as the state is written ([`write_atomically`]: temp file,
/// fsync, rename), refusing a plan holding secret inputs.
///
/// # Errors
/// [`PlanFileError::Secret`] names the first secret input; [`PlanFileError::Io`] the file.
pub fn save_plan(path: &Path, plan: &Plan, fingerprint: &str) -> Result<(), PlanFileError> {
    let bytes = encode(plan, fingerprint)?;
    write_atomically(path, &bytes).map_err(|e| match e {
        StoreError::Io {
            action,
            path,
            source,
        } => PlanFileError::Io {
            action,
            path,
            source,
        },
        other => PlanFileError::Io {
            action: "write",
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// Reads a saved plan. Refuses newer format versions, damaged or edited files.
pub fn load_plan(path: &Path) -> Result<SavedPlan, PlanFileError> {
    let bytes = fs::read(path).map_err(|source| PlanFileError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    decode(&bytes).map_err(|source| PlanFileError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether `saved` may be applied on `state` by the program whose fingerprint is `fingerprint`.
///
/// A plan made before the first apply (serial 0) applies to a state that is still empty at
/// serial 0 whatever its lineage: an unsaved state's lineage is drawn afresh by each run, and the
/// apply adopts the plan's (see [`SavedPlan::base_state`]).
///
/// # Errors
/// In this order: another stack or env, another lineage, a moved serial, another fingerprint.
pub fn check_fresh(saved: &SavedPlan, state: &State, fingerprint: &str) -> Result<(), Stale> {
    let plan = &saved.plan;
    if plan.stack != state.stack || plan.env != state.env {
        return Err(Stale::OtherStack {
            plan_stack: plan.stack.clone(),
            plan_env: plan.env.clone(),
            stack: state.stack.clone(),
            env: state.env.clone(),
        });
    }
    let both_new = plan.base_serial == 0 && state.serial == 0 && state.resources.is_empty();
    if !both_new && plan.lineage != state.lineage {
        return Err(Stale::LineageDiffers {
            plan: plan.lineage.clone(),
            state: state.lineage.clone(),
        });
    }
    if plan.base_serial != state.serial {
        return Err(Stale::SerialMoved {
            planned: plan.base_serial,
            current: state.serial,
        });
    }
    if saved.fingerprint != fingerprint {
        return Err(Stale::FingerprintDiffers {
            planned: saved.fingerprint.clone(),
            current: fingerprint.to_string(),
        });
    }
    Ok(())
}

impl SavedPlan {
    /// The state to apply the plan on, from the current (fresh, see [`check_fresh`]) state: what
    /// the plan saw. A plan made after a refresh saw live values; this brings them back without
    /// reading the cloud again: each changed resource's prior state, the live inputs of drifted
    /// ones, and no record of resources deleted outside Tandem. A new state takes the plan's lineage.
    pub fn base_state(&self, current: State) -> State {
        let mut state = current;
        if state.serial == 0 && state.resources.is_empty() {
            state.lineage = self.plan.lineage.clone();
        }
        for d in &self.plan.drift {
            match &d.kind {
                DriftKind::Deleted => {
                    state.resources.remove(&d.addr);
                }
                DriftKind::Changed(props) => {
                    if let Some(r) = state.resources.get_mut(&d.addr) {
                        for p in props {
                            match &p.new {
                                Some(v) => r.inputs.insert(p.name.clone(), v.clone()),
                                None => r.inputs.remove(&p.name),
                            };
                        }
                    }
                }
            }
        }
        for c in self.plan.changes() {
            if let Some(prior) = &c.prior {
                state.resources.insert(c.addr.clone(), prior.clone());
            }
        }
        state
    }

    /// Puts back, from `current` (the state the plan is applied on, checked fresh by
    /// [`check_fresh`]), the secret digests the file masked: each property of a change's prior
    /// resource, inputs or drift holding a masked secret takes the value the state records for it.
    /// Call it before [`SavedPlan::base_state`], so that neither the state nor a provider call
    /// receives a masked digest.
    pub fn restore_secrets(&mut self, current: &State) {
        fn restore(props: &mut Props, recorded: &Props) {
            let masked: Vec<String> = props
                .iter()
                .filter(|(_, v)| v.holds_masked_secret())
                .map(|(k, _)| k.clone())
                .collect();
            for name in masked {
                if let Some(v) = recorded.get(&name) {
                    props.insert(name, v.clone());
                }
            }
        }
        for wave in &mut self.plan.waves {
            for c in &mut wave.changes {
                let Some(rec) = current.resources.get(&c.addr) else {
                    continue;
                };
                if let Some(prior) = &mut c.prior {
                    restore(&mut prior.inputs, &rec.inputs);
                    restore(&mut prior.outputs, &rec.outputs);
                }
                if let Some(inputs) = &mut c.inputs {
                    restore(inputs, &rec.inputs);
                }
            }
        }
        for d in &mut self.plan.drift {
            if let DriftKind::Changed(props) = &mut d.kind {
                let rec = current.resources.get(&d.addr).map(|r| &r.inputs);
                for p in props.iter_mut() {
                    if let (Some(v), Some(rec)) = (&mut p.new, rec)
                        && v.holds_masked_secret()
                        && let Some(recorded) = rec.get(&p.name)
                    {
                        *v = recorded.clone();
                    }
                }
            }
        }
    }

    /// The file's bytes (pretty JSON, newline-terminated).
    ///
    /// # Errors
    /// [`PlanFileError::Secret`] when an input holds a secret.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, PlanFileError> {
        encode(&self.plan, &self.fingerprint)
    }

    /// Parses a file's bytes; the inverse of [`SavedPlan::to_json_bytes`].
    pub fn from_json_bytes(bytes: &[u8]) -> Result<SavedPlan, PlanDecodeError> {
        decode(bytes)
    }
}

// ---- file form ----

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    format: String,
    format_version: u32,
    checksum: String,
    plan: Json,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanRecord {
    stack: String,
    env: String,
    lineage: String,
    base_serial: u64,
    fingerprint: String,
    unchanged: usize,
    waves: Vec<WaveRecord>,
    drift: Vec<DriftRecord>,
    outputs: Json,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaveRecord {
    name: String,
    changes: Vec<ChangeRecord>,
    #[serde(default)]
    moved: BTreeMap<ResourceAddr, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRecord {
    address: ResourceAddr,
    action: String,
    properties: Vec<PropertyRecord>,
    replace_reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inputs: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prior: Option<ResourceRecord>,
    dependencies: Vec<ResourceAddr>,
    protect: bool,
    retain_on_delete: bool,
}

/// `old` / `new`: an absent key is "no value"; a present `null` is the value null.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PropertyRecord {
    name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    old: Option<Json>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    new: Option<Json>,
    forces_replacement: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(d).map(Some)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriftRecord {
    address: ResourceAddr,
    kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    properties: Vec<PropertyRecord>,
}

fn checksum(plan: &Json) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(plan).expect("json serializes");
    let mut h = Sha256::new();
    h.update(b"tandem-plan-v1\0");
    h.update(text.as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn encode(plan: &Plan, fingerprint: &str) -> Result<Vec<u8>, PlanFileError> {
    refuse_secrets(plan)?;
    let record = PlanRecord {
        stack: plan.stack.clone(),
        env: plan.env.clone(),
        lineage: plan.lineage.clone(),
        base_serial: plan.base_serial,
        fingerprint: fingerprint.to_string(),
        unchanged: plan.unchanged,
        waves: plan.waves.iter().map(wave_record).collect(),
        drift: plan.drift.iter().map(drift_record).collect(),
        outputs: Json::Object(
            plan.outputs
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        ),
    };
    let body = serde_json::to_value(&record).expect("plan records serialize");
    let file = PlanFile {
        format: PLAN_FILE_FORMAT.to_string(),
        format_version: PLAN_FILE_VERSION,
        checksum: checksum(&body),
        plan: body,
    };
    let mut bytes = serde_json::to_vec_pretty(&file).expect("plan files serialize");
    bytes.push(b'\n');
    Ok(bytes)
}

fn refuse_secrets(plan: &Plan) -> Result<(), PlanFileError> {
    fn holds_secret(v: &Value) -> bool {
        match v {
            Value::Secret(_) => true,
            Value::List(l) => l.iter().any(holds_secret),
            Value::Map(m) => m.values().any(holds_secret),
            _ => false,
        }
    }
    for c in plan.changes() {
        for (name, v) in c.inputs.iter().flatten() {
            if holds_secret(v) {
                return Err(PlanFileError::Secret {
                    addr: c.addr.clone(),
                    property: name.clone(),
                });
            }
        }
    }
    Ok(())
}

fn property_record(p: &PropertyChange) -> PropertyRecord {
    PropertyRecord {
        name: p.name.clone(),
        old: p.old.as_ref().map(Value::to_json),
        new: p.new.as_ref().map(Value::to_json),
        forces_replacement: p.forces_replacement,
    }
}

fn wave_record(w: &Wave) -> WaveRecord {
    WaveRecord {
        name: w.name.clone(),
        changes: w
            .changes
            .iter()
            .map(|c| ChangeRecord {
                address: c.addr.clone(),
                action: c.action.name().to_string(),
                properties: c.property_changes().iter().map(property_record).collect(),
                replace_reasons: c.replace_reasons.clone(),
                inputs: c.inputs.as_ref().map(props_to_json),
                prior: c.prior.as_ref().map(|p| ResourceRecord::masked(&c.addr, p)),
                dependencies: c.dependencies.clone(),
                protect: c.protect,
                retain_on_delete: c.retain_on_delete,
            })
            .collect(),
        moved: w.moved.clone(),
    }
}

fn drift_record(d: &Drift) -> DriftRecord {
    match &d.kind {
        DriftKind::Deleted => DriftRecord {
            address: d.addr.clone(),
            kind: "deleted".into(),
            properties: Vec::new(),
        },
        DriftKind::Changed(props) => DriftRecord {
            address: d.addr.clone(),
            kind: "changed".into(),
            properties: props.iter().map(property_record).collect(),
        },
    }
}

fn decode(bytes: &[u8]) -> Result<SavedPlan, PlanDecodeError> {
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        format_version: Option<u32>,
    }
    let corrupt = |e: &dyn std::fmt::Display| PlanDecodeError::Corrupt(e.to_string());
    let header: Header = serde_json::from_slice(bytes).map_err(|e| corrupt(&e))?;
    if header.format.as_deref() != Some(PLAN_FILE_FORMAT) {
        return Err(PlanDecodeError::Corrupt(format!(
            "no \"format\": \"{PLAN_FILE_FORMAT}\" key (is it a plan made by `tandem plan --out`?)"
        )));
    }
    match header.format_version {
        None => return Err(corrupt(&"no format_version")),
        Some(v) if v > PLAN_FILE_VERSION => return Err(PlanDecodeError::NewerVersion(v)),
        Some(_) => {}
    }
    let file: PlanFile = serde_json::from_slice(bytes).map_err(|e| corrupt(&e))?;
    if checksum(&file.plan) != file.checksum {
        return Err(PlanDecodeError::Checksum);
    }
    let record: PlanRecord = serde_json::from_value(file.plan).map_err(|e| corrupt(&e))?;
    let waves = record
        .waves
        .into_iter()
        .map(wave_from)
        .collect::<Result<_, String>>()
        .map_err(PlanDecodeError::Corrupt)?;
    let drift = record
        .drift
        .into_iter()
        .map(drift_from)
        .collect::<Result<_, String>>()
        .map_err(PlanDecodeError::Corrupt)?;
    let outputs = props_from_json(&record.outputs)
        .map_err(|e| PlanDecodeError::Corrupt(format!("outputs: {e}")))?;
    Ok(SavedPlan {
        plan: Plan {
            stack: record.stack,
            env: record.env,
            lineage: record.lineage,
            base_serial: record.base_serial,
            waves,
            unchanged: record.unchanged,
            drift,
            outputs: outputs.into(),
        },
        fingerprint: record.fingerprint,
    })
}

fn value_from(v: &Json, what: impl Fn() -> String) -> Result<Value, String> {
    Value::from_json(v).map_err(|e| format!("{}: {e}", what()))
}

fn property_from(addr: &ResourceAddr, p: PropertyRecord) -> Result<PropertyChange, String> {
    let what = |side: &str| format!("{addr} property {} ({side})", p.name);
    Ok(PropertyChange {
        old: p
            .old
            .as_ref()
            .map(|v| value_from(v, || what("old")))
            .transpose()?,
        new: p
            .new
            .as_ref()
            .map(|v| value_from(v, || what("new")))
            .transpose()?,
        name: p.name,
        forces_replacement: p.forces_replacement,
    })
}

fn wave_from(w: WaveRecord) -> Result<Wave, String> {
    let changes = w
        .changes
        .into_iter()
        .map(|c| {
            let addr = c.address;
            let action = Action::from_name(&c.action)
                .ok_or_else(|| format!("{addr}: unknown action {:?}", c.action))?;
            let inputs: Option<Props> = c
                .inputs
                .as_ref()
                .map(|j| props_from_json(j).map_err(|e| format!("{addr} inputs: {e}")))
                .transpose()?;
            let prior = match c.prior {
                Some(rec) if rec.addr != addr => {
                    return Err(format!("{addr}: its prior state names {}", rec.addr));
                }
                Some(rec) => Some(rec.to_state().map_err(|e| e.to_string())?),
                None => None,
            };
            let changes = c
                .properties
                .into_iter()
                .map(|p| property_from(&addr, p))
                .collect::<Result<_, _>>()?;
            let mut change = ResourceChange {
                addr,
                action,
                changes,
                replace_reasons: c.replace_reasons,
                inputs,
                prior,
                dependencies: c.dependencies,
                protect: c.protect,
                retain_on_delete: c.retain_on_delete,
            };
            if change.action == Action::Create {
                // A create's properties are its inputs: kept once, as the diff keeps them.
                let listed = std::mem::take(&mut change.changes);
                if *change.property_changes() != *listed {
                    change.changes = listed;
                }
            }
            Ok(change)
        })
        .collect::<Result<_, String>>()?;
    Ok(Wave {
        name: w.name,
        changes,
        moved: w.moved,
    })
}

fn drift_from(d: DriftRecord) -> Result<Drift, String> {
    let addr = d.address;
    let kind = match d.kind.as_str() {
        "deleted" => DriftKind::Deleted,
        "changed" => DriftKind::Changed(
            d.properties
                .into_iter()
                .map(|p| property_from(&addr, p))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("{addr}: unknown drift kind {other:?}")),
    };
    Ok(Drift { addr, kind })
}

#[cfg(test)]
mod tests {
    use tandem_core::secret::MASKED_SECRET;

    use super::*;
    use crate::state::ResourceState;

    fn addr(t: &str) -> ResourceAddr {
        t.parse().unwrap()
    }

    /// A plan using every part of the format.
    fn rich_plan() -> Plan {
        let bucket = addr("us-east-1/s3:Bucket/logs");
        let db = addr("us-east-1/rds:DbInstance/app");
        let check = addr("global/route53:HealthCheck/web");
        let prior = ResourceState {
            id: "db-1".into(),
            inputs: [
                ("engine".to_string(), Value::str("postgres")),
                (
                    "password".to_string(),
                    Value::SecretDigest(MASKED_SECRET.into()),
                ),
            ]
            .into_iter()
            .collect(),
            outputs: [("arn".to_string(), Value::str("arn:db"))]
                .into_iter()
                .collect(),
            dependencies: vec![bucket.clone()],
            protect: false,
            retain_on_delete: true,
        };
        let inputs: Props = [
            ("engine".to_string(), Value::str("mysql")),
            ("logs".to_string(), Value::reference(bucket.clone(), "arn")),
            ("id".to_string(), Value::Unknown),
            ("nothing".to_string(), Value::Null),
            ("ratio".to_string(), Value::Float(0.5)),
            ("whole".to_string(), Value::Float(2.0)),
            (
                "tags".to_string(),
                tandem_core::map([("a", Value::from(1)), ("b", Value::Bool(true))]),
            ),
        ]
        .into_iter()
        .collect();
        Plan {
            stack: "demo".into(),
            env: "dev".into(),
            lineage: "lin-1".into(),
            base_serial: 7,
            waves: vec![Wave {
                name: "us-east-1".into(),
                changes: vec![
                    ResourceChange {
                        addr: bucket.clone(),
                        action: Action::Create,
                        changes: vec![PropertyChange {
                            name: "bucket".into(),
                            old: None,
                            new: Some(Value::str("logs")),
                            forces_replacement: false,
                        }],
                        replace_reasons: vec![],
                        inputs: Some([("bucket".to_string(), Value::str("logs"))].into()),
                        prior: None,
                        dependencies: vec![],
                        protect: true,
                        retain_on_delete: false,
                    },
                    ResourceChange {
                        addr: db.clone(),
                        action: Action::ReplaceDeleteFirst,
                        changes: vec![
                            PropertyChange {
                                name: "engine".into(),
                                old: Some(Value::str("postgres")),
                                new: Some(Value::str("mysql")),
                                forces_replacement: true,
                            },
                            PropertyChange {
                                name: "nothing".into(),
                                old: None,
                                new: Some(Value::Null),
                                forces_replacement: false,
                            },
                            PropertyChange {
                                name: "password".into(),
                                old: Some(Value::SecretDigest(MASKED_SECRET.into())),
                                new: None,
                                forces_replacement: false,
                            },
                        ],
                        replace_reasons: vec!["changing `engine` forces replacement".into()],
                        inputs: Some(inputs),
                        prior: Some(prior.clone()),
                        dependencies: vec![bucket.clone()],
                        protect: false,
                        retain_on_delete: true,
                    },
                    ResourceChange {
                        addr: check.clone(),
                        action: Action::Forget,
                        changes: vec![],
                        replace_reasons: vec![],
                        inputs: None,
                        prior: Some(prior),
                        dependencies: vec![db.clone()],
                        protect: false,
                        retain_on_delete: true,
                    },
                ],
                moved: [(check.clone(), format!("after {db}, which used it"))].into(),
            }],
            unchanged: 3,
            drift: vec![
                Drift {
                    addr: db.clone(),
                    kind: DriftKind::Changed(vec![PropertyChange {
                        name: "size".into(),
                        old: Some(Value::from(1)),
                        new: Some(Value::from(2)),
                        forces_replacement: false,
                    }]),
                },
                Drift {
                    addr: addr("us-west-2/s3:Bucket/gone"),
                    kind: DriftKind::Deleted,
                },
            ],
            outputs: [
                ("db".to_string(), Value::reference(db, "endpoint")),
                ("name".to_string(), Value::str("x")),
            ]
            .into(),
        }
    }

    #[test]
    fn a_plan_round_trips_exactly() {
        let plan = rich_plan();
        let bytes = encode(&plan, "fp-1").unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.plan, plan);
        assert_eq!(back.fingerprint, "fp-1");
        // And the file form is stable: encoding again gives the same bytes.
        assert_eq!(back.to_json_bytes().unwrap(), bytes);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r##""$ref": "us-east-1/s3:Bucket/logs#arn""##),
            "{text}"
        );
        // A create keeps its inputs once in memory (loaded so too), and is written out in full.
        assert!(back.plan.waves[0].changes[0].changes.is_empty());
        let mut compact = plan.clone();
        compact.waves[0].changes[0].changes.clear();
        assert_eq!(encode(&compact, "fp-1").unwrap(), bytes);
    }

    #[test]
    fn digests_are_masked_in_the_file_and_restored_from_the_state_at_apply() {
        let mut state = State::new("demo", "dev", "lin-1".into());
        state.serial = 7;
        let db = addr("us-east-1/rds:DbInstance/app");
        let digest = Value::SecretDigest(tandem_core::secret_digest(
            &state.secret_key,
            &Value::str("hunter2"),
        ));
        let mut plan = rich_plan();
        let change = &mut plan.waves[0].changes[1];
        let prior = change.prior.as_mut().unwrap();
        prior.inputs.insert("password".into(), digest.clone());
        state.resources.insert(db.clone(), prior.clone());
        state
            .resources
            .insert(addr("global/route53:HealthCheck/web"), prior.clone());
        change.changes[2].old = Some(digest.clone());
        let kept = tandem_core::map([("inner", digest.clone())]);
        change
            .inputs
            .as_mut()
            .unwrap()
            .insert("kept".into(), kept.clone());
        state
            .resources
            .get_mut(&db)
            .unwrap()
            .inputs
            .insert("kept".into(), kept.clone());
        plan.drift[0] = Drift {
            addr: db.clone(),
            kind: DriftKind::Changed(vec![PropertyChange {
                name: "password".into(),
                old: Some(digest.clone()),
                new: Some(digest.clone()),
                forces_replacement: false,
            }]),
        };
        plan.outputs
            .insert("secret".into(), Value::secret(Value::str("hunter2")));
        let bytes = encode(&plan, "fp").unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let Value::SecretDigest(hex) = &digest else {
            unreachable!()
        };
        assert!(!text.contains(hex.as_str()), "{text}");
        assert!(!text.contains("hmac-sha256:"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(r#""$secret": "masked""#), "{text}");
        // Applied on the state it was made from, the plan gets the state's digests back.
        let mut back = decode(&bytes).unwrap();
        check_fresh(&back, &state, "fp").unwrap();
        back.restore_secrets(&state);
        let change = &back.plan.waves[0].changes[1];
        assert_eq!(change.prior.as_ref().unwrap().inputs["password"], digest);
        assert_eq!(change.inputs.as_ref().unwrap()["kept"], kept);
        let DriftKind::Changed(props) = &back.plan.drift[0].kind else {
            unreachable!()
        };
        assert_eq!(props[0].new, Some(digest.clone()));
        let base = back.base_state(state.clone());
        assert_eq!(base.resources[&db].inputs["password"], digest);
        assert!(
            base.resources
                .values()
                .all(|r| !r.inputs.values().any(Value::holds_masked_secret))
        );
    }

    #[test]
    fn a_secret_input_is_refused_at_save() {
        let mut plan = rich_plan();
        let c = &mut plan.waves[0].changes[0];
        c.inputs.as_mut().unwrap().insert(
            "key".into(),
            tandem_core::map([("inner", Value::secret(Value::str("hunter2")))]),
        );
        let err = encode(&plan, "fp").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, PlanFileError::Secret { .. }));
        assert!(
            msg.contains("input `key` of us-east-1/s3:Bucket/logs is a secret"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"));
    }

    #[test]
    fn an_edited_file_fails_its_checksum() {
        let bytes = encode(&rich_plan(), "fp").unwrap();
        let text = String::from_utf8(bytes).unwrap().replace("mysql", "oracle");
        assert_eq!(
            decode(text.as_bytes()).unwrap_err(),
            PlanDecodeError::Checksum
        );
    }

    #[test]
    fn newer_versions_and_other_files_are_refused() {
        let bytes = encode(&rich_plan(), "fp").unwrap();
        let newer = String::from_utf8(bytes)
            .unwrap()
            .replace("\"format_version\": 1", "\"format_version\": 9");
        assert_eq!(
            decode(newer.as_bytes()).unwrap_err(),
            PlanDecodeError::NewerVersion(9)
        );
        let err = decode(br#"{"version": 1, "lineage": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("tandem plan --out"), "{err}");
        assert!(matches!(
            decode(b"{\"format\": \"tandem-pl").unwrap_err(),
            PlanDecodeError::Corrupt(_)
        ));
    }

    #[test]
    fn freshness_names_what_changed() {
        let saved = SavedPlan {
            plan: rich_plan(),
            fingerprint: "fp".into(),
        };
        let mut state = State::new("demo", "dev", "lin-1".into());
        state.serial = 7;
        assert_eq!(check_fresh(&saved, &state, "fp"), Ok(()));
        let moved = State {
            serial: 8,
            ..state.clone()
        };
        let err = check_fresh(&saved, &moved, "fp").unwrap_err();
        assert_eq!(
            err.to_string(),
            "stale plan: the state changed since the plan was made (serial 7 → 8); make a new plan"
        );
        let other = State {
            lineage: "lin-2".into(),
            ..state.clone()
        };
        assert!(matches!(
            check_fresh(&saved, &other, "fp"),
            Err(Stale::LineageDiffers { .. })
        ));
        let err = check_fresh(&saved, &state, "fp2").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the program or configuration changed since the plan was made"),
            "{err}"
        );
        let prod = State::new("demo", "prod", "lin-1".into());
        assert!(matches!(
            check_fresh(&saved, &prod, "fp"),
            Err(Stale::OtherStack { .. })
        ));
    }
}
