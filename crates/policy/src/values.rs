//! Reading property values the way the rules need: where a KMS key lives, which region a
//! resource serves.

use tandem_core::{DesiredStack, ResourceAddr, Value};

/// Where a KMS key named by a property lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyPlace {
    /// No key named.
    Missing,
    /// A key of this region (an ARN's region, or the region of the resource whose output it is).
    Region(String),
    /// A key id or alias: AWS resolves it in the region of the call, the resource's own.
    CallersRegion,
    /// Not judgeable before apply; the reason.
    Unverifiable(String),
}

impl KeyPlace {
    /// Whether the key is one of `region`.
    pub(crate) fn is_in(&self, region: &str) -> bool {
        match self {
            KeyPlace::Region(r) => r == region,
            KeyPlace::CallersRegion => true,
            KeyPlace::Missing | KeyPlace::Unverifiable(_) => false,
        }
    }
}

/// Where the key named by `value` lives.
pub(crate) fn key_place(stack: &DesiredStack, value: Option<&Value>) -> KeyPlace {
    match value {
        None | Some(Value::Null) => KeyPlace::Missing,
        Some(Value::Secret(inner)) => key_place(stack, Some(inner)),
        Some(Value::Ref(r)) => KeyPlace::Region(region_of(stack, &r.addr)),
        Some(Value::String(s)) => key_place_of_text(s),
        Some(Value::Unknown) => KeyPlace::Unverifiable("it is not known before apply".into()),
        Some(other) => KeyPlace::Unverifiable(format!("{} is not a key", other.render())),
    }
}

/// Where the key named by `text` (an ARN, a key id or an alias) lives.
pub(crate) fn key_place_of_text(text: &str) -> KeyPlace {
    if text.is_empty() {
        return KeyPlace::Missing;
    }
    if let Some(rest) = text.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        return match parts.as_slice() {
            [_, "kms", region, _, _] if !region.is_empty() => KeyPlace::Region(region.to_string()),
            _ => KeyPlace::Unverifiable(format!("{text:?} is not a KMS key ARN")),
        };
    }
    KeyPlace::CallersRegion
}

/// The region a resource is about: its address's, or for a global resource its `region` input
/// (where an account-level resource is operated from), else `global`.
pub(crate) fn region_of(stack: &DesiredStack, addr: &ResourceAddr) -> String {
    if !addr.region().is_global() {
        return addr.region_str().to_string();
    }
    stack
        .graph
        .get(addr)
        .and_then(|d| d.inputs.get("region"))
        .and_then(Value::as_str)
        .unwrap_or("global")
        .to_string()
}

/// The region a value points into: a reference's resource's region (not `global`), or one of
/// `regions` named in a text between dots (an ALB's DNS name holds its region).
pub(crate) fn region_pointed_to(
    stack: &DesiredStack,
    value: Option<&Value>,
    regions: &[String],
) -> Option<String> {
    match value? {
        Value::Ref(r) => {
            let region = region_of(stack, &r.addr);
            (region != "global").then_some(region)
        }
        Value::String(s) => regions
            .iter()
            .find(|r| s.contains(&format!(".{r}.")))
            .cloned(),
        _ => None,
    }
}

/// A boolean input: `Some(b)` when it is one, `None` when absent or null, `Err` with the value's
/// rendering when it is something else (a reference, an unknown).
pub(crate) fn bool_input(value: Option<&Value>) -> Result<Option<bool>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(other.render()),
    }
}

/// An integer input, likewise.
pub(crate) fn int_input(value: Option<&Value>) -> Result<Option<i64>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(other) => Err(other.render()),
    }
}
