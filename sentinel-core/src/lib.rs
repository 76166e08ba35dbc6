//! # sentinel-core: threat detection for Model Context Protocol traffic
//!
//! **What it is for.** An MCP host, proxy or gateway embeds this crate to decide, in-process
//! and in microseconds, whether a tool call, tool result, prompt or resource carries an attack:
//! prompt injection, a leaked secret, a shell payload, personal data flowing out, a dangerous
//! tool. It is a library, not a service: `engine.scan(&event)` returns a [`Verdict`] (allow,
//! warn or block, with findings that say what, where and why).
//!
//! **How it works.** Rules are data (TOML packs, the built-in one compiled into the crate).
//! Every keyword of every rule is compiled into one Aho-Corasick automaton and every regex
//! into one multi-pattern regex, so each scanned string is walked once by each, however many
//! rules there are. Matching runs over a normalised view of the text (invisible characters
//! dropped, case folded), with spans mapped back to the original. The [`Engine`] is immutable
//! and shared between threads; per-thread state lives in a [`Scratch`], and scanning with a
//! warm scratch does not allocate.
//!
//! ```
//! use mcp_threatscan::{Action, Engine, Event};
//!
//! let engine = Engine::new()?;
//! let event = Event::from_json(br#"{"timestamp":"2024-01-15T14:30:00Z","user":"alice",
//!     "agent":"ChatBot","tool":"postgres","prompt":"find user 1' UNION SELECT password FROM users--",
//!     "response":"","metadata":{"arguments":{"q":"1' UNION SELECT password FROM users--"}}}"#)?;
//! let verdict = engine.scan(&event);
//! assert_eq!(verdict.action, Action::Block);
//! let finding = verdict.findings_in("sql_injection").find(|f| f.path == "metadata.arguments.q").unwrap();
//! assert_eq!(finding.rule.as_ref(), "SQL-001");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For a hot loop on your own threads, keep a scratch per thread:
//!
//! ```
//! # use mcp_threatscan::{Engine, Event};
//! # let engine = Engine::new().unwrap();
//! # let events = vec![Event::default()];
//! let mut scratch = engine.create_scratch();
//! for event in &events {
//!     let verdict = engine.scan_with(&mut scratch, event); // no allocation once warm
//!     if verdict.is_blocked() { /* … */ }
//! }
//! ```

mod builder;
mod compiled;
mod config;
mod decode;
mod deferred;
mod detector;
mod engine;
mod error;
mod event;
mod findings;
pub mod framing;
mod gate;
pub mod input;
mod json;
mod keywords;
mod matchers;
mod mcp;
mod message;
mod normalize;
mod packs;
mod pattern;
mod phrases;
mod pins;
mod plan;
mod required;
mod rule;
mod scan;
mod scratch;
mod session;
mod severity;
mod stored_plan;
mod validate;
mod verdict;
mod verify;

pub use builder::EngineBuilder;
pub use config::{
    Config, DetectorConfig, FailMode, Limits, McpConfig, Profile, ToolPolicy, DEFAULT_DANGEROUS_TOOLS,
    DEFAULT_DOCUMENT_TOOLS, DEFAULT_MAX_SCAN_BYTES, DEFAULT_SCAN_MIMES,
};
pub use detector::{
    Detector, DetectorInfo, Emit, Hit, Hooks, Judgement, Text, RULE_DANGEROUS_TOOL, RULE_DENIED_TOOL,
    RULE_DUPLICATE_KEY, RULE_FINDINGS_NOT_LISTED, RULE_PROMPT_SIZE, RULE_RESPONSE_SIZE, RULE_TOOL_CHANGED,
    RULE_TOOL_NOT_ALLOWED, RULE_TOOL_SHADOWED, RULE_TRUNCATED, RULE_UNREADABLE, SCAN_INTEGRITY, TOOL_INTEGRITY,
    UNICODE_RULES,
};
pub use engine::{Engine, RuleInfo};
pub use error::{BuildError, ErrorKind, Position};
pub use event::{Event, EventContext, EventError, EventErrorKind, Field, REQUIRED_FIELDS};
pub use findings::MAX_FINDINGS;
pub use json::{parse_json, DuplicateKey, ParsedJson};
pub use message::{Direction, MessageContext, MessageInfo};
pub use packs::SEED_PACK;
pub use pins::{definition_hash, PinCheck, PinError, ToolPins};
pub use rule::{Example, ExampleEvent, RuleSpec, Scope, Validator};
pub use scratch::Scratch;
pub use session::{Peer, Request, Session};
pub use severity::{Action, ActionMap, Confidence, LowConfidence, ParseEnumError, Severity};
pub use validate::{code_name, iban, luhn, shannon_entropy, us_ssn};
pub use verdict::{Finding, Span, Verdict};

/// The normalised view matching runs over (for tests and tools that need to reproduce a
/// match). Not part of the stable API.
#[doc(hidden)]
pub fn normalized_view(text: &str) -> String {
    let mut view = normalize::View::default();
    view.build(text, &mut normalize::OffsetMap::default());
    view.text(text).to_string()
}

/// The normalised view of `text` and, for each character of the view, the span of `text` it
/// maps back to (how finding spans are placed). For the fuzz targets and tests; not part of
/// the stable API.
#[doc(hidden)]
pub fn view_spans(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut view = normalize::View::default();
    let mut map = normalize::OffsetMap::default();
    view.build(text, &mut map);
    let shown = view.text(text).to_string();
    let spans = shown.char_indices().map(|(i, c)| map.original_span(&view, text, i, i + c.len_utf8())).collect();
    (shown, spans)
}

/// Appends `key` to a JSON path as findings write paths (`.key`, or `["a key"]`). For the fuzz
/// targets, which resolve finding paths; not part of the stable API.
#[doc(hidden)]
pub fn push_json_key(path: &mut String, key: &str, top: bool) {
    json::push_key(path, key, top);
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
