//! Property values: known, unknown until apply, secret, or a reference to another resource's output.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;

use crate::addr::ResourceAddr;
use crate::props::Props;
use crate::secret::{DIGEST_PREFIX, MASKED_SECRET, SecretKey, hex};

/// One property value.
///
/// `Unknown` is a value that only apply will know (an id the cloud assigns). `Ref` points at an
/// output of another resource; declaring one creates a graph edge. `Secret` wraps a value that must
/// never be shown: it renders (`Display` and `Debug` included) as `(secret)`, the state stores it
/// only as its keyed digest ([`Value::to_state_json`], [`crate::secret`]) and every other JSON form
/// masks it ([`Value::to_json`]). `SecretDigest` is what a secret becomes once read back from
/// state (or `masked`, read back from a saved plan).
#[derive(Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Unknown,
    Ref(Box<OutputRef>),
    Secret(Box<Value>),
    SecretDigest(String),
}

/// A reference to output `output` of resource `addr`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputRef {
    pub addr: ResourceAddr,
    pub output: String,
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A reference to output `output` of the resource at `addr`.
    pub fn reference(addr: ResourceAddr, output: &str) -> Value {
        Value::Ref(Box::new(OutputRef {
            addr,
            output: output.to_string(),
        }))
    }

    pub fn secret(v: Value) -> Value {
        Value::Secret(Box::new(v))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// True when the value, or anything inside it, is not known before apply.
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown | Value::Ref(_) => true,
            Value::List(l) => l.iter().any(Value::is_unknown),
            Value::Map(m) => m.values().any(Value::is_unknown),
            Value::Secret(v) => v.is_unknown(),
            _ => false,
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, Value::Secret(_) | Value::SecretDigest(_))
    }

    /// True when the value, or anything inside it, is a secret masked out of a saved plan
    /// (`{"$secret": "masked"}` read back): its digest is only in the state.
    pub fn holds_masked_secret(&self) -> bool {
        match self {
            Value::SecretDigest(d) => d == MASKED_SECRET,
            Value::List(l) => l.iter().any(Value::holds_masked_secret),
            Value::Map(m) => m.values().any(Value::holds_masked_secret),
            _ => false,
        }
    }

    /// True when the value holds a reference somewhere inside.
    pub fn has_refs(&self) -> bool {
        match self {
            Value::Ref(_) => true,
            Value::List(l) => l.iter().any(Value::has_refs),
            Value::Map(m) => m.values().any(Value::has_refs),
            Value::Secret(v) => v.has_refs(),
            _ => false,
        }
    }

    /// Every reference inside this value, in order of appearance.
    pub fn refs(&self) -> Vec<&OutputRef> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs<'a>(&'a self, out: &mut Vec<&'a OutputRef>) {
        match self {
            Value::Ref(r) => out.push(r),
            Value::List(l) => l.iter().for_each(|v| v.collect_refs(out)),
            Value::Map(m) => m.values().for_each(|v| v.collect_refs(out)),
            Value::Secret(v) => v.collect_refs(out),
            _ => {}
        }
    }

    /// Replaces each reference by what `lookup` returns for it; references it cannot resolve become
    /// `Unknown`.
    pub fn resolve(&self, lookup: &dyn Fn(&OutputRef) -> Option<Value>) -> Value {
        self.map_refs(&|r| lookup(r).unwrap_or(Value::Unknown))
    }

    /// Replaces each reference that `lookup` can resolve; leaves the others in place.
    pub fn resolve_known(&self, lookup: &dyn Fn(&OutputRef) -> Option<Value>) -> Value {
        self.map_refs(&|r| lookup(r).unwrap_or_else(|| Value::Ref(Box::new(r.clone()))))
    }

    /// The value with each reference replaced by `f` of it.
    fn map_refs(&self, f: &impl Fn(&OutputRef) -> Value) -> Value {
        match self {
            Value::Ref(r) => f(r),
            Value::List(l) => Value::List(l.iter().map(|v| v.map_refs(f)).collect()),
            Value::Map(m) => {
                Value::Map(m.iter().map(|(k, v)| (k.clone(), v.map_refs(f))).collect())
            }
            Value::Secret(v) => Value::Secret(Box::new(v.map_refs(f))),
            other => other.clone(),
        }
    }

    /// Whether a desired value and a recorded one mean the same thing. A secret equals its digest
    /// under `key`, the key of the state that recorded it. A digest made otherwise (under another
    /// key, or by the unkeyed SHA-256 of states written before keys existed) compares unequal: such
    /// a secret is updated once, and recorded under the state's key from then on.
    pub fn same_as(&self, recorded: &Value, key: &SecretKey) -> bool {
        match (self, recorded) {
            (Value::Secret(v), Value::SecretDigest(d))
            | (Value::SecretDigest(d), Value::Secret(v)) => &secret_digest(key, v) == d,
            (Value::Secret(a), Value::Secret(b)) => a.same_as(b, key),
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y, key))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.same_as(vb, key))
            }
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (a, b) => a == b,
        }
    }

    /// The value as it may be shown to a machine or a person (plans, saved plans, previews, JSON
    /// output): unknowns and references become tagged objects, and every secret, value or digest,
    /// becomes `{"$secret": "masked"}`.
    pub fn to_json(&self) -> Json {
        self.json_as(SecretForm::Masked)
    }

    /// The value as the state (and its journal) records it: a secret becomes
    /// `{"$secret": DIGEST}`, its digest under the state's `key`; a recorded digest stays as it is.
    pub fn to_state_json(&self, key: &SecretKey) -> Json {
        self.json_as(SecretForm::Keyed(key))
    }

    fn json_as(&self, form: SecretForm<'_>) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::List(l) => Json::Array(l.iter().map(|v| v.json_as(form)).collect()),
            Value::Map(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.json_as(form)))
                    .collect(),
            ),
            Value::Unknown => tagged("$unknown", Json::Bool(true)),
            Value::Ref(r) => tagged("$ref", Json::String(format!("{}#{}", r.addr, r.output))),
            Value::Secret(v) => match form {
                SecretForm::Masked => tagged("$secret", Json::String(MASKED_SECRET.into())),
                SecretForm::Keyed(key) => tagged("$secret", Json::String(secret_digest(key, v))),
                SecretForm::Plain => v.json_as(form),
            },
            Value::SecretDigest(d) => match form {
                SecretForm::Masked => tagged("$secret", Json::String(MASKED_SECRET.into())),
                SecretForm::Keyed(_) | SecretForm::Plain => {
                    tagged("$secret", Json::String(d.clone()))
                }
            },
        }
    }

    /// The inverse of [`Value::to_json`]. Fails on a malformed tagged object.
    pub fn from_json(json: &Json) -> Result<Value, String> {
        Ok(match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().ok_or("number out of range")?),
            },
            Json::String(s) => Value::String(s.clone()),
            Json::Array(a) => {
                Value::List(a.iter().map(Value::from_json).collect::<Result<_, _>>()?)
            }
            Json::Object(o) => {
                if o.len() == 1 {
                    let (k, v) = o.iter().next().expect("one entry");
                    match (k.as_str(), v) {
                        ("$unknown", _) => return Ok(Value::Unknown),
                        ("$secret", Json::String(d)) => return Ok(Value::SecretDigest(d.clone())),
                        ("$ref", Json::String(r)) => {
                            let (addr, output) = r
                                .split_once('#')
                                .ok_or_else(|| format!("malformed reference {r:?}"))?;
                            let addr = addr.parse().map_err(|e| format!("{e}"))?;
                            return Ok(Value::reference(addr, output));
                        }
                        (k, _) if k.starts_with('$') => {
                            return Err(format!("unknown tagged value {k:?}"));
                        }
                        _ => {}
                    }
                }
                Value::Map(
                    o.iter()
                        .map(|(k, v)| Ok((k.clone(), Value::from_json(v)?)))
                        .collect::<Result<_, String>>()?,
                )
            }
        })
    }

    /// A one-line rendering for humans: JSON-like, secrets as `(secret)`, unknowns as
    /// `(known after apply)`, references as `${addr.output}`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_into(&mut s);
        s
    }

    fn render_into(&self, s: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Null => s.push_str("null"),
            Value::Bool(b) => write!(s, "{b}").unwrap(),
            Value::Int(i) => write!(s, "{i}").unwrap(),
            Value::Float(f) => write!(s, "{f}").unwrap(),
            Value::String(v) => write!(s, "{v:?}").unwrap(),
            Value::List(l) => {
                s.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    v.render_into(s);
                }
                s.push(']');
            }
            Value::Map(m) => {
                s.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    write!(s, "{k:?}: ").unwrap();
                    v.render_into(s);
                }
                s.push('}');
            }
            Value::Unknown => s.push_str("(known after apply)"),
            Value::Ref(r) => write!(s, "${{{}.{}}}", r.addr, r.output).unwrap(),
            Value::Secret(_) | Value::SecretDigest(_) => s.push_str("(secret)"),
        }
    }
}

fn tagged(tag: &str, v: Json) -> Json {
    let mut m = serde_json::Map::new();
    m.insert(tag.to_string(), v);
    Json::Object(m)
}

/// How [`Value::json_as`] writes secrets.
#[derive(Clone, Copy)]
enum SecretForm<'k> {
    /// Secrets and digests alike as `masked`.
    Masked,
    /// Secrets as their digest under the key; digests as they are.
    Keyed(&'k SecretKey),
    /// Secrets as their plain value: only the input of a digest, never written anywhere.
    Plain,
}

/// The digest under which a state with key `key` records secret `v`: `hmac-sha256:HEX`,
/// `HMAC-SHA256(key, "tandem-secret-v2\0" || the value's compact JSON)`. Never the value itself,
/// and useless without the key (see [`crate::secret`]).
pub fn secret_digest(key: &SecretKey, v: &Value) -> String {
    let text = serde_json::to_string(&v.json_as(SecretForm::Plain)).expect("json values serialize");
    let mut message = Vec::with_capacity(17 + text.len());
    message.extend_from_slice(b"tandem-secret-v2\0");
    message.extend_from_slice(text.as_bytes());
    format!("{DIGEST_PREFIX}{}", hex(&key.hmac(&message)))
}

/// As derived, except that a secret shows as `(secret)` and a digest as `(secret digest)`.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Value::Int(i) => f.debug_tuple("Int").field(i).finish(),
            Value::Float(x) => f.debug_tuple("Float").field(x).finish(),
            Value::String(s) => f.debug_tuple("String").field(s).finish(),
            Value::List(l) => f.debug_tuple("List").field(l).finish(),
            Value::Map(m) => f.debug_tuple("Map").field(m).finish(),
            Value::Unknown => f.write_str("Unknown"),
            Value::Ref(r) => f.debug_tuple("Ref").field(r).finish(),
            Value::Secret(_) => f.write_str("(secret)"),
            Value::SecretDigest(_) => f.write_str("(secret digest)"),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i64::from(i))
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Value {
        Value::Int(i64::from(i))
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}
impl From<OutputRef> for Value {
    fn from(r: OutputRef) -> Value {
        Value::Ref(Box::new(r))
    }
}

/// Converts props to a JSON object for plans and output: secrets masked ([`Value::to_json`]).
pub fn props_to_json(props: &Props) -> Json {
    Json::Object(
        props
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
}

/// Converts props to a JSON object for the state and its journal: secrets as their digests under
/// the state's `key` ([`Value::to_state_json`]).
pub fn props_to_state_json(props: &Props, key: &SecretKey) -> Json {
    Json::Object(
        props
            .iter()
            .map(|(k, v)| (k.clone(), v.to_state_json(key)))
            .collect(),
    )
}

/// Converts a JSON object back to props.
pub fn props_from_json(json: &Json) -> Result<Props, String> {
    match json {
        Json::Object(o) => o
            .iter()
            .map(|(k, v)| Ok((k.as_str(), Value::from_json(v)?)))
            .collect(),
        Json::Null => Ok(Props::new()),
        _ => Err("expected an object of properties".to_string()),
    }
}

/// Builds a map value from pairs.
pub fn map<K: Into<String>, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; 32])
    }

    #[test]
    fn secrets_never_render_or_serialize_in_plaintext() {
        let v = Value::secret(Value::str("hunter2"));
        assert_eq!(v.render(), "(secret)");
        assert_eq!(format!("{v}"), "(secret)");
        assert_eq!(format!("{v:?}"), "(secret)");
        let nested = map([("password", v.clone()), ("user", Value::str("admin"))]);
        assert_eq!(
            format!("{nested:?}"),
            r#"Map({"password": (secret), "user": String("admin")})"#
        );
        assert_eq!(
            format!("{:?}", Value::SecretDigest("x".into())),
            "(secret digest)"
        );
        let k = key(1);
        let stored = serde_json::to_string(&v.to_state_json(&k)).unwrap();
        assert!(!stored.contains("hunter2"), "{stored}");
        let back = Value::from_json(&v.to_state_json(&k)).unwrap();
        assert!(v.same_as(&back, &k));
        assert!(!Value::secret(Value::str("other")).same_as(&back, &k));
        // Shown anywhere else, neither the value nor its digest appears.
        let shown = serde_json::to_string(&v.to_json()).unwrap();
        assert_eq!(shown, r#"{"$secret":"masked"}"#);
        assert_eq!(back.to_json(), v.to_json());
        assert!(
            Value::from_json(&v.to_json())
                .unwrap()
                .holds_masked_secret()
        );
        assert!(!back.holds_masked_secret());
    }

    #[test]
    fn a_digest_is_keyed_per_state_and_deterministic_per_key() {
        let s = Value::str("hunter2");
        let (a, b) = (key(1), key(2));
        assert_eq!(secret_digest(&a, &s), secret_digest(&a, &s));
        assert_ne!(secret_digest(&a, &s), secret_digest(&b, &s));
        assert!(secret_digest(&a, &s).starts_with("hmac-sha256:"));
        assert_eq!(secret_digest(&a, &s).len(), "hmac-sha256:".len() + 64);
        // Recorded under one state's key, the secret does not match under another's.
        let recorded = Value::SecretDigest(secret_digest(&a, &s));
        assert!(Value::secret(s.clone()).same_as(&recorded, &a));
        assert!(!Value::secret(s.clone()).same_as(&recorded, &b));
        // Nor does a digest of the unkeyed scheme states used before: one update re-records it.
        let unkeyed = Value::SecretDigest(format!("sha256:{}", "0".repeat(64)));
        assert!(!Value::secret(s).same_as(&unkeyed, &a));
    }

    #[test]
    fn references_resolve_at_any_depth() {
        let a: ResourceAddr = "us-east-1/s3:Bucket/a".parse().unwrap();
        let b: ResourceAddr = "us-east-1/s3:Bucket/b".parse().unwrap();
        let v = map([
            (
                "l",
                Value::List(vec![Value::reference(a.clone(), "arn"), Value::from(1)]),
            ),
            ("s", Value::secret(Value::reference(b.clone(), "key"))),
        ]);
        let lookup = |r: &OutputRef| (r.addr == a).then(|| Value::str("arn:a"));
        let known = map([
            ("l", Value::List(vec![Value::str("arn:a"), Value::from(1)])),
            ("s", Value::secret(Value::reference(b, "key"))),
        ]);
        assert_eq!(v.resolve_known(&lookup), known);
        let all = map([
            ("l", Value::List(vec![Value::str("arn:a"), Value::from(1)])),
            ("s", Value::secret(Value::Unknown)),
        ]);
        assert_eq!(v.resolve(&lookup), all);
        assert_eq!(Value::from(3).resolve(&lookup), Value::from(3));
    }

    #[test]
    fn json_round_trip_keeps_refs_and_unknowns() {
        let r = OutputRef {
            addr: "us-east-1/s3:Bucket/a".parse().unwrap(),
            output: "arn".into(),
        };
        let v = map([
            ("a", Value::from(r)),
            ("b", Value::Unknown),
            ("c", Value::from(3)),
        ]);
        assert_eq!(Value::from_json(&v.to_json()).unwrap(), v);
        assert!(Value::from_json(&serde_json::json!({"$bogus": 1})).is_err());
    }
}
