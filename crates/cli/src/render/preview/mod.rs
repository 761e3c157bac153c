//! Pull-request previews: the plans of one or several environments as one document, in Markdown
//! (a pull-request comment), JSON (a stable, versioned schema) or text (what `plan` prints).
//!
//! Every renderer is a pure function of the plans and of the policy pack's report on each
//! environment (`policies[i]` for `plans[i]`; none given, none shown): no clock, no environment,
//! no I/O. Equal inputs give byte-identical documents, so a CI job can tell whether its comment
//! needs updating.
//!
//! # The Markdown comment
//! In order: a hidden [`MARKER`](markdown::MARKER) (a CI job finds its one comment by it and updates it in place);
//! the summary table (counts per action, per environment and region); the policy pack's counts per
//! environment and a `[!CAUTION]` banner of the findings that block `apply`; the banners — `[!CAUTION]`
//! when a stateful resource (database, replica, bucket, hosted zone) is deleted or replaced,
//! `[!WARNING]` for any other delete or replacement, each entry with its replace reasons, and a
//! `[!NOTE]` when resources drifted; then each environment's policy findings (open when one
//! blocks); then one collapsed `<details>` per environment and region with a
//! ```` ```diff ```` block; then "Changes outside Tandem (drift)". Secrets show as `(secret)`.
//!
//! A comment never exceeds [`GITHUB_COMMENT_LIMIT`](markdown::GITHUB_COMMENT_LIMIT): when the whole document is longer, the details
//! are cut (the last region first, then the policy findings, then the drift details), the last one kept partly when it
//! fits, and a note under the banners names what was cut. The marker, the summary and the banners
//! are never cut.

mod diff;
mod fit;
mod json;
mod markdown;
mod policy;
mod stateful;
mod text;

pub use json::json;
pub use markdown::markdown;
#[cfg(test)]
use markdown::{GITHUB_COMMENT_LIMIT, MARKER, markdown_within};
pub use text::text;

#[cfg(test)]
mod tests;
