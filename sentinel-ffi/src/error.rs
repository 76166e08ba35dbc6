//! `sentinel_error`: the details of a failed call.

use crate::boundary::{free, guard_or, obj, owned, put, sentinel_str};
use crate::result::sentinel_result;
use mcp_threatscan::{BuildError, ErrorKind, EventError, PinError};

/// What went wrong in a call: its code, a message, and where (the rule, its source, the
/// option, the event's field, line and column) when that applies. Opaque; free it with
/// `sentinel_error_free`. Immutable: its accessors may be called from any thread.
#[derive(Debug)]
pub struct sentinel_error {
    code: sentinel_result,
    message: String,
    rule_id: Option<String>,
    source: Option<String>,
    option: Option<String>,
    field: Option<String>,
    line: usize,
    column: usize,
}

impl sentinel_error {
    pub(crate) fn new(code: sentinel_result, message: impl Into<String>) -> sentinel_error {
        sentinel_error {
            code,
            message: message.into(),
            rule_id: None,
            source: None,
            option: None,
            field: None,
            line: 0,
            column: 0,
        }
    }

    /// The core's build error, its kind as the code.
    pub(crate) fn build(e: &BuildError) -> sentinel_error {
        let code = match e.kind() {
            ErrorKind::RulePack | ErrorKind::Rule => sentinel_result::SENTINEL_RULE_ERROR,
            ErrorKind::SizeLimit => sentinel_result::SENTINEL_SIZE_LIMIT_ERROR,
            _ => sentinel_result::SENTINEL_CONFIG_ERROR,
        };
        let (line, column) = match (e.position(), e.rule_line()) {
            (Some(p), _) => (p.line, p.column),
            (None, Some(line)) => (line, 0),
            (None, None) => (0, 0),
        };
        sentinel_error {
            rule_id: e.rule_id().map(str::to_string),
            source: e.source_name().map(str::to_string),
            option: e.option().map(str::to_string),
            line,
            column,
            ..sentinel_error::new(code, e.to_string())
        }
    }

    /// An event that cannot be read.
    pub(crate) fn event(e: &EventError) -> sentinel_error {
        sentinel_error {
            field: e.field().map(str::to_string),
            line: e.line().unwrap_or(0),
            column: e.column().unwrap_or(0),
            ..sentinel_error::new(sentinel_result::SENTINEL_EVENT_ERROR, e.to_string())
        }
    }

    /// A message whose text `json` did not parse (`e`): not UTF-8, or not JSON; with the
    /// reason its fail-mode verdict gives. UTF-8 is checked only here, after the parser (which
    /// validates it as it reads) has failed.
    pub(crate) fn unreadable_message(json: &[u8], e: &serde_json::Error) -> (sentinel_error, String) {
        match std::str::from_utf8(json) {
            Err(bad) => {
                let message = format!("the message is not UTF-8 (at byte {})", bad.valid_up_to());
                (sentinel_error::new(sentinel_result::SENTINEL_INVALID_UTF8, message.clone()), message)
            }
            Ok(_) => {
                let error = sentinel_error {
                    line: e.line(),
                    column: e.column(),
                    ..sentinel_error::new(
                        sentinel_result::SENTINEL_EVENT_ERROR,
                        format!("the message is not valid JSON: {e}"),
                    )
                };
                (error, e.to_string())
            }
        }
    }

    pub(crate) fn pins(e: &PinError) -> sentinel_error {
        sentinel_error::new(sentinel_result::SENTINEL_PINS_ERROR, e.to_string())
    }

    /// Hands the error to the caller through `error_out` (when not NULL) and returns its code.
    ///
    /// # Safety
    /// `error_out` is NULL or writable.
    pub(crate) unsafe fn report(self, error_out: *mut *mut sentinel_error) -> sentinel_result {
        let code = self.code;
        if !error_out.is_null() {
            // SAFETY: non-NULL and writable, as the caller promises.
            unsafe { put(error_out, owned(self)) };
        }
        code
    }
}

/// Sets `*error_out` to NULL when it is given, at the start of a call.
///
/// # Safety
/// `error_out` is NULL or writable.
pub(crate) unsafe fn clear(error_out: *mut *mut sentinel_error) {
    if !error_out.is_null() {
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(error_out, std::ptr::null_mut()) };
    }
}

/// The error's code (`SENTINEL_NULL_PARAMETER` for a NULL error). Thread-safe.
#[no_mangle]
pub extern "C" fn sentinel_error_code(error: *const sentinel_error) -> sentinel_result {
    if error.is_null() {
        return sentinel_result::SENTINEL_NULL_PARAMETER;
    }
    // SAFETY: non-NULL; the caller promises it came from this library and is not freed.
    guard_or(sentinel_result::SENTINEL_PANIC, || unsafe { obj(error) }.code)
}

/// What went wrong, one line of UTF-8 (`{NULL, 0}` for a NULL error). Borrowed from `error`:
/// valid until `sentinel_error_free`.
#[no_mangle]
pub extern "C" fn sentinel_error_message(error: *const sentinel_error) -> sentinel_str {
    field(error, |e| Some(&e.message))
}

/// The id of the rule at fault (`{NULL, 0}` when none). Borrowed from `error`.
#[no_mangle]
pub extern "C" fn sentinel_error_rule_id(error: *const sentinel_error) -> sentinel_str {
    field(error, |e| e.rule_id.as_deref())
}

/// The rule pack at fault: its file or the name it was given (`{NULL, 0}` when none).
/// Borrowed from `error`.
#[no_mangle]
pub extern "C" fn sentinel_error_source(error: *const sentinel_error) -> sentinel_str {
    field(error, |e| e.source.as_deref())
}

/// The configuration option at fault (`{NULL, 0}` when none). Borrowed from `error`.
#[no_mangle]
pub extern "C" fn sentinel_error_option(error: *const sentinel_error) -> sentinel_str {
    field(error, |e| e.option.as_deref())
}

/// The event field at fault (`{NULL, 0}` when none). Borrowed from `error`.
#[no_mangle]
pub extern "C" fn sentinel_error_field(error: *const sentinel_error) -> sentinel_str {
    field(error, |e| e.field.as_deref())
}

/// The 1-based line in the text at fault (a rule pack, a configuration, an event, a
/// message); 0 when none.
#[no_mangle]
pub extern "C" fn sentinel_error_line(error: *const sentinel_error) -> usize {
    if error.is_null() {
        return 0;
    }
    // SAFETY: non-NULL; the caller promises it came from this library and is not freed.
    guard_or(0, || unsafe { obj(error) }.line)
}

/// The 1-based column in that line; 0 when none.
#[no_mangle]
pub extern "C" fn sentinel_error_column(error: *const sentinel_error) -> usize {
    if error.is_null() {
        return 0;
    }
    // SAFETY: as above.
    guard_or(0, || unsafe { obj(error) }.column)
}

/// Frees an error. NULL does nothing. Not thread-safe with other uses of the same error.
#[no_mangle]
pub extern "C" fn sentinel_error_free(error: *mut sentinel_error) {
    // SAFETY: NULL, or from this library and not freed, as the caller promises.
    guard_or((), || unsafe { free(error) })
}

/// The name of a result code (`"SENTINEL_RULE_ERROR"`), a static string. Never fails.
#[no_mangle]
pub extern "C" fn sentinel_result_name(result: u32) -> sentinel_str {
    let name = [
        sentinel_result::SENTINEL_OK,
        sentinel_result::SENTINEL_NULL_PARAMETER,
        sentinel_result::SENTINEL_INVALID_UTF8,
        sentinel_result::SENTINEL_EVENT_ERROR,
        sentinel_result::SENTINEL_RULE_ERROR,
        sentinel_result::SENTINEL_CONFIG_ERROR,
        sentinel_result::SENTINEL_SIZE_LIMIT_ERROR,
        sentinel_result::SENTINEL_BUFFER_TOO_SMALL,
        sentinel_result::SENTINEL_INVALID_ARGUMENT,
        sentinel_result::SENTINEL_PINS_ERROR,
        sentinel_result::SENTINEL_PANIC,
    ]
    .into_iter()
    .find(|r| *r as u32 == result)
    .map_or("SENTINEL_UNKNOWN_RESULT", sentinel_result::name);
    sentinel_str::of(name)
}

fn field(error: *const sentinel_error, get: impl FnOnce(&sentinel_error) -> Option<&str>) -> sentinel_str {
    if error.is_null() {
        return sentinel_str::NONE;
    }
    // SAFETY: non-NULL; the caller promises it came from this library and is not freed.
    guard_or(sentinel_str::NONE, || sentinel_str::opt(get(unsafe { obj(error) })))
}
