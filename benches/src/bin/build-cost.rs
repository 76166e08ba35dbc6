//! Builds one engine and scans one event, as a process that embeds the engine does at start,
//! and prints how long the build took. Run it under `/usr/bin/time -v` for the peak resident
//! memory of that process.
//!
//! `build-cost builtin` (the built-in pack), `build-cost synthetic N` (N generated rules of
//! `sentinel_benches::synthetic`, without the built-in content packs), `build-cost both N`.

use mcp_threatscan::{Engine, Event};
use sentinel_benches::synthetic;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |i: usize| args.get(i).and_then(|n| n.parse::<usize>().ok());
    let (label, toml) = match (args.first().map(String::as_str), count(1)) {
        (Some("builtin"), _) => ("builtin".to_string(), None),
        (Some("synthetic"), Some(n)) => {
            (format!("synthetic{n}"), Some((false, synthetic::pack_toml(&synthetic::rules(n)))))
        }
        (Some("both"), Some(n)) => {
            (format!("builtin+synthetic{n}"), Some((true, synthetic::pack_toml(&synthetic::rules(n)))))
        }
        _ => {
            eprintln!("usage: build-cost builtin | synthetic N | both N");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let built = match &toml {
        None => Engine::new(),
        Some((false, toml)) => synthetic::engine(toml),
        Some((true, toml)) => Engine::builder().rules_toml(synthetic::SOURCE, toml).build(),
    };
    let engine = match built {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("build-cost: {e}");
            return ExitCode::FAILURE;
        }
    };
    let built_in = start.elapsed();
    let event = Event {
        tool: "search".into(),
        prompt: "find the tickets about the login page".into(),
        response: "3 results: TCK-1, TCK-2, TCK-3".into(),
        ..Event::default()
    };
    let verdict = engine.scan(&event);
    let first_scan = start.elapsed() - built_in;
    println!(
        "{label}: {} rules, build {:.1} ms, first scan {:.2} ms, action {}",
        engine.rules().count(),
        built_in.as_secs_f64() * 1e3,
        first_scan.as_secs_f64() * 1e3,
        verdict.action
    );
    ExitCode::SUCCESS
}
