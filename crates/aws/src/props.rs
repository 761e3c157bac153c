//! Reading provider inputs, and building observed properties.

use std::collections::BTreeMap;

use tandem_core::{Props, Value};
use tandem_engine::provider::{OpContext, ProviderError};
use tandem_schema::tags;

fn plain(v: &Value) -> &Value {
    match v {
        Value::Secret(inner) => plain(inner),
        other => other,
    }
}

fn not_known(name: &str) -> ProviderError {
    ProviderError::invalid(format!(
        "input `{name}` is not known yet (an unresolved reference)"
    ))
}

/// Input `name` is `v`, not `expected` (`a string`, `a map of strings`, ...): not known yet when
/// `v` is an unresolved reference, an input error otherwise.
fn wrong_type(name: &str, v: &Value, expected: &str) -> ProviderError {
    if v.is_unknown() {
        return not_known(name);
    }
    ProviderError::invalid(format!(
        "input `{name}` must be {expected}, not {}",
        v.render()
    ))
}

/// A required string input.
pub fn req_str(inputs: &Props, name: &str) -> Result<String, ProviderError> {
    opt_str(inputs, name)?
        .ok_or_else(|| ProviderError::invalid(format!("input `{name}` is required")))
}

/// An optional string input.
pub fn opt_str(inputs: &Props, name: &str) -> Result<Option<String>, ProviderError> {
    match inputs.get(name).map(plain) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(wrong_type(name, v, "a string")),
    }
}

pub fn opt_bool(inputs: &Props, name: &str) -> Result<Option<bool>, ProviderError> {
    match inputs.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(wrong_type(name, v, "true or false")),
    }
}

pub fn bool_or(inputs: &Props, name: &str, default: bool) -> Result<bool, ProviderError> {
    Ok(opt_bool(inputs, name)?.unwrap_or(default))
}

pub fn opt_int(inputs: &Props, name: &str) -> Result<Option<i64>, ProviderError> {
    match inputs.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(v) => Err(wrong_type(name, v, "an integer")),
    }
}

pub fn opt_i32(inputs: &Props, name: &str) -> Result<Option<i32>, ProviderError> {
    opt_int(inputs, name)?
        .map(|i| {
            i32::try_from(i)
                .map_err(|_| ProviderError::invalid(format!("input `{name}` is out of range: {i}")))
        })
        .transpose()
}

pub fn opt_f64(inputs: &Props, name: &str) -> Result<Option<f64>, ProviderError> {
    match inputs.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i as f64)),
        Some(Value::Float(f)) => Ok(Some(*f)),
        Some(v) => Err(wrong_type(name, v, "a number")),
    }
}

/// One string of a map or list input; `path` names it (`tags.team`, `records[0]`) in errors.
fn string_item(v: &Value, path: impl FnOnce() -> String) -> Result<String, ProviderError> {
    match plain(v) {
        Value::String(s) => Ok(s.clone()),
        v => Err(wrong_type(&path(), v, "a string")),
    }
}

/// A map of strings (tags, parameters, dimensions); absent is empty.
pub fn str_map(inputs: &Props, name: &str) -> Result<BTreeMap<String, String>, ProviderError> {
    match inputs.get(name) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Map(m)) => m
            .iter()
            .map(|(k, v)| Ok((k.clone(), string_item(v, || format!("{name}.{k}"))?)))
            .collect(),
        Some(v) => Err(wrong_type(name, v, "a map of strings")),
    }
}

/// A list of strings; absent is empty.
pub fn str_list(inputs: &Props, name: &str) -> Result<Vec<String>, ProviderError> {
    match inputs.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(l)) => l
            .iter()
            .enumerate()
            .map(|(i, v)| string_item(v, || format!("{name}[{i}]")))
            .collect(),
        Some(v) => Err(wrong_type(name, v, "a list of strings")),
    }
}

/// The tags to put on a resource: the user's, plus `tandem:stack`, `tandem:env`, `tandem:addr`.
pub fn all_tags(
    ctx: &OpContext,
    inputs: &Props,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut t = str_map(inputs, "tags")?;
    t.insert(tags::STACK.into(), ctx.stack.clone());
    t.insert(tags::ENV.into(), ctx.env.clone());
    t.insert(tags::ADDR.into(), ctx.addr.to_string());
    Ok(t)
}

/// User tags only (Tandem's own removed), as a property value.
pub fn user_tags_value<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Map(
        tags.into_iter()
            .filter(|(k, _)| !k.starts_with(tags::PREFIX))
            .map(|(k, v)| (k.to_string(), Value::str(v)))
            .collect(),
    )
}

/// The keys of the user's tags in `old` that `wanted` no longer has: the tags an update removes
/// (tag APIs add and remove separately).
pub fn removed_tag_keys(
    old: &Props,
    wanted: &BTreeMap<String, String>,
) -> Result<Vec<String>, ProviderError> {
    Ok(str_map(old, "tags")?
        .into_keys()
        .filter(|k| !wanted.contains_key(k))
        .collect())
}

/// Builds props from pairs, skipping `None`s.
pub struct PropsBuilder(Props);

impl PropsBuilder {
    pub fn new() -> PropsBuilder {
        PropsBuilder(Props::new())
    }

    pub fn set(mut self, name: &str, v: impl Into<Value>) -> PropsBuilder {
        self.0.insert(name.to_string(), v.into());
        self
    }

    pub fn opt(mut self, name: &str, v: Option<impl Into<Value>>) -> PropsBuilder {
        if let Some(v) = v {
            self.0.insert(name.to_string(), v.into());
        }
        self
    }

    /// Copies `name` from `from` if present there (for properties the cloud does not return).
    pub fn copy(mut self, from: &Props, name: &str) -> PropsBuilder {
        if let Some(v) = from.get(name) {
            self.0.insert(name.to_string(), v.clone());
        }
        self
    }

    /// Sets `name` only when the value differs from `default` or the last inputs had it, so
    /// defaults left out of a program do not read back as drift.
    pub fn defaulted(mut self, from: &Props, name: &str, v: Value, default: Value) -> PropsBuilder {
        if from.contains_key(name) || v != default {
            self.0.insert(name.to_string(), v);
        }
        self
    }

    /// [`defaulted`](Self::defaulted) for a setting (a flag, a number) the cloud may leave out:
    /// absent reads as `default`.
    pub fn defaulted_or<T: Into<Value> + Clone>(
        self,
        from: &Props,
        name: &str,
        live: Option<T>,
        default: T,
    ) -> PropsBuilder {
        let v = live.unwrap_or_else(|| default.clone()).into();
        self.defaulted(from, name, v, default.into())
    }

    /// Sets `tags` to the live user tags (Tandem's own removed, see [`user_tags_value`]) when the
    /// last inputs had `tags` or there are any, so an untagged resource does not read back as
    /// drift.
    pub fn user_tags<'a>(
        self,
        from: &Props,
        live: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> PropsBuilder {
        self.defaulted(
            from,
            "tags",
            user_tags_value(live),
            Value::Map(BTreeMap::new()),
        )
    }

    pub fn build(self) -> Props {
        self.0
    }
}

impl Default for PropsBuilder {
    fn default() -> Self {
        PropsBuilder::new()
    }
}

/// The resource's region name; refuses `global` for regional kinds.
pub fn region_of(ctx: &OpContext) -> Result<String, ProviderError> {
    let r = ctx.addr.region();
    if r.is_global() {
        return Err(ProviderError::invalid(format!(
            "{} is a regional resource kind: address it in a region, not `global`",
            ctx.addr.kind()
        )));
    }
    Ok(r.as_str().to_string())
}

/// Maps a schema validation error to the `validate` result.
pub fn schema_check(r: Result<(), tandem_schema::PropError>) -> Result<(), String> {
    r.map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, v: Value) -> Props {
        let mut p = Props::new();
        p.insert(name.to_string(), v);
        p
    }

    #[test]
    fn wrong_types_are_named_down_to_the_item() {
        let m = one(
            "tags",
            Value::Map(BTreeMap::from([("team".to_string(), Value::Int(1))])),
        );
        assert_eq!(
            str_map(&m, "tags").unwrap_err().message,
            "input `tags.team` must be a string, not 1"
        );
        let l = one("values", Value::List(vec![Value::str("a"), Value::Unknown]));
        assert_eq!(
            str_list(&l, "values").unwrap_err().message,
            "input `values[1]` is not known yet (an unresolved reference)"
        );
        let b = one("versioning", Value::str("yes"));
        assert_eq!(
            opt_bool(&b, "versioning").unwrap_err().message,
            "input `versioning` must be true or false, not \"yes\""
        );
        assert!(
            opt_str(&one("x", Value::Unknown), "x")
                .unwrap_err()
                .message
                .contains("not known yet")
        );
    }

    #[test]
    fn defaults_left_out_do_not_read_back() {
        let last = one("multi_az", Value::Bool(false));
        let p = PropsBuilder::new()
            .defaulted_or(&last, "multi_az", None, false)
            .defaulted_or(&last, "inverted", None, false)
            .defaulted_or(&last, "period", Some(60), 60)
            .defaulted_or(&last, "port", Some(8080), 443)
            .user_tags(&last, [("tandem:addr", "a"), ("team", "x")])
            .build();
        assert_eq!(p.get("multi_az"), Some(&Value::Bool(false)));
        assert_eq!(p.get("inverted"), None);
        assert_eq!(p.get("period"), None);
        assert_eq!(p.get("port"), Some(&Value::Int(8080)));
        let tags = p.get("tags").and_then(Value::as_map).unwrap();
        assert_eq!(tags.keys().collect::<Vec<_>>(), ["team"]);
        let untagged = PropsBuilder::new()
            .user_tags(&last, [("tandem:env", "e")])
            .build();
        assert_eq!(untagged.get("tags"), None);
    }
}
