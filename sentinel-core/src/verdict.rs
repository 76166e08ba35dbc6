//! What a scan returns: the action, the highest severity and the findings.
//!
//! The serde form of [`Verdict`] and [`Finding`] is the JSON every binding and the CLI expose:
//!
//! ```json
//! {"action":"block","severity":"critical","findings":[
//!   {"detector":"SEC-42","detector_name":"DangerousTool","category":"dangerous_tool",
//!    "rule":"DT-001","severity":"critical","field":"tool","path":"tool",
//!    "span":{"start":0,"end":8},"reason":"tool `os_shell` is on the dangerous-tool list"}],
//!  "id":"evt-1"}
//! ```

use crate::event::{EventContext, Field};
use crate::message::MessageInfo;
use crate::severity::{Action, Confidence, Severity};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A byte span `[start, end)` in the original text of a finding's field, on character
/// boundaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

/// One reason a verdict is what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The detector's stable code (e.g. `SEC-01`).
    pub detector: Arc<str>,
    /// The detector's name (e.g. `PromptInjection`).
    pub detector_name: Arc<str>,
    /// The threat category, snake_case (e.g. `prompt_injection`).
    pub category: Arc<str>,
    /// The rule's stable code (e.g. `PI-001`).
    pub rule: Arc<str>,
    /// The severity after policy (detector floor and cap).
    pub severity: Severity,
    /// The rule's own severity, when a floor or cap changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_severity: Option<Severity>,
    /// How strongly the finding alone shows an attack: `low` for a weak signal or a payload in
    /// inert content (see [`Confidence`]); left out of the JSON when `high`.
    #[serde(default, skip_serializing_if = "Confidence::is_high")]
    pub confidence: Confidence,
    /// The part of the event the finding is in.
    pub field: Field,
    /// JSON path of the scanned string (`prompt`, `metadata.arguments.path`, `metadata.items[2]`).
    pub path: String,
    /// Where in that string (bytes of the original text).
    pub span: Span,
    /// One line saying why.
    pub reason: String,
}

impl Finding {
    pub(crate) fn blank() -> Finding {
        let empty: Arc<str> = Arc::from("");
        Finding {
            detector: empty.clone(),
            detector_name: empty.clone(),
            category: empty.clone(),
            rule: empty,
            severity: Severity::Low,
            original_severity: None,
            confidence: Confidence::High,
            field: Field::Event,
            path: String::new(),
            span: Span::default(),
            reason: String::new(),
        }
    }
}

/// The result of scanning one event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// What to do: the strictest action of any finding (`allow` when there are none).
    pub action: Action,
    /// The highest severity of any finding; `null` when there are none.
    pub severity: Option<Severity>,
    /// The findings, in scan order (event-level checks, then tool, prompt, response, metadata).
    pub findings: Vec<Finding>,
    /// The event's audit context, carried through.
    #[serde(flatten)]
    pub context: EventContext,
    /// For an MCP message ([`crate::Engine::scan_message`]): its direction, method, JSON-RPC id
    /// and tool. `None` for an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageInfo>,
}

impl Verdict {
    /// True when the action is [`Action::Block`].
    pub fn is_blocked(&self) -> bool {
        self.action == Action::Block
    }

    /// The findings of one category.
    pub fn findings_in<'a>(&'a self, category: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| &*f.category == category)
    }

    /// True when a finding has this rule code.
    pub fn has_rule(&self, rule: &str) -> bool {
        self.findings.iter().any(|f| &*f.rule == rule)
    }
}
