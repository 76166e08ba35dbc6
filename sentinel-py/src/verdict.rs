//! `Verdict`, `Finding` and `MessageInfo`: the core's result types, read-only, with their JSON
//! form (`to_dict()`, `to_json()`) exactly as the core serialises them (the form of the CLI's
//! NDJSON output, without its `index` and `line`).

use crate::output::{serde_to_json, serde_to_py, to_py};
use mcp_threatscan::{Finding, MessageInfo, Verdict};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::fmt::Write as _;

/// What a scan decided: the action, the highest severity and the findings.
///
/// `action` is ``"allow"``, ``"warn"`` or ``"block"`` (the strictest action of any finding);
/// `severity` is the highest severity (``"low"`` … ``"critical"``) or ``None`` without
/// findings. `to_dict()` / `to_json()` give the JSON form every Sentinel binding and the
/// ``sentinel`` command share. Verdicts compare equal when their JSON forms are equal.
#[pyclass(frozen, eq, name = "Verdict", module = "mcp_threatscan")]
#[derive(Clone, Debug, PartialEq)]
pub struct PyVerdict {
    pub(crate) inner: Verdict,
}

impl From<Verdict> for PyVerdict {
    fn from(inner: Verdict) -> Self {
        PyVerdict { inner }
    }
}

#[pymethods]
impl PyVerdict {
    /// ``"allow"``, ``"warn"`` or ``"block"``.
    #[getter]
    fn action(&self) -> &'static str {
        self.inner.action.as_str()
    }

    /// The highest severity of any finding, or ``None`` when there are none.
    #[getter]
    fn severity(&self) -> Option<&'static str> {
        self.inner.severity.map(|s| s.as_str())
    }

    /// True when the action is ``"block"``.
    #[getter]
    fn blocked(&self) -> bool {
        self.inner.is_blocked()
    }

    /// The findings, in scan order (a new list of `Finding` on each access).
    #[getter]
    fn findings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.inner.findings.iter().map(|f| PyFinding { inner: f.clone() }))
    }

    /// The event's ``id``, carried through (``None`` when it had none).
    #[getter]
    fn id(&self) -> Option<&str> {
        self.inner.context.id.as_deref()
    }

    /// The event's ``server``, or the server given to `Engine.scan_message`.
    #[getter]
    fn server(&self) -> Option<&str> {
        self.inner.context.server.as_deref()
    }

    /// The event's ``session``.
    #[getter]
    fn session(&self) -> Option<&str> {
        self.inner.context.session.as_deref()
    }

    /// The event's ``namespace``.
    #[getter]
    fn namespace(&self) -> Option<&str> {
        self.inner.context.namespace.as_deref()
    }

    /// The event's ``cluster``.
    #[getter]
    fn cluster(&self) -> Option<&str> {
        self.inner.context.cluster.as_deref()
    }

    /// The event's ``human``.
    #[getter]
    fn human(&self) -> Option<&str> {
        self.inner.context.human.as_deref()
    }

    /// For a verdict of `Engine.scan_message`: the message's direction, method, JSON-RPC id and
    /// tool. ``None`` for an event.
    #[getter]
    fn message(&self) -> Option<PyMessageInfo> {
        self.inner.message.clone().map(|inner| PyMessageInfo { inner })
    }

    /// True when a finding has this rule code.
    fn has_rule(&self, rule: &str) -> bool {
        self.inner.has_rule(rule)
    }

    /// The JSON form as Python data (what ``json.loads(verdict.to_json())`` gives).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner)
    }

    /// The JSON form as compact text.
    fn to_json(&self) -> PyResult<String> {
        serde_to_json(&self.inner)
    }

    fn __repr__(&self) -> String {
        let v = &self.inner;
        let mut out = format!("Verdict(action='{}', severity=", v.action.as_str());
        match v.severity {
            Some(s) => {
                let _ = write!(out, "'{}'", s.as_str());
            }
            None => out.push_str("None"),
        }
        out.push_str(", findings=[");
        for (i, f) in v.findings.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if i == 8 {
                let _ = write!(out, "... {} more", v.findings.len() - i);
                break;
            }
            let _ = write!(out, "'{} {}", f.rule, f.severity.as_str());
            if f.path.is_empty() {
                out.push_str(" (event)'");
            } else {
                let _ = write!(out, " at {}[{}..{}]'", escape(&f.path), f.span.start, f.span.end);
            }
        }
        out.push_str("])");
        out
    }
}

/// Escapes quotes and control characters for a single-quoted repr.
fn escape(s: &str) -> String {
    s.chars().flat_map(|c| if c == '\'' || c == '\\' { vec!['\\', c] } else { c.escape_debug().collect() }).collect()
}

/// One reason for a verdict: which rule of which detector matched where, and why.
///
/// ``span`` is a ``(start, end)`` byte range in the UTF-8 encoding of the string at ``path``
/// (``text.encode()[start:end]``), on character boundaries. ``to_dict()`` gives the JSON
/// form, where the span is ``{"start": …, "end": …}``.
#[pyclass(frozen, eq, name = "Finding", module = "mcp_threatscan")]
#[derive(Clone, Debug, PartialEq)]
pub struct PyFinding {
    pub(crate) inner: Finding,
}

#[pymethods]
impl PyFinding {
    /// The detector's stable code (``"SEC-01"``).
    #[getter]
    fn detector(&self) -> &str {
        &self.inner.detector
    }

    /// The detector's name (``"PromptInjection"``).
    #[getter]
    fn detector_name(&self) -> &str {
        &self.inner.detector_name
    }

    /// The threat category, snake_case (``"prompt_injection"``).
    #[getter]
    fn category(&self) -> &str {
        &self.inner.category
    }

    /// The rule's stable code (``"PI-001"``).
    #[getter]
    fn rule(&self) -> &str {
        &self.inner.rule
    }

    /// The severity after policy (detector floor and cap).
    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity.as_str()
    }

    /// The rule's own severity when a floor or cap changed it, else ``None``.
    #[getter]
    fn original_severity(&self) -> Option<&'static str> {
        self.inner.original_severity.map(|s| s.as_str())
    }

    /// ``"high"``, or ``"low"`` for a weak signal or a payload in inert content (a file's
    /// contents): such a finding acts one step below its severity by default.
    #[getter]
    fn confidence(&self) -> &'static str {
        self.inner.confidence.as_str()
    }

    /// The part of the event: ``"event"``, ``"tool"``, ``"prompt"``, ``"response"``,
    /// ``"metadata"`` or ``"extra"``.
    #[getter]
    fn field(&self) -> &'static str {
        self.inner.field.as_str()
    }

    /// JSON path of the scanned string (``"prompt"``, ``"metadata.arguments.path"``,
    /// ``"params.arguments.sql"``); empty for event-level findings.
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }

    /// ``(start, end)``: byte offsets in the UTF-8 text at ``path``.
    #[getter]
    fn span(&self) -> (usize, usize) {
        (self.inner.span.start, self.inner.span.end)
    }

    /// One line saying why.
    #[getter]
    fn reason(&self) -> &str {
        &self.inner.reason
    }

    /// The JSON form as Python data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner)
    }

    /// The JSON form as compact text.
    fn to_json(&self) -> PyResult<String> {
        serde_to_json(&self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let f = &self.inner;
        format!(
            "Finding(rule='{}', detector='{}', category='{}', severity='{}', path={}, span=({}, {}), reason={})",
            f.rule,
            f.detector,
            f.category,
            f.severity.as_str(),
            crate::output::quoted(py, &f.path),
            f.span.start,
            f.span.end,
            crate::output::quoted(py, &f.reason),
        )
    }
}

/// The MCP message a verdict of `Engine.scan_message` is about.
#[pyclass(frozen, eq, name = "MessageInfo", module = "mcp_threatscan")]
#[derive(Clone, Debug, PartialEq)]
pub struct PyMessageInfo {
    pub(crate) inner: MessageInfo,
}

#[pymethods]
impl PyMessageInfo {
    /// ``"request"`` or ``"response"``.
    #[getter]
    fn direction(&self) -> &'static str {
        self.inner.direction.as_str()
    }

    /// The method: the message's own, or for a response the one the caller named.
    #[getter]
    fn method(&self) -> Option<&str> {
        self.inner.method.as_deref()
    }

    /// The JSON-RPC id as in the message (``int`` or ``str``), ``None`` for a notification.
    #[getter]
    fn id<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.id.as_ref().map(|id| to_py(py, id)).transpose()
    }

    /// The tool of a ``tools/call``.
    #[getter]
    fn tool(&self) -> Option<&str> {
        self.inner.tool.as_deref()
    }

    /// The JSON form as Python data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let m = &self.inner;
        let opt = |s: &Option<String>| s.as_deref().map_or("None".to_string(), |s| crate::output::quoted(py, s));
        let id = m.id.as_ref().map_or("None".to_string(), |v| v.to_string());
        format!(
            "MessageInfo(direction='{}', method={}, id={}, tool={})",
            m.direction.as_str(),
            opt(&m.method),
            id,
            opt(&m.tool)
        )
    }
}
