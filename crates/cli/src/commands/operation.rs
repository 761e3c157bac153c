//! What the failover commands (`failover`, `failback`, `simulate-outage`, `drill`) share: the
//! owned pieces a [`Context`] of the failover library borrows — the cloud's signals, the probe,
//! the stack's topology, the providers, the audit log — the events printer, and the mapping of
//! the library's errors to the CLI's.

use std::collections::BTreeSet;
use std::sync::Arc;

use console::style;
use tandem_aws::AwsSignals;
use tandem_core::evaluate;
use tandem_engine::{EngineError, Observer, Providers, StateLock};
use tandem_failover::audit::AuditLog;
use tandem_failover::outage::{InvertedHealthCheck, OutageSimulator};
use tandem_failover::timed::{CloudClock, TimedProbe, TimedSignals, timed};
use tandem_failover::{
    AppProbe, Cloud, CloudSignals, Context, ControlPlane, Event, Events, HttpProbe, Posture,
};
use tandem_localcloud::GatewayOutage;
use tandem_stack_multi_region::{MultiRegion, MultiRegionTopology};

use crate::progress::Progress;
use crate::render::resilience::phase_line;
use crate::workspace::Workspace;

/// The owned pieces of a failover operation's context.
pub struct Operation<'w> {
    pub ws: &'w Workspace,
    pub signals: AwsSignals,
    pub probe: HttpProbe,
    pub topology: MultiRegionTopology,
    pub providers: Providers,
    pub audit: AuditLog,
    pub clock: Arc<CloudClock>,
}

impl<'w> Operation<'w> {
    /// The pieces for `operation` (named in the audit log). Provider calls, signals and probes
    /// are timed into one clock (the drill's overhead is what they do not account for).
    pub fn new(ws: &'w Workspace, operation: &str) -> Operation<'w> {
        let clock = Arc::new(CloudClock::default());
        let audit_path = ws
            .env
            .state_dir
            .join(&ws.stack)
            .join(format!("{}.audit.jsonl", ws.env.name));
        Operation {
            ws,
            signals: ws.signals(),
            probe: HttpProbe::default(),
            topology: ws.topology(),
            providers: timed(&ws.providers(), &clock),
            audit: AuditLog::open(&audit_path, operation),
            clock,
        }
    }

    /// The outage simulator of this environment: the region gateway on the local cloud, an
    /// inverted health check on AWS.
    pub fn simulator(&self) -> Box<dyn OutageSimulator> {
        match &self.ws.env.local_cloud {
            Some(lc) => Box::new(GatewayOutage::new(format!(
                "http://127.0.0.1:{}",
                lc.control_port
            ))),
            None => Box::new(InvertedHealthCheck),
        }
    }
}

/// What a command that only reads the cloud (`check-health`, `status`) reads it with: no audit
/// log (it changes nothing) and no timing (it reports no overhead).
pub struct CloudReader {
    signals: AwsSignals,
    probe: HttpProbe,
    topology: MultiRegionTopology,
    providers: Providers,
}

impl CloudReader {
    pub fn new(ws: &Workspace) -> CloudReader {
        CloudReader {
            signals: ws.signals(),
            probe: HttpProbe::default(),
            topology: ws.topology(),
            providers: ws.providers(),
        }
    }

    pub fn cloud(&self) -> Cloud<'_> {
        Cloud {
            signals: &self.signals,
            probe: &self.probe,
            topology: &self.topology,
            providers: &self.providers,
        }
    }
}

/// The timed views of an operation's signals and probe (they borrow the operation).
pub struct Timed<'o> {
    pub signals: TimedSignals<'o>,
    pub probe: TimedProbe<'o>,
}

impl<'o> Timed<'o> {
    pub fn of(op: &'o Operation<'_>) -> Timed<'o> {
        Timed {
            signals: TimedSignals {
                inner: &op.signals as &dyn CloudSignals,
                clock: Arc::clone(&op.clock),
            },
            probe: TimedProbe {
                inner: &op.probe as &dyn AppProbe,
                clock: Arc::clone(&op.clock),
            },
        }
    }

    pub fn cloud<'a>(&'a self, op: &'a Operation<'_>) -> Cloud<'a> {
        Cloud {
            signals: &self.signals,
            probe: &self.probe,
            topology: &op.topology,
            providers: &op.providers,
        }
    }
}

/// The stack program of a posture.
pub fn program_for(
    ws: &Workspace,
) -> impl Fn(&Posture) -> Result<tandem_core::DesiredStack, EngineError> + Send + Sync + '_ {
    move |p: &Posture| Ok(evaluate(&MultiRegion::new(ws.env.clone(), p.clone()))?)
}

/// A context over the operation's pieces, under `lock`.
pub fn context<'a>(
    op: &'a Operation<'_>,
    timed: &'a Timed<'a>,
    lock: &'a StateLock,
    program: &'a tandem_failover::ProgramFor<'a>,
    events: &'a dyn Events,
    unreachable: BTreeSet<ControlPlane>,
) -> Context<'a> {
    Context {
        cloud: timed.cloud(op),
        store: &op.ws.store,
        lock,
        plan_config: op.ws.plan_config(),
        program,
        observer: Arc::new(Progress::new()) as Arc<dyn Observer>,
        events,
        audit: &op.audit,
        parallel: 10,
        regions: op.ws.regions(),
        unreachable,
    }
}

/// Prints the library's events as they happen.
pub struct Printer;

impl Events for Printer {
    fn event(&self, event: Event) {
        match event {
            Event::Phase(p) => println!("{}", phase_line(&p)),
            Event::WaitingForReplica { what, lag } => println!(
                "  waiting for the replica to {what}: lag {}",
                lag.map_or("not reported".into(), |l| format!("{l:.0} s"))
            ),
            Event::OutageDetected { after_seconds, by } => {
                println!("Detected the outage after {after_seconds:.1} s (by {by})")
            }
            Event::Note(n) => println!("  {} {n}", style("note:").yellow()),
        }
    }
}
