//! From the core's typed errors to the package's exceptions.
//!
//! The exception classes are plain Python (`mcp_threatscan/_errors.py`), so they carry
//! docstrings, typed attributes and two bases each (`EventError` is a `SentinelError` and a
//! `ValueError`). This module builds instances of them with their attributes set; it never
//! raises a bare `Exception`.
//!
//! | core error | exception | attributes |
//! |---|---|---|
//! | `BuildError` about a pack or a rule | `RuleError` | `rule_id`, `source`, `line`, `position`, `size_limit` |
//! | `BuildError` about the configuration, a bad option value | `ConfigError` | `option` |
//! | `EventError`, a value that is not JSON | `EventError` | `index`, `field`, `path`, `line`, `column`, `verdict` |
//! | `PinError` | `PinsError` | `path` |
//! | a panic inside the core (a bug) | `SentinelError` | |

use mcp_threatscan::{BuildError, ErrorKind, PinError, Verdict};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::any::Any;

/// Instantiates `mcp_threatscan._errors.<class>(message, **attributes)` as a `PyErr`.
fn build(py: Python<'_>, class: &str, message: &str, attributes: &Bound<'_, PyDict>) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let cls = py.import("mcp_threatscan._errors")?.getattr(class)?;
        let instance = cls.call((message,), Some(attributes))?;
        Ok(PyErr::from_value(instance))
    })();
    made.unwrap_or_else(|e| e)
}

/// A `RuleError` (a pack or rule is wrong) or a `ConfigError` (the configuration is).
pub fn build_error(py: Python<'_>, error: &BuildError, note: Option<&str>) -> PyErr {
    let message = match note {
        Some(note) => format!("{error} ({note})"),
        None => error.to_string(),
    };
    let attrs = PyDict::new(py);
    let result = (|| -> PyResult<()> {
        if error.kind() == ErrorKind::Config {
            attrs.set_item("option", error.option())?;
            return Ok(());
        }
        attrs.set_item("rule_id", error.rule_id())?;
        attrs.set_item("source", error.source_name())?;
        attrs.set_item("line", error.rule_line())?;
        attrs.set_item("size_limit", error.size_limit())?;
        attrs.set_item("regex_error", error.is_regex_error())?;
        match error.position() {
            Some(p) => {
                let position = py.import("mcp_threatscan._errors")?.getattr("Position")?;
                attrs.set_item("position", position.call1((p.line, p.column, p.offset))?)?;
            }
            None => attrs.set_item("position", py.None())?,
        }
        Ok(())
    })();
    if let Err(e) = result {
        return e;
    }
    let class = if attrs.contains("option").unwrap_or(false) { "ConfigError" } else { "RuleError" };
    build(py, class, &message, &attrs)
}

/// A `ConfigError` about one `Engine` option.
pub fn config_error(py: Python<'_>, option: &str, message: impl std::fmt::Display) -> PyErr {
    let attrs = PyDict::new(py);
    if let Err(e) = attrs.set_item("option", option) {
        return e;
    }
    build(py, "ConfigError", &format!("{option}: {message}"), &attrs)
}

/// Where an unreadable event is and what was wrong with it.
#[derive(Clone, Debug, Default)]
pub struct EventProblem {
    /// The whole message, position included.
    pub message: String,
    /// The event's index in its batch.
    pub index: Option<usize>,
    /// The top-level field at fault.
    pub field: Option<String>,
    /// The JSON path of the value at fault.
    pub path: Option<String>,
    /// 1-based line of a JSON syntax error.
    pub line: Option<usize>,
    /// 1-based column of a JSON syntax error.
    pub column: Option<usize>,
}

impl EventProblem {
    /// From the core's error (its `Display` is the message).
    pub fn from_core(error: &mcp_threatscan::EventError) -> Self {
        EventProblem {
            message: error.to_string(),
            index: error.index(),
            field: error.field().map(str::to_string),
            path: error.field().map(str::to_string),
            line: error.line(),
            column: error.column(),
        }
    }
}

/// An `EventError`, with the fail-mode verdict the core gives such input.
pub fn event_error(py: Python<'_>, problem: &EventProblem, verdict: Verdict) -> PyErr {
    let attrs = PyDict::new(py);
    let result = (|| -> PyResult<()> {
        attrs.set_item("index", problem.index)?;
        attrs.set_item("field", problem.field.as_deref())?;
        attrs.set_item("path", problem.path.as_deref())?;
        attrs.set_item("line", problem.line)?;
        attrs.set_item("column", problem.column)?;
        attrs.set_item("verdict", Py::new(py, crate::verdict::PyVerdict::from(verdict))?)?;
        Ok(())
    })();
    match result {
        Ok(()) => build(py, "EventError", &problem.message, &attrs),
        Err(e) => e,
    }
}

/// A `PinsError`.
pub fn pins_error(py: Python<'_>, error: &PinError) -> PyErr {
    let attrs = PyDict::new(py);
    let path = match error {
        PinError::Io { path, .. } | PinError::Parse { path, .. } => path.as_str(),
    };
    if let Err(e) = attrs.set_item("path", path) {
        return e;
    }
    build(py, "PinsError", &error.to_string(), &attrs)
}

/// A `SentinelError` for a panic caught at the binding's boundary: a bug in Sentinel, reported
/// instead of unwinding into the interpreter.
pub fn panic_error(py: Python<'_>, payload: Box<dyn Any + Send>) -> PyErr {
    let what = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    };
    let message = format!("internal error in the Sentinel engine (please report it): {what}");
    build(py, "SentinelError", &message, &PyDict::new(py))
}

/// A `TypeError` saying what was expected and the Python type that was given.
pub fn type_error(what: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let name = got.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_string());
    PyTypeError::new_err(format!("{what} must be {expected}, not {name}"))
}
