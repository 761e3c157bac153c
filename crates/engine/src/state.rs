//! Stack state: what Tandem last knew of each resource, versioned, with lineage and serial.
//!
//! The in-memory [`State`] is separate from its file form ([`StateFile`]), which owns the format
//! version and the JSON encoding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tandem_core::{Props, ResourceAddr, Value, props_from_json, props_to_json};

/// The newest state format this build reads and the one it writes.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// The state of one stack in one environment.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Identifies this state's history: set once when the state is created, never changed.
    pub lineage: String,
    /// Incremented on every write.
    pub serial: u64,
    pub stack: String,
    pub env: String,
    pub resources: BTreeMap<ResourceAddr, ResourceState>,
    /// The stack outputs of the last apply.
    pub outputs: BTreeMap<String, Value>,
    /// Data owned by other crates (the failover posture), kept with the state, opaque here.
    pub extensions: BTreeMap<String, Json>,
    /// Operations an interrupted run left pending that recovery could not reconcile yet (their
    /// region did not answer): journal intent records, reconciled by the next recovery that can
    /// read their region.
    pub unreconciled: Vec<crate::journal::JournalRecord>,
}

/// What is known of one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceState {
    pub id: String,
    /// The inputs it was last created or updated with (or last read, after a refresh).
    pub inputs: Props,
    pub outputs: Props,
    /// What it depended on when last applied: deletes run in the reverse of this order.
    pub dependencies: Vec<ResourceAddr>,
    pub protect: bool,
    pub retain_on_delete: bool,
}

impl State {
    pub fn new(stack: &str, env: &str, lineage: String) -> State {
        State {
            lineage,
            serial: 0,
            stack: stack.to_string(),
            env: env.to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            extensions: BTreeMap::new(),
            unreconciled: Vec::new(),
        }
    }

    /// The output `name` of resource `addr`, if recorded.
    pub fn output(&self, addr: &ResourceAddr, name: &str) -> Option<&Value> {
        self.resources.get(addr)?.outputs.get(name)
    }

    pub fn to_file(&self) -> StateFile {
        StateFile {
            version: STATE_FORMAT_VERSION,
            lineage: self.lineage.clone(),
            serial: self.serial,
            stack: self.stack.clone(),
            env: self.env.clone(),
            resources: self
                .resources
                .iter()
                .map(|(addr, r)| ResourceRecord::from_state(addr, r))
                .collect(),
            outputs: self
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            extensions: self.extensions.clone(),
            unreconciled: self.unreconciled.clone(),
        }
    }

    /// Serializes to pretty JSON (stable key order).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(&self.to_file()).expect("state serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Parses a state file's bytes. A newer format version is refused as such, whatever the rest of
    /// the file holds.
    ///
    /// The bytes are parsed once; only a file that does not parse is read again, for its version
    /// alone, so that a newer file is named as such rather than as corrupt.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<State, StateDecodeError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let newer = |version| (version > STATE_FORMAT_VERSION).then_some(version);
        let file = match serde_json::from_slice::<StateFile>(bytes) {
            Ok(file) => file,
            Err(e) => {
                let v: VersionOnly = serde_json::from_slice(bytes)
                    .map_err(|e| StateDecodeError::Corrupt(e.to_string()))?;
                return Err(match newer(v.version) {
                    Some(v) => StateDecodeError::NewerVersion(v),
                    None => StateDecodeError::Corrupt(e.to_string()),
                });
            }
        };
        if let Some(v) = newer(file.version) {
            return Err(StateDecodeError::NewerVersion(v));
        }
        file.into_state()
    }
}

/// Why state bytes could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StateDecodeError {
    #[error("not a valid state file: {0}")]
    Corrupt(String),
    #[error(
        "state format version {0} is newer than this tandem reads (up to {STATE_FORMAT_VERSION}): upgrade tandem"
    )]
    NewerVersion(u32),
}

/// The file form of [`State`].
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub version: u32,
    pub lineage: String,
    pub serial: u64,
    pub stack: String,
    pub env: String,
    pub resources: Vec<ResourceRecord>,
    #[serde(default)]
    pub outputs: serde_json::Map<String, Json>,
    #[serde(default)]
    pub extensions: BTreeMap<String, Json>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreconciled: Vec<crate::journal::JournalRecord>,
}

/// The file form of one [`ResourceState`]; also the payload of journal records.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResourceRecord {
    pub addr: ResourceAddr,
    pub id: String,
    pub inputs: Json,
    pub outputs: Json,
    #[serde(default)]
    pub dependencies: Vec<ResourceAddr>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
}

impl ResourceRecord {
    pub fn from_state(addr: &ResourceAddr, r: &ResourceState) -> ResourceRecord {
        ResourceRecord {
            addr: addr.clone(),
            id: r.id.clone(),
            inputs: props_to_json(&r.inputs),
            outputs: props_to_json(&r.outputs),
            dependencies: r.dependencies.clone(),
            protect: r.protect,
            retain_on_delete: r.retain_on_delete,
        }
    }

    pub fn to_state(&self) -> Result<ResourceState, StateDecodeError> {
        let bad = |what: &str, e: String| {
            StateDecodeError::Corrupt(format!("{what} of {}: {e}", self.addr))
        };
        Ok(ResourceState {
            id: self.id.clone(),
            inputs: props_from_json(&self.inputs).map_err(|e| bad("inputs", e))?,
            outputs: props_from_json(&self.outputs).map_err(|e| bad("outputs", e))?,
            dependencies: self.dependencies.clone(),
            protect: self.protect,
            retain_on_delete: self.retain_on_delete,
        })
    }
}

impl StateFile {
    fn into_state(self) -> Result<State, StateDecodeError> {
        let mut resources = BTreeMap::new();
        for rec in &self.resources {
            if resources
                .insert(rec.addr.clone(), rec.to_state()?)
                .is_some()
            {
                return Err(StateDecodeError::Corrupt(format!(
                    "resource {} appears twice",
                    rec.addr
                )));
            }
        }
        let outputs = self
            .outputs
            .iter()
            .map(|(k, v)| {
                Value::from_json(v)
                    .map(|v| (k.clone(), v))
                    .map_err(|e| StateDecodeError::Corrupt(format!("output {k}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        for (i, r) in self.unreconciled.iter().enumerate() {
            crate::recovery::PendingOp::from_intent(r).map_err(|e| {
                StateDecodeError::Corrupt(format!("unreconciled operation {}: {e}", i + 1))
            })?;
        }
        Ok(State {
            lineage: self.lineage,
            serial: self.serial,
            stack: self.stack,
            env: self.env,
            resources,
            outputs,
            extensions: self.extensions,
            unreconciled: self.unreconciled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(edit: impl FnOnce(&mut Json)) -> Vec<u8> {
        let mut j: Json =
            serde_json::from_slice(&State::new("s", "dev", "l".into()).to_json_bytes()).unwrap();
        edit(&mut j);
        serde_json::to_vec(&j).unwrap()
    }

    #[test]
    fn a_newer_version_is_named_whether_or_not_the_rest_parses() {
        let newer = file(|j| j["version"] = 7.into());
        assert_eq!(
            State::from_json_bytes(&newer),
            Err(StateDecodeError::NewerVersion(7))
        );
        let newer_and_unknown = file(|j| {
            j["version"] = 7.into();
            j["future"] = true.into();
        });
        assert_eq!(
            State::from_json_bytes(&newer_and_unknown),
            Err(StateDecodeError::NewerVersion(7))
        );
        let current = file(|_| {});
        assert!(State::from_json_bytes(&current).is_ok());
        let damaged = file(|j| {
            j.as_object_mut().unwrap().remove("lineage");
        });
        assert!(matches!(
            State::from_json_bytes(&damaged),
            Err(StateDecodeError::Corrupt(m)) if m.starts_with("missing field `lineage`")
        ));
        assert!(matches!(
            State::from_json_bytes(b"{}"),
            Err(StateDecodeError::Corrupt(m)) if m.contains("missing field `version`")
        ));
    }
}
