//! Engine benchmarks. Prints one line per figure, `BENCH <name> <value> <unit>`, on stdout; progress
//! goes to stderr.
//!
//! - `plan_{1k,10k,100k}_ms`: evaluate a synthetic program into its graph and plan it against a
//!   prior state holding about half of it (no-ops, updates, replacements, creates and deletes).
//! - `plan_100k_peak_mb`: the peak of bytes allocated while the 100k plan runs (prior state
//!   included), counted by a wrapper around the system allocator.
//! - `state_10k_ms`: save and load of a 10k-resource state through `LocalStore`.
//! - `journal_append_{100,10k}_us`: one durable `append_blocking` of a `Done` record, to a journal
//!   already holding 100 or 10k records.
//!
//! With `BREAKDOWN=1` in the environment it only prints, on stderr, where the plan's memory goes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tandem_core::{
    OutputRef, Program, ProgramError, Props, Region, ResourceAddr, ResourceDecl, ResourceOptions,
    StackBuilder, Value, evaluate, map,
};
use tandem_engine::state::ResourceRecord;
use tandem_engine::testing::FakeCloud;
use tandem_engine::{
    Journal, JournalRecord, LocalStore, OpKind, PlanConfig, Providers, ResourceState, State, plan,
};

/// Counts the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = IN_USE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                IN_USE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KINDS: [&str; 4] = ["x:Thing", "s3:Bucket", "rds:DbInstance", "elb:LoadBalancer"];
const REGIONS: [&str; 3] = ["global", "us-east-1", "us-west-2"];

/// A deterministic mix of the bits of `i` and `salt`.
fn mix(i: usize, salt: u64) -> u64 {
    let mut x = (i as u64) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn addr_of(i: usize) -> ResourceAddr {
    let region = Region::parse(REGIONS[i % 3]).expect("valid region");
    ResourceAddr::new(&region, KINDS[i % 4], &format!("r{i:06}")).expect("valid address")
}

/// The resources `i` refers to: one to three earlier ones, mostly close by, some far.
fn refs_of(i: usize) -> Vec<usize> {
    if i == 0 {
        return Vec::new();
    }
    let count = 1 + (mix(i, 1) % 3) as usize;
    let mut out: Vec<usize> = (0..count)
        .map(|k| {
            let back = if k == 0 {
                1 + (mix(i, 2) % 16) as usize
            } else {
                1 + (mix(i, 3 + k as u64) % i as u64) as usize
            };
            i - back.min(i)
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The declaration of resource `i`, at `generation` (the prior state was made from generation 0).
fn decl_of(i: usize, generation: u64) -> ResourceDecl {
    let size = if generation > 0 && i % 10 == 0 {
        i as i64 + 1
    } else {
        i as i64
    };
    let mut d = ResourceDecl::new(addr_of(i))
        .input("size", size)
        .input("name", format!("res-{i}"))
        .input(
            "tags",
            map([
                ("env", Value::str("bench")),
                ("tier", Value::from((i % 5) as i64)),
            ]),
        );
    if generation > 0 && i % 50 == 2 {
        d = d.input("name", format!("res-{i}-v2"));
    }
    for (k, j) in refs_of(i).into_iter().enumerate() {
        let output = if k == 0 { "arn" } else { "id" };
        d = d.input(&format!("ref{k}"), Value::reference(addr_of(j), output));
    }
    if i % 97 == 0 {
        d = d.options(ResourceOptions {
            ignore_changes: vec!["tags".into()],
            ..ResourceOptions::default()
        });
    }
    d
}

/// `n` resources, about a tenth of them changed since generation 0.
struct Synthetic {
    n: usize,
}

impl Program for Synthetic {
    fn name(&self) -> &str {
        "bench"
    }

    fn run(&self, stack: &mut StackBuilder) -> Result<(), ProgramError> {
        for i in 0..self.n {
            stack.declare(decl_of(i, 1));
        }
        Ok(())
    }

    fn fingerprint(&self) -> String {
        format!("synthetic-{}", self.n)
    }
}

/// What an apply of generation 0 would have left, for the even resources only, plus `n / 20`
/// resources that are no longer declared.
fn prior_state(n: usize) -> State {
    let mut state = State::new("bench", "dev", "bench-lineage".into());
    state.serial = 7;
    for i in (0..n).step_by(2) {
        let d = decl_of(i, 0);
        let inputs: Props = {
            let lookup = |r: &OutputRef| {
                Some(
                    state
                        .output(&r.addr, &r.output)
                        .cloned()
                        .unwrap_or_else(|| Value::str("arn:fake:gone")),
                )
            };
            d.inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.resolve(&lookup)))
                .collect()
        };
        state
            .resources
            .insert(d.addr.clone(), recorded(&d.addr, inputs, d.dependencies()));
    }
    for j in 0..n / 20 {
        let a = ResourceAddr::new(
            &Region::named("us-east-1"),
            "x:Thing",
            &format!("old{j:06}"),
        )
        .expect("valid address");
        let deps = if j > 0 {
            vec![
                ResourceAddr::new(
                    &Region::named("us-east-1"),
                    "x:Thing",
                    &format!("old{:06}", j - 1),
                )
                .expect("valid address"),
            ]
        } else {
            Vec::new()
        };
        let mut inputs = Props::new();
        inputs.insert("size".into(), Value::from(j as i64));
        state
            .resources
            .insert(a.clone(), recorded(&a, inputs, deps));
    }
    state
}

fn recorded(a: &ResourceAddr, inputs: Props, dependencies: Vec<ResourceAddr>) -> ResourceState {
    let id = format!("id-{}", a.name());
    let mut outputs = Props::new();
    outputs.insert(
        "arn".into(),
        Value::str(format!("arn:fake:{}:{id}", a.kind())),
    );
    outputs.insert("id".into(), Value::str(&id));
    ResourceState {
        id,
        inputs,
        outputs,
        dependencies,
        protect: false,
        retain_on_delete: false,
    }
}

fn providers() -> Providers {
    let cloud = FakeCloud::in_memory();
    let mut p = Providers::new();
    p.add(cloud.provider("x:Thing", &[]));
    p.add(cloud.provider("s3:Bucket", &["name"]));
    p.add(cloud.provider("rds:DbInstance", &["name"]));
    p.add(cloud.provider("elb:LoadBalancer", &[]));
    p
}

fn config() -> PlanConfig {
    PlanConfig {
        wave_order: REGIONS.iter().map(|r| r.to_string()).collect(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The best of `reps` timings of evaluate + plan of `n` resources; and the peak bytes of the first.
fn bench_plan(n: usize, reps: usize) -> (f64, usize) {
    let prior = prior_state(n);
    let providers = providers();
    let config = config();
    let program = Synthetic { n };
    let mut best = f64::INFINITY;
    let mut peak = 0;
    for rep in 0..reps {
        let before = IN_USE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let start = Instant::now();
        let desired = evaluate(&program).expect("the synthetic program is valid");
        let p = plan(&desired, &prior, &providers, &config).expect("plan");
        let took = start.elapsed();
        if rep == 0 {
            peak = PEAK.load(Ordering::Relaxed);
            eprintln!(
                "plan {n}: {:.1} MB in use before (prior state and providers), peak {:.1} MB",
                before as f64 / 1048576.0,
                peak as f64 / 1048576.0
            );
            let s = p.summary();
            eprintln!(
                "plan {n}: {} create, {} update, {} replace, {} delete, {} unchanged, {} waves",
                s.create,
                s.update,
                s.replace,
                s.delete,
                s.unchanged,
                p.waves.len()
            );
            assert!(s.create > 0 && s.update > 0 && s.replace > 0 && s.delete > 0);
            assert!(s.unchanged > 0);
        }
        drop((desired, p));
        best = best.min(ms(took));
        eprintln!("plan {n} rep {rep}: {:.1} ms", ms(took));
    }
    (best, peak)
}

fn bench_state(n: usize, reps: usize) -> f64 {
    let mut state = prior_state(2 * n);
    state.resources = std::mem::take(&mut state.resources)
        .into_iter()
        .take(n)
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path());
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let start = Instant::now();
        store.save(&state).expect("save");
        let loaded = store.load("bench", "dev").expect("load").expect("saved");
        let took = start.elapsed();
        assert_eq!(loaded.resources.len(), n);
        best = best.min(ms(took));
    }
    best
}

fn done_record(i: usize) -> JournalRecord {
    let a = addr_of(i);
    let d = decl_of(i, 0);
    let inputs: Props = d
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.resolve(&|_| Some(Value::str("arn:fake:x")))))
        .collect();
    let rs = recorded(&a, inputs, d.dependencies());
    JournalRecord::Done {
        seq: i as u64,
        addr: a.clone(),
        record: Some(ResourceRecord::masked(&a, &rs)),
    }
}

/// The median over `reps` of the mean time of one append, to a journal holding `existing` records.
fn bench_journal(existing: usize, appends: usize, reps: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dev.journal");
    let journal = Arc::new(
        Journal::create(
            &path,
            JournalRecord::Begin {
                lineage: "bench".into(),
                base_serial: 0,
                operation: "apply".into(),
                secret_key: None,
            },
        )
        .expect("create journal"),
    );
    // Fill concurrently, so that group commit makes it quick.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..existing {
            let j = Arc::clone(&journal);
            let rec = if i % 2 == 0 {
                JournalRecord::Intent {
                    seq: i as u64,
                    addr: addr_of(i),
                    op: OpKind::Create,
                    token: format!("token-{i}"),
                    id: None,
                    inputs: None,
                    dependencies: Vec::new(),
                    protect: false,
                    retain_on_delete: false,
                }
            } else {
                done_record(i)
            };
            set.spawn(async move { j.append(&rec).await });
        }
        while let Some(r) = set.join_next().await {
            r.expect("task").expect("append");
        }
    });
    let mut means = Vec::with_capacity(reps);
    for rep in 0..reps {
        let records: Vec<JournalRecord> = (0..appends)
            .map(|k| done_record(existing + rep * appends + k))
            .collect();
        let start = Instant::now();
        for r in &records {
            journal.append_blocking(r).expect("append");
        }
        means.push(start.elapsed().as_secs_f64() * 1e6 / appends as f64);
    }
    means.sort_by(f64::total_cmp);
    means[means.len() / 2]
}

fn main() {
    if std::env::var_os("BREAKDOWN").is_some() {
        breakdown(100_000);
        return;
    }
    // `cargo bench` passes `--bench`; a filter or other flags are not supported.
    let (p1k, _) = bench_plan(1_000, 5);
    println!("BENCH plan_1k_ms {p1k:.1} ms");
    let (p10k, _) = bench_plan(10_000, 5);
    println!("BENCH plan_10k_ms {p10k:.1} ms");
    let (p100k, peak) = bench_plan(100_000, 3);
    println!("BENCH plan_100k_ms {p100k:.1} ms");
    println!(
        "BENCH plan_100k_peak_mb {:.1} MB",
        peak as f64 / (1024.0 * 1024.0)
    );
    let s10k = bench_state(10_000, 5);
    println!("BENCH state_10k_ms {s10k:.1} ms");
    let j100 = bench_journal(100, 200, 3);
    println!("BENCH journal_append_100_us {j100:.1} us");
    let j10k = bench_journal(10_000, 200, 3);
    println!("BENCH journal_append_10k_us {j10k:.1} us");
}

/// With `BREAKDOWN=1`: the bytes held by the desired graph and by the diff of `n` resources.
fn breakdown(n: usize) {
    let prior = prior_state(n);
    let providers = providers();
    let base = IN_USE.load(Ordering::Relaxed);
    let desired = evaluate(&Synthetic { n }).unwrap();
    let after_eval = IN_USE.load(Ordering::Relaxed);
    let changes = tandem_engine::diff(&desired, &prior, &providers).unwrap();
    let after_diff = IN_USE.load(Ordering::Relaxed);
    eprintln!(
        "breakdown {n}: graph {:.1} MB, diff {:.1} MB, size_of Value {}, ResourceChange {}",
        (after_eval - base) as f64 / 1048576.0,
        (after_diff - after_eval) as f64 / 1048576.0,
        std::mem::size_of::<Value>(),
        std::mem::size_of::<tandem_engine::ResourceChange>()
    );
    drop(changes);
}
