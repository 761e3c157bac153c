//! Executing failover and failback: a resumable state machine whose phases are slices of one plan.
//!
//! The target posture is saved first (with the transition marked in progress), so the program
//! already declares the failed-over world; each phase then plans against the state and applies
//! only its own changes — fence, promote, scale, DNS, replication, the rest — through the engine,
//! which journals every provider call. A run killed at any point is resumed by running the same
//! command again: completed phases plan no changes and are skipped.

use std::collections::BTreeSet;
use std::sync::Arc;

use tandem_core::{DesiredStack, ResourceAddr};
use tandem_engine::ops::{apply_plan, save_state};
use tandem_engine::store::utc_now_text;
use tandem_engine::{
    ApplyOptions, EngineError, LocalStore, Observed, Observer, OpContext, Outcome, Plan,
    PlanConfig, Providers, ResourceChange, State, StateLock,
};

use crate::audit::AuditLog;
use crate::posture::{Aspect, Deferred, Posture};

/// Builds the desired stack of a posture (the stack program).
pub type ProgramFor<'a> = dyn Fn(&Posture) -> Result<DesiredStack, EngineError> + Send + Sync + 'a;

/// What a failover or failback works with.
pub struct Runner<'a> {
    pub store: &'a LocalStore,
    pub lock: &'a StateLock,
    pub providers: &'a Providers,
    pub plan_config: PlanConfig,
    pub program: &'a ProgramFor<'a>,
    pub observer: Arc<dyn Observer>,
    pub audit: &'a AuditLog,
    pub parallel: usize,
    /// Regions (or `global`) whose control plane does not answer: their changes are not attempted.
    pub unreachable: BTreeSet<String>,
}

/// How one phase went.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseReport {
    pub name: String,
    /// Seconds since the epoch, with milliseconds.
    pub started: f64,
    pub finished: f64,
    pub changes: usize,
    /// `done`, `nothing to do`, `deferred: ...` or `failed: ...`.
    pub outcome: String,
}

/// Why a phase stopped the run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("phase {phase} failed: {message}")]
    Phase { phase: String, message: String },
}

pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Which changes a phase applies.
pub enum Slice {
    /// Changes to these addresses.
    Addresses(Vec<ResourceAddr>),
    /// Changes to resources of these kinds.
    Kinds(Vec<&'static str>),
    /// Changes to resources of this kind in this region.
    KindIn(&'static str, String),
    /// Everything still to do.
    Rest,
}

impl Slice {
    fn matches(&self, c: &ResourceChange) -> bool {
        match self {
            Slice::Addresses(a) => a.contains(&c.addr),
            Slice::Kinds(k) => k.contains(&c.addr.kind()),
            Slice::KindIn(k, region) => c.addr.kind() == *k && c.addr.region_str() == region,
            Slice::Rest => true,
        }
    }
}

impl Runner<'_> {
    /// The plan from `state` to what `posture` declares, without reading the cloud (a failed
    /// region cannot be read), keeping only the changes `slice` selects.
    pub fn plan_slice(
        &self,
        state: &State,
        posture: &Posture,
        slice: &Slice,
    ) -> Result<Plan, EngineError> {
        let desired = (self.program)(posture)?;
        let mut plan = tandem_engine::plan(&desired, state, self.providers, &self.plan_config)?;
        for w in &mut plan.waves {
            w.changes.retain(|c| slice.matches(c));
        }
        plan.waves.retain(|w| !w.changes.is_empty());
        Ok(plan)
    }

    /// Addresses in the plan whose region (or, for global resources, Route 53) does not answer.
    fn blocked(&self, plan: &Plan) -> Vec<ResourceAddr> {
        plan.changes()
            .filter(|c| self.unreachable.contains(c.addr.region_str()))
            .map(|c| c.addr.clone())
            .collect()
    }

    /// Saves `posture` into `state` (serial + 1).
    pub fn save_posture(&self, state: &mut State, posture: &Posture) -> Result<(), EngineError> {
        posture.store(state);
        save_state(self.store, self.lock, state)?;
        Ok(())
    }

    /// Applies one phase: the slice of the plan to `posture`. Changes whose region does not
    /// answer are left out and reported; a failure of the phase is returned.
    pub async fn phase(
        &self,
        name: &str,
        state: &mut State,
        posture: &Posture,
        slice: Slice,
    ) -> Result<PhaseReport, RunError> {
        let started = epoch_now();
        let mut plan = self.plan_slice(state, posture, &slice)?;
        let blocked = self.blocked(&plan);
        for w in &mut plan.waves {
            w.changes.retain(|c| !blocked.contains(&c.addr));
        }
        plan.waves.retain(|w| !w.changes.is_empty());
        let changes = plan.changes().count();
        self.audit
            .record(name, "start", &format!("{changes} change(s)"));
        if changes == 0 {
            let outcome = if blocked.is_empty() {
                "nothing to do".to_string()
            } else {
                format!(
                    "deferred: {} change(s) wait for an unreachable region",
                    blocked.len()
                )
            };
            self.audit.record(name, "end", &outcome);
            return Ok(PhaseReport {
                name: name.into(),
                started,
                finished: epoch_now(),
                changes,
                outcome,
            });
        }
        let mut base = state.clone();
        posture.store(&mut base);
        let report = apply_plan(
            self.store,
            self.lock,
            &plan,
            base,
            &(self.program)(posture)?.outputs,
            self.providers,
            &ApplyOptions {
                parallel: self.parallel,
            },
            Arc::clone(&self.observer),
            name,
        )
        .await?;
        *state = report.state.clone();
        if report.succeeded() {
            self.audit.record(name, "end", "done");
            return Ok(PhaseReport {
                name: name.into(),
                started,
                finished: epoch_now(),
                changes,
                outcome: "done".into(),
            });
        }
        let message: Vec<String> = report
            .results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Failed(e) => {
                    Some(format!("{} (region {}): {e}", r.addr, r.addr.region_str()))
                }
                _ => None,
            })
            .collect();
        let message = message.join("; ");
        self.audit.record(name, "failed", &message);
        Err(RunError::Phase {
            phase: name.into(),
            message,
        })
    }

    /// The DNS phase: best effort. When Route 53's control plane does not answer, the swap is
    /// deferred — the pre-built failover records already move traffic — and the run goes on.
    pub async fn dns_phase(
        &self,
        state: &mut State,
        posture: &mut Posture,
    ) -> Result<PhaseReport, RunError> {
        let started = epoch_now();
        let defer = |posture: &mut Posture, why: String| {
            if !posture.is_deferred(Aspect::Dns) {
                posture.deferred.push(Deferred {
                    aspect: Aspect::Dns,
                    waits_for: "global".into(),
                    why,
                });
            }
        };
        if self.unreachable.contains("global") {
            defer(posture, "Route 53's control plane does not answer".into());
            self.save_posture(state, posture)?;
            self.audit.record("dns", "deferred", "Route 53 unreachable");
            return Ok(PhaseReport {
                name: "dns".into(),
                started,
                finished: epoch_now(),
                changes: 0,
                outcome: "deferred: Route 53's control plane does not answer".into(),
            });
        }
        match self
            .phase(
                "dns",
                state,
                posture,
                Slice::Kinds(vec![tandem_schema_kinds::ROUTE53_RECORD_SET]),
            )
            .await
        {
            Ok(r) => Ok(r),
            Err(RunError::Phase { message, .. }) => {
                defer(posture, format!("the record change failed: {message}"));
                self.save_posture(state, posture)?;
                Ok(PhaseReport {
                    name: "dns".into(),
                    started,
                    finished: epoch_now(),
                    changes: 0,
                    outcome: format!("deferred: {message}"),
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// Reads `addr`, as `state` records it, from the cloud through its provider. `None` when the
/// state does not record it, no provider has its kind, or the cloud has it no more.
pub async fn read_live(
    providers: &Providers,
    state: &State,
    addr: &ResourceAddr,
) -> Result<Option<Observed>, EngineError> {
    let (Some(rec), Some(provider)) = (state.resources.get(addr), providers.get(addr.kind()))
    else {
        return Ok(None);
    };
    let ctx = OpContext {
        addr: addr.clone(),
        stack: state.stack.clone(),
        env: state.env.clone(),
        token: String::new(),
    };
    provider
        .read(&ctx, &rec.id, &rec.inputs)
        .await
        .map_err(|e| EngineError::Provider {
            addr: addr.clone(),
            region: addr.region_str().to_string(),
            operation: "read",
            source: e,
        })
}

/// Kind names used here; the failover crate does not depend on the schema crate.
pub mod tandem_schema_kinds {
    pub const ROUTE53_RECORD_SET: &str = "route53:RecordSet";
    pub const S3_BUCKET_REPLICATION: &str = "s3:BucketReplication";
    pub const AUTOSCALING_GROUP_CAPACITY: &str = "autoscaling:GroupCapacity";
    pub const RDS_DB_INSTANCE: &str = "rds:DbInstance";
    pub const RDS_DB_READ_REPLICA: &str = "rds:DbReadReplica";
}

/// Now, as recorded in postures and reports.
pub fn now_text() -> String {
    utc_now_text()
}
