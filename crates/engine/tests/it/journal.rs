//! The journal on disk, and recovery from one left by an interrupted run.

use std::io::Write;

use tandem_core::{Props, ResourceAddr, Value, props_to_json};
use tandem_engine::journal::{JournalError, read_journal};
use tandem_engine::state::ResourceRecord;
use tandem_engine::{Journal, JournalRecord, OpContext, OpKind, ops};

use crate::support::*;

fn begin(lineage: &str, serial: u64) -> JournalRecord {
    JournalRecord::Begin {
        lineage: lineage.into(),
        base_serial: serial,
        operation: "apply".into(),
        secret_key: None,
    }
}

fn props(pairs: &[(&str, Value)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn intent_create(seq: u64, target: &str, inputs: &Props) -> JournalRecord {
    JournalRecord::Intent {
        seq,
        addr: addr(target),
        op: OpKind::Create,
        token: format!("token-{seq}"),
        id: None,
        inputs: Some(props_to_json(inputs)),
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
    }
}

#[test]
fn a_torn_last_line_is_ignored_and_other_damage_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.journal");
    let records = vec![
        begin("lineage-1", 3),
        intent_create(
            1,
            "us-east-1/x:Thing/a",
            &props(&[("size", Value::from(1))]),
        ),
        JournalRecord::Failed {
            seq: 1,
            addr: addr("us-east-1/x:Thing/a"),
            error: "boom".into(),
        },
    ];
    {
        let journal = Journal::create(&path, records[0].clone()).unwrap();
        for r in &records[1..] {
            journal.append_blocking(r).unwrap();
        }
    }
    assert_eq!(read_journal(&path).unwrap(), records);

    // A crash in the middle of a write leaves a line without its end.
    let whole = std::fs::read(&path).unwrap();
    let torn_line =
        serde_json::to_vec(&intent_create(2, "us-east-1/x:Thing/b", &Props::new())).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(&torn_line[..torn_line.len() / 2]).unwrap();
    drop(file);
    assert_eq!(read_journal(&path).unwrap(), records);

    // Damage anywhere else is not silently skipped.
    let mut damaged = whole.clone();
    let second_line = whole.iter().position(|&b| b == b'\n').unwrap() + 1;
    damaged[second_line] = b'#';
    std::fs::write(&path, &damaged).unwrap();
    let err = read_journal(&path).unwrap_err();
    assert!(
        matches!(err, JournalError::Corrupt { line: 2, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("line 2"),
        "{text}"
    );

    assert_eq!(read_journal(&dir.path().join("none")).unwrap(), []);
}

#[test]
fn appends_from_many_tasks_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.journal");
    let journal = std::sync::Arc::new(Journal::create(&path, begin("l", 0)).unwrap());
    runtime().block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for seq in 0..200 {
            let j = std::sync::Arc::clone(&journal);
            set.spawn(async move {
                j.append(&JournalRecord::Failed {
                    seq,
                    addr: addr("us-east-1/x:Thing/a"),
                    error: format!("e{seq}"),
                })
                .await
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
    });
    drop(journal);
    let records = read_journal(&path).unwrap();
    assert_eq!(records.len(), 201);
    let mut seqs: Vec<u64> = records[1..]
        .iter()
        .map(|r| match r {
            JournalRecord::Failed { seq, .. } => *seq,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
}

#[test]
fn recover_folds_done_records_and_adopts_interrupted_creates() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path());
    let rt = runtime();
    // A first apply made `base`.
    let v1 = stack(vec![decl("us-east-1/x:Thing/base").input("size", 1)]);
    assert!(rt.block_on(home.up(&v1, 2)).succeeded());
    let before = home.state();

    // A second run was killed: `done` completed, `made` was created but its outcome was never
    // recorded, `never` was announced but the call did not happen.
    let v2 = stack(vec![
        decl("us-east-1/x:Thing/base").input("size", 1),
        decl("us-east-1/x:Thing/done").input("size", 2),
        decl("us-east-1/x:Thing/made").input("on", out("us-east-1/x:Thing/base", "arn")),
        decl("us-east-1/x:Thing/never").input("size", 3),
    ]);
    let base_arn = before
        .output(&addr("us-east-1/x:Thing/base"), "arn")
        .unwrap()
        .clone();
    let made_inputs = props(&[("on", base_arn)]);
    let kind = home.providers.get("x:Thing").unwrap().clone();
    let create = |name: &str, inputs: &Props| {
        let ctx = OpContext {
            addr: addr(&format!("us-east-1/x:Thing/{name}")),
            stack: STACK.into(),
            env: ENV.into(),
            token: format!("token-{name}"),
        };
        rt.block_on(kind.create(&ctx, inputs)).unwrap()
    };
    let done_inputs = props(&[("size", Value::from(2))]);
    let done_obs = create("done", &done_inputs);
    let made_obs = create("made", &made_inputs);
    let paths = home.store.paths(STACK, ENV);
    {
        let journal =
            Journal::create(&paths.journal, begin(&before.lineage, before.serial)).unwrap();
        for r in [
            intent_create(1, "us-east-1/x:Thing/done", &done_inputs),
            intent_create(2, "us-east-1/x:Thing/made", &made_inputs),
            intent_create(
                3,
                "us-east-1/x:Thing/never",
                &props(&[("size", Value::from(3))]),
            ),
            JournalRecord::Done {
                seq: 1,
                addr: addr("us-east-1/x:Thing/done"),
                record: Some(ResourceRecord {
                    addr: addr("us-east-1/x:Thing/done"),
                    id: done_obs.id.clone(),
                    inputs: props_to_json(&done_inputs),
                    outputs: props_to_json(&done_obs.outputs),
                    dependencies: Vec::new(),
                    protect: false,
                    retain_on_delete: false,
                }),
            },
        ] {
            journal.append_blocking(&r).unwrap();
        }
    }

    // Reading does not change anything, and counts what is pending.
    let (read, pending) = ops::read_state(&home.store, STACK, ENV).unwrap();
    assert_eq!(pending, 2);
    assert!(read.resources.contains_key(&addr("us-east-1/x:Thing/done")));
    assert!(paths.journal.exists());

    let (state, notes) = home.recover().unwrap();
    let findings: Vec<String> = notes
        .iter()
        .map(|n| format!("{} {:?}: {}", n.addr, n.op, n.finding))
        .collect();
    assert_eq!(
        findings,
        [
            format!(
                "us-east-1/x:Thing/made Create: the interrupted create had made it ({}); adopted",
                made_obs.id
            ),
            "us-east-1/x:Thing/never Create: the interrupted create had not happened (looked up by the token of the create that made it); it will be planned again".to_string(),
        ]
    );
    assert!(
        !paths.journal.exists(),
        "the journal is removed once folded"
    );
    assert_eq!(state.serial, before.serial + 1);
    assert_eq!(home.state(), state, "the recovered state is saved");
    assert_eq!(
        state.resources[&addr("us-east-1/x:Thing/done")].id,
        done_obs.id
    );
    assert_eq!(
        state.resources[&addr("us-east-1/x:Thing/made")].id,
        made_obs.id
    );
    assert!(
        !state
            .resources
            .contains_key(&addr("us-east-1/x:Thing/never"))
    );

    // The next plan creates only what never happened, and nothing is duplicated.
    let next = home.plan(&v2);
    let planned: Vec<String> = next
        .changes()
        .map(|c| format!("{} {}", c.action.name(), c.addr))
        .collect();
    assert_eq!(planned, ["create us-east-1/x:Thing/never"]);
    assert!(rt.block_on(home.up(&v2, 2)).succeeded());
    for d in v2.graph.in_order() {
        assert_eq!(home.cloud.count(&d.addr), 1, "{}", d.addr);
    }
}

#[test]
fn recover_after_a_first_run_killed_before_any_state_was_saved() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path());
    let rt = runtime();
    let paths = home.store.paths(STACK, ENV);
    std::fs::create_dir_all(&paths.dir).unwrap();
    let inputs = props(&[("size", Value::from(1))]);
    let kind = home.providers.get("x:Thing").unwrap().clone();
    let ctx = OpContext {
        addr: addr("us-east-1/x:Thing/a"),
        stack: STACK.into(),
        env: ENV.into(),
        token: "t".into(),
    };
    let made = rt.block_on(kind.create(&ctx, &inputs)).unwrap();
    {
        let journal = Journal::create(&paths.journal, begin("first-lineage", 0)).unwrap();
        journal
            .append_blocking(&intent_create(1, "us-east-1/x:Thing/a", &inputs))
            .unwrap();
    }
    assert!(!paths.state.exists());

    let (state, notes) = home.recover().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(state.lineage, "first-lineage");
    assert_eq!(state.resources[&addr("us-east-1/x:Thing/a")].id, made.id);
    assert!(
        !rt.block_on(home.up(
            &stack(vec![decl("us-east-1/x:Thing/a").input("size", 1)]),
            1
        ))
        .results
        .iter()
        .any(|r| r.action == tandem_engine::Action::Create)
    );
    assert_eq!(home.cloud.count(&addr("us-east-1/x:Thing/a")), 1);
}

#[test]
fn a_journal_already_folded_is_ignored_and_one_that_does_not_fit_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::in_memory(dir.path());
    let mut state = empty_state();
    state.serial = 2;
    home.store.save(&state).unwrap();
    let paths = home.store.paths(STACK, ENV);
    let write = |records: &[JournalRecord]| {
        let journal = Journal::create(&paths.journal, records[0].clone()).unwrap();
        for r in &records[1..] {
            journal.append_blocking(r).unwrap();
        }
    };
    let forget = JournalRecord::Forget {
        addr: addr("us-east-1/x:Thing/a"),
    };

    // A crash between the state's write and the journal's removal: the journal continues an
    // older serial, and is dropped without changing the state.
    write(&[begin(&state.lineage, 1), forget.clone()]);
    assert_eq!(
        ops::read_state(&home.store, STACK, ENV).unwrap(),
        (state.clone(), 0)
    );
    let (recovered, notes) = home.recover().unwrap();
    assert_eq!((recovered, notes), (state.clone(), vec![]));
    assert!(!paths.journal.exists());
    assert_eq!(home.state(), state);

    let error_of = |records: &[JournalRecord]| {
        write(records);
        let err = ops::read_state(&home.store, STACK, ENV).unwrap_err();
        match err {
            tandem_engine::EngineError::Journal(JournalError::Corrupt {
                line, message, ..
            }) => {
                format!("line {line}: {message}")
            }
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        error_of(&[begin("other-lineage", 2)]),
        "line 1: the journal belongs to state lineage other-lineage, the state file has lineage-0000"
    );
    assert_eq!(
        error_of(&[begin(&state.lineage, 5)]),
        "line 1: the journal continues state serial 5, but the state file is at serial 2"
    );
    assert_eq!(
        error_of(&[forget.clone(), begin(&state.lineage, 2)]),
        "line 1: the journal does not start with a begin record"
    );
    assert_eq!(
        error_of(&[begin(&state.lineage, 2), forget, begin(&state.lineage, 2)]),
        "line 3: a second begin record"
    );
    assert_eq!(
        home.state(),
        state,
        "a journal that does not fit changes nothing"
    );
}

#[test]
fn a_pending_operation_in_a_region_that_does_not_answer_is_kept_until_it_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path());
    let rt = runtime();
    let v1 = stack(vec![decl("us-east-1/x:Thing/base").input("size", 1)]);
    assert!(rt.block_on(home.up(&v1, 2)).succeeded());
    let before = home.state();
    // A killed run: a create in us-west-2 made it, its outcome never recorded.
    let kind = home.providers.get("x:Thing").unwrap().clone();
    let inputs = props(&[("size", Value::from(4))]);
    let ctx = OpContext {
        addr: addr("us-west-2/x:Thing/far"),
        stack: STACK.into(),
        env: ENV.into(),
        token: "token-far".into(),
    };
    let made = rt.block_on(kind.create(&ctx, &inputs)).unwrap();
    let paths = home.store.paths(STACK, ENV);
    {
        let journal =
            Journal::create(&paths.journal, begin(&before.lineage, before.serial)).unwrap();
        journal
            .append_blocking(&intent_create(1, "us-west-2/x:Thing/far", &inputs))
            .unwrap();
    }
    // Recovery while us-west-2 does not answer: nothing is read there; the operation is kept.
    let west_down = |a: &ResourceAddr| a.region_str() == "us-west-2";
    let lock = home.store.lock(STACK, ENV, "failover").unwrap();
    let (state, notes) = rt
        .block_on(ops::recover_except(
            &home.store,
            &lock,
            STACK,
            ENV,
            &home.providers,
            &west_down,
        ))
        .unwrap();
    drop(lock);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].finding.contains("us-west-2 does not answer"),
        "{}",
        notes[0].finding
    );
    assert!(
        !paths.journal.exists(),
        "the journal is folded; the operation lives in the state"
    );
    assert_eq!(state.unreconciled.len(), 1);
    assert_eq!(home.state().unreconciled.len(), 1, "saved");
    assert!(!state.resources.contains_key(&addr("us-west-2/x:Thing/far")));
    let (_, pending) = ops::read_state(&home.store, STACK, ENV).unwrap();
    assert_eq!(pending, 1, "still pending for `plan` and `state list`");
    // Once the region answers, the next recovery adopts what the create made.
    let (state, notes) = home.recover().unwrap();
    assert!(notes[0].finding.contains("adopted"), "{}", notes[0].finding);
    assert!(state.unreconciled.is_empty());
    assert_eq!(state.resources[&addr("us-west-2/x:Thing/far")].id, made.id);
    assert_eq!(home.state(), state);
}
