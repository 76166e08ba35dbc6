//! Scan cost on a labelled corpus, event after event, against the same events each scanned a
//! second time straight away.
//!
//! What this is for: the `scan` bench runs one event per iteration, so the engine's tables stay
//! in the CPU caches between scans. A server scans a different event each time. In the same
//! run, on the same events:
//!
//! - `corpus/sequence`: the first `EVENTS` events of the corpus, each scanned once, in order,
//!   with a warm scratch (the lazy DFAs have seen every event before the measurement starts);
//! - `corpus/rescan`: each of those events scanned once untimed and then once more timed, so
//!   that the timed scan finds in the caches and the TLB what its event touches.
//!
//! The gap between the two is what the engine's working set costs across events: the keyword
//! automaton and a lazy DFA per rule that runs, read a few lines here and there per event,
//! which the other passes have pushed out of the caches since the last event (DESIGN.md,
//! "Working set": a keyword automaton 60 times smaller cost the same per byte in sequence). Both are per event; `sequence / rescan` is the figure to compare
//! across machines and runs.
//!
//! The corpus is `SENTINEL_CORPUS`, or `../shared/corpus/dev.jsonl` from the workspace root: JSON
//! Lines whose objects hold the event under `"event"`, read in place. Without it the bench says
//! so and measures nothing. `cargo bench -p sentinel-benches --bench corpus` (about 30 s).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mcp_threatscan::{Engine, Event};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How many events of the corpus are scanned (the Python bench reads the first 1,000; half as
/// many keep each criterion sample short).
const EVENTS: usize = 500;

fn corpus_path() -> PathBuf {
    match std::env::var_os("SENTINEL_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/dev.jsonl"),
    }
}

/// The first `EVENTS` events of the corpus, or why there are none.
fn events() -> Result<Vec<Event>, String> {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut events = Vec::with_capacity(EVENTS);
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).take(EVENTS) {
        let mut value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        let event = value
            .get_mut("event")
            .map(serde_json::Value::take)
            .ok_or_else(|| format!("{}:{}: no \"event\"", path.display(), i + 1))?;
        events.push(Event::from_value(event).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?);
    }
    Ok(events)
}

fn corpus(c: &mut Criterion) {
    let events = match events() {
        Ok(events) => events,
        Err(why) => {
            eprintln!("corpus bench skipped: the corpus cannot be read ({why}); set SENTINEL_CORPUS");
            return;
        }
    };
    let engine = Engine::new().expect("the built-in pack builds");
    let mut scratch = engine.create_scratch();
    // Every lazy DFA state these events need is built before anything is timed.
    let findings: usize = events.iter().map(|e| engine.scan_with(&mut scratch, e).findings.len()).sum();
    let bytes: usize = events.iter().map(|e| e.prompt.len() + e.response.len() + e.tool.len()).sum();
    eprintln!("corpus: {} events, {findings} findings, {bytes} bytes of tool, prompt and response", events.len());

    let mut group = c.benchmark_group("corpus");
    group.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function(BenchmarkId::new("sentinel", "sequence"), |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                for event in &events {
                    black_box(engine.scan_with(&mut scratch, black_box(event)).findings.len());
                }
            }
            started.elapsed()
        })
    });
    group.bench_function(BenchmarkId::new("sentinel", "rescan"), |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                for event in &events {
                    black_box(engine.scan_with(&mut scratch, black_box(event)).findings.len());
                    let started = Instant::now();
                    black_box(engine.scan_with(&mut scratch, black_box(event)).findings.len());
                    timed += started.elapsed();
                }
            }
            timed
        })
    });
    group.finish();
}

criterion_group!(benches, corpus);
criterion_main!(benches);
