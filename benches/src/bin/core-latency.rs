//! The core's per-event latency on a file of events, for comparison with a binding's: each
//! line is one event's JSON text, parsed and scanned with a reused scratch (what a binding
//! does with an event given as text), `passes` times over the file.
//!
//! `core-latency EVENTS.jsonl [passes] [warm-up passes]` prints one JSON line: `events`, `bytes`, `p50_ns`,
//! `p99_ns`, `mean_ns` (over every call of every pass) and `best_pass_ns` (the fastest pass's
//! total). Untimed passes come first (1 by default): a fresh process's first passes are slower
//! (lazy-DFA caches, CPU caches and branch predictors warming up) than those of a binding whose
//! engine has been scanning the same events for a while, so a comparison with one warms both.
//! The Node binding's bench (`sentinel-node/bench/bench.js`) runs it.

use mcp_threatscan::{Engine, Event};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: core-latency EVENTS.jsonl [passes] [warm-up passes]");
        return ExitCode::from(2);
    };
    let passes: usize = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(5).max(1);
    let warm_up: usize = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("core-latency: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        eprintln!("core-latency: {path}: no events");
        return ExitCode::FAILURE;
    }
    let engine = match Engine::new() {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("core-latency: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut scratch = engine.create_scratch();
    // Warm-up: every lazily compiled matcher the events need is built before timing.
    for _ in 0..warm_up {
        for line in &lines {
            if let Ok(event) = Event::from_json(line) {
                engine.scan_with(&mut scratch, &event);
            }
        }
    }
    let mut times = Vec::with_capacity(lines.len() * passes);
    let mut best_pass = u128::MAX;
    let mut blocked = 0usize;
    for _ in 0..passes {
        let pass = Instant::now();
        for line in &lines {
            let start = Instant::now();
            let verdict = match Event::from_json(line) {
                Ok(event) => engine.scan_with(&mut scratch, &event).is_blocked(),
                Err(_) => true,
            };
            times.push(start.elapsed().as_nanos());
            blocked += usize::from(verdict);
        }
        best_pass = best_pass.min(pass.elapsed().as_nanos());
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let mean = times.iter().sum::<u128>() / times.len().max(1) as u128;
    println!(
        "{{\"events\":{},\"bytes\":{},\"p50_ns\":{},\"p99_ns\":{},\"mean_ns\":{},\"best_pass_ns\":{},\"blocked_per_pass\":{}}}",
        lines.len(),
        lines.iter().map(|l| l.len()).sum::<usize>(),
        at(0.5),
        at(0.99),
        mean,
        best_pass,
        blocked / passes
    );
    ExitCode::SUCCESS
}
