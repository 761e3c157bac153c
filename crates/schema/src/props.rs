//! Reading typed values out of properties, for validation. Unknown values (references not yet
//! resolved) read as `Ok(None)`: validation skips what it cannot know yet.

use tandem_core::{Props, Value};

/// A property with the wrong type or value. The message names the property.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PropError(pub String);

/// The inputs of anything that turns into a `ResourceDecl`, for inspection.
pub fn props_of(decl: impl Into<tandem_core::ResourceDecl>) -> Props {
    decl.into().inputs
}

fn unwrap_secret(v: &Value) -> &Value {
    match v {
        Value::Secret(inner) => unwrap_secret(inner),
        other => other,
    }
}

pub(crate) fn str_of<'a>(props: &'a Props, name: &str) -> Result<Option<&'a str>, PropError> {
    match props.get(name).map(unwrap_secret) {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.is_unknown() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(PropError(format!(
            "`{name}` must be a string, not {}",
            other.render()
        ))),
    }
}

pub(crate) fn required_str<'a>(props: &'a Props, name: &str) -> Result<Option<&'a str>, PropError> {
    match props.get(name) {
        None | Some(Value::Null) => Err(PropError(format!("`{name}` is required"))),
        Some(_) => {
            let s = str_of(props, name)?;
            if s == Some("") {
                return Err(PropError(format!("`{name}` must not be empty")));
            }
            Ok(s)
        }
    }
}

pub(crate) fn int_of(props: &Props, name: &str) -> Result<Option<i64>, PropError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.is_unknown() => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(other) => Err(PropError(format!(
            "`{name}` must be an integer, not {}",
            other.render()
        ))),
    }
}

pub(crate) fn number_of(props: &Props, name: &str) -> Result<Option<f64>, PropError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.is_unknown() => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i as f64)),
        Some(Value::Float(f)) => Ok(Some(*f)),
        Some(other) => Err(PropError(format!(
            "`{name}` must be a number, not {}",
            other.render()
        ))),
    }
}

pub(crate) fn bool_of(props: &Props, name: &str) -> Result<Option<bool>, PropError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.is_unknown() => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(PropError(format!(
            "`{name}` must be true or false, not {}",
            other.render()
        ))),
    }
}

/// Checks that `tags` (if present) is a map of strings with no reserved `tandem:` key.
pub(crate) fn check_tags(props: &Props) -> Result<(), PropError> {
    match props.get("tags") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Map(m)) => {
            for (k, v) in m {
                if k.starts_with(crate::tags::PREFIX) {
                    return Err(PropError(format!(
                        "tag key {k:?} is reserved: keys starting with `tandem:` are set by Tandem"
                    )));
                }
                if !v.is_unknown() && v.as_str().is_none() {
                    return Err(PropError(format!("tag {k:?} must have a string value")));
                }
            }
            Ok(())
        }
        Some(v) if v.is_unknown() => Ok(()),
        Some(other) => Err(PropError(format!(
            "`tags` must be a map of strings, not {}",
            other.render()
        ))),
    }
}

pub(crate) fn check_string_map(props: &Props, name: &str) -> Result<(), PropError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Map(m)) => {
            for (k, v) in m {
                if !v.is_unknown() && v.as_str().is_none() {
                    return Err(PropError(format!("`{name}.{k}` must be a string")));
                }
            }
            Ok(())
        }
        Some(v) if v.is_unknown() => Ok(()),
        Some(other) => Err(PropError(format!(
            "`{name}` must be a map of strings, not {}",
            other.render()
        ))),
    }
}

pub(crate) fn check_string_list(props: &Props, name: &str) -> Result<(), PropError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::List(l)) => {
            for (i, v) in l.iter().enumerate() {
                if !v.is_unknown() && v.as_str().is_none() {
                    return Err(PropError(format!("`{name}[{i}]` must be a string")));
                }
            }
            Ok(())
        }
        Some(v) if v.is_unknown() => Ok(()),
        Some(other) => Err(PropError(format!(
            "`{name}` must be a list of strings, not {}",
            other.render()
        ))),
    }
}
