//! `Verdict`: the core's verdict, read through getters. `JSON.stringify(verdict)` gives the
//! core's JSON form byte for byte (what `sentinel scan --format ndjson` writes for it).

use mcp_threatscan::Verdict as CoreVerdict;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Where a finding's match is, in bytes of the scanned string.
// A TypeScript declaration only (index.d.ts): the value crosses as JSON or is read by key.
#[allow(dead_code)]
#[napi(object, object_to_js = false, object_from_js = false)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
}

/// One finding, in the core's JSON form (its keys are snake_case, as in the CLI's NDJSON).
// A TypeScript declaration only (index.d.ts): the value crosses as JSON or is read by key.
#[allow(dead_code)]
#[napi(object, object_to_js = false, object_from_js = false)]
pub struct Finding {
    /// The detector's stable code (`SEC-01`).
    pub detector: String,
    /// The detector's name (`PromptInjection`).
    #[napi(js_name = "detector_name")]
    pub detector_name: String,
    /// The threat category, snake_case (`prompt_injection`).
    pub category: String,
    /// The rule's stable code (`PI-001`).
    pub rule: String,
    /// The severity after policy (detector floor and cap).
    #[napi(ts_type = "'low' | 'medium' | 'high' | 'critical'")]
    pub severity: String,
    /// The rule's own severity, when a floor or cap changed it.
    #[napi(js_name = "original_severity", ts_type = "'low' | 'medium' | 'high' | 'critical'")]
    pub original_severity: Option<String>,
    /// How strongly the finding alone shows an attack: `low` or `medium`; absent when high.
    #[napi(ts_type = "'low' | 'medium'")]
    pub confidence: Option<String>,
    /// The part of the event or message the finding is in (`prompt`, `response`, `metadata`,
    /// `tool`, `arguments`, …).
    pub field: String,
    /// JSON path of the scanned string (`metadata.arguments.path`, `params.arguments.cmd`).
    pub path: String,
    /// Where in that string.
    pub span: Span,
    /// One line saying why.
    pub reason: String,
}

/// The result of scanning one event or message.
#[napi]
pub struct Verdict {
    inner: CoreVerdict,
}

impl From<CoreVerdict> for Verdict {
    fn from(inner: CoreVerdict) -> Self {
        Verdict { inner }
    }
}

#[napi]
impl Verdict {
    /// What to do: the strictest action of any finding (`allow` when there are none).
    #[napi(getter, ts_return_type = "'allow' | 'warn' | 'block'")]
    pub fn action(&self) -> &'static str {
        self.inner.action.as_str()
    }

    /// The highest severity of any finding; `null` when there are none.
    #[napi(getter, ts_return_type = "'low' | 'medium' | 'high' | 'critical' | null")]
    pub fn severity(&self) -> Option<&'static str> {
        self.inner.severity.map(|s| s.as_str())
    }

    /// True when the action is `block`.
    #[napi(getter)]
    pub fn blocked(&self) -> bool {
        self.inner.is_blocked()
    }

    /// The findings, in scan order, in the core's JSON form.
    #[napi(getter, ts_return_type = "Finding[]")]
    pub fn findings<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        env.to_js_value(&self.inner.findings)
    }

    /// The rule codes of the findings, in order (one per finding).
    #[napi(getter)]
    pub fn rules(&self) -> Vec<String> {
        self.inner.findings.iter().map(|f| f.rule.to_string()).collect()
    }

    /// True when a finding has this rule code.
    #[napi]
    pub fn has_rule(&self, rule: String) -> bool {
        self.inner.has_rule(&rule)
    }

    /// For an MCP message: its `direction`, `method`, JSON-RPC `id` and `tool`; `null` for an
    /// event.
    #[napi(getter, ts_return_type = "{ direction: 'request' | 'response'; method?: string; id?: unknown; tool?: string } | null")]
    pub fn message<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        env.to_js_value(&self.inner.message)
    }

    /// The whole verdict in the core's JSON form (the audit context of the event — `id`,
    /// `server`, `session`, … — included). `JSON.stringify` calls it.
    #[napi(js_name = "toJSON", ts_return_type = "Record<string, unknown>")]
    pub fn to_json<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        env.to_js_value(&self.inner)
    }
}
