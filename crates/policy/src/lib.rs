//! The policy pack: rules every desired stack is held to before it is applied.
//!
//! The principal function is [`evaluate`]: it judges a whole [`tandem_core::DesiredStack`] — every
//! declared resource with its inputs, and the CloudFormation templates that stack sets and stacks
//! declare (parsed as JSON, evaluated per stack instance with that instance's parameters, so that
//! a template's conditions and `Fn::If` resolve as they will in that region) — in a [`Context`]
//! (the environment's name and regions, whether it protects stateful resources, whether it serves
//! HTTP only), and returns a [`Report`] of [`Finding`]s. Each finding names its [`Rule`] (a stable
//! id such as `TP001`), its [`Severity`], the resource address and region, what is wrong and the
//! fix. [`RULES`] lists the pack.
//!
//! A [`Severity::Mandatory`] finding blocks `apply` and `deploy`; an [`Severity::Advisory`] one
//! warns. An environment may accept a finding with a [`Suppression`] (a rule, a reason, and
//! optionally an address or glob): a suppressed finding is still reported, with its reason, but
//! blocks nothing.
//!
//! # Invariants
//! Pure: no I/O, no AWS SDK, no async, no terminal. Deterministic: findings are ordered — those
//! that block, those that warn, those suppressed — then by rule, address and subject. A value the pack cannot judge before apply (an unknown, a
//! reference it cannot place) fails a mandatory check rather than passing it.
//!
//! # What the pack does not do
//! It decides nothing about how findings are shown or which exit code they give (the CLI renders
//! the report and maps a blocking one to its exit code), and it reads nothing but the desired
//! stack: it does not judge what is deployed.

mod glob;
mod rules;
mod template;
mod values;

use std::fmt;

use tandem_core::{DesiredStack, ResourceAddr};

pub use glob::glob_match;
pub use rules::{RULES, rule};

/// How much a finding weighs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Reported; blocks nothing.
    Advisory,
    /// Blocks `apply` and `deploy` unless suppressed.
    Mandatory,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Advisory => "advisory",
            Severity::Mandatory => "mandatory",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule of the pack.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable: `TP` and three digits. Suppressions and CI name it.
    pub id: &'static str,
    /// The severity of its findings (a rule may lower one where the context says so: see
    /// [`Finding::severity`]).
    pub severity: Severity,
    /// What it requires, in a few words.
    pub title: &'static str,
}

/// What the pack knows of the environment besides the stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The environment's name.
    pub env: String,
    /// The environment's regions, primary first.
    pub regions: Vec<String>,
    /// The environment protects its stateful resources (databases, buckets, hosted zone).
    pub protect_stateful: bool,
    /// The environment serves HTTP only (the local cloud, which has no certificates).
    pub http_only: bool,
}

/// An accepted finding: the rule, why it is accepted, and optionally which resources (an address,
/// or a glob over addresses with `*` and `?`; every resource when absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    pub rule: String,
    pub reason: String,
    pub resource: Option<String>,
}

impl Suppression {
    /// Whether this suppression accepts `finding`.
    pub fn matches(&self, finding: &Finding) -> bool {
        self.rule == finding.rule.id
            && self
                .resource
                .as_deref()
                .is_none_or(|pattern| glob_match(pattern, finding.addr.as_str()))
    }
}

/// One rule broken by one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static Rule,
    /// The rule's severity, or lower where the context allows it (an HTTP listener in an
    /// `http_only` environment is advisory); the message then says why.
    pub severity: Severity,
    /// The resource at fault: for a template's resource, the stack instance (or stack) that
    /// deploys it, so that each region's deployment is named.
    pub addr: ResourceAddr,
    /// The region the finding is about: the resource's, or for a global resource the region it
    /// serves or is operated from.
    pub region: String,
    /// What inside the resource: a template's logical id, a record's set identifier.
    pub subject: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// The reason of the suppression that accepts it, if one does.
    pub suppressed: Option<String>,
}

impl Finding {
    /// Whether this finding blocks `apply`: mandatory and not suppressed.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Mandatory && self.suppressed.is_none()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) {} in {}",
            self.rule.id, self.severity, self.addr, self.region
        )?;
        if let Some(s) = &self.subject {
            write!(f, " [{s}]")?;
        }
        write!(f, ": {}; fix: {}", self.message, self.fix)
    }
}

/// What the pack found in one stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Those that block first, then advisory ones, then suppressed ones; each by rule, address
    /// and subject.
    pub findings: Vec<Finding>,
    /// Suppressions that accepted no finding (stale, or a typo in `resource`).
    pub unused_suppressions: Vec<Suppression>,
}

impl Report {
    /// The findings that block `apply`.
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.blocks())
    }

    pub fn is_blocking(&self) -> bool {
        self.blocking().next().is_some()
    }

    /// Counts: (mandatory not suppressed, advisory not suppressed, suppressed).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for f in &self.findings {
            match (f.suppressed.is_some(), f.severity) {
                (true, _) => c.2 += 1,
                (false, Severity::Mandatory) => c.0 += 1,
                (false, Severity::Advisory) => c.1 += 1,
            }
        }
        c
    }
}

/// Judges `stack` in `context` against every rule of the pack; `suppressions` mark the findings
/// the environment accepts.
pub fn evaluate(stack: &DesiredStack, context: &Context, suppressions: &[Suppression]) -> Report {
    let mut findings = rules::check_all(stack, context);
    let mut used = vec![false; suppressions.len()];
    for f in &mut findings {
        if let Some(i) = suppressions.iter().position(|s| s.matches(f)) {
            used[i] = true;
            f.suppressed = Some(suppressions[i].reason.clone());
        }
    }
    // What blocks first, then what warns, then what is accepted.
    let rank = |f: &Finding| match (f.suppressed.is_some(), f.severity) {
        (false, Severity::Mandatory) => 0,
        (false, Severity::Advisory) => 1,
        (true, _) => 2,
    };
    findings.sort_by(|a, b| {
        (rank(a), a.rule.id, &a.addr, &a.subject, &a.message).cmp(&(
            rank(b),
            b.rule.id,
            &b.addr,
            &b.subject,
            &b.message,
        ))
    });
    findings.dedup();
    let unused_suppressions = suppressions
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(s, _)| s.clone())
        .collect();
    Report {
        findings,
        unused_suppressions,
    }
}

#[cfg(test)]
mod tests;
