//! The text preview: what `tandem plan` prints, for each environment.

use tandem_engine::Plan;
use tandem_policy::Report;

use crate::render;

/// The human plan of each environment, as `tandem plan` prints it (with its policy section when
/// `policies` has the environment's report); without colour codes unless `colour`.
pub fn text(plans: &[Plan], policies: &[Report], colour: bool) -> String {
    let mut out = String::new();
    for (i, plan) in plans.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&render::plan_text(plan));
        if let Some(report) = policies.get(i) {
            out.push('\n');
            out.push_str(&render::policy::policy_text(report));
        }
    }
    if colour {
        out
    } else {
        console::strip_ansi_codes(&out).into_owned()
    }
}
