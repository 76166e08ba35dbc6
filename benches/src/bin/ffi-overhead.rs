//! The C API's cost over the Rust API, paired: rounds of N scans through
//! `sentinel_engine_scan_with` and N through `Event::from_json` + `Engine::scan_with`
//! alternate on the same event, so that both meet the same load on a shared machine; prints
//! the median per-call difference and ratio over the rounds. The criterion bench `ffi` gives
//! each side's own distribution; this gives the difference, which is smaller than its noise.
//!
//! `ffi-overhead [rounds]` (default 200 rounds of 500 scans per side, per event).

use mcp_threatscan::{Engine, Event};
use sentinel::{
    sentinel_engine, sentinel_engine_new, sentinel_engine_scan_with, sentinel_result, sentinel_scratch,
    sentinel_scratch_new, SENTINEL_CONFIG_TOML,
};
use sentinel_benches::inputs::{Input, Mix};
use std::hint::black_box;
use std::ptr;
use std::time::Instant;

const PER_ROUND: u32 = 500;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let engine = Engine::new().expect("the built-in engine builds");
    let mut scratch = engine.create_scratch();
    let mut c_engine: *mut sentinel_engine = ptr::null_mut();
    assert_eq!(
        sentinel_engine_new(ptr::null(), 0, SENTINEL_CONFIG_TOML, &mut c_engine, ptr::null_mut()),
        sentinel_result::SENTINEL_OK
    );
    let mut c_scratch: *mut sentinel_scratch = ptr::null_mut();
    assert_eq!(sentinel_scratch_new(c_engine, &mut c_scratch), sentinel_result::SENTINEL_OK);
    println!("| event | JSON bytes | Rust API ns/call | C API ns/call | C - Rust ns/call | C / Rust |");
    println!("|---|---:|---:|---:|---:|---:|");
    for mix in Mix::ALL {
        for (size, label) in [(256, "256B"), (4 << 10, "4KB")] {
            let json = serde_json::to_vec(&Input::new(mix, size, label).event).expect("events serialise");
            let mut rust = Vec::with_capacity(rounds);
            let mut c = Vec::with_capacity(rounds);
            for round in 0..rounds + 10 {
                let start = Instant::now();
                for _ in 0..PER_ROUND {
                    let event = Event::from_json(black_box(&json)).expect("the event parses");
                    black_box(engine.scan_with(&mut scratch, &event).is_blocked());
                }
                let r = start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND);
                let start = Instant::now();
                for _ in 0..PER_ROUND {
                    let mut verdict = ptr::null();
                    let j = black_box(&json);
                    let res = sentinel_engine_scan_with(
                        c_engine,
                        c_scratch,
                        j.as_ptr(),
                        j.len(),
                        &mut verdict,
                        ptr::null_mut(),
                    );
                    black_box((res, verdict));
                }
                let k = start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND);
                if round >= 10 {
                    rust.push(r);
                    c.push(k);
                }
            }
            let mut diffs: Vec<f64> = rust.iter().zip(&c).map(|(r, k)| k - r).collect();
            let mut ratios: Vec<f64> = rust.iter().zip(&c).map(|(r, k)| k / r).collect();
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (mr, mc) = (median(&mut rust.clone()), median(&mut c.clone()));
            println!(
                "| {}-{label} | {} | {mr:.0} | {mc:.0} | {:+.0} | {:.3} |",
                mix.as_str(),
                json.len(),
                median(&mut diffs),
                median(&mut ratios)
            );
        }
    }
}
