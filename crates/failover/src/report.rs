//! The typed reports the library returns; rendering them is the CLI's job.

use std::fmt;

use tandem_posture::{ControlPlane, Phase};

use crate::signals::{LagSample, Reading, Source};

/// How a phase ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhaseOutcome {
    Done {
        changes: usize,
    },
    NothingToDo,
    /// A run killed earlier had completed it.
    DoneBefore,
    /// Every change waits for a control plane that does not answer.
    Deferred {
        waits_for: ControlPlane,
        changes: usize,
    },
    /// Some changes applied; others wait for a control plane that does not answer.
    PartlyDeferred {
        applied: usize,
        waits_for: ControlPlane,
        changes: usize,
    },
    /// The phase could not be made (the DNS phase when Route 53 refuses): deferred, with why.
    DeferredAfterFailure {
        waits_for: ControlPlane,
        error: String,
    },
}

impl PhaseOutcome {
    /// Whether the phase left nothing for later.
    pub fn is_complete(&self) -> bool {
        matches!(
            self,
            PhaseOutcome::Done { .. } | PhaseOutcome::NothingToDo | PhaseOutcome::DoneBefore
        )
    }
}

impl fmt::Display for PhaseOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhaseOutcome::Done { changes } => write!(f, "done ({changes} change(s))"),
            PhaseOutcome::NothingToDo => f.write_str("nothing to do"),
            PhaseOutcome::DoneBefore => f.write_str("done before (by the interrupted run)"),
            PhaseOutcome::Deferred { waits_for, changes } => {
                write!(f, "deferred: {changes} change(s) wait for {waits_for}")
            }
            PhaseOutcome::PartlyDeferred {
                applied,
                waits_for,
                changes,
            } => write!(
                f,
                "{applied} change(s) done; deferred: {changes} wait for {waits_for}"
            ),
            PhaseOutcome::DeferredAfterFailure { waits_for, error } => {
                write!(f, "deferred (waits for {waits_for}): {error}")
            }
        }
    }
}

/// How one phase went.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseReport {
    pub phase: Phase,
    /// Seconds since the epoch, with milliseconds.
    pub started: f64,
    pub finished: f64,
    pub outcome: PhaseOutcome,
}

impl PhaseReport {
    pub fn seconds(&self) -> f64 {
        self.finished - self.started
    }
}

/// What a check concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    /// The cloud cannot tell here (the local emulator's bookkeeping, say): never "passed".
    NotVerifiable(String),
    /// The cloud gave no measurement, or could not be read.
    NotMeasured(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        *self == Verdict::Passed
    }

    pub fn failed(&self) -> bool {
        *self == Verdict::Failed
    }

    /// A verdict from a reading: `judge` on the value, else why there is none.
    pub fn of<T>(reading: &Reading<T>, judge: impl FnOnce(&T) -> bool) -> Verdict {
        match reading {
            Reading::Read { value, .. } => {
                if judge(value) {
                    Verdict::Passed
                } else {
                    Verdict::Failed
                }
            }
            Reading::NotVerifiable { why } => Verdict::NotVerifiable(why.clone()),
            Reading::NotMeasured { why } => Verdict::NotMeasured(why.clone()),
            Reading::Failed { error, source } => {
                Verdict::NotMeasured(format!("{source} failed: {error}"))
            }
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Passed => f.write_str("passed"),
            Verdict::Failed => f.write_str("FAILED"),
            Verdict::NotVerifiable(why) => write!(f, "not verifiable here ({why})"),
            Verdict::NotMeasured(why) => write!(f, "not measured ({why})"),
        }
    }
}

/// What a check is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// The new writer takes writes (the cloud says it is no longer a replica).
    DatabaseWritable,
    /// The former writer is fenced (stopped).
    FormerWriterFenced,
    /// The DNS answer for the application's name is the region failed over to.
    DnsAnswer,
    /// The region failed over to runs the primary's capacity.
    StandbyScaled,
}

impl CheckKind {
    pub fn describe(self) -> &'static str {
        match self {
            CheckKind::DatabaseWritable => "database writable",
            CheckKind::FormerWriterFenced => "former writer fenced",
            CheckKind::DnsAnswer => "DNS answer",
            CheckKind::StandbyScaled => "standby scaled",
        }
    }
}

/// One verified claim: what was expected, what was observed, read from where.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub kind: CheckKind,
    pub verdict: Verdict,
    /// What was observed, in words (`us-west-2`, `available, no source`, `desired 2`).
    pub observed: String,
    /// What was read, from where (`None` when nothing could be read).
    pub source: Option<Source>,
}

/// An objective (RTO, RPO) against what was measured.
#[derive(Clone, Debug, PartialEq)]
pub enum Objective {
    Met {
        measured: f64,
        objective: f64,
    },
    Missed {
        measured: f64,
        objective: f64,
    },
    /// Not measured: never counted as met.
    Unverified {
        objective: f64,
        why: String,
    },
}

impl Objective {
    pub fn judge(measured: Option<f64>, objective: f64, why: impl FnOnce() -> String) -> Objective {
        match measured {
            Some(m) if m <= objective => Objective::Met {
                measured: m,
                objective,
            },
            Some(m) => Objective::Missed {
                measured: m,
                objective,
            },
            None => Objective::Unverified {
                objective,
                why: why(),
            },
        }
    }

    pub fn measured(&self) -> Option<f64> {
        match self {
            Objective::Met { measured, .. } | Objective::Missed { measured, .. } => Some(*measured),
            Objective::Unverified { .. } => None,
        }
    }

    pub fn objective(&self) -> f64 {
        match self {
            Objective::Met { objective, .. }
            | Objective::Missed { objective, .. }
            | Objective::Unverified { objective, .. } => *objective,
        }
    }
}

/// The recovery point: the replica's lag observed at the promotion (the last datapoint before
/// it, with its age), or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryPoint {
    pub lag: Reading<LagSample>,
    /// The datapoint's age at the promotion, in seconds.
    pub age_seconds: Option<f64>,
}

impl RecoveryPoint {
    /// The data that may be lost, in seconds: the lag (a lag of -1, not replicating, is no
    /// measurement of it).
    pub fn seconds(&self) -> Option<f64> {
        self.lag.value().map(|s| s.seconds).filter(|s| *s >= 0.0)
    }

    pub fn why_not(&self) -> String {
        match self.lag.value() {
            Some(s) if s.seconds < 0.0 => {
                "the replica reported -1: it was not replicating".to_string()
            }
            _ => self
                .lag
                .why_not()
                .unwrap_or_else(|| "no replica lag".to_string()),
        }
    }
}
