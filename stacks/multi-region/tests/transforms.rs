//! Snapshot tests of the failover and failback transforms: for each step, the part of the desired
//! graph a failover changes (before and after) and the plan the engine makes from the state the
//! previous step left, with the real AWS providers' replacement rules. No cloud is involved: the
//! "applied" states are built from the desired graphs with deterministic fake outputs.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use tandem_core::{DesiredStack, Props, ResourceAddr, Value, evaluate};
use tandem_engine::testing::applied_state;
use tandem_engine::{Action, Plan, PlanConfig, Providers, State};
use tandem_posture::Aspect;
use tandem_posture::Posture;
use tandem_posture::transform::{self, Unreachable};
use tandem_stack_multi_region::{Environment, MultiRegion, STACK_NAME};

const ACCOUNT: &str = "123456789012";
const FAILOVER_AT: &str = "2026-01-01T00:00:00Z";
const FAILBACK_AT: &str = "2026-01-01T01:00:00Z";

/// The resource kinds a failover or failback changes.
const FAILOVER_KINDS: [&str; 6] = [
    "rds:DbInstance",
    "rds:DbReadReplica",
    "route53:RecordSet",
    "s3:BucketReplication",
    "autoscaling:GroupCapacity",
    "route53:HealthCheck",
];

fn local() -> Environment {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    Environment::load(&dir, "local", &|_| None).expect("the local environment loads")
}

fn desired(posture: &Posture) -> DesiredStack {
    evaluate(&MultiRegion::new(local(), posture.clone())).expect("the program evaluates")
}

fn initial() -> Posture {
    let env = local();
    Posture::initial(&env.primary_region, &env.secondary_region)
}

/// The real providers: only their `replace_on` and `validate` are used by planning.
fn providers() -> Providers {
    tandem_aws::providers(tandem_aws::AwsClients::new(Default::default()))
}

fn config() -> PlanConfig {
    PlanConfig {
        wave_order: local().wave_order(),
    }
}

fn addr(text: &str) -> ResourceAddr {
    text.parse().expect("test addresses are valid")
}

/// The fake ARN an RDS member gets in [`applied`].
fn rds_arn(region: &str, identifier: &str) -> String {
    format!("arn:aws:rds:{region}:{ACCOUNT}:db:{identifier}")
}

/// The state an apply of `desired` would leave, without any cloud: every resource records every
/// output name referred to anywhere in the stack, plus `arn`, with deterministic fake values (see
/// [`fake_output`]); its inputs are resolved against the outputs recorded before it.
fn applied(desired: &DesiredStack) -> State {
    let mut names: BTreeSet<String> = BTreeSet::new();
    names.insert("arn".to_string());
    let mut scan = |v: &Value| {
        for r in v.refs() {
            names.insert(r.output.clone());
        }
    };
    for d in desired.graph.in_order() {
        d.inputs.values().for_each(&mut scan);
    }
    desired.outputs.values().for_each(&mut scan);

    let mut state = State::new(STACK_NAME, "local", "lineage-x".to_string());
    state.serial = 1;
    applied_state(desired, state, |addr, inputs| {
        let outputs = names
            .iter()
            .map(|name| (name.clone(), Value::str(fake_output(addr, name, inputs))))
            .collect();
        (addr.to_string(), outputs)
    })
}

/// The deterministic fake value of output `name` of the resource at `addr`: `<addr>#<name>`, except
/// where the planner validates the shape of what refers to it (ARNs, bucket names).
fn fake_output(addr: &ResourceAddr, name: &str, inputs: &Props) -> String {
    let input = |key: &str| inputs.get(key).and_then(Value::as_str);
    let text = addr.to_string();
    match (addr.kind(), name) {
        ("rds:DbInstance" | "rds:DbReadReplica", "arn") => rds_arn(
            addr.region_str(),
            input("identifier").unwrap_or(addr.name()),
        ),
        ("s3:Bucket", "bucket") => input("bucket").unwrap_or(addr.name()).to_string(),
        // The secret's ARN as a region holds it (`arn_<region>`; `arn`, its own region's).
        ("secretsmanager:DatabaseSecret", n) if n == "arn" || n.starts_with("arn_") => format!(
            "arn:aws:secretsmanager:{}:{ACCOUNT}:secret:{}-AbCdEf",
            n.strip_prefix("arn_").unwrap_or(addr.region_str()),
            input("name").unwrap_or(addr.name())
        ),
        ("rds:DbParameterGroup", "name") => input("name").unwrap_or(addr.name()).to_string(),
        (_, "DbSubnetGroupName") => format!("subnets-{}", addr.region_str()),
        ("s3:Bucket", "arn") => format!("arn:aws:s3:::{}", input("bucket").unwrap_or(addr.name())),
        (_, "KmsKeyArn") => format!(
            "arn:aws:kms:{}:{ACCOUNT}:key/{text}#{name}",
            addr.region_str()
        ),
        (_, n) if n.ends_with("RoleArn") => format!("arn:aws:iam::{ACCOUNT}:role/{text}#{name}"),
        _ => format!("{text}#{name}"),
    }
}

/// The ARN [`applied`] records for the RDS member at `address`.
fn arn_in(state: &State, address: &str) -> String {
    state
        .output(&addr(address), "arn")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{address} has an ARN in the state"))
        .to_string()
}

/// The part of a desired graph a failover changes, and the stack outputs.
fn render_graph(desired: &DesiredStack) -> String {
    let mut decls: Vec<_> = desired
        .graph
        .in_order()
        .filter(|d| FAILOVER_KINDS.contains(&d.addr.kind()))
        .collect();
    decls.sort_by(|a, b| a.addr.cmp(&b.addr));
    let mut s = String::new();
    for d in decls {
        writeln!(s, "{}", d.addr).unwrap();
        let mut keys: Vec<&String> = d
            .inputs
            .keys()
            .filter(|k| k.as_str() != "template_body")
            .collect();
        keys.sort();
        for k in keys {
            match items(&d.inputs[k]) {
                Some(list) => {
                    writeln!(s, "    {k} =").unwrap();
                    for item in list {
                        writeln!(s, "        {}", item.render()).unwrap();
                    }
                }
                None => writeln!(s, "    {k} = {}", d.inputs[k].render()).unwrap(),
            }
        }
    }
    writeln!(s, "outputs").unwrap();
    for (k, v) in &desired.outputs {
        writeln!(s, "    {k} = {}", v.render()).unwrap();
    }
    s
}

/// The items of a list of maps (the failover records), shown one a line.
fn items(v: &Value) -> Option<&[Value]> {
    v.as_list()
        .filter(|l| l.iter().any(|i| matches!(i, Value::Map(_))))
}

/// Per wave, per change: marker, address, replace reasons, property changes.
fn render_plan(plan: &Plan) -> String {
    let sum = plan.summary();
    let mut s = String::new();
    writeln!(
        s,
        "{} to create, {} to update, {} to replace, {} to delete, {} unchanged",
        sum.create, sum.update, sum.replace, sum.delete, sum.unchanged
    )
    .unwrap();
    for w in &plan.waves {
        writeln!(s, "wave {}", w.name).unwrap();
        for c in &w.changes {
            writeln!(
                s,
                "{:>3} {} ({})",
                c.action.marker(),
                c.addr,
                c.action.name()
            )
            .unwrap();
            if let Some(why) = w.moved.get(&c.addr) {
                writeln!(s, "      moved here: {why}").unwrap();
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
                let shown = |v: &Option<Value>| v.as_ref().map_or("(none)".into(), Value::render);
                let old_items = p.old.as_ref().and_then(items);
                let new_items = p.new.as_ref().and_then(items);
                if p.name == "template_body" {
                    writeln!(s, "      {}: (template changed){forces}", p.name).unwrap();
                } else if old_items.is_some() || new_items.is_some() {
                    writeln!(s, "      {}:{forces}", p.name).unwrap();
                    for (sign, list) in [("-", old_items), ("+", new_items)] {
                        for item in list.unwrap_or_default() {
                            writeln!(s, "        {sign} {}", item.render()).unwrap();
                        }
                    }
                } else {
                    writeln!(
                        s,
                        "      {}: {} -> {}{forces}",
                        p.name,
                        shown(&p.old),
                        shown(&p.new)
                    )
                    .unwrap();
                }
            }
        }
    }
    s
}

fn make_plan(desired: &DesiredStack, prior: &State) -> Plan {
    tandem_engine::plan(desired, prior, &providers(), &config()).expect("plan")
}

/// The action the plan takes on `address`, if any.
fn action(plan: &Plan, address: &str) -> Option<Action> {
    let a = addr(address);
    plan.changes().find(|c| c.addr == a).map(|c| c.action)
}

/// The changes (`action address`) of resources whose address names `region`.
fn touched_in(plan: &Plan, region: &str) -> Vec<String> {
    plan.changes()
        .filter(|c| c.addr.region_str() == region)
        .map(|c| format!("{} {}", c.action.name(), c.addr))
        .collect()
}

fn property_change(plan: &Plan, address: &str, name: &str) -> Option<(Value, Value)> {
    let a = addr(address);
    let c = plan.changes().find(|c| c.addr == a)?;
    let changes = c.property_changes();
    let p = changes.iter().find(|p| p.name == name)?;
    Some((p.old.clone()?, p.new.clone()?))
}

const PRIMARY_DB: &str = "us-east-1/rds:DbInstance/app-db";
const REPLICA_DB: &str = "us-west-2/rds:DbReadReplica/app-db-replica";
const RECORDS: &str = "global/route53:RecordSet/app";
const REPLICATION_EAST: &str = "us-east-1/s3:BucketReplication/assets";
const REPLICATION_WEST: &str = "us-west-2/s3:BucketReplication/assets";
const G2: &str = "us-east-1/rds:DbReadReplica/app-db-g2";
const G3: &str = "us-west-2/rds:DbReadReplica/app-db-g3";
const CAPACITY_EAST: &str = "us-east-1/autoscaling:GroupCapacity/app";
const CAPACITY_WEST: &str = "us-west-2/autoscaling:GroupCapacity/app";

/// The postures of a whole cycle, each with its desired graph and the state its apply leaves.
struct Step {
    posture: Posture,
    desired: DesiredStack,
    state: State,
}

impl Step {
    fn of(posture: Posture) -> Step {
        let desired = desired(&posture);
        let state = applied(&desired);
        Step {
            posture,
            desired,
            state,
        }
    }
}

fn before() -> Step {
    Step::of(initial())
}

/// Failed over to us-west-2 with us-east-1 and Route 53's control plane down.
fn failed_over(before: &Step) -> Step {
    let old_writer_arn = arn_in(&before.state, PRIMARY_DB);
    let posture = transform::fail_over(
        &before.posture,
        "us-west-2",
        Unreachable {
            old_region: true,
            route53: true,
        },
        Some(old_writer_arn),
        FAILOVER_AT,
        true,
    )
    .expect("fail over");
    Step::of(posture)
}

fn resumed(after: &Step) -> Step {
    Step::of(transform::complete_deferred(
        &after.posture,
        &[
            Aspect::Fence,
            Aspect::ScaleDown,
            Aspect::Replication,
            Aspect::Dns,
        ],
    ))
}

fn rebuilt(resumed: &Step) -> Step {
    Step::of(transform::failback_rebuild(&resumed.posture, false).expect("failback rebuild"))
}

/// The switch, given the ARN of the writer being failed back from.
fn quiesced(rebuilt: &Step) -> Step {
    Step::of(transform::failback_quiesce(&rebuilt.posture).expect("failback quiesce"))
}

fn switched(rebuilt: &Step, writer_arn: String) -> Step {
    Step::of(
        transform::failback_switch(&rebuilt.posture, Some(writer_arn), FAILBACK_AT)
            .expect("failback switch"),
    )
}

#[test]
fn failover_with_the_old_region_down() {
    let before = before();
    let after = failed_over(&before);
    let plan = make_plan(&after.desired, &before.state);
    insta::assert_snapshot!(format!(
        "--- graph before\n{}--- graph after\n{}--- plan\n{}",
        render_graph(&before.desired),
        render_graph(&after.desired),
        render_plan(&plan)
    ));

    assert_eq!(action(&plan, REPLICA_DB), Some(Action::Update));
    assert_eq!(
        property_change(&plan, REPLICA_DB, "promoted"),
        Some((Value::Bool(false), Value::Bool(true)))
    );
    assert_eq!(
        property_change(&plan, CAPACITY_WEST, "desired_capacity"),
        Some((Value::Int(1), Value::Int(2))),
        "the standby is raised to the primary's capacity"
    );
    assert_eq!(
        action(&plan, CAPACITY_EAST),
        None,
        "the scale-down of the unreachable region is deferred"
    );
    assert!(
        !plan
            .changes()
            .any(|c| c.addr.kind().starts_with("rds:") && c.action.is_replace()),
        "no database is replaced"
    );
    // Everything in us-east-1 waits for it to answer: fence, scale-down, replication; and the
    // records wait for Route 53.
    assert_eq!(touched_in(&plan, "us-east-1"), Vec::<String>::new());
    assert_eq!(action(&plan, RECORDS), None);
    assert_eq!(action(&plan, PRIMARY_DB), None);
    assert_eq!(action(&plan, REPLICATION_EAST), None);
    assert!(plan.waves.iter().all(|w| w.name != "us-east-1"));
    assert_eq!(
        action(&plan, "us-west-2/cloudwatch:Alarm/replica-lag"),
        Some(Action::Delete),
        "no replica, no lag alarm"
    );
}

#[test]
fn failover_then_resume() {
    let before = before();
    let after = failed_over(&before);
    let resumed = resumed(&after);
    let plan = make_plan(&resumed.desired, &after.state);
    insta::assert_snapshot!(format!(
        "--- graph after\n{}--- plan\n{}",
        render_graph(&resumed.desired),
        render_plan(&plan)
    ));

    assert_eq!(action(&plan, PRIMARY_DB), Some(Action::Update));
    assert_eq!(
        property_change(&plan, PRIMARY_DB, "fenced"),
        Some((Value::Bool(false), Value::Bool(true)))
    );
    assert_eq!(action(&plan, RECORDS), Some(Action::Update));
    assert!(property_change(&plan, RECORDS, "records").is_some());
    assert_eq!(
        property_change(&plan, CAPACITY_EAST, "desired_capacity"),
        Some((Value::Int(2), Value::Int(1))),
        "the deferred scale-down completes"
    );
    assert_eq!(action(&plan, REPLICATION_EAST), Some(Action::Delete));
    assert_eq!(action(&plan, REPLICATION_WEST), Some(Action::Create));
    assert_eq!(
        action(&plan, REPLICA_DB),
        None,
        "the new writer is left alone"
    );
    assert!(!plan.changes().any(|c| c.action.is_replace()));
}

#[test]
fn failback_rebuild() {
    let before = before();
    let after = failed_over(&before);
    let resumed = resumed(&after);
    let rebuilt = rebuilt(&resumed);
    let plan = make_plan(&rebuilt.desired, &resumed.state);
    insta::assert_snapshot!(format!(
        "--- graph after\n{}--- plan\n{}",
        render_graph(&rebuilt.desired),
        render_plan(&plan)
    ));

    assert_eq!(action(&plan, G2), Some(Action::Create));
    assert_eq!(action(&plan, PRIMARY_DB), Some(Action::Delete));
    assert_eq!(action(&plan, REPLICA_DB), None, "the writer is left alone");
    assert_eq!(action(&plan, RECORDS), None);
    assert!(!plan.changes().any(|c| c.action.is_replace()));
}

#[test]
fn failback_quiesce() {
    let before = before();
    let after = failed_over(&before);
    let resumed = resumed(&after);
    let rebuilt = rebuilt(&resumed);
    let quiesced = quiesced(&rebuilt);
    let plan = make_plan(&quiesced.desired, &rebuilt.state);
    insta::assert_snapshot!(format!(
        "--- graph after\n{}--- plan\n{}",
        render_graph(&quiesced.desired),
        render_plan(&plan)
    ));

    assert_eq!(
        property_change(&plan, CAPACITY_EAST, "desired_capacity"),
        Some((Value::Int(1), Value::Int(2))),
        "the region failed back to takes the primary's capacity"
    );
    assert_eq!(
        property_change(&plan, CAPACITY_WEST, "desired_capacity"),
        Some((Value::Int(2), Value::Int(0))),
        "the active region's application stops: nothing writes to its database"
    );
    assert_eq!(plan.changes().count(), 2, "capacity only");
}

#[test]
fn failback_switch() {
    let before = before();
    let after = failed_over(&before);
    let resumed = resumed(&after);
    let rebuilt = quiesced(&rebuilt(&resumed));
    let after_switch = switched(&rebuilt, arn_in(&rebuilt.state, REPLICA_DB));
    let plan = make_plan(&after_switch.desired, &rebuilt.state);
    insta::assert_snapshot!(format!(
        "--- graph after\n{}--- plan\n{}",
        render_graph(&after_switch.desired),
        render_plan(&plan)
    ));

    assert_eq!(action(&plan, G2), Some(Action::Update));
    assert_eq!(
        property_change(&plan, G2, "promoted"),
        Some((Value::Bool(false), Value::Bool(true)))
    );
    assert_eq!(action(&plan, G3), Some(Action::Create));
    let fence = plan.changes().find(|c| c.addr == addr(REPLICA_DB));
    assert!(
        fence.is_some_and(|c| c.action == Action::Update
            && c.changes
                .iter()
                .any(|p| p.name == "fenced" && p.new == Some(Value::Bool(true)))),
        "the writer failed back from is fenced, not deleted, during the switch"
    );
    assert_eq!(
        (action(&plan, CAPACITY_EAST), action(&plan, CAPACITY_WEST)),
        (None, None),
        "scaled when quiesced; the region failed back from stays at zero until the end"
    );
    // Once the switch is done, the fenced writer is replaced by the new replica, and the region
    // failed back from is the standby again.
    let retired = Step::of(transform::failback_retire(&after_switch.posture, false));
    let retire_plan = make_plan(&retired.desired, &after_switch.state);
    assert_eq!(action(&retire_plan, REPLICA_DB), Some(Action::Delete));
    assert_eq!(
        property_change(&retire_plan, CAPACITY_WEST, "desired_capacity"),
        Some((Value::Int(0), Value::Int(1)))
    );
    assert_eq!(retire_plan.changes().count(), 2);
    assert_eq!(action(&plan, RECORDS), Some(Action::Update));
    assert_eq!(action(&plan, REPLICATION_WEST), Some(Action::Delete));
    assert_eq!(action(&plan, REPLICATION_EAST), Some(Action::Create));
    assert!(!plan.changes().any(|c| c.action.is_replace()));

    // The orchestrator passes the new writer's own ARN: the promoted replica ignores its source,
    // so that is an in-place promotion too.
    let own = switched(&rebuilt, arn_in(&rebuilt.state, G2));
    let plan = make_plan(&own.desired, &rebuilt.state);
    assert_eq!(action(&plan, G2), Some(Action::Update));
}

#[test]
fn renderings_are_deterministic() {
    let render_all = || {
        let before = before();
        let after = failed_over(&before);
        let resumed = resumed(&after);
        let rebuilt = rebuilt(&resumed);
        let quiesced = quiesced(&rebuilt);
        let switched = switched(&quiesced, arn_in(&quiesced.state, REPLICA_DB));
        let mut s = String::new();
        for (prev, next) in [
            (&before, &after),
            (&after, &resumed),
            (&resumed, &rebuilt),
            (&rebuilt, &quiesced),
            (&quiesced, &switched),
        ] {
            s.push_str(&render_graph(&next.desired));
            s.push_str(&render_plan(&make_plan(&next.desired, &prev.state)));
        }
        s
    };
    let first = render_all();
    assert!(!first.is_empty());
    assert_eq!(first, render_all());
}
