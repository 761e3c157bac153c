//! Property tests of the decoders of Tandem's files: any bytes, and valid files with bytes
//! flipped, inserted or cut, given to the state decoder (`State::from_json_bytes`), the journal
//! reader (`read_journal`) and the saved-plan decoder (`SavedPlan::from_json_bytes`) give a value
//! or an error — never a panic. A few hundred cases each, so that `make test` stays fast.

use std::sync::OnceLock;

use proptest::prelude::*;
use tandem_core::{Props, ResourceAddr, ResourceDecl, StackBuilder, Value};
use tandem_engine::journal::read_journal;
use tandem_engine::testing::{FakeCloud, applied_state};
use tandem_engine::{JournalRecord, OpKind, PlanConfig, Providers, SavedPlan, State, plan};

fn addr(text: &str) -> ResourceAddr {
    text.parse().unwrap()
}

/// A state with three resources, one referring to another, and an output.
fn state_and_plan() -> &'static (Vec<u8>, Vec<u8>) {
    static FILES: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut b = StackBuilder::new();
        b.declare(ResourceDecl::new(addr("global/x:Thing/role")).input("name", "app"));
        b.declare(
            ResourceDecl::new(addr("us-east-1/x:Thing/db"))
                .input("size", 2)
                .input("role", Value::reference(addr("global/x:Thing/role"), "arn")),
        );
        b.declare(ResourceDecl::new(addr("us-west-2/x:Thing/replica")).input("size", 1));
        b.export("db", Value::reference(addr("us-east-1/x:Thing/db"), "arn"));
        let desired = b.finish().unwrap();
        let mut base = State::new("demo", "dev", "lineage-1".into());
        base.serial = 4;
        let state = applied_state(&desired, base, |addr, _| {
            let id = format!("id-{}", addr.name());
            let mut outputs = Props::new();
            outputs.insert("arn".into(), Value::str(format!("arn:fake:{id}")));
            (id, outputs)
        });
        // A plan that changes one input, adds and deletes: against the state above.
        let mut b = StackBuilder::new();
        b.declare(ResourceDecl::new(addr("global/x:Thing/role")).input("name", "app"));
        b.declare(ResourceDecl::new(addr("us-east-1/x:Thing/db")).input("size", 3));
        b.declare(ResourceDecl::new(addr("us-east-1/x:Thing/new")).input("size", 1));
        let next = b.finish().unwrap();
        let cloud = FakeCloud::in_memory();
        let providers = Providers::new().with(cloud.provider("x:Thing", &[]));
        let config = PlanConfig {
            wave_order: vec!["global".into(), "us-east-1".into(), "us-west-2".into()],
        };
        let p = plan(&next, &state, &providers, &config).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        tandem_engine::save_plan(&path, &p, "fingerprint").unwrap();
        (state.to_json_bytes(), std::fs::read(&path).unwrap())
    })
}

/// A journal of a run: begin, intents and outcomes, one JSON line each.
fn journal() -> Vec<u8> {
    let records = [
        JournalRecord::Begin {
            lineage: "lineage-1".into(),
            base_serial: 4,
            operation: "apply".into(),
            secret_key: None,
        },
        JournalRecord::Intent {
            seq: 1,
            addr: addr("us-east-1/x:Thing/new"),
            op: OpKind::Create,
            token: "token-1".into(),
            id: None,
            inputs: Some(serde_json::json!({"size": 1})),
            dependencies: Vec::new(),
            protect: false,
            retain_on_delete: false,
        },
        JournalRecord::Failed {
            seq: 1,
            addr: addr("us-east-1/x:Thing/new"),
            error: "boom".into(),
        },
    ];
    let mut out = Vec::new();
    for r in &records {
        out.extend(serde_json::to_vec(r).unwrap());
        out.push(b'\n');
    }
    out
}

/// One change of a file's bytes.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Truncate(usize),
    Delete(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let one = prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Edit::Flip(i, x)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..32).prop_map(|(i, n)| Edit::Delete(i, n)),
    ];
    prop::collection::vec(one, 1..4)
}

fn mutate(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        let len = b.len();
        match e {
            Edit::Flip(i, x) => b[i % len] ^= x,
            Edit::Insert(i, bytes) => {
                let at = i % (len + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Edit::Truncate(i) => b.truncate(i % len),
            Edit::Delete(i, n) => {
                let at = i % len;
                b.drain(at..(at + n).min(len));
            }
        }
    }
    b
}

/// The journal reader on `bytes`, through a file as the store keeps it.
fn read_journal_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.journal");
    std::fs::write(&path, bytes).unwrap();
    if let Err(e) = read_journal(&path) {
        // The message names the file.
        assert!(e.to_string().contains("dev.journal"), "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_decode_as_a_state_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = State::from_json_bytes(&bytes);
    }

    #[test]
    fn a_damaged_state_decodes_or_is_an_error(edits in edits()) {
        let (state, _) = state_and_plan();
        let _ = State::from_json_bytes(&mutate(state, &edits));
    }

    #[test]
    fn any_bytes_decode_as_a_saved_plan_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = SavedPlan::from_json_bytes(&bytes);
    }

    #[test]
    fn a_damaged_saved_plan_is_refused(edits in edits()) {
        let (_, saved) = state_and_plan();
        let damaged = mutate(saved, &edits);
        // The checksum covers the plan: whatever the edit, a plan that still decodes is the
        // same plan (an edit of whitespace outside it, say), never a different one.
        if let Ok(p) = SavedPlan::from_json_bytes(&damaged) {
            let original = SavedPlan::from_json_bytes(saved).unwrap();
            prop_assert_eq!(p.to_json_bytes().unwrap(), original.to_json_bytes().unwrap());
        }
    }

    #[test]
    fn any_bytes_read_as_a_journal_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read_journal_bytes(&bytes);
    }

    #[test]
    fn a_damaged_journal_reads_or_is_an_error(edits in edits()) {
        read_journal_bytes(&mutate(&journal(), &edits));
    }
}

#[test]
fn the_valid_files_decode() {
    let (state, saved) = state_and_plan();
    let s = State::from_json_bytes(state).unwrap();
    assert_eq!(s.resources.len(), 3);
    let p = SavedPlan::from_json_bytes(saved).unwrap();
    assert!(p.plan.has_changes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.journal");
    std::fs::write(&path, journal()).unwrap();
    assert_eq!(read_journal(&path).unwrap().len(), 3);
}
