//! Stack state: what Tandem last knew of each resource, versioned, with lineage and serial.
//!
//! The in-memory [`State`] is separate from its file form ([`StateFile`]), which owns the format
//! version and the JSON encoding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tandem_core::{
    Props, ResourceAddr, SecretKey, Value, props_from_json, props_to_json, props_to_state_json,
};

/// The newest state format this build reads and the one it writes.
///
/// Version 2 added `secret_key`. A version 1 file is read as it is and given a key; it is written
/// back as version 2 (which an older tandem refuses as newer rather than as corrupt).
pub const STATE_FORMAT_VERSION: u32 = 2;

/// A new random key for a state's secret digests, from the thread's CSPRNG (ChaCha, seeded by the
/// operating system).
pub fn new_secret_key() -> SecretKey {
    SecretKey::from_bytes(rand::random())
}

/// The state of one stack in one environment.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Identifies this state's history: set once when the state is created, never changed.
    pub lineage: String,
    /// Incremented on every write.
    pub serial: u64,
    pub stack: String,
    pub env: String,
    /// The key of this state's secret digests ([`tandem_core::secret`]): drawn when the state is
    /// created (or first read from a file that has none), kept with it, never shown.
    pub secret_key: SecretKey,
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

/// What a deposed resource's name ends with, before a digest of its cloud id.
const DEPOSED_MARK: &str = ".replaced-";

/// The address under which the state keeps a resource that a replacement took the place of at
/// `addr` but that could not be deleted yet (`id`: its cloud id): no program declares it, so the
/// next plan deletes it, after the resources that still used it as `addr` have changed.
pub fn deposed_addr(addr: &ResourceAddr, id: &str) -> ResourceAddr {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut name = addr.name().to_string();
    // Room for the mark and the digest within the 200 bytes a name may have.
    name.truncate(200 - DEPOSED_MARK.len() - hex.len());
    ResourceAddr::new(
        &addr.region(),
        addr.kind(),
        &format!("{name}{DEPOSED_MARK}{hex}"),
    )
    .expect("an address's own parts with an allowed suffix")
}

/// The address a deposed resource ([`deposed_addr`]) was replaced at; `None` for any other.
pub fn deposed_origin(addr: &ResourceAddr) -> Option<ResourceAddr> {
    let (name, hex) = addr.name().rsplit_once(DEPOSED_MARK)?;
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    ResourceAddr::new(&addr.region(), addr.kind(), name).ok()
}

impl State {
    /// An empty state, with a new secret key.
    pub fn new(stack: &str, env: &str, lineage: String) -> State {
        State {
            lineage,
            serial: 0,
            stack: stack.to_string(),
            env: env.to_string(),
            secret_key: new_secret_key(),
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
            secret_key: Some(self.secret_key.to_hex()),
            resources: self
                .resources
                .iter()
                .map(|(addr, r)| ResourceRecord::from_state(addr, r, &self.secret_key))
                .collect(),
            outputs: self
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), v.to_state_json(&self.secret_key)))
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
    /// The key of the state's secret digests, 64 hex digits (absent before version 2: a key is
    /// drawn when such a file is read, and written with the next save).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
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
    /// The record as the state and its journal keep it: secrets as their digests under `key`,
    /// the state's key.
    pub fn from_state(addr: &ResourceAddr, r: &ResourceState, key: &SecretKey) -> ResourceRecord {
        ResourceRecord {
            inputs: props_to_state_json(&r.inputs, key),
            outputs: props_to_state_json(&r.outputs, key),
            ..ResourceRecord::masked(addr, r)
        }
    }

    /// The record as a saved plan shows it: every secret masked, no digest.
    pub fn masked(addr: &ResourceAddr, r: &ResourceState) -> ResourceRecord {
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
        let secret_key = match &self.secret_key {
            Some(hex) => SecretKey::from_hex(hex)
                .map_err(|e| StateDecodeError::Corrupt(format!("secret_key: {e}")))?,
            // A state written before keys existed gets one now, saved with its next write. Its
            // secrets' unkeyed digests then differ from their keyed ones: each is updated once.
            None => new_secret_key(),
        };
        Ok(State {
            lineage: self.lineage,
            serial: self.serial,
            stack: self.stack,
            env: self.env,
            secret_key,
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

    #[test]
    fn the_secret_key_is_kept_with_the_state_and_drawn_for_a_state_without_one() {
        let state = State::new("s", "dev", "l".into());
        assert_ne!(
            state.secret_key,
            State::new("s", "dev", "l".into()).secret_key
        );
        let bytes = state.to_json_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(&state.secret_key.to_hex()), "{text}");
        assert!(text.contains("\"version\": 2"), "{text}");
        assert_eq!(State::from_json_bytes(&bytes).unwrap(), state);
        assert!(!format!("{state:?}").contains(&state.secret_key.to_hex()));
        // A version 1 file, written before keys existed, is read and given a key.
        let old = file(|j| {
            j["version"] = 1.into();
            j.as_object_mut().unwrap().remove("secret_key");
        });
        let read = State::from_json_bytes(&old).unwrap();
        let again = State::from_json_bytes(&read.to_json_bytes()).unwrap();
        assert_eq!(again.secret_key, read.secret_key);
        let damaged = file(|j| j["secret_key"] = "abc".into());
        assert!(matches!(
            State::from_json_bytes(&damaged),
            Err(StateDecodeError::Corrupt(m)) if m.starts_with("secret_key")
        ));
    }
}
