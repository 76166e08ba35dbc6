//! Arbitrary bytes as an event: `Event::from_json`, then `scan_with` (a scratch kept across
//! runs) and `scan_json` (the engine's pool). Checks: the two verdicts are equal; findings stay
//! within MAX_FINDINGS, and a finding at a string of the event has its span inside that string,
//! on character boundaries; an input that does not parse gets a blocked verdict (fail_closed,
//! the default), and `scan_json` gives exactly that verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_threatscan::{Engine, Event};
use sentinel_fuzz::{check_verdict, Strings};
use std::cell::RefCell;

fuzz_target!(
    init: {
        // Built once: the built-in packs, the default configuration (fail_closed).
        let _ = engine();
    },
    |data: &[u8]| {
        let engine = engine();
        match Event::from_json(data) {
            Ok(event) => {
                let strings = Strings::of_event(&event);
                SCRATCH.with(|scratch| {
                    let mut scratch = scratch.borrow_mut();
                    let scratch = scratch.get_or_insert_with(|| engine.create_scratch());
                    let verdict = engine.scan_with(scratch, &event);
                    check_verdict(verdict, &strings, data);
                    assert_eq!(*verdict, engine.scan_json(data), "scan_with and scan_json disagree");
                });
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                let verdict = engine.error_verdict(&e);
                assert!(verdict.is_blocked(), "a parse error is not blocked under fail_closed: {e}");
                assert!(verdict.has_rule("SYS-001"), "{verdict:?}");
                assert_eq!(verdict, engine.scan_json(data), "scan_json of an unparsable event");
            }
        }
    }
);

thread_local! {
    static SCRATCH: RefCell<Option<mcp_threatscan::Scratch>> = const { RefCell::new(None) };
}

fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("the built-in engine builds"))
}
