//! Refresh: drift made outside Tandem is reported apart from code changes, and the state is not
//! saved by it.

use tandem_core::{Props, Value};
use tandem_engine::refresh::refresh_except;
use tandem_engine::{DriftKind, OpContext, PropertyChange, refresh};

use crate::support::*;

#[test]
fn drift_names_changed_and_deleted_resources_and_skipped_ones_keep_their_record() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let rt = runtime();
    let desired = stack(vec![
        decl("us-east-1/x:Thing/changed")
            .input("size", 1)
            .input("name", "c"),
        decl("us-east-1/x:Thing/deleted").input("size", 2),
        decl("us-west-2/x:Thing/skipped").input("size", 3),
        decl("us-west-2/x:Thing/same").input("size", 4),
    ]);
    assert!(rt.block_on(home.up(&desired, 2)).succeeded());
    let state = home.state();
    let kind = home.providers.get("x:Thing").unwrap().clone();
    let ctx = |name: &str| OpContext {
        addr: addr(name),
        stack: STACK.into(),
        env: ENV.into(),
        token: "outside".into(),
    };
    // Outside Tandem: one resource changed (a property changed, one removed, one added), one
    // deleted, one changed in a region that is skipped.
    for (name, size) in [
        ("us-east-1/x:Thing/changed", 10),
        ("us-west-2/x:Thing/skipped", 30),
    ] {
        let r = &state.resources[&addr(name)];
        let live: Props = [("size", Value::from(size)), ("extra", Value::Bool(true))]
            .into_iter()
            .collect();
        rt.block_on(kind.update(&ctx(name), &r.id, &r.inputs, &live))
            .unwrap();
    }
    let deleted = &state.resources[&addr("us-east-1/x:Thing/deleted")];
    rt.block_on(kind.delete(
        &ctx("us-east-1/x:Thing/deleted"),
        &deleted.id,
        &deleted.inputs,
    ))
    .unwrap();

    let skip =
        |a: &tandem_core::ResourceAddr| a.region_str() == "us-west-2" && a.name() == "skipped";
    let (refreshed, drift) = rt
        .block_on(refresh_except(&state, &home.providers, 2, &skip))
        .unwrap();
    assert_eq!(drift.len(), 2, "{drift:?}");
    assert_eq!(drift[0].addr, addr("us-east-1/x:Thing/changed"));
    let change = |name: &str, old: Option<Value>, new: Option<Value>| PropertyChange {
        name: name.into(),
        old,
        new,
        forces_replacement: false,
    };
    assert_eq!(
        drift[0].kind,
        DriftKind::Changed(vec![
            change("extra", None, Some(Value::Bool(true))),
            change("name", Some(Value::str("c")), None),
            change("size", Some(Value::from(1)), Some(Value::from(10))),
        ])
    );
    assert_eq!(drift[1].addr, addr("us-east-1/x:Thing/deleted"));
    assert_eq!(drift[1].kind, DriftKind::Deleted);
    assert_eq!(
        refreshed.serial, state.serial,
        "refresh does not count as a write"
    );
    assert!(
        !refreshed
            .resources
            .contains_key(&addr("us-east-1/x:Thing/deleted"))
    );
    assert_eq!(
        refreshed.resources[&addr("us-east-1/x:Thing/changed")].inputs["size"],
        Value::from(10)
    );
    let skipped = addr("us-west-2/x:Thing/skipped");
    assert_eq!(refreshed.resources[&skipped], state.resources[&skipped]);
    assert_eq!(home.state(), state, "nothing is saved");

    // Without a skip, the skipped region's change shows too.
    let (_, all) = rt.block_on(refresh(&state, &home.providers, 1)).unwrap();
    let drifted: Vec<String> = all.iter().map(|d| d.addr.to_string()).collect();
    assert_eq!(
        drifted,
        [
            "us-east-1/x:Thing/changed",
            "us-east-1/x:Thing/deleted",
            "us-west-2/x:Thing/skipped"
        ]
    );
}
