//! What only templates declare: log groups (TP003), IAM roles and policies (TP013, TP014) and
//! load balancer listeners (TP015). Each finding names the deployment (stack instance or stack)
//! and its region, and the template's logical id.

use serde_json::Value as Json;

use super::{At, Cx};
use crate::Severity;
use crate::template::{Deployment, items, text_of};
use crate::values::{KeyPlace, key_place_of_text};

pub(super) fn check(cx: &mut Cx<'_>, d: &Deployment<'_>) {
    log_groups(cx, d);
    iam(cx, d);
    listeners(cx, d);
}

/// What is wrong with a key a template names (`None`: a key of the template's region): the
/// template's own `AWS::KMS::Key` (or alias) by `Ref` or `Fn::GetAtt`, a parameter, or a literal.
pub(super) fn judge_template_key(d: &Deployment<'_>, key: Option<&Json>) -> Option<String> {
    let Some(key) = key else {
        return Some("is not set".into());
    };
    let own_key = |id: &str| {
        matches!(
            d.type_of(id),
            Some("AWS::KMS::Key" | "AWS::KMS::ReplicaKey" | "AWS::KMS::Alias")
        )
    };
    let target = key
        .get("Fn::GetAtt")
        .and_then(|a| a.get(0))
        .or_else(|| key.get("Ref"))
        .and_then(Json::as_str);
    if target.is_some_and(own_key) {
        return None;
    }
    let Some(text) = d.scalar(key) else {
        return Some(format!(
            "cannot be judged: {key} is neither the template's own key nor a known value"
        ));
    };
    match key_place_of_text(&text) {
        place if place.is_in(&d.region) => None,
        KeyPlace::Region(other) => Some(format!(
            "is a key of {other}, not of the template's region {}",
            d.region
        )),
        KeyPlace::Missing => Some("is empty".into()),
        KeyPlace::Unverifiable(why) => Some(format!("cannot be judged: {why}")),
        KeyPlace::CallersRegion => None,
    }
}

/// TP003: every log group encrypted with a key of its region.
fn log_groups(cx: &mut Cx<'_>, d: &Deployment<'_>) {
    for (id, group) in d.resources_of("AWS::Logs::LogGroup") {
        for key in d.property(group, "KmsKeyId") {
            if let Some(why) = judge_template_key(d, key) {
                cx.report(
                    "TP003",
                    At::new(d.addr, d.region.clone()).subject(id),
                    format!("log group {id}: `KmsKeyId` {why}"),
                    "set the log group's `KmsKeyId` to the template's KMS key \
                     (`Fn::GetAtt [KmsKey, Arn]`), and let the key policy allow the service \
                     principal `logs.<region>.amazonaws.com`",
                );
            }
        }
    }
}

/// The policy documents of an IAM resource, each with a name for messages.
fn policy_documents<'j>(d: &Deployment<'_>, resource: &'j Json) -> Vec<(String, &'j Json)> {
    let mut out = Vec::new();
    for doc in d.property(resource, "PolicyDocument").into_iter().flatten() {
        out.push(("its policy".to_string(), doc));
    }
    for policies in d.property(resource, "Policies").into_iter().flatten() {
        for p in items(policies) {
            if let Some(doc) = p.get("PolicyDocument") {
                let name = p.get("PolicyName").and_then(Json::as_str).unwrap_or("?");
                out.push((format!("policy {name}"), doc));
            }
        }
    }
    out
}

fn has_star(value: Option<&Json>) -> bool {
    value.is_some_and(|v| items(v).iter().any(|a| a.as_str() == Some("*")))
}

/// TP013 (an Allow of `*` on `*` in an inline or managed policy) and TP014 (the
/// AdministratorAccess managed policy).
fn iam(cx: &mut Cx<'_>, d: &Deployment<'_>) {
    for (id, resource) in d.resources() {
        let ty = resource.get("Type").and_then(Json::as_str).unwrap_or("");
        if !ty.starts_with("AWS::IAM::") {
            continue;
        }
        let at = || At::new(d.addr, d.region.clone()).subject(id);
        for (name, doc) in policy_documents(d, resource) {
            let statements = doc.get("Statement").map(items).unwrap_or_default();
            for s in statements {
                if s.get("Effect").and_then(Json::as_str) == Some("Allow")
                    && has_star(s.get("Action"))
                    && has_star(s.get("Resource"))
                {
                    let sid = s
                        .get("Sid")
                        .and_then(Json::as_str)
                        .map(|s| format!(" (statement {s})"))
                        .unwrap_or_default();
                    cx.report(
                        "TP013",
                        at(),
                        format!(
                            "{ty} {id}: {name}{sid} allows `Action: \"*\"` on `Resource: \"*\"`"
                        ),
                        "name the actions and the resources the principal needs",
                    );
                }
            }
        }
        for arns in d
            .property(resource, "ManagedPolicyArns")
            .into_iter()
            .flatten()
        {
            let admin = items(arns)
                .into_iter()
                .filter_map(text_of)
                .any(|arn| arn.ends_with(":policy/AdministratorAccess"));
            if admin {
                cx.report(
                    "TP014",
                    at(),
                    format!(
                        "{ty} {id} is given the AdministratorAccess managed policy: every action \
                         on every resource"
                    ),
                    "give it a policy naming the services and resources it manages",
                );
            }
        }
    }
}

/// The lowest TLS version a predefined Elastic Load Balancing security policy accepts, as the
/// minor version of TLS 1.x: its name says it (`ELBSecurityPolicy-TLS13-1-2-2021-06`,
/// `ELBSecurityPolicy-TLS-1-2-2017-01`, `ELBSecurityPolicy-FS-1-2-Res-2020-10`); the policies
/// whose names say no version (`ELBSecurityPolicy-2016-08`, `-FS-2018-06`) accept TLS 1.0.
pub(crate) fn min_tls_minor(policy: &str) -> Option<u8> {
    let rest = policy.strip_prefix("ELBSecurityPolicy-")?;
    for prefix in ["TLS13-1-", "TLS-1-", "FS-1-"] {
        if let Some(v) = rest.strip_prefix(prefix) {
            return v.split('-').next()?.parse().ok();
        }
    }
    Some(0)
}

/// TP015: an HTTPS (or TLS) listener on a TLS 1.2+ policy; an HTTP listener only redirecting to
/// HTTPS — advisory in an `http_only` environment, which has no certificate to serve HTTPS with.
fn listeners(cx: &mut Cx<'_>, d: &Deployment<'_>) {
    for (id, listener) in d.resources_of("AWS::ElasticLoadBalancingV2::Listener") {
        let at = || At::new(d.addr, d.region.clone()).subject(id);
        let protocols: Vec<Option<String>> = d
            .property(listener, "Protocol")
            .into_iter()
            .map(|p| p.and_then(|p| d.scalar(p)))
            .collect();
        for protocol in protocols {
            match protocol.as_deref() {
                Some("HTTPS" | "TLS") => {
                    for policy in d.property(listener, "SslPolicy") {
                        let name = policy.and_then(|p| d.scalar(p));
                        let problem = match name.as_deref().map(|n| (n, min_tls_minor(n))) {
                            Some((_, Some(minor))) if minor >= 2 => continue,
                            None => "has no `SslPolicy`: Elastic Load Balancing picks its \
                                     default, which the template does not control"
                                .to_string(),
                            Some((n, Some(minor))) => {
                                format!("uses `SslPolicy` {n}, which accepts TLS 1.{minor}")
                            }
                            Some((n, None)) => format!(
                                "uses `SslPolicy` {n}, which is not a predefined policy the pack \
                                 knows the TLS versions of"
                            ),
                        };
                        cx.report(
                            "TP015",
                            at(),
                            format!("listener {id} {problem}"),
                            "set `SslPolicy` to a TLS 1.2+ policy, such as \
                             `ELBSecurityPolicy-TLS13-1-2-2021-06`",
                        );
                    }
                }
                Some("HTTP") => {
                    for actions in d.property(listener, "DefaultActions") {
                        let actions = actions.map(items).unwrap_or_default();
                        let redirects = !actions.is_empty()
                            && actions.iter().all(|a| {
                                a.get("Type").and_then(|t| d.scalar(t)).as_deref()
                                    == Some("redirect")
                                    && a.get("RedirectConfig")
                                        .and_then(|c| c.get("Protocol"))
                                        .and_then(|p| d.scalar(p))
                                        .as_deref()
                                        == Some("HTTPS")
                            });
                        if redirects {
                            continue;
                        }
                        let (severity, note) = if cx.ctx.http_only {
                            (
                                Severity::Advisory,
                                " (advisory: the environment is `http_only`)",
                            )
                        } else {
                            (Severity::Mandatory, "")
                        };
                        cx.report_as(
                            "TP015",
                            severity,
                            at(),
                            format!(
                                "listener {id} serves plain HTTP instead of redirecting to \
                                 HTTPS{note}"
                            ),
                            "make the HTTP listener's default action a redirect to HTTPS (port \
                             443, `HTTP_301`)",
                        );
                    }
                }
                _ => {}
            }
        }
    }
}
