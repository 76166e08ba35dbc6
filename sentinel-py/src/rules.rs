//! `Rule`: one entry of an engine's rule catalogue (`Engine.rules()`), as the core's
//! `RuleInfo` describes it.

use crate::output::to_py;
use mcp_threatscan::{RuleInfo, RuleSpec};
use pyo3::prelude::*;
use serde_json::Value;

/// One rule of the engine's catalogue: the rule as written in its pack, and what the engine
/// made of it.
///
/// ``severity`` and ``category`` are the effective ones (after a user pack's ``[severity]``
/// overrides; detector floors and caps apply to findings, not here). ``enabled`` is false for a
/// rule a pack disabled or whose detector the profile or configuration turned off.
/// ``effective_pattern`` is the regex as compiled (case-insensitivity flag and ASCII word
/// boundaries applied, RE2 syntax), ``None`` for keyword-only and policy rules.
#[pyclass(frozen, name = "Rule", module = "mcp_threatscan")]
#[derive(Clone, Debug)]
pub struct PyRule {
    spec: RuleSpec,
    detector_name: String,
    category: String,
    severity: &'static str,
    enabled: bool,
    source: String,
    effective_pattern: Option<String>,
}

impl From<RuleInfo<'_>> for PyRule {
    fn from(info: RuleInfo<'_>) -> Self {
        PyRule {
            spec: info.spec().clone(),
            detector_name: info.detector_name().to_string(),
            category: info.category().to_string(),
            severity: info.severity().as_str(),
            enabled: info.enabled(),
            source: info.source().to_string(),
            effective_pattern: info.effective_pattern().map(str::to_string),
        }
    }
}

impl PyRule {
    /// The serde form of the spec, with the effective values and the engine's additions.
    fn value(&self) -> Value {
        let mut value = serde_json::to_value(&self.spec).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("severity".into(), Value::String(self.severity.into()));
            map.insert("category".into(), Value::String(self.category.clone()));
            map.insert("detector_name".into(), Value::String(self.detector_name.clone()));
            map.insert("enabled".into(), Value::Bool(self.enabled));
            map.insert("source".into(), Value::String(self.source.clone()));
            map.insert("effective_pattern".into(), self.effective_pattern.clone().map_or(Value::Null, Value::String));
        }
        value
    }

    fn names<T: serde::Serialize>(items: &[T]) -> Vec<String> {
        items
            .iter()
            .filter_map(|s| match serde_json::to_value(s) {
                Ok(Value::String(s)) => Some(s),
                _ => None,
            })
            .collect()
    }
}

#[pymethods]
impl PyRule {
    /// The stable code (``"SQL-001"``).
    #[getter]
    fn id(&self) -> &str {
        &self.spec.id
    }

    /// The short name.
    #[getter]
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// The detector's code (``"SEC-40"``).
    #[getter]
    fn detector(&self) -> &str {
        &self.spec.detector
    }

    /// The detector's name (``"SqlInjection"``).
    #[getter]
    fn detector_name(&self) -> &str {
        &self.detector_name
    }

    /// The category of its findings.
    #[getter]
    fn category(&self) -> &str {
        &self.category
    }

    /// The severity after user-pack overrides.
    #[getter]
    fn severity(&self) -> &'static str {
        self.severity
    }

    /// Whether the rule runs.
    #[getter]
    fn enabled(&self) -> bool {
        self.enabled
    }

    /// What the rule catches and why it matters.
    #[getter]
    fn description(&self) -> &str {
        &self.spec.description
    }

    /// Case-insensitive literal keywords (a prefilter when there is a pattern).
    #[getter]
    fn keywords(&self) -> Vec<String> {
        self.spec.keywords.clone()
    }

    /// The regex as written in the pack, or ``None``.
    #[getter]
    fn pattern(&self) -> Option<&str> {
        self.spec.pattern.as_deref()
    }

    /// The regex as compiled (RE2 syntax), or ``None``.
    #[getter]
    fn effective_pattern(&self) -> Option<&str> {
        self.effective_pattern.as_deref()
    }

    /// Cue phrases (a rule of the phrase tier): classes of phrases that must all occur within
    /// ``within`` bytes of the text's word view; empty for a keyword or pattern rule.
    #[getter]
    fn cues(&self) -> Vec<Vec<String>> {
        self.spec.cues.clone()
    }

    /// For a cue rule: how close its classes must occur (bytes of the word view), else ``None``.
    #[getter]
    fn within(&self) -> Option<u32> {
        self.spec.cue_within()
    }

    /// For a cue rule: whether its classes must occur in order.
    #[getter]
    fn ordered(&self) -> bool {
        self.spec.ordered
    }

    /// Whether the pattern is matched case-sensitively.
    #[getter]
    fn case_sensitive(&self) -> bool {
        self.spec.case_sensitive
    }

    /// Where the rule applies (``["prompt", "metadata"]``); empty means everywhere.
    #[getter]
    fn scope(&self) -> Vec<String> {
        Self::names(&self.spec.scope)
    }

    /// The validator run on matches (``"luhn"``, ``"iban"``, ``"us_ssn"``, ``"entropy"``), or
    /// ``None``.
    #[getter]
    fn validator(&self) -> Option<String> {
        self.spec.validator.as_ref().and_then(|v| Self::names(std::slice::from_ref(v)).pop())
    }

    /// Where the attack or format is documented.
    #[getter]
    fn references(&self) -> Vec<String> {
        self.spec.references.clone()
    }

    /// The pack the rule came from (``"builtin:…"``, a file path or a label).
    #[getter]
    fn source(&self) -> &str {
        &self.source
    }

    /// Everything above and the rest of the rule as written (``tools``, ``allow``,
    /// ``examples``, ``negative_examples``, …), as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.value())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Rule(id={}, detector='{}', severity='{}', enabled={}, name={})",
            crate::output::quoted(py, &self.spec.id),
            self.spec.detector,
            self.severity,
            if self.enabled { "True" } else { "False" },
            crate::output::quoted(py, &self.spec.name)
        )
    }
}
