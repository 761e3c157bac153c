//! The posture: which region is active, and the history of failovers and failbacks. It is kept
//! with the stack's state (the `posture` extension) and read by the stack program, so that after a
//! failover the desired graph already describes the failed-over world and a plain plan is clean.

use serde::{Deserialize, Serialize};
use tandem_engine::State;

/// The key of the posture in the state's extensions.
pub const POSTURE_KEY: &str = "posture";

/// What happened, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureEvent {
    /// `failover` or `failback`.
    pub kind: String,
    pub from: String,
    pub to: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub at: String,
    /// Part of a drill rather than a real incident.
    #[serde(default)]
    pub drill: bool,
}

/// A change the failover could not make because its region (or Route 53's control plane) did not
/// answer; a later `tandem failover --resume` completes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    pub addr: String,
    pub why: String,
}

/// The active/standby roles of a stack's two regions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posture {
    pub active_region: String,
    pub standby_region: String,
    /// Incremented by each failover and failback: names the database generation.
    pub generation: u32,
    #[serde(default)]
    pub history: Vec<PostureEvent>,
    #[serde(default)]
    pub deferred: Vec<Deferred>,
}

impl Posture {
    /// The initial posture: the environment's primary is active.
    pub fn initial(primary: &str, secondary: &str) -> Posture {
        Posture {
            active_region: primary.to_string(),
            standby_region: secondary.to_string(),
            generation: 0,
            history: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// The posture recorded in `state`, or the initial one.
    pub fn of(state: &State, primary: &str, secondary: &str) -> Result<Posture, String> {
        match state.extensions.get(POSTURE_KEY) {
            None => Ok(Posture::initial(primary, secondary)),
            Some(j) => serde_json::from_value(j.clone())
                .map_err(|e| format!("the recorded posture is unreadable: {e}")),
        }
    }

    pub fn store(&self, state: &mut State) {
        state.extensions.insert(
            POSTURE_KEY.to_string(),
            serde_json::to_value(self).expect("posture serializes"),
        );
    }

    /// Whether the active region is the environment's primary.
    pub fn is_failed_over(&self, primary: &str) -> bool {
        self.active_region != primary
    }
}
