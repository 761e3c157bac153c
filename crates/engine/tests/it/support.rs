//! Shared fixtures: resource kinds backed by `FakeCloud`, a deterministic "already applied" state,
//! a text rendering of diffs and plans for snapshots, and a store-backed environment that runs
//! `ops` the way the CLI does.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use tandem_core::{DesiredStack, Props, ResourceAddr, ResourceDecl, StackBuilder, Value};
use tandem_engine::recovery::Reconciled;
use tandem_engine::testing::{FakeCloud, applied_state};
use tandem_engine::{
    ApplyOptions, ApplyReport, EngineError, LocalStore, Plan, PlanConfig, Providers,
    ResourceChange, Silent, State, ops, plan,
};

pub const STACK: &str = "demo";
pub const ENV: &str = "dev";

pub fn addr(text: &str) -> ResourceAddr {
    text.parse().expect("test addresses are valid")
}

/// A reference to output `output` of `target`.
pub fn out(target: &str, output: &str) -> Value {
    Value::reference(addr(target), output)
}

pub fn decl(text: &str) -> ResourceDecl {
    ResourceDecl::new(addr(text))
}

/// The kinds every test stack may use, and which of their properties force a replacement.
pub fn providers(cloud: &Arc<FakeCloud>) -> Providers {
    Providers::new()
        .with(cloud.provider("iam:Role", &["name"]))
        .with(cloud.provider("s3:Bucket", &["bucket"]))
        .with(cloud.provider("rds:DbInstance", &["engine"]))
        .with(cloud.provider("elb:LoadBalancer", &[]))
        .with(cloud.provider("route53:Zone", &["domain"]))
        .with(cloud.provider("route53:Record", &[]))
        .with(cloud.provider("x:Thing", &[]))
}

/// Global first, then the primary region, then the secondary one.
pub fn config() -> PlanConfig {
    wave_order(&["global", "us-east-1", "us-west-2"])
}

pub fn wave_order(names: &[&str]) -> PlanConfig {
    PlanConfig {
        wave_order: names.iter().map(|n| n.to_string()).collect(),
    }
}

pub fn stack(decls: impl IntoIterator<Item = ResourceDecl>) -> DesiredStack {
    stack_with_outputs(decls, [])
}

pub fn stack_with_outputs(
    decls: impl IntoIterator<Item = ResourceDecl>,
    outputs: impl IntoIterator<Item = (&'static str, Value)>,
) -> DesiredStack {
    let mut b = StackBuilder::new();
    for d in decls {
        b.declare(d);
    }
    for (name, v) in outputs {
        b.export(name, v);
    }
    b.finish().expect("test stacks are valid graphs")
}

/// The state before the first apply.
pub fn empty_state() -> State {
    State::new(STACK, ENV, "lineage-0000".into())
}

/// The state an apply of `desired` would have left, with deterministic ids and outputs
/// (`id-NAME`, `arn:fake:KIND:id-NAME`), serial 1.
pub fn recorded(desired: &DesiredStack) -> State {
    let mut state = empty_state();
    state.serial = 1;
    applied_state(desired, state, |addr, _| {
        let id = format!("id-{}", addr.name());
        let mut outputs = Props::new();
        outputs.insert("id".into(), Value::str(&id));
        outputs.insert(
            "arn".into(),
            Value::str(format!("arn:fake:{}:{id}", addr.kind())),
        );
        (id, outputs)
    })
}

/// Renders a value; anything only apply can know is marked so.
fn value(v: &Value) -> String {
    if v.is_unknown() {
        format!("(known after apply) {}", v.render())
    } else {
        v.render()
    }
}

/// One line per change and per property change.
pub fn render_changes(changes: &[ResourceChange]) -> String {
    let mut s = String::new();
    for c in changes {
        render_change(&mut s, c, "");
    }
    s
}

fn render_change(s: &mut String, c: &ResourceChange, note: &str) {
    let mut flags = Vec::new();
    if c.protect {
        flags.push("protect");
    }
    if c.retain_on_delete {
        flags.push("retain_on_delete");
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", flags.join(", "))
    };
    writeln!(
        s,
        "{:>3} {} ({}){flags}",
        c.action.marker(),
        c.addr,
        c.action.name()
    )
    .unwrap();
    if !note.is_empty() {
        writeln!(s, "      moved here: {note}").unwrap();
    }
    for r in &c.replace_reasons {
        writeln!(s, "      reason: {r}").unwrap();
    }
    for p in c.property_changes().iter() {
        let forces = if p.forces_replacement {
            "  # forces replacement"
        } else {
            ""
        };
        match (&p.old, &p.new) {
            (None, Some(n)) => writeln!(s, "      + {} = {}{forces}", p.name, value(n)),
            (Some(o), None) => writeln!(s, "      - {} = {}{forces}", p.name, value(o)),
            (Some(o), Some(n)) => {
                writeln!(
                    s,
                    "      ~ {}: {} -> {}{forces}",
                    p.name,
                    value(o),
                    value(n)
                )
            }
            (None, None) => writeln!(s, "      ? {}", p.name),
        }
        .unwrap();
    }
    if !c.dependencies.is_empty() {
        let deps: Vec<String> = c.dependencies.iter().map(|d| d.to_string()).collect();
        writeln!(s, "      after: {}", deps.join(", ")).unwrap();
    }
}

/// The plan: a summary line, then each wave in order with its changes, then the outputs.
pub fn render_plan(plan: &Plan) -> String {
    let sum = plan.summary();
    let mut s = String::new();
    writeln!(
        s,
        "plan {}/{} on serial {}: {} to create, {} to update, {} to replace, {} to delete, {} unchanged",
        plan.stack,
        plan.env,
        plan.base_serial,
        sum.create,
        sum.update,
        sum.replace,
        sum.delete,
        sum.unchanged
    )
    .unwrap();
    for w in &plan.waves {
        writeln!(s, "wave {} ({} changes)", w.name, w.changes.len()).unwrap();
        for c in &w.changes {
            let note = w.moved.get(&c.addr).map(String::as_str).unwrap_or("");
            render_change(&mut s, c, note);
        }
    }
    if !plan.outputs.is_empty() {
        writeln!(s, "outputs").unwrap();
        for (k, v) in &plan.outputs {
            writeln!(s, "    {k} = {}", value(v)).unwrap();
        }
    }
    s
}

/// The diff and the plan of `desired` against `prior`, rendered together.
pub fn render_case(desired: &DesiredStack, prior: &State) -> String {
    render_case_with(desired, prior, &config())
}

pub fn render_case_with(desired: &DesiredStack, prior: &State, config: &PlanConfig) -> String {
    let cloud = FakeCloud::in_memory();
    let providers = providers(&cloud);
    let changes = tandem_engine::diff(desired, prior, &providers).expect("diff");
    let plan = plan(desired, prior, &providers, config).expect("plan");
    format!(
        "--- diff\n{}--- plan\n{}",
        render_changes(&changes),
        render_plan(&plan)
    )
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A stack's home: a state store and a fake cloud, both in a directory.
pub struct Home {
    pub store: LocalStore,
    pub cloud: Arc<FakeCloud>,
    pub providers: Providers,
}

impl Home {
    /// The store in `root/state`, the fake cloud's resources in `root/cloud`.
    pub fn at(root: &Path) -> Home {
        let cloud = FakeCloud::in_dir(root.join("cloud"));
        Home {
            store: LocalStore::new(root.join("state")),
            providers: providers(&cloud),
            cloud,
        }
    }

    /// Like `at`, with the fake cloud in memory.
    pub fn in_memory(root: &Path) -> Home {
        let cloud = FakeCloud::in_memory();
        Home {
            store: LocalStore::new(root.join("state")),
            providers: providers(&cloud),
            cloud,
        }
    }

    /// What `tandem apply` does: lock, recover, plan, apply, save.
    pub async fn up(&self, desired: &DesiredStack, parallel: usize) -> ApplyReport {
        let lock = self.store.lock(STACK, ENV, "apply").expect("lock");
        let (state, _) = ops::recover(&self.store, &lock, STACK, ENV, &self.providers)
            .await
            .expect("recover");
        let plan = plan(desired, &state, &self.providers, &config()).expect("plan");
        ops::apply_plan(
            &self.store,
            &lock,
            &plan,
            state,
            &desired.outputs,
            &self.providers,
            &ApplyOptions { parallel },
            Arc::new(Silent),
            "apply",
        )
        .await
        .expect("apply")
    }

    /// What the start of `tandem apply` does before planning: take the lock, recover (fold the
    /// journal, reconcile, save), release the lock.
    pub fn recover(&self) -> Result<(State, Vec<Reconciled>), EngineError> {
        let lock = self.store.lock(STACK, ENV, "apply").expect("lock");
        runtime().block_on(ops::recover(
            &self.store,
            &lock,
            STACK,
            ENV,
            &self.providers,
        ))
    }

    /// The plan against what the store holds now.
    pub fn plan(&self, desired: &DesiredStack) -> Plan {
        let (state, pending) = ops::read_state(&self.store, STACK, ENV).expect("read state");
        assert_eq!(pending, 0, "operations left pending");
        plan(desired, &state, &self.providers, &config()).expect("plan")
    }

    pub fn state(&self) -> State {
        self.store
            .load(STACK, ENV)
            .expect("load state")
            .expect("a state was saved")
    }
}
