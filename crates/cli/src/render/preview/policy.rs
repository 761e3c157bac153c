//! The policy pack's findings in the Markdown comment: one line of counts per environment and a
//! `[!CAUTION]` banner of the findings that block `apply` (in the head, never cut). The section of
//! each environment's findings is `markdown`'s, built like the others.

use std::fmt::Write;

use tandem_engine::Plan;
use tandem_policy::{RULES, Report};

use crate::render::policy::counts_text;

/// At most this many entries in the banner; the rest are counted.
const BANNER_MAX_ENTRIES: usize = 50;

/// The counts of each environment, and the banner of blocking findings; empty without reports.
pub(super) fn head(plans: &[Plan], policies: &[Report]) -> String {
    if policies.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let counts: Vec<String> = plans
        .iter()
        .zip(policies)
        .map(|(p, r)| format!("`{}`: {}", p.env, counts_text(r)))
        .collect();
    let _ = writeln!(
        out,
        "**Policy** ({} rules) · {}\n",
        RULES.len(),
        counts.join(" · ")
    );
    let blocking: Vec<String> = plans
        .iter()
        .zip(policies)
        .flat_map(|(p, r)| {
            r.blocking().map(move |f| {
                format!(
                    "> - `{}` · **{}** `{}` ({}): {}\n",
                    p.env, f.rule.id, f.addr, f.region, f.message
                )
            })
        })
        .collect();
    if blocking.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "> [!CAUTION]\n> **Policy: {} mandatory finding(s): `tandem apply` refuses (exit 9) until \
         each is fixed, or suppressed with a reason in the environment's `[policy]` section.**",
        blocking.len()
    );
    for entry in blocking.iter().take(BANNER_MAX_ENTRIES) {
        out.push_str(entry);
    }
    if blocking.len() > BANNER_MAX_ENTRIES {
        let _ = writeln!(
            out,
            "> - … and {} more (listed in the details below)",
            blocking.len() - BANNER_MAX_ENTRIES
        );
    }
    out.push('\n');
    out
}
