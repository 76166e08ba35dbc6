//! From JavaScript arguments to the JSON text the core parses.
//!
//! An event or message is given as JSON text (a `string`, or a `Buffer` / `Uint8Array` of
//! UTF-8) or as data (an object; for messages also an array). Data goes through the runtime's
//! own `JSON.stringify`, so it is read exactly as JSON would carry it (`toJSON` applied,
//! `undefined` and functions left out); a value it refuses (a cycle, a `BigInt`, nesting deeper
//! than the runtime's stack) is an unreadable event, not a crash. Whatever the form, the core
//! then parses the text with its own limits and its duplicate-key tracking.

use crate::errors::Thrown;
use napi::bindgen_prelude::*;
use napi::{JsGlobal, ValueType, JSON};

/// What an argument held.
pub(crate) enum Json {
    /// JSON text, ready for the core.
    Text(Vec<u8>),
    /// Data that `JSON.stringify` refused, and why.
    Unserialisable(String),
}

/// Which data an argument may hold besides text.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// An object (events).
    Object,
    /// An object or an array (MCP messages and batches).
    ObjectOrArray,
}

/// Reads `value` (the argument `what`) as JSON text. An argument of another type is a
/// `TypeError`.
pub(crate) fn json_text(env: &Env, value: Unknown<'_>, what: &str, shape: Shape) -> std::result::Result<Json, Thrown> {
    let expected = match shape {
        Shape::Object => "an object, or JSON text as a string or Buffer",
        Shape::ObjectOrArray => "an object or array, or JSON text as a string or Buffer",
    };
    let invalid = || Thrown::invalid(what, expected);
    match value.get_type().map_err(|_| invalid())? {
        ValueType::String => {
            let text = String::from_unknown(value).map_err(|_| invalid())?;
            Ok(Json::Text(text.into_bytes()))
        }
        ValueType::Object => {
            if value.is_buffer().unwrap_or(false) || value.is_typedarray().unwrap_or(false) {
                // A Buffer is a Uint8Array; any other typed array is not UTF-8 text.
                if let Ok(bytes) = Uint8Array::from_unknown(value) {
                    return Ok(Json::Text(bytes.to_vec()));
                }
                return Err(invalid());
            }
            if matches!(shape, Shape::Object) && value.is_array().unwrap_or(false) {
                return Err(invalid());
            }
            stringify(env, value)
        }
        _ => Err(invalid()),
    }
}

/// `JSON.stringify(value)`, with an exception it throws turned into the reason.
fn stringify(env: &Env, value: Unknown<'_>) -> std::result::Result<Json, Thrown> {
    let fail = |e: Error| Json::Unserialisable(format!("JSON.stringify refused it: {}", e.reason));
    let global: JsGlobal<'_> = match env.get_global() {
        Ok(g) => g,
        Err(e) => return Ok(fail(e)),
    };
    let json: JSON<'_> = match global.get_named_property_unchecked("JSON") {
        Ok(j) => j,
        Err(e) => return Ok(fail(e)),
    };
    match json.stringify(value) {
        Ok(text) => Ok(Json::Text(text.into_bytes())),
        Err(e) => Ok(fail(e)),
    }
}
