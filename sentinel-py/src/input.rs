//! From Python objects to what the core scans: events and JSON values.
//!
//! An event (or an MCP message) is given either as JSON text (`str`, `bytes`, `bytearray`),
//! parsed by the core, or as Python data (`dict`, and for messages `list`), converted here to
//! a `serde_json::Value` and handed to `Event::from_value`. The conversion accepts exactly what
//! JSON can hold: `dict` with `str` keys, `list`, `tuple`, `str`, `int` (64-bit), finite
//! `float`, `bool`, `None`. Anything else, a string that is not valid Unicode, or nesting
//! deeper than [`MAX_DEPTH`] is reported with the JSON path of the value (`metadata.when`,
//! `metadata.items[2]`).
//!
//! The argument itself being of the wrong Python type (an `int` where an event goes) is a
//! `TypeError`, raised by the caller; what is inside it being wrong is an `EventError`.

use crate::errors::EventProblem;
use mcp_threatscan::{Engine, EventError, Verdict};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};
use std::fmt::Write as _;

/// How deep Python data may nest (serde_json's own parser stops at 128 too). It also stops a
/// self-containing list or dict.
pub const MAX_DEPTH: usize = 128;

/// What an event argument holds, before it is parsed.
pub enum Raw<'py> {
    /// JSON text (a `str`, `bytes` or `bytearray`), copied out so that it can be parsed and
    /// scanned with the GIL released.
    Text(Vec<u8>),
    /// Python data.
    Data(Bound<'py, PyAny>),
    /// A `str` that cannot be UTF-8 (it holds a lone surrogate).
    Unencodable,
}

/// Sorts an argument into JSON text or Python data, or says it is neither. `data_ok` tells
/// whether `obj` may be Python data of this type (a `dict` for events; a `dict` or `list` for
/// messages).
pub fn classify<'py>(obj: &Bound<'py, PyAny>, data_ok: fn(&Bound<'py, PyAny>) -> bool) -> Option<Raw<'py>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Some(match s.to_cow() {
            Ok(text) => Raw::Text(text.into_owned().into_bytes()),
            Err(_) => Raw::Unencodable,
        });
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Some(Raw::Text(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Some(Raw::Text(b.to_vec()));
    }
    if data_ok(obj) {
        return Some(Raw::Data(obj.clone()));
    }
    None
}

/// True for a `dict` (events are JSON objects).
pub fn is_dict(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyDict>()
}

/// True for a `dict` or a `list` (a message, or a JSON-RPC batch of them).
pub fn is_dict_or_list(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyDict>() || obj.is_instance_of::<PyList>()
}

/// A value that JSON cannot hold, and where it is.
#[derive(Clone, Debug)]
pub struct NotJson {
    /// JSON path of the value (`metadata.when`); empty for the argument itself.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Converts Python data to a JSON value.
pub fn to_value(obj: &Bound<'_, PyAny>) -> Result<Value, NotJson> {
    let mut path = String::new();
    convert(obj, &mut path, 0)
}

fn not_json(path: &str, message: String) -> NotJson {
    NotJson { path: path.to_string(), message }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_string())
}

fn convert(obj: &Bound<'_, PyAny>, path: &mut String, depth: usize) -> Result<Value, NotJson> {
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.to_cow() {
            Ok(text) => Ok(Value::String(text.into_owned())),
            Err(_) => Err(not_json(path, "the string is not valid Unicode (it holds a lone surrogate)".into())),
        };
    }
    if depth >= MAX_DEPTH {
        return Err(not_json(path, format!("nested deeper than {MAX_DEPTH} levels")));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        let len = path.len();
        for (key, value) in dict.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return Err(not_json(path, format!("dictionary keys must be str, not {}", type_name(&key))));
            };
            let Ok(key) = key.to_cow() else {
                return Err(not_json(path, "a key is not valid Unicode (it holds a lone surrogate)".into()));
            };
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&key);
            let value = convert(&value, path, depth + 1)?;
            path.truncate(len);
            map.insert(key.into_owned(), value);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return sequence(list.iter(), list.len(), path, depth);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return sequence(tuple.iter(), tuple.len(), path, depth);
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(not_json(path, "the integer does not fit in 64 bits".into()));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return match Number::from_f64(f.value()) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(not_json(path, "JSON has no NaN or infinity".into())),
        };
    }
    Err(not_json(
        path,
        format!("expected a JSON value (dict, list, tuple, str, int, float, bool or None), found {}", type_name(obj)),
    ))
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    len: usize,
    path: &mut String,
    depth: usize,
) -> Result<Value, NotJson> {
    let mut out = Vec::with_capacity(len);
    let base = path.len();
    for (i, item) in items.enumerate() {
        let _ = write!(path, "[{i}]");
        out.push(convert(&item, path, depth + 1)?);
        path.truncate(base);
    }
    Ok(Value::Array(out))
}

/// An event argument that could not be read.
#[derive(Clone, Debug)]
pub enum BadInput {
    /// The core's parse error (JSON syntax, not an object, a missing or mistyped field).
    Event(EventError),
    /// Python data that JSON cannot hold.
    NotJson(NotJson),
    /// A message whose JSON text does not parse (the core gives it a fail-mode verdict).
    MessageSyntax {
        /// serde_json's description.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
}

impl BadInput {
    /// A `str` that cannot be UTF-8.
    pub fn unencodable() -> BadInput {
        BadInput::NotJson(NotJson {
            path: String::new(),
            message: "the JSON text is not valid Unicode (it holds a lone surrogate)".into(),
        })
    }

    /// What the exception says and carries; `index` is the position in a batch.
    pub fn problem(&self, index: Option<usize>) -> EventProblem {
        let prefix = index.map(|i| format!("event {i}: ")).unwrap_or_default();
        match self {
            BadInput::Event(e) => {
                let e = match index {
                    Some(i) => e.clone().with_index(i),
                    None => e.clone(),
                };
                EventProblem::from_core(&e)
            }
            BadInput::NotJson(n) => {
                let top = n.path.split(['.', '[']).next().filter(|s| !s.is_empty()).map(str::to_string);
                let at = if n.path.is_empty() { String::new() } else { format!("at {}: ", n.path) };
                EventProblem {
                    message: format!("{prefix}{at}{}", n.message),
                    index,
                    field: top,
                    path: (!n.path.is_empty()).then(|| n.path.clone()),
                    line: None,
                    column: None,
                }
            }
            BadInput::MessageSyntax { message, line, column } => EventProblem {
                message: format!("{prefix}line {line}, column {column}: invalid JSON: {message}"),
                index,
                field: None,
                path: None,
                line: Some(*line),
                column: Some(*column),
            },
        }
    }

    /// The verdict the core gives input it cannot read (blocked under `fail_closed`).
    pub fn verdict(&self, engine: &Engine) -> Verdict {
        match self {
            BadInput::Event(e) => engine.error_verdict(e),
            BadInput::NotJson(_) | BadInput::MessageSyntax { .. } => {
                engine.failure_verdict(format_args!("{}", self.problem(None).message))
            }
        }
    }
}

/// Parses the JSON text of an MCP message (a JSON-RPC object or batch), keeping the values
/// duplicated keys shadow (they are scanned too).
pub fn parse_message(bytes: &[u8]) -> Result<mcp_threatscan::ParsedJson, BadInput> {
    mcp_threatscan::parse_json(bytes).map_err(|e| {
        let mut message = e.to_string();
        // serde_json appends " at line L column C"; the position is reported on its own.
        if let Some(pos) = message.rfind(" at line ") {
            message.truncate(pos);
        }
        BadInput::MessageSyntax { message, line: e.line(), column: e.column() }
    })
}
