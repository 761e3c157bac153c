//! CloudFormation templates as the pack reads them: each deployment of a template (a stack set's
//! stack instance, or a single stack) with the parameters it is given, and a small evaluator of
//! the intrinsics that choose what gets deployed (`Condition`, `Fn::If`, `Fn::Equals`, `Fn::Not`,
//! `Fn::And`, `Fn::Or`, `Ref` to a parameter or a pseudo parameter).
//!
//! Anything the evaluator cannot resolve counts as both possible: a resource whose condition is
//! unknown is judged, and both branches of an unknown `Fn::If` are.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use tandem_core::{DesiredStack, ResourceAddr, ResourceDecl, Value};
use tandem_schema::kinds;

use crate::values::region_of;

/// One template as deployed in one region.
pub(crate) struct Deployment<'a> {
    /// Where findings go: the stack instance (or the stack, or a stack set with no instance).
    pub(crate) addr: &'a ResourceAddr,
    pub(crate) region: String,
    /// The parsed template.
    pub(crate) template: Json,
    /// The parameters whose values are known here (instance overrides over the set's values).
    params: BTreeMap<String, String>,
}

/// Every deployment of every JSON template the stack declares: each stack instance of a stack
/// set (a set with none is judged once, in its own region), and each single stack. A template
/// that is not JSON (YAML) is not read.
pub(crate) fn deployments(stack: &DesiredStack) -> Vec<Deployment<'_>> {
    let decls: Vec<&ResourceDecl> = stack.graph.in_order().collect();
    let mut out = Vec::new();
    for set in decls
        .iter()
        .filter(|d| d.addr.kind() == kinds::CLOUDFORMATION_STACK_SET)
    {
        let Some(template) = template_of(set) else {
            continue;
        };
        let set_params = known_params(set.inputs.get("parameters"));
        let mut instances: Vec<&&ResourceDecl> = decls
            .iter()
            .filter(|d| {
                d.addr.kind() == kinds::CLOUDFORMATION_STACK_INSTANCE && instance_of(d, set)
            })
            .collect();
        instances.sort_by(|a, b| a.addr.cmp(&b.addr));
        if instances.is_empty() {
            out.push(Deployment {
                addr: &set.addr,
                region: region_of(stack, &set.addr),
                template,
                params: set_params,
            });
            continue;
        }
        for instance in instances {
            let mut params = set_params.clone();
            params.extend(known_params(instance.inputs.get("parameter_overrides")));
            out.push(Deployment {
                addr: &instance.addr,
                region: region_of(stack, &instance.addr),
                template: template.clone(),
                params,
            });
        }
    }
    for single in decls
        .iter()
        .filter(|d| d.addr.kind() == kinds::CLOUDFORMATION_STACK)
    {
        if let Some(template) = template_of(single) {
            out.push(Deployment {
                addr: &single.addr,
                region: region_of(stack, &single.addr),
                template,
                params: known_params(single.inputs.get("parameters")),
            });
        }
    }
    out
}

fn template_of(decl: &ResourceDecl) -> Option<Json> {
    let body = decl.inputs.get("template_body")?.as_str()?;
    serde_json::from_str::<Json>(body)
        .ok()
        .filter(Json::is_object)
}

/// Whether `instance` is an instance of stack set `set`: its `stack_set_name` refers to the set,
/// or names it.
fn instance_of(instance: &ResourceDecl, set: &ResourceDecl) -> bool {
    match instance.inputs.get("stack_set_name") {
        Some(Value::Ref(r)) => r.addr == set.addr,
        Some(Value::String(name)) => {
            set.inputs.get("stack_set_name").and_then(Value::as_str) == Some(name)
        }
        _ => false,
    }
}

fn known_params(value: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Map(m)) = value else {
        return BTreeMap::new();
    };
    m.iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Int(i) => Some((k.clone(), i.to_string())),
            Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect()
}

impl Deployment<'_> {
    /// The template's resources that this deployment creates (those whose condition is not
    /// false), by logical id, in the template's order.
    pub(crate) fn resources(&self) -> Vec<(&str, &Json)> {
        let Some(Json::Object(resources)) = self.template.get("Resources") else {
            return Vec::new();
        };
        resources
            .iter()
            .filter(|(_, r)| match r.get("Condition").and_then(Json::as_str) {
                Some(c) => self.condition(c, 0) != Some(false),
                None => true,
            })
            .map(|(id, r)| (id.as_str(), r))
            .collect()
    }

    /// The resources of type `ty`.
    pub(crate) fn resources_of(&self, ty: &str) -> Vec<(&str, &Json)> {
        self.resources()
            .into_iter()
            .filter(|(_, r)| r.get("Type").and_then(Json::as_str) == Some(ty))
            .collect()
    }

    /// The type of resource `logical_id`, if the template declares it.
    pub(crate) fn type_of(&self, logical_id: &str) -> Option<&str> {
        self.template
            .get("Resources")?
            .get(logical_id)?
            .get("Type")?
            .as_str()
    }

    /// The values property `name` of `resource` may take here: `None` for absent (or
    /// `AWS::NoValue`); several when an `Fn::If` cannot be resolved.
    pub(crate) fn property<'j>(&self, resource: &'j Json, name: &str) -> Vec<Option<&'j Json>> {
        match resource.get("Properties").and_then(|p| p.get(name)) {
            None => vec![None],
            Some(v) => self.variants(v),
        }
    }

    /// The values `value` may take: an `Fn::If` resolved (both branches when its condition is
    /// unknown), `{"Ref": "AWS::NoValue"}` as absent.
    pub(crate) fn variants<'j>(&self, value: &'j Json) -> Vec<Option<&'j Json>> {
        if let Some(Json::Array(args)) = value.get("Fn::If")
            && let [Json::String(cond), then, otherwise] = args.as_slice()
        {
            return match self.condition(cond, 0) {
                Some(true) => self.variants(then),
                Some(false) => self.variants(otherwise),
                None => {
                    let mut both = self.variants(then);
                    both.extend(self.variants(otherwise));
                    both
                }
            };
        }
        if value.get("Ref").and_then(Json::as_str) == Some("AWS::NoValue") {
            return vec![None];
        }
        vec![Some(value)]
    }

    /// A scalar's value here: a literal, or a `Ref` to a parameter or pseudo parameter.
    pub(crate) fn scalar(&self, value: &Json) -> Option<String> {
        match value {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            Json::Bool(b) => Some(b.to_string()),
            Json::Object(o) if o.len() == 1 => self.param(o.get("Ref")?.as_str()?),
            _ => None,
        }
    }

    /// A parameter's value: given, else its default; the region's pseudo parameters.
    fn param(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Region" => return Some(self.region.clone()),
            "AWS::Partition" => {
                return Some(tandem_schema::regions::partition(&self.region).to_string());
            }
            _ => {}
        }
        if let Some(v) = self.params.get(name) {
            return Some(v.clone());
        }
        let default = self.template.get("Parameters")?.get(name)?.get("Default")?;
        self.scalar(default)
    }

    /// A named condition's value, if it can be known (`depth` guards against cycles).
    fn condition(&self, name: &str, depth: usize) -> Option<bool> {
        let expr = self.template.get("Conditions")?.get(name)?;
        self.boolean(expr, depth + 1)
    }

    fn boolean(&self, expr: &Json, depth: usize) -> Option<bool> {
        if depth > 32 {
            return None;
        }
        let Json::Object(o) = expr else {
            return None;
        };
        let (f, args) = o.iter().next()?;
        let list = || args.as_array().map(Vec::as_slice).unwrap_or_default();
        match f.as_str() {
            "Condition" => self.condition(args.as_str()?, depth),
            "Fn::Equals" => match list() {
                [a, b] => Some(self.scalar(a)? == self.scalar(b)?),
                _ => None,
            },
            "Fn::Not" => match list() {
                [a] => self.boolean(a, depth + 1).map(|b| !b),
                _ => None,
            },
            "Fn::And" | "Fn::Or" => {
                let all = f == "Fn::And";
                let values: Vec<Option<bool>> =
                    list().iter().map(|a| self.boolean(a, depth + 1)).collect();
                // And: one false decides; Or: one true decides; else all must be known.
                if values.contains(&Some(!all)) {
                    Some(!all)
                } else if values.iter().all(Option::is_some) {
                    Some(all)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// A list property's items, or the one item it is.
pub(crate) fn items(value: &Json) -> Vec<&Json> {
    match value {
        Json::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// The text of a string or of an `Fn::Sub` (its template string).
pub(crate) fn text_of(value: &Json) -> Option<&str> {
    match value {
        Json::String(s) => Some(s),
        Json::Object(o) => match o.get("Fn::Sub")? {
            Json::String(s) => Some(s),
            Json::Array(a) => a.first()?.as_str(),
            _ => None,
        },
        _ => None,
    }
}
