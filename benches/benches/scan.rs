//! Scan throughput of `sentinel-core` against a `regex::RegexSet` baseline, and build times.
//!
//! What is measured:
//!
//! - `scan/<pack>`: one event per iteration, scanned by `Engine::scan_with` with a warm
//!   scratch (the steady state of an embedder's hot loop: no allocation), against
//!   [`Baseline::scan`], a `RegexSet::matches` call per scanned string over the same rules
//!   (`sentinel_benches::baseline`). Throughput is the bytes of every string the engine scans
//!   (tool name, prompt, response, `metadata.arguments`). Inputs are the benign and malicious
//!   events of about 256 B, 4 KB and 64 KB of `sentinel_benches::inputs`; ids read
//!   `scan/<pack>/<engine>/<mix>-<size>`.
//! - Packs: `seed`, the rules of shared/seeds/001 alone (`mcp_threatscan::SEED_PACK`);
//!   `builtin`, the full built-in pack (`Engine::new()`); and `synthetic1000`, the 1,000
//!   generated rules of `sentinel_benches::synthetic` alone (`without_builtin_rules`).
//! - `build/<pack>`: `Engine` build time (parse, plan, build the keyword automaton; the
//!   built-in pack's regexes are compiled on first use, a user pack's with the engine) and
//!   `RegexSet` build time for each pack. The lazy DFAs fill in during the first scans, which
//!   the scan warm-up absorbs, so these are times to a usable matcher, not to a warm one.
//!
//! The whole run takes about three and a half minutes on two cores:
//! `cargo bench -p sentinel-benches --bench scan`. Figures are in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use mcp_threatscan::Engine;
use sentinel_benches::baseline::Baseline;
use sentinel_benches::inputs::Input;
use sentinel_benches::synthetic;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A pack under test: how to build its engine.
struct PackDef {
    name: &'static str,
    build: fn() -> Engine,
}

fn builtin() -> Engine {
    Engine::new().expect("the built-in pack builds")
}

/// The rules of shared/seeds/001 alone: the baseline the full pack is measured against.
fn seed() -> Engine {
    Engine::builder()
        .without_builtin_rules()
        .rules_toml("seed", mcp_threatscan::SEED_PACK)
        .build()
        .expect("the seed pack builds")
}

fn synthetic_toml() -> String {
    synthetic::pack_toml(&synthetic::rules(synthetic::RULES))
}

fn synthetic1000() -> Engine {
    synthetic_from(&synthetic_toml())
}

fn synthetic_from(toml: &str) -> Engine {
    synthetic::engine(toml).expect("the synthetic pack builds")
}

const PACKS: [PackDef; 3] = [
    PackDef { name: "seed", build: seed },
    PackDef { name: "builtin", build: builtin },
    PackDef { name: "synthetic1000", build: synthetic1000 },
];

fn scan(c: &mut Criterion) {
    let inputs = Input::all();
    for pack in &PACKS {
        let started = Instant::now();
        let engine = (pack.build)();
        let engine_time = started.elapsed();
        let started = Instant::now();
        let baseline = Baseline::new(&engine).expect("the baseline set builds");
        let set_time = started.elapsed();
        eprintln!(
            "{}: {} rules, {} baseline patterns; first build: engine {:.1} ms, RegexSet {:.1} ms",
            pack.name,
            engine.rules().count(),
            baseline.len(),
            engine_time.as_secs_f64() * 1e3,
            set_time.as_secs_f64() * 1e3,
        );

        let mut group = c.benchmark_group(format!("scan/{}", pack.name));
        group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        for input in &inputs {
            let strings = input.strings();
            let mut scratch = engine.create_scratch();
            let findings = engine.scan_with(&mut scratch, &input.event).findings.len();
            eprintln!(
                "  {}: {} findings, {} baseline matches",
                input.label,
                findings,
                baseline.scan(strings.iter().copied())
            );

            group.throughput(Throughput::Bytes(input.bytes()));
            group.bench_with_input(BenchmarkId::new("sentinel", &input.label), &input.event, |b, event| {
                b.iter(|| engine.scan_with(&mut scratch, black_box(event)).findings.len())
            });
            group.bench_with_input(BenchmarkId::new("regexset", &input.label), &strings, |b, strings| {
                b.iter(|| baseline.scan(black_box(strings).iter().copied()))
            });
        }
        group.finish();
    }
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function(BenchmarkId::new("sentinel", "builtin"), |b| b.iter(builtin));
    let toml = synthetic_toml();
    group
        .bench_function(BenchmarkId::new("sentinel", "synthetic1000"), |b| b.iter(|| synthetic_from(black_box(&toml))));
    let toml10k = synthetic::pack_toml(&synthetic::rules(10 * synthetic::RULES));
    group.bench_function(BenchmarkId::new("sentinel", "synthetic10000"), |b| {
        b.iter(|| synthetic_from(black_box(&toml10k)))
    });
    for pack in &PACKS {
        let engine = (pack.build)();
        group.bench_function(BenchmarkId::new("regexset", pack.name), |b| {
            b.iter(|| Baseline::new(black_box(&engine)).expect("the baseline set builds"))
        });
    }
    group.finish();
}

criterion_group!(benches, scan, build);
criterion_main!(benches);
