//! `sentinel_engine` and its builder, `sentinel_scratch`, and scanning events and messages.

use crate::boundary::{bytes, c_str, free, guard, guard_or, not_null, obj, owned, put};
use crate::error::{clear, sentinel_error};
use crate::result::sentinel_result;
use crate::session::sentinel_pins;
use crate::verdict::sentinel_verdict;
use mcp_threatscan::{Config, Direction, Engine, EngineBuilder, Event, MessageContext, Scratch, Verdict};
use std::ffi::c_char;

/// The format of a configuration text: `SENTINEL_CONFIG_TOML` or `SENTINEL_CONFIG_JSON`.
pub type sentinel_config_format = u32;
/// TOML, the form of the `sentinel --config` file.
pub const SENTINEL_CONFIG_TOML: sentinel_config_format = 0;
/// JSON with the same keys.
pub const SENTINEL_CONFIG_JSON: sentinel_config_format = 1;

/// Which way an MCP message goes: `SENTINEL_DIRECTION_REQUEST` (anything with a `method`) or
/// `SENTINEL_DIRECTION_RESPONSE`.
pub type sentinel_direction = u32;
/// A request or notification.
pub const SENTINEL_DIRECTION_REQUEST: sentinel_direction = 0;
/// A result or an error.
pub const SENTINEL_DIRECTION_RESPONSE: sentinel_direction = 1;

/// A compiled engine: rules and policy, immutable. Opaque; free it with `sentinel_engine_free`
/// once no scan, scratch or session uses it. Thread-safe: any number of threads may scan with
/// one engine at once.
#[derive(Debug)]
pub struct sentinel_engine(pub(crate) Engine);

/// What an engine is built from: the built-in rules (unless left out), rule packs, a
/// configuration. Opaque; consumed by `sentinel_engine_builder_build`, or freed with
/// `sentinel_engine_builder_free`. Not thread-safe.
#[derive(Default)]
pub struct sentinel_engine_builder {
    builder: Option<EngineBuilder>,
    packs: usize,
}

/// Per-thread scan state for `sentinel_engine_scan_with`: once warm, scanning allocates
/// nothing beyond parsing the event. Opaque; free it with `sentinel_scratch_free`. Not
/// thread-safe: one thread at a time.
#[derive(Debug)]
pub struct sentinel_scratch {
    scratch: Scratch,
    failed: Verdict,
}

/// What the caller knows of the exchange an MCP message belongs to. Every member may be
/// NULL; strings are NUL-terminated UTF-8.
#[repr(C)]
#[derive(Debug)]
pub struct sentinel_message_context {
    /// For a response: the method of the request it answers (a response carries none).
    pub method: *const c_char,
    /// For a `tools/call` response: the tool that was called.
    pub tool: *const c_char,
    /// The server the message comes from or goes to: named in the verdict, and the key of
    /// `pins`.
    pub server: *const c_char,
    /// Tool pins that `tools/list` results are checked against (and new tools recorded in).
    pub pins: *const sentinel_pins,
}

/// Parses a configuration text of the given format (the format is checked first).
fn config(text: &[u8], format: sentinel_config_format) -> Result<Config, sentinel_error> {
    let parse = match format {
        SENTINEL_CONFIG_TOML => Config::from_toml,
        SENTINEL_CONFIG_JSON => Config::from_json,
        other => {
            return Err(sentinel_error::new(
                sentinel_result::SENTINEL_INVALID_ARGUMENT,
                format!("unknown configuration format {other} (SENTINEL_CONFIG_TOML or SENTINEL_CONFIG_JSON)"),
            ))
        }
    };
    let text = std::str::from_utf8(text).map_err(|e| {
        sentinel_error::new(
            sentinel_result::SENTINEL_INVALID_UTF8,
            format!("the configuration is not UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    parse("configuration", text).map_err(|e| sentinel_error::build(&e))
}

/// Builds the engine; `*engine_out` is the caller's on `SENTINEL_OK`.
///
/// # Safety
/// `engine_out` is non-NULL and writable; `error_out` is NULL or writable.
unsafe fn build(
    builder: EngineBuilder,
    engine_out: *mut *mut sentinel_engine,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    match builder.build() {
        Ok(engine) => {
            // SAFETY: as the caller promises.
            unsafe { put(engine_out, owned(sentinel_engine(engine))) };
            sentinel_result::SENTINEL_OK
        }
        // SAFETY: as the caller promises.
        Err(e) => unsafe { sentinel_error::build(&e).report(error_out) },
    }
}

/// Builds an engine with the built-in rules and a configuration: `config_len` bytes of TOML
/// or JSON text at `config` (the keys of the `sentinel --config` file: `profile`, `fail_mode`,
/// `actions`, `limits`, `tools`, `detectors`, …), or the defaults when `config_len` is 0.
/// On `SENTINEL_OK`, `*engine_out` is the caller's. Errors: `SENTINEL_CONFIG_ERROR`,
/// `SENTINEL_INVALID_UTF8`, `SENTINEL_INVALID_ARGUMENT` (an unknown format), with details in
/// `*error_out` (the caller's; may be NULL). Thread-safe.
#[no_mangle]
pub extern "C" fn sentinel_engine_new(
    config_text: *const u8,
    config_len: usize,
    format: sentinel_config_format,
    engine_out: *mut *mut sentinel_engine,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(engine_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(engine_out, std::ptr::null_mut()) };
        // SAFETY: `config_len` readable bytes at `config_text`, as the caller promises.
        let Some(text) = (unsafe { bytes(config_text, config_len) }) else {
            return sentinel_result::SENTINEL_NULL_PARAMETER;
        };
        let mut builder = Engine::builder();
        if !text.is_empty() {
            match config(text, format) {
                Ok(c) => builder = builder.config(c),
                // SAFETY: as the caller promises.
                Err(e) => return unsafe { e.report(error_out) },
            }
        }
        // SAFETY: as the caller promises.
        unsafe { build(builder, engine_out, error_out) }
    })
}

/// A new builder: the built-in rules, the default configuration. `*builder_out` is the
/// caller's.
#[no_mangle]
pub extern "C" fn sentinel_engine_builder_new(builder_out: *mut *mut sentinel_engine_builder) -> sentinel_result {
    guard(|| {
        not_null!(builder_out);
        let builder = sentinel_engine_builder { builder: Some(Engine::builder()), packs: 0 };
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(builder_out, owned(builder)) };
        sentinel_result::SENTINEL_OK
    })
}

/// Runs `f` on the builder's `EngineBuilder` (with the number of packs added so far); a
/// success adds a pack when `adds_pack`.
fn with_builder(
    builder: *mut sentinel_engine_builder,
    adds_pack: bool,
    f: impl FnOnce(EngineBuilder, usize) -> Result<EngineBuilder, (EngineBuilder, sentinel_error)>,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(builder);
        // SAFETY: non-NULL, from this library, not freed, used by one thread: the caller's
        // promise.
        let b = unsafe { &mut *builder };
        let Some(inner) = b.builder.take() else {
            // SAFETY: as the caller promises.
            return unsafe {
                sentinel_error::new(sentinel_result::SENTINEL_INVALID_ARGUMENT, "the builder was already built")
                    .report(error_out)
            };
        };
        match f(inner, b.packs) {
            Ok(next) => {
                b.builder = Some(next);
                b.packs += usize::from(adds_pack);
                sentinel_result::SENTINEL_OK
            }
            Err((kept, e)) => {
                b.builder = Some(kept);
                // SAFETY: as the caller promises.
                unsafe { e.report(error_out) }
            }
        }
    })
}

/// Sets the builder's configuration from TOML or JSON text (as `sentinel_engine_new`).
/// Errors: `SENTINEL_CONFIG_ERROR`, `SENTINEL_INVALID_UTF8`, `SENTINEL_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn sentinel_engine_builder_set_config(
    builder: *mut sentinel_engine_builder,
    config_text: *const u8,
    config_len: usize,
    format: sentinel_config_format,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    // SAFETY: `config_len` readable bytes at `config_text`, as the caller promises.
    let Some(text) = (unsafe { bytes(config_text, config_len) }) else {
        return sentinel_result::SENTINEL_NULL_PARAMETER;
    };
    with_builder(
        builder,
        false,
        |b, _| match config(text, format) {
            Ok(c) => Ok(b.config(c)),
            Err(e) => Err((b, e)),
        },
        error_out,
    )
}

/// Adds a rule pack given as `toml_len` bytes of TOML text at `toml`; `name` (NUL-terminated,
/// or NULL for `rules[i]`) is what errors cite. Packs apply in the order added. The pack is
/// checked when the engine is built.
#[no_mangle]
pub extern "C" fn sentinel_engine_builder_add_rules(
    builder: *mut sentinel_engine_builder,
    name: *const c_char,
    toml: *const u8,
    toml_len: usize,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    // SAFETY: `toml_len` readable bytes at `toml`; `name` NULL or NUL-terminated: the caller's
    // promise.
    let (Some(text), name) = (unsafe { bytes(toml, toml_len) }, unsafe { c_str(name) }) else {
        return sentinel_result::SENTINEL_NULL_PARAMETER;
    };
    with_builder(
        builder,
        true,
        |b, i| {
            let name = match name {
                Ok(n) => n.map_or_else(|| format!("rules[{i}]"), str::to_string),
                Err(code) => return Err((b, sentinel_error::new(code, "the pack's name is not UTF-8"))),
            };
            match std::str::from_utf8(text) {
                Ok(text) => Ok(b.rules_toml(&name, text)),
                Err(e) => Err((
                    b,
                    sentinel_error::new(
                        sentinel_result::SENTINEL_INVALID_UTF8,
                        format!("{name}: the rule pack is not UTF-8 (at byte {})", e.valid_up_to()),
                    ),
                )),
            }
        },
        error_out,
    )
}

/// Adds a rule pack file (a NUL-terminated path), read when the engine is built.
#[no_mangle]
pub extern "C" fn sentinel_engine_builder_add_rules_file(
    builder: *mut sentinel_engine_builder,
    path: *const c_char,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    not_null!(path);
    // SAFETY: non-NULL and NUL-terminated, as the caller promises.
    let path = unsafe { c_str(path) };
    with_builder(
        builder,
        true,
        |b, _| match path {
            Ok(Some(p)) => Ok(b.rules_file(p)),
            _ => Err((b, sentinel_error::new(sentinel_result::SENTINEL_INVALID_UTF8, "the path is not UTF-8"))),
        },
        error_out,
    )
}

/// Leaves the built-in rules out: only the packs added are used.
#[no_mangle]
pub extern "C" fn sentinel_engine_builder_without_builtin_rules(
    builder: *mut sentinel_engine_builder,
) -> sentinel_result {
    with_builder(builder, false, |b, _| Ok(b.without_builtin_rules()), std::ptr::null_mut())
}

/// Builds the engine, consuming the builder (freed whatever the result: do not use it
/// again). On `SENTINEL_OK`, `*engine_out` is the caller's. Errors: `SENTINEL_RULE_ERROR`
/// (with the rule id, the pack and the line and column in `*error_out`),
/// `SENTINEL_CONFIG_ERROR`, `SENTINEL_SIZE_LIMIT_ERROR`. Building the built-in rules takes
/// about 0.3 s.
#[no_mangle]
pub extern "C" fn sentinel_engine_builder_build(
    builder: *mut sentinel_engine_builder,
    engine_out: *mut *mut sentinel_engine,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(builder, engine_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(engine_out, std::ptr::null_mut()) };
        // SAFETY: from this library and not freed; the caller gives it up.
        let b = unsafe { Box::from_raw(builder) };
        match b.builder {
            // SAFETY: as the caller promises.
            Some(inner) => unsafe { build(inner, engine_out, error_out) },
            None => sentinel_result::SENTINEL_INVALID_ARGUMENT,
        }
    })
}

/// Frees a builder that was not built. NULL does nothing.
#[no_mangle]
pub extern "C" fn sentinel_engine_builder_free(builder: *mut sentinel_engine_builder) {
    // SAFETY: NULL, or from this library and not freed, as the caller promises.
    guard_or((), || unsafe { free(builder) })
}

/// Frees an engine. NULL does nothing. Sessions made from it keep their own reference and stay
/// usable; no scan with `engine` may be running.
#[no_mangle]
pub extern "C" fn sentinel_engine_free(engine: *mut sentinel_engine) {
    // SAFETY: NULL, or from this library and not freed, as the caller promises.
    guard_or((), || unsafe { free(engine) })
}

/// Reads an event and scans it. Text that is not UTF-8 is reported as such; it is checked
/// only when the event does not parse (the parser validates UTF-8 as it reads).
fn scan_event<T>(engine: &Engine, json: &[u8], scan: impl FnOnce(&Event) -> T) -> Result<T, (sentinel_error, Verdict)> {
    match Event::from_json(json) {
        Ok(event) => Ok(scan(&event)),
        Err(e) => match std::str::from_utf8(json) {
            Err(bad) => {
                let message = format!("the event is not UTF-8 (at byte {})", bad.valid_up_to());
                let verdict = engine.failure_verdict(format_args!("{message}"));
                Err((sentinel_error::new(sentinel_result::SENTINEL_INVALID_UTF8, message), verdict))
            }
            Ok(_) => Err((sentinel_error::event(&e), engine.error_verdict(&e))),
        },
    }
}

/// Hands an owned verdict (and an error) to the caller.
///
/// # Safety
/// `verdict_out` is non-NULL and writable; `error_out` NULL or writable.
pub(crate) unsafe fn deliver(
    outcome: Result<Verdict, (sentinel_error, Verdict)>,
    verdict_out: *mut *mut sentinel_verdict,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    match outcome {
        Ok(v) => {
            // SAFETY: as the caller promises.
            unsafe { put(verdict_out, owned(sentinel_verdict(v))) };
            sentinel_result::SENTINEL_OK
        }
        Err((e, v)) => {
            // SAFETY: as the caller promises.
            unsafe { put(verdict_out, owned(sentinel_verdict(v))) };
            // SAFETY: as the caller promises.
            unsafe { e.report(error_out) }
        }
    }
}

/// Scans one event: `len` bytes of JSON at `json` (shared/seeds/001's form: `timestamp`,
/// `user`, `agent`, `tool`, `prompt`, `response`, optional `metadata`). `*verdict_out` is the
/// caller's (free it with `sentinel_verdict_free`) whatever the result: for an event that
/// cannot be read (`SENTINEL_EVENT_ERROR`, `SENTINEL_INVALID_UTF8`, details in `*error_out`)
/// it is the engine's fail-mode verdict (blocked under `fail_closed`, the default), which a
/// host should follow. Thread-safe.
#[no_mangle]
pub extern "C" fn sentinel_engine_scan(
    engine: *const sentinel_engine,
    json: *const u8,
    len: usize,
    verdict_out: *mut *mut sentinel_verdict,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(engine, verdict_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(verdict_out, std::ptr::null_mut()) };
        // SAFETY: `len` readable bytes at `json`, as the caller promises.
        let Some(json) = (unsafe { bytes(json, len) }) else { return sentinel_result::SENTINEL_NULL_PARAMETER };
        // SAFETY: non-NULL, from this library, not freed: the caller's promise.
        let engine = &unsafe { obj(engine) }.0;
        let outcome = scan_event(engine, json, |e| engine.scan(e));
        // SAFETY: as the caller promises.
        unsafe { deliver(outcome, verdict_out, error_out) }
    })
}

/// A new scratch for scanning with `engine` from one thread. `*scratch_out` is the caller's.
#[no_mangle]
pub extern "C" fn sentinel_scratch_new(
    engine: *const sentinel_engine,
    scratch_out: *mut *mut sentinel_scratch,
) -> sentinel_result {
    guard(|| {
        not_null!(engine, scratch_out);
        // SAFETY: non-NULL, from this library, not freed: the caller's promise.
        let engine = &unsafe { obj(engine) }.0;
        let scratch = sentinel_scratch { scratch: engine.create_scratch(), failed: Verdict::default() };
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(scratch_out, owned(scratch)) };
        sentinel_result::SENTINEL_OK
    })
}

/// Frees a scratch. NULL does nothing.
#[no_mangle]
pub extern "C" fn sentinel_scratch_free(scratch: *mut sentinel_scratch) {
    // SAFETY: NULL, or from this library and not freed, as the caller promises.
    guard_or((), || unsafe { free(scratch) })
}

/// `sentinel_engine_scan` with the caller's scratch: once the scratch is warm, the scan
/// allocates nothing beyond parsing the event. `*verdict_out` is **borrowed** from the
/// scratch: valid until the scratch's next scan or its free; do not free it. The scratch is
/// used by one thread at a time; the engine may be shared.
#[no_mangle]
pub extern "C" fn sentinel_engine_scan_with(
    engine: *const sentinel_engine,
    scratch: *mut sentinel_scratch,
    json: *const u8,
    len: usize,
    verdict_out: *mut *const sentinel_verdict,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(engine, scratch, verdict_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(verdict_out, std::ptr::null()) };
        // SAFETY: `len` readable bytes at `json`, as the caller promises.
        let Some(json) = (unsafe { bytes(json, len) }) else { return sentinel_result::SENTINEL_NULL_PARAMETER };
        // SAFETY: non-NULL, from this library, not freed; the scratch used by this thread
        // only: the caller's promise.
        let (engine, s) = (&unsafe { obj(engine) }.0, unsafe { &mut *scratch });
        let outcome = scan_event(engine, json, |e| sentinel_verdict::borrowed(engine.scan_with(&mut s.scratch, e)));
        match outcome {
            Ok(borrowed) => {
                // SAFETY: as the caller promises.
                unsafe { put(verdict_out, borrowed) };
                sentinel_result::SENTINEL_OK
            }
            Err((e, v)) => {
                s.failed = v;
                // SAFETY: as the caller promises.
                unsafe { put(verdict_out, sentinel_verdict::borrowed(&s.failed)) };
                // SAFETY: as the caller promises.
                unsafe { e.report(error_out) }
            }
        }
    })
}

/// Scans one MCP JSON-RPC message (a request, notification, result or error, or a batch):
/// `len` bytes of JSON at `json`, going `direction`, with what the caller knows of the
/// exchange in `context` (may be NULL). `*verdict_out` is the caller's whatever the result;
/// for text that is not JSON (`SENTINEL_EVENT_ERROR`, `SENTINEL_INVALID_UTF8`) it is the
/// fail-mode verdict. `SENTINEL_INVALID_ARGUMENT` for an unknown direction. Thread-safe.
#[no_mangle]
pub extern "C" fn sentinel_engine_scan_message(
    engine: *const sentinel_engine,
    json: *const u8,
    len: usize,
    direction: sentinel_direction,
    context: *const sentinel_message_context,
    verdict_out: *mut *mut sentinel_verdict,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(engine, verdict_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(verdict_out, std::ptr::null_mut()) };
        let direction = match direction {
            SENTINEL_DIRECTION_REQUEST => Direction::Request,
            SENTINEL_DIRECTION_RESPONSE => Direction::Response,
            other => {
                // SAFETY: as the caller promises.
                return unsafe {
                    sentinel_error::new(
                        sentinel_result::SENTINEL_INVALID_ARGUMENT,
                        format!("unknown direction {other}"),
                    )
                    .report(error_out)
                };
            }
        };
        // SAFETY: `len` readable bytes at `json`, as the caller promises.
        let Some(json) = (unsafe { bytes(json, len) }) else { return sentinel_result::SENTINEL_NULL_PARAMETER };
        // SAFETY: non-NULL, from this library, not freed: the caller's promise.
        let engine = &unsafe { obj(engine) }.0;
        // SAFETY: NULL or a valid context whose strings are NUL-terminated, as promised.
        let ctx = match unsafe { read_context(context) } {
            Ok(ctx) => ctx,
            // SAFETY: as the caller promises.
            Err(e) => return unsafe { e.report(error_out) },
        };
        let outcome = scan_message(engine, json, direction, &ctx);
        // SAFETY: as the caller promises.
        unsafe { deliver(outcome, verdict_out, error_out) }
    })
}

/// Reads a message context.
///
/// # Safety
/// `context` is NULL or valid; its strings NULL or NUL-terminated; its pins NULL or live.
unsafe fn read_context<'a>(context: *const sentinel_message_context) -> Result<MessageContext<'a>, sentinel_error> {
    if context.is_null() {
        return Ok(MessageContext::default());
    }
    // SAFETY: non-NULL and valid, as the caller promises.
    let c = unsafe { &*context };
    let text = |p: *const c_char, what: &str| {
        // SAFETY: NULL or NUL-terminated, as the caller promises.
        unsafe { c_str(p) }.map_err(|code| sentinel_error::new(code, format!("the context's {what} is not UTF-8")))
    };
    Ok(MessageContext {
        method: text(c.method, "method")?,
        tool: text(c.tool, "tool")?,
        server: text(c.server, "server")?,
        // SAFETY: NULL or live pins from this library, as the caller promises.
        pins: (!c.pins.is_null()).then(|| &*unsafe { obj(c.pins) }.0),
        ..MessageContext::default()
    })
}

/// Reads a message's JSON text and scans it (UTF-8 checked only when it does not parse).
fn scan_message(
    engine: &Engine,
    json: &[u8],
    direction: Direction,
    ctx: &MessageContext<'_>,
) -> Result<Verdict, (sentinel_error, Verdict)> {
    match mcp_threatscan::parse_json(json) {
        Ok(parsed) => {
            let ctx = MessageContext { duplicates: &parsed.duplicates, ..*ctx };
            Ok(engine.scan_message_in(&parsed.value, direction, &ctx))
        }
        Err(e) => {
            let (error, reason) = sentinel_error::unreadable_message(json, &e);
            let verdict = engine.message_failure_verdict(format_args!("{reason}"), direction, ctx.method);
            Err((error, verdict))
        }
    }
}
