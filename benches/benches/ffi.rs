//! Per-event latency through the C API (`sentinel_engine_scan_with`, called through the
//! library's Rust rlib: the same code a C host runs, without the dynamic linker's PLT jump)
//! against the Rust API doing the same work (`Event::from_json` then `Engine::scan_with`),
//! on the same events (the `scan` bench's generated events, as JSON), in the same run.
//!
//! `cargo bench -p sentinel-benches --bench ffi`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mcp_threatscan::{Engine, Event};
use sentinel::{
    sentinel_engine, sentinel_engine_free, sentinel_engine_new, sentinel_engine_scan_with, sentinel_result,
    sentinel_scratch, sentinel_scratch_free, sentinel_scratch_new, sentinel_verdict_blocked, SENTINEL_CONFIG_TOML,
};
use sentinel_benches::inputs::{Input, Mix};
use std::hint::black_box;
use std::ptr;

fn ffi(c: &mut Criterion) {
    let engine = Engine::new().expect("the built-in engine builds");
    let mut scratch = engine.create_scratch();
    let mut c_engine: *mut sentinel_engine = ptr::null_mut();
    let built = sentinel_engine_new(ptr::null(), 0, SENTINEL_CONFIG_TOML, &mut c_engine, ptr::null_mut());
    assert_eq!(built, sentinel_result::SENTINEL_OK);
    let mut c_scratch: *mut sentinel_scratch = ptr::null_mut();
    assert_eq!(sentinel_scratch_new(c_engine, &mut c_scratch), sentinel_result::SENTINEL_OK);

    let mut group = c.benchmark_group("ffi");
    for mix in Mix::ALL {
        for (size, label) in [(256, "256B"), (4 << 10, "4KB")] {
            let input = Input::new(mix, size, label);
            let json = serde_json::to_vec(&input.event).expect("events serialise");
            group.throughput(Throughput::Bytes(json.len() as u64));
            let id = format!("{}-{label}", mix.as_str());
            group.bench_with_input(BenchmarkId::new("rust", &id), &json, |b, json| {
                b.iter(|| {
                    let event = Event::from_json(black_box(json)).expect("the event parses");
                    black_box(engine.scan_with(&mut scratch, &event).is_blocked())
                })
            });
            group.bench_with_input(BenchmarkId::new("c_api", &id), &json, |b, json| {
                b.iter(|| {
                    let mut verdict = ptr::null();
                    let json = black_box(json);
                    let r = sentinel_engine_scan_with(
                        c_engine,
                        c_scratch,
                        json.as_ptr(),
                        json.len(),
                        &mut verdict,
                        ptr::null_mut(),
                    );
                    assert_eq!(r, sentinel_result::SENTINEL_OK);
                    black_box(sentinel_verdict_blocked(verdict))
                })
            });
        }
    }
    group.finish();
    sentinel_scratch_free(c_scratch);
    sentinel_engine_free(c_engine);
}

criterion_group!(benches, ffi);
criterion_main!(benches);
