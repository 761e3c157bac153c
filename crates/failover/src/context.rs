//! What a failover, failback, outage simulation or drill works with, and the phase runner: each
//! phase plans the state against the posture it moves to (without reading the cloud: a failed
//! region cannot be read), keeps its own slice of the changes, and applies it through the engine,
//! which journals every provider call. Changes in a region whose control plane does not answer
//! are not attempted: the phase records them as deferred in the posture.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use tandem_core::{DesiredStack, ResourceAddr};
use tandem_engine::ops::{apply_plan, save_state};
use tandem_engine::store::utc_now_text;
use tandem_engine::{
    ApplyOptions, EngineError, Observed, Observer, OpContext, Outcome, Plan, PlanConfig, Providers,
    ResourceChange, State, StateBackend, StateLock,
};
use tandem_posture::{ControlPlane, Phase, Posture, Role, Topology};

use crate::audit::AuditLog;
use crate::report::{PhaseOutcome, PhaseReport};
use crate::signals::{AppProbe, CloudSignals};

/// Builds the desired stack of a posture (the stack program).
pub type ProgramFor<'a> = dyn Fn(&Posture) -> Result<DesiredStack, EngineError> + Send + Sync + 'a;

/// What the library reads the cloud with: no lock, no state changes. `check-health` and `status`
/// need only this.
#[derive(Clone, Copy)]
pub struct Cloud<'a> {
    pub signals: &'a dyn CloudSignals,
    pub probe: &'a dyn AppProbe,
    pub topology: &'a dyn Topology,
    /// The engine's providers, to read a resource as its provider does (capacities).
    pub providers: &'a Providers,
}

/// Progress a long operation reports while it runs (the CLI prints it).
pub trait Events: Send + Sync {
    fn event(&self, event: Event);
}

/// Something worth telling while an operation runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A phase ended.
    Phase(PhaseReport),
    /// Waiting for the replica to `what` (catch up, drain); its last lag, if reported.
    WaitingForReplica {
        what: &'static str,
        lag: Option<f64>,
    },
    /// The outage was detected after `after_seconds`, by `by`.
    OutageDetected { after_seconds: f64, by: String },
    /// Anything else, as a sentence.
    Note(String),
}

/// Events nobody listens to.
pub struct NoEvents;

impl Events for NoEvents {
    fn event(&self, _: Event) {}
}

/// What a failover or failback works with: the cloud, and the state under its lock.
pub struct Context<'a> {
    pub cloud: Cloud<'a>,
    pub store: &'a dyn StateBackend,
    pub lock: &'a StateLock,
    pub plan_config: PlanConfig,
    pub program: &'a ProgramFor<'a>,
    pub observer: Arc<dyn Observer>,
    pub events: &'a dyn Events,
    pub audit: &'a AuditLog,
    pub parallel: usize,
    /// The environment's primary and secondary regions.
    pub regions: [String; 2],
    /// Control planes that did not answer when the operation started: their changes are not
    /// attempted.
    pub unreachable: BTreeSet<ControlPlane>,
}

/// Which changes a phase applies.
#[derive(Clone, Debug)]
pub enum Slice {
    /// Changes to these addresses.
    Addresses(Vec<ResourceAddr>),
    /// Changes to resources playing this role.
    Role(Role),
    /// Changes to resources playing this role in this region.
    RoleIn(Role, String),
    /// Everything still to do.
    Rest,
}

impl Slice {
    fn matches(&self, c: &ResourceChange, topology: &dyn Topology) -> bool {
        match self {
            Slice::Addresses(a) => a.contains(&c.addr),
            Slice::Role(r) => topology.role(&c.addr) == Some(*r),
            Slice::RoleIn(r, region) => {
                topology.role(&c.addr) == Some(*r) && c.addr.region_str() == region
            }
            Slice::Rest => true,
        }
    }
}

/// Why an operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    #[error(transparent)]
    Transform(#[from] tandem_posture::TransformError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("phase {phase} failed: {message}")]
    Phase { phase: Phase, message: String },
    #[error("{what} failed: {message}")]
    Apply { what: String, message: String },
    #[error("preflight refused the failover: {0} (pass --force to fail over anyway)")]
    Preflight(String),
    /// The recorded posture cannot be used, or another transition is under way.
    #[error("{0}")]
    State(String),
    /// An outage could not be simulated or undone.
    #[error("{0}")]
    Outage(String),
    /// A database the operation would delete is protected.
    #[error("{0}")]
    Protected(String),
}

/// Seconds since the epoch, with milliseconds.
pub fn epoch_now() -> f64 {
    epoch_of(SystemTime::now())
}

/// `t` as seconds since the epoch.
pub fn epoch_of(t: SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Now, as recorded in postures and reports (UTC, `YYYY-MM-DDTHH:MM:SSZ`).
pub fn now_text() -> String {
    utc_now_text()
}

/// The posture recorded in `state`, or the initial one.
pub fn posture_of(state: &State, regions: &[String; 2]) -> Result<Posture, FailoverError> {
    Posture::from_extension(
        state.extensions.get(tandem_posture::POSTURE_KEY),
        &regions[0],
        &regions[1],
    )
    .map_err(FailoverError::State)
}

/// Puts `posture` into `state` (not saved).
pub fn put_posture(state: &mut State, posture: &Posture) {
    state.extensions.insert(
        tandem_posture::POSTURE_KEY.to_string(),
        posture.to_extension(),
    );
}

/// After a destroy that left no resource in `state`: its posture back to the initial one (see
/// [`Posture::after_destroy`]). Returns whether anything changed (then the state is to be saved);
/// a state that still holds resources keeps its posture, which describes them.
pub fn reset_posture_after_destroy(
    state: &mut State,
    regions: &[String; 2],
) -> Result<bool, FailoverError> {
    if !state.resources.is_empty() || !state.extensions.contains_key(tandem_posture::POSTURE_KEY) {
        return Ok(false);
    }
    let posture = posture_of(state, regions)?;
    let reset = posture.after_destroy(&regions[0], &regions[1]);
    if reset == posture {
        return Ok(false);
    }
    put_posture(state, &reset);
    Ok(true)
}

impl Context<'_> {
    /// The plan from `state` to what `posture` declares, without reading the cloud (a failed
    /// region cannot be read), keeping only the changes `slice` selects.
    pub fn plan_slice(
        &self,
        state: &State,
        posture: &Posture,
        slice: &Slice,
    ) -> Result<Plan, EngineError> {
        let desired = (self.program)(posture)?;
        let mut plan =
            tandem_engine::plan(&desired, state, self.cloud.providers, &self.plan_config)?;
        for w in &mut plan.waves {
            w.changes.retain(|c| slice.matches(c, self.cloud.topology));
        }
        plan.waves.retain(|w| !w.changes.is_empty());
        Ok(plan)
    }

    /// The state as saved (under this context's lock), for a caller whose copy is behind.
    pub fn reload(&self, state: &State) -> Result<State, EngineError> {
        Ok(tandem_engine::ops::read_state(self.store, &state.stack, &state.env)?.0)
    }

    /// Whether changes in `region` (`global`: Route 53) cannot be made now.
    pub fn is_unreachable(&self, region: &str) -> bool {
        self.unreachable.contains(&ControlPlane::of(region))
    }

    /// Saves `posture` into `state` (serial + 1).
    pub fn save_posture(&self, state: &mut State, posture: &Posture) -> Result<(), EngineError> {
        put_posture(state, posture);
        save_state(self.store, self.lock, state)?;
        Ok(())
    }

    /// Applies the changes of the plan to `posture` that `slice` selects and whose control
    /// plane answers; the others are returned as blocked. `name` labels the journal and audit.
    pub async fn apply_slice(
        &self,
        name: &str,
        state: &mut State,
        posture: &Posture,
        slice: &Slice,
    ) -> Result<Applied, FailoverError> {
        let mut plan = self.plan_slice(state, posture, slice)?;
        let mut blocked: Vec<(ResourceAddr, ControlPlane)> = Vec::new();
        for w in &mut plan.waves {
            w.changes.retain(|c| {
                let plane = ControlPlane::of(c.addr.region_str());
                let reachable = !self.unreachable.contains(&plane);
                if !reachable {
                    blocked.push((c.addr.clone(), plane));
                }
                reachable
            });
        }
        plan.waves.retain(|w| !w.changes.is_empty());
        let changes = plan.changes().count();
        self.audit
            .record(name, "start", &format!("{changes} change(s)"));
        if changes == 0 {
            return Ok(Applied { changes, blocked });
        }
        let mut base = state.clone();
        put_posture(&mut base, posture);
        let report = apply_plan(
            self.store,
            self.lock,
            &plan,
            base,
            &(self.program)(posture)?.outputs,
            self.cloud.providers,
            &ApplyOptions {
                parallel: self.parallel,
            },
            Arc::clone(&self.observer),
            name,
        )
        .await?;
        *state = report.state.clone();
        if !report.succeeded() {
            let message = report
                .results
                .iter()
                .filter_map(|r| match &r.outcome {
                    Outcome::Failed(e) => {
                        Some(format!("{} (region {}): {e}", r.addr, r.addr.region_str()))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("; ");
            self.audit.record(name, "failed", &message);
            return Err(FailoverError::Apply {
                what: name.to_string(),
                message,
            });
        }
        Ok(Applied { changes, blocked })
    }

    /// Applies one phase: the slice of the plan to `posture`. Changes whose control plane does
    /// not answer are left out: the phase's aspect is recorded in `posture` as deferred (saved
    /// with the state), and the report says so. A failure of the phase is returned.
    pub async fn phase(
        &self,
        phase: Phase,
        state: &mut State,
        posture: &mut Posture,
        slice: Slice,
    ) -> Result<PhaseReport, FailoverError> {
        let started = epoch_now();
        let applied = match self.apply_slice(phase.name(), state, posture, &slice).await {
            Ok(a) => a,
            Err(FailoverError::Apply { message, .. }) => {
                return Err(FailoverError::Phase { phase, message });
            }
            Err(e) => return Err(e),
        };
        let deferred = match (applied.blocked.first(), phase.aspect()) {
            (Some((addr, plane)), Some(aspect)) => {
                posture.defer(
                    aspect,
                    plane.clone(),
                    format!(
                        "{plane} does not answer ({addr}{})",
                        match applied.blocked.len() {
                            1 => String::new(),
                            n => format!(" and {} more", n - 1),
                        }
                    ),
                );
                self.save_posture(state, posture)?;
                Some(plane.clone())
            }
            (Some((addr, plane)), None) => {
                return Err(FailoverError::Phase {
                    phase,
                    message: format!("{addr} needs {plane}, which does not answer"),
                });
            }
            // Deferred when the failover started (the transform left it for later).
            (None, Some(aspect)) => posture.deferred_for(aspect).map(|d| d.waits_for.clone()),
            (None, None) => None,
        };
        let blocked = applied.blocked.len();
        let outcome = match (applied.changes, deferred) {
            (0, Some(waits_for)) => PhaseOutcome::Deferred {
                waits_for,
                changes: blocked,
            },
            (0, None) => PhaseOutcome::NothingToDo,
            (applied, Some(waits_for)) => PhaseOutcome::PartlyDeferred {
                applied,
                waits_for,
                changes: blocked,
            },
            (changes, None) => PhaseOutcome::Done { changes },
        };
        self.audit.record(phase.name(), "end", &outcome.to_string());
        let report = PhaseReport {
            phase,
            started,
            finished: epoch_now(),
            outcome,
        };
        self.events.event(Event::Phase(report.clone()));
        Ok(report)
    }
}

/// What [`Context::apply_slice`] applied, and what it left for an unreachable control plane.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub changes: usize,
    pub blocked: Vec<(ResourceAddr, ControlPlane)>,
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

/// The control planes (Route 53's, each region's) that do not answer now, asked at once: one that
/// does not answer costs its timeout once.
pub async fn unreachable_now(
    signals: &dyn CloudSignals,
    regions: &[String; 2],
) -> BTreeSet<ControlPlane> {
    let planes = [
        ControlPlane::Route53,
        ControlPlane::Region(regions[0].clone()),
        ControlPlane::Region(regions[1].clone()),
    ];
    let (g, p, s) = tokio::join!(
        signals.reachable(&planes[0]),
        signals.reachable(&planes[1]),
        signals.reachable(&planes[2])
    );
    planes
        .into_iter()
        .zip([g, p, s])
        .filter(|(_, up)| !up)
        .map(|(plane, _)| plane)
        .collect()
}
