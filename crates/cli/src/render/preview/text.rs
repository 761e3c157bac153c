//! The text preview: what `tandem plan` prints, for each environment.

use tandem_engine::Plan;

use crate::render;

/// The human plan of each environment, as `tandem plan` prints it; without colour codes unless
/// `colour`.
pub fn text(plans: &[Plan], colour: bool) -> String {
    let mut out = String::new();
    for (i, plan) in plans.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&render::plan_text(plan));
    }
    if colour {
        out
    } else {
        console::strip_ansi_codes(&out).into_owned()
    }
}
