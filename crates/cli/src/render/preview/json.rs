//! The JSON preview: a stable, versioned schema.

use serde_json::{Value as Json, json};
use tandem_engine::{Plan, Summary};
use tandem_policy::Report;

use super::stateful::is_stateful;
use crate::render;

/// The version of the preview JSON schema (`preview --format json`). Bumped on incompatible changes.
pub const PREVIEW_JSON_VERSION: u32 = 1;

/// The preview as JSON (schema in the README, "Preview JSON"):
///
/// ```text
/// { "format_version": 1, "kind": "tandem-preview",
///   "summary": { create, update, replace, delete, unchanged, drifted,     // all environments
///                policy: { blocking, advisory, suppressed } },
///   "environments": [ PLAN_JSON + { "drifted", "policy" } ] }
/// ```
/// Each environment is the `plan --json` document ([`render::plan_json`]) with, on every step,
/// `stateful`, `old` (the recorded inputs, or null) and `new` (the planned inputs, or null), on
/// every drift entry its `region`, and its `policy` array (as `plan --json` has it) when
/// `policies` has its report. Secrets are masked everywhere as `{"$secret": "masked"}`.
pub fn json(plans: &[Plan], policies: &[Report]) -> Json {
    let mut total = Summary::default();
    let mut drifted = 0;
    for p in plans {
        let s = p.summary();
        total.create += s.create;
        total.update += s.update;
        total.replace += s.replace;
        total.delete += s.delete;
        total.unchanged += s.unchanged;
        drifted += p.drift.len();
    }
    let mut doc = json!({
        "format_version": PREVIEW_JSON_VERSION,
        "kind": "tandem-preview",
        "summary": {
            "create": total.create, "update": total.update, "replace": total.replace,
            "delete": total.delete, "unchanged": total.unchanged, "drifted": drifted,
        },
        "environments": plans.iter().enumerate().map(|(i, p)| {
            let mut env = environment_json(p);
            if let Some(report) = policies.get(i) {
                env["policy"] = render::policy::policy_json(report);
            }
            env
        }).collect::<Vec<_>>(),
    });
    if !policies.is_empty() {
        let (mut blocking, mut advisory, mut suppressed) = (0, 0, 0);
        for r in policies {
            let (b, a, s) = r.counts();
            (blocking, advisory, suppressed) = (blocking + b, advisory + a, suppressed + s);
        }
        doc["summary"]["policy"] =
            json!({"blocking": blocking, "advisory": advisory, "suppressed": suppressed});
    }
    mask_secrets(&mut doc);
    doc
}

fn environment_json(plan: &Plan) -> Json {
    let mut doc = render::plan_json(plan);
    if let Some(waves) = doc.get_mut("waves").and_then(Json::as_array_mut) {
        for (wave_json, wave) in waves.iter_mut().zip(&plan.waves) {
            let Some(steps) = wave_json.get_mut("steps").and_then(Json::as_array_mut) else {
                continue;
            };
            for (step, change) in steps.iter_mut().zip(&wave.changes) {
                let Some(step) = step.as_object_mut() else {
                    continue;
                };
                let old = change
                    .prior
                    .as_ref()
                    .map_or(Json::Null, |p| tandem_core::props_to_json(&p.inputs));
                let new = change
                    .inputs
                    .as_ref()
                    .map_or(Json::Null, tandem_core::props_to_json);
                step.insert("stateful".into(), is_stateful(change.addr.kind()).into());
                step.insert("old".into(), old);
                step.insert("new".into(), new);
            }
        }
    }
    if let Some(drift) = doc.get_mut("drift").and_then(Json::as_array_mut) {
        for (entry, d) in drift.iter_mut().zip(&plan.drift) {
            if let Some(entry) = entry.as_object_mut() {
                entry.insert("region".into(), d.addr.region_str().into());
            }
        }
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("drifted".into(), plan.drift.len().into());
    }
    doc
}

/// Replaces every `{"$secret": DIGEST}` by `{"$secret": "masked"}`: a digest of a short secret can
/// be guessed, and a preview is posted where many can read it.
fn mask_secrets(j: &mut Json) {
    match j {
        Json::Object(o) => {
            if o.len() == 1 && o.contains_key("$secret") {
                o.insert("$secret".into(), Json::String("masked".into()));
                return;
            }
            o.values_mut().for_each(mask_secrets);
        }
        Json::Array(a) => a.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}
