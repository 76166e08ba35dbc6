//! `sentinel_session` and `sentinel_pins`: a relayed MCP connection and its tool pins.

use crate::boundary::{bytes, c_str, copy_out, free, guard, guard_or, not_null, obj, owned, put};
use crate::engine::{deliver, sentinel_engine};
use crate::error::{clear, sentinel_error};
use crate::result::sentinel_result;
use crate::verdict::sentinel_verdict;
use mcp_threatscan::{Direction, Peer, Session, ToolPins};
use std::ffi::c_char;
use std::sync::Arc;

/// Who sent a message on a relayed connection: `SENTINEL_PEER_CLIENT` or
/// `SENTINEL_PEER_SERVER`.
pub type sentinel_peer = u32;
/// The MCP client (the host).
pub const SENTINEL_PEER_CLIENT: sentinel_peer = 0;
/// The MCP server.
pub const SENTINEL_PEER_SERVER: sentinel_peer = 1;

/// The definition of each tool of each MCP server, as first seen (`MCP-001` rug pulls,
/// `MCP-002` shadowing). Opaque; free it with `sentinel_pins_free` (sessions keep their own
/// reference). Thread-safe.
#[derive(Debug)]
pub struct sentinel_pins(pub(crate) Arc<ToolPins>);

/// One relayed MCP connection: the requests each side sent that await an answer, the
/// server's identity and its pins. Opaque; free it with `sentinel_session_free`. Thread-safe.
#[derive(Debug)]
pub struct sentinel_session(Session);

/// No pins. `*pins_out` is the caller's.
#[no_mangle]
pub extern "C" fn sentinel_pins_new(pins_out: *mut *mut sentinel_pins) -> sentinel_result {
    guard(|| {
        not_null!(pins_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(pins_out, owned(sentinel_pins(Arc::new(ToolPins::new())))) };
        sentinel_result::SENTINEL_OK
    })
}

/// Pins from a file written by `sentinel_pins_save` (NUL-terminated path; no pins when the
/// file does not exist). `SENTINEL_PINS_ERROR` when it cannot be read or parsed.
#[no_mangle]
pub extern "C" fn sentinel_pins_load(
    path: *const c_char,
    pins_out: *mut *mut sentinel_pins,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(path, pins_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(pins_out, std::ptr::null_mut()) };
        // SAFETY: non-NULL and NUL-terminated, as the caller promises.
        let Ok(Some(path)) = (unsafe { c_str(path) }) else { return sentinel_result::SENTINEL_INVALID_UTF8 };
        match ToolPins::load(path) {
            Ok(pins) => {
                // SAFETY: as the caller promises.
                unsafe { put(pins_out, owned(sentinel_pins(Arc::new(pins)))) };
                sentinel_result::SENTINEL_OK
            }
            // SAFETY: as the caller promises.
            Err(e) => unsafe { sentinel_error::pins(&e).report(error_out) },
        }
    })
}

/// Writes the pins to a file atomically, merged with pins another process wrote there.
#[no_mangle]
pub extern "C" fn sentinel_pins_save(
    pins: *const sentinel_pins,
    path: *const c_char,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(pins, path);
        // SAFETY: non-NULL and NUL-terminated, as the caller promises.
        let Ok(Some(path)) = (unsafe { c_str(path) }) else { return sentinel_result::SENTINEL_INVALID_UTF8 };
        // SAFETY: non-NULL, from this library, not freed: the caller's promise.
        match unsafe { obj(pins) }.0.save(path) {
            Ok(()) => sentinel_result::SENTINEL_OK,
            // SAFETY: as the caller promises.
            Err(e) => unsafe { sentinel_error::pins(&e).report(error_out) },
        }
    })
}

/// Frees pins. NULL does nothing.
#[no_mangle]
pub extern "C" fn sentinel_pins_free(pins: *mut sentinel_pins) {
    // SAFETY: NULL, or from this library and not freed, as the caller promises.
    guard_or((), || unsafe { free(pins) })
}

/// A session relaying one connection to the server named `server` (NUL-terminated UTF-8)
/// through `engine`, checking `tools/list` results against `pins` (may be NULL). The server's
/// name is taken from its answer to `initialize` unless `named`. The session keeps its own
/// references to the engine and the pins. `*session_out` is the caller's.
#[no_mangle]
pub extern "C" fn sentinel_session_new(
    engine: *const sentinel_engine,
    server: *const c_char,
    pins: *const sentinel_pins,
    named: bool,
    session_out: *mut *mut sentinel_session,
) -> sentinel_result {
    guard(|| {
        not_null!(engine, server, session_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(session_out, std::ptr::null_mut()) };
        // SAFETY: non-NULL and NUL-terminated, as the caller promises.
        let Ok(Some(server)) = (unsafe { c_str(server) }) else { return sentinel_result::SENTINEL_INVALID_UTF8 };
        // SAFETY: non-NULL, from this library, not freed: the caller's promise.
        let mut session = Session::new(unsafe { obj(engine) }.0.clone(), server);
        if !pins.is_null() {
            // SAFETY: non-NULL, from this library, not freed: the caller's promise.
            session = session.with_pins(unsafe { obj(pins) }.0.clone());
        }
        if named {
            session = session.named();
        }
        // SAFETY: as the caller promises.
        unsafe { put(session_out, owned(sentinel_session(session))) };
        sentinel_result::SENTINEL_OK
    })
}

/// Scans one message (`len` bytes of JSON at `json`) sent by `from`, as a relay that follows
/// verdicts does: a response as the answer to its request, a request that is not blocked
/// remembered for its response, a batch element by element. `*verdict_out` is the caller's
/// whatever the result; for text that is not JSON it is the fail-mode verdict
/// (`SENTINEL_EVENT_ERROR` or `SENTINEL_INVALID_UTF8`). Thread-safe.
#[no_mangle]
pub extern "C" fn sentinel_session_scan(
    session: *const sentinel_session,
    json: *const u8,
    len: usize,
    from: sentinel_peer,
    verdict_out: *mut *mut sentinel_verdict,
    error_out: *mut *mut sentinel_error,
) -> sentinel_result {
    guard(|| {
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { clear(error_out) };
        not_null!(session, verdict_out);
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(verdict_out, std::ptr::null_mut()) };
        let Some(from) = peer(from) else {
            // SAFETY: as the caller promises.
            return unsafe {
                sentinel_error::new(sentinel_result::SENTINEL_INVALID_ARGUMENT, format!("unknown peer {from}"))
                    .report(error_out)
            };
        };
        // SAFETY: `len` readable bytes at `json`, as the caller promises.
        let Some(json) = (unsafe { bytes(json, len) }) else { return sentinel_result::SENTINEL_NULL_PARAMETER };
        // SAFETY: non-NULL, from this library, not freed: the caller's promise.
        let session = &unsafe { obj(session) }.0;
        let outcome = match mcp_threatscan::parse_json(json) {
            Ok(parsed) => Ok(session.scan_parsed(from, &parsed.value, &parsed.duplicates)),
            Err(e) => {
                let (error, reason) = sentinel_error::unreadable_message(json, &e);
                let engine = session.engine();
                Err((error, engine.message_failure_verdict(format_args!("{reason}"), Direction::Request, None)))
            }
        };
        // SAFETY: as the caller promises.
        unsafe { deliver(outcome, verdict_out, error_out) }
    })
}

fn peer(p: sentinel_peer) -> Option<Peer> {
    match p {
        SENTINEL_PEER_CLIENT => Some(Peer::Client),
        SENTINEL_PEER_SERVER => Some(Peer::Server),
        _ => None,
    }
}

/// How many requests `from` sent that await an answer (0 for a NULL session or an unknown
/// peer).
#[no_mangle]
pub extern "C" fn sentinel_session_pending(session: *const sentinel_session, from: sentinel_peer) -> usize {
    if session.is_null() {
        return 0;
    }
    // SAFETY: non-NULL, from this library, not freed: the caller's promise.
    guard_or(0, || peer(from).map_or(0, |p| unsafe { obj(session) }.0.pending(p)))
}

/// The server's name now (the one it reported, or the one the session began with), copied to
/// `buf` as for `sentinel_verdict_json`: `*written_out` is its length, or the length needed
/// with `SENTINEL_BUFFER_TOO_SMALL`.
#[no_mangle]
pub extern "C" fn sentinel_session_server(
    session: *const sentinel_session,
    buf: *mut u8,
    len: usize,
    written_out: *mut usize,
) -> sentinel_result {
    guard(|| {
        not_null!(session, written_out);
        // SAFETY: non-NULL, from this library, not freed: the caller's promise.
        let name = unsafe { obj(session) }.0.server();
        // SAFETY: as the caller promises.
        unsafe { copy_out(name.as_bytes(), buf, len, written_out) }
    })
}

/// Frees a session. NULL does nothing. No scan with it may be running.
#[no_mangle]
pub extern "C" fn sentinel_session_free(session: *mut sentinel_session) {
    // SAFETY: NULL, or from this library and not freed, as the caller promises.
    guard_or((), || unsafe { free(session) })
}
