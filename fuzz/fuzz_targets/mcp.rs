//! An MCP message. The first four bytes choose the exchange: byte 0 the direction (request or
//! response), byte 1 the method the caller knows, byte 2 the tool it knows, byte 3 whether tool
//! pins are checked; the rest is the message JSON.
//!
//! `scan_message_json(rest)`, and when `parse_json(rest)` succeeds also `scan_message_in` of
//! the parsed value with its duplicates: both verdicts must be equal in action (and whole,
//! since the pins are emptied before each); a third scan, against the pins the second left,
//! must keep the action.
//! Checks: findings within MAX_FINDINGS, a finding at a string of the message has its span
//! inside that string (or inside the base64-decoded text of a `blob` / `data`), on character
//! boundaries; never a panic.
//!
//! The pins are one `ToolPins` for the whole run, emptied before each input so that an input
//! gives the same verdict whatever ran before it (a crash reproduces alone).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_threatscan::{parse_json, Direction, Engine, MessageContext, ToolPins};
use sentinel_fuzz::{check_verdict, Strings};
use std::sync::OnceLock;

const METHODS: [Option<&str>; 9] = [
    Some("tools/call"),
    Some("tools/list"),
    Some("resources/read"),
    Some("prompts/get"),
    Some("sampling/createMessage"),
    Some("elicitation/create"),
    Some("initialize"),
    Some("unknown/x"),
    None,
];

const TOOLS: [Option<&str>; 6] =
    [None, Some("search"), Some("os_shell"), Some("read_file"), Some("OS_SHELL"), Some("fuzz_tool")];

const SERVER: &str = "fuzz";

fuzz_target!(
    init: {
        let _ = state();
    },
    |data: &[u8]| {
        let (engine, pins) = state();
        let [d, m, t, p, ..] = *data else { return };
        let rest = &data[4..];
        let direction = if d & 1 == 0 { Direction::Request } else { Direction::Response };
        let method = METHODS[usize::from(m) % METHODS.len()];
        let tool = TOOLS[usize::from(t) % TOOLS.len()];
        let pins = (p & 1 == 1).then_some(pins);
        let context = MessageContext { method, tool, server: Some(SERVER), pins, ..Default::default() };

        let reset = || {
            if let Some(pins) = pins {
                pins.forget(SERVER, None);
            }
        };
        reset();
        let verdict = engine.scan_message_json(rest, direction, &context);
        assert!(verdict.message.is_some(), "a message verdict without its message info");
        match parse_json(rest) {
            Ok(parsed) => {
                let strings = Strings::of_message(&parsed.value, &parsed.duplicates);
                check_verdict(&verdict, &strings, rest);
                // The same pins state as the first scan saw.
                reset();
                let again = engine.scan_message_in(
                    &parsed.value,
                    direction,
                    &MessageContext { duplicates: &parsed.duplicates, ..context },
                );
                assert_eq!(verdict.action, again.action, "scan_message_json and scan_message_in disagree on the action");
                assert_eq!(verdict, again, "scan_message_json and scan_message_in disagree");
                // Once more with the tools now pinned: pins are kept as first seen, so the
                // action cannot change.
                if pins.is_some() {
                    let pinned = engine.scan_message_in(
                        &parsed.value,
                        direction,
                        &MessageContext { duplicates: &parsed.duplicates, ..context },
                    );
                    assert_eq!(verdict.action, pinned.action, "a second scan against the pins changed the action");
                }
            }
            Err(_) => {
                // Not JSON: the fail-mode verdict (blocked under the default fail_closed).
                assert!(verdict.is_blocked(), "unparsable message not blocked: {verdict:?}");
                assert!(verdict.has_rule("SYS-001"));
            }
        }
    }
);

fn state() -> (&'static Engine, &'static ToolPins) {
    static STATE: OnceLock<(Engine, ToolPins)> = OnceLock::new();
    let (engine, pins) = STATE.get_or_init(|| (Engine::new().expect("the built-in engine builds"), ToolPins::new()));
    (engine, pins)
}
