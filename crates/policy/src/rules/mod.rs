//! The rules of the pack, and the collection of their findings.
//!
//! Each module checks one area: `data` the databases, `storage` the buckets (declared and in
//! templates), `dns` the failover records and health checks, `templates` what only templates
//! declare (log groups, IAM, load balancer listeners), `secrets` the databases' credentials.

mod data;
mod dns;
mod secrets;
mod storage;
mod templates;

#[cfg(test)]
pub(crate) use templates::min_tls_minor;

use tandem_core::{DesiredStack, ResourceAddr};

use crate::{Context, Finding, Rule, Severity};

const fn def(id: &'static str, severity: Severity, title: &'static str) -> Rule {
    Rule {
        id,
        severity,
        title,
    }
}

use Severity::{Advisory, Mandatory};

/// Every rule of the pack, by id.
pub static RULES: &[Rule] = &[
    def(
        "TP001",
        Mandatory,
        "databases are encrypted at rest with a KMS key of their own region",
    ),
    def(
        "TP002",
        Mandatory,
        "buckets are encrypted with SSE-KMS with a key of their own region",
    ),
    def(
        "TP003",
        Mandatory,
        "log groups are encrypted with a KMS key of their own region",
    ),
    def(
        "TP004",
        Mandatory,
        "buckets refuse requests that do not use TLS",
    ),
    def("TP005", Mandatory, "buckets block public access"),
    def("TP006", Mandatory, "databases are not publicly accessible"),
    def(
        "TP007",
        Mandatory,
        "databases are placed in the stack's VPC (a DB subnet group)",
    ),
    def(
        "TP008",
        Mandatory,
        "databases keep automated backups for at least 7 days",
    ),
    def(
        "TP009",
        Mandatory,
        "a protected environment protects its stateful resources from deletion",
    ),
    def(
        "TP010",
        Advisory,
        "a protected environment turns on RDS deletion protection",
    ),
    def(
        "TP011",
        Mandatory,
        "every failover record has a health check of the region it points to",
    ),
    def(
        "TP012",
        Mandatory,
        "every region of the environment has a health check",
    ),
    def(
        "TP013",
        Mandatory,
        "no IAM statement allows every action on every resource",
    ),
    def(
        "TP014",
        Advisory,
        "no role is given the AdministratorAccess managed policy",
    ),
    def(
        "TP015",
        Mandatory,
        "load balancer listeners serve TLS 1.2 or later; HTTP only redirects to HTTPS",
    ),
    def(
        "TP016",
        Mandatory,
        "database secrets and each of their replicas are encrypted with a KMS key of their own region",
    ),
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Where a finding is: the resource, its region, and what inside it.
pub(crate) struct At<'a> {
    pub(crate) addr: &'a ResourceAddr,
    pub(crate) region: String,
    pub(crate) subject: Option<String>,
}

impl<'a> At<'a> {
    pub(crate) fn new(addr: &'a ResourceAddr, region: impl Into<String>) -> At<'a> {
        At {
            addr,
            region: region.into(),
            subject: None,
        }
    }

    pub(crate) fn subject(mut self, subject: impl Into<String>) -> At<'a> {
        self.subject = Some(subject.into());
        self
    }
}

/// What the checks share: the stack, the context, the findings so far.
pub(crate) struct Cx<'a> {
    pub(crate) stack: &'a DesiredStack,
    pub(crate) ctx: &'a Context,
    findings: Vec<Finding>,
}

impl Cx<'_> {
    /// A finding of rule `id` at its rule's severity.
    pub(crate) fn report(&mut self, id: &str, at: At<'_>, message: String, fix: &str) {
        let rule = rule(id).expect("a rule of the pack");
        self.report_as(id, rule.severity, at, message, fix);
    }

    /// A finding of rule `id` at `severity` (lower than the rule's where the context allows it).
    pub(crate) fn report_as(
        &mut self,
        id: &str,
        severity: Severity,
        at: At<'_>,
        message: String,
        fix: &str,
    ) {
        let rule = rule(id).expect("a rule of the pack");
        self.findings.push(Finding {
            rule,
            severity,
            addr: at.addr.clone(),
            region: at.region,
            subject: at.subject,
            message,
            fix: fix.to_string(),
            suppressed: None,
        });
    }
}

/// Every finding of every rule, unsorted.
pub(crate) fn check_all(stack: &DesiredStack, ctx: &Context) -> Vec<Finding> {
    let mut cx = Cx {
        stack,
        ctx,
        findings: Vec::new(),
    };
    data::check(&mut cx);
    secrets::check(&mut cx);
    storage::check(&mut cx);
    dns::check(&mut cx);
    for deployment in crate::template::deployments(stack) {
        storage::check_template(&mut cx, &deployment);
        templates::check(&mut cx, &deployment);
    }
    cx.findings
}
