//! Severities, actions and the severity → action table.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How bad a finding is. Ordered: `Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth recording; allowed by default.
    Low,
    /// Suspicious; warned by default.
    Medium,
    /// Likely an attack; blocked by default.
    High,
    /// An attack or a policy violation; blocked by default.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The lowercase name used in JSON, TOML and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(ParseEnumError { what: "severity", got: s.to_string(), expected: "low, medium, high, critical" }),
        }
    }
}

/// What the host should do with the scanned traffic. Ordered: `Allow < Warn < Block`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it through.
    #[default]
    Allow,
    /// Let it through and report it.
    Warn,
    /// Stop it.
    Block,
}

impl Action {
    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Warn => "warn",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = ParseEnumError;
    /// Case-insensitive, so the seed proxy's `Block` / `Warn` / `Allow` spellings work.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(Action::Allow),
            "warn" => Ok(Action::Warn),
            "block" => Ok(Action::Block),
            _ => Err(ParseEnumError { what: "action", got: s.to_string(), expected: "allow, warn, block" }),
        }
    }
}

/// How strongly a finding alone shows an attack. Ordered: `Low < High`.
///
/// `high` (the default): the match is the attack's own form. `low`: a weak signal on its own
/// (the rule says so with `confidence = "low"`), or an attack's form in content where it cannot
/// act: code, SQL or command injection and path traversal in the contents of a file or resource
/// that was read (`tools.documents`). By default ([`LowConfidence::StepDown`]) a low-confidence
/// finding acts one step below its severity: it is reported, and does not block alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A weak signal, or a payload in inert content.
    Low,
    /// The attack's own form (default).
    #[default]
    High,
}

impl Confidence {
    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::High => "high",
        }
    }

    /// `High`: the default, left out of a finding's JSON.
    pub fn is_high(&self) -> bool {
        *self == Confidence::High
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Confidence {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Confidence::Low),
            "high" => Ok(Confidence::High),
            _ => Err(ParseEnumError { what: "confidence", got: s.to_string(), expected: "low, high" }),
        }
    }
}

/// A name that is not one of an enum's values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {got:?}: expected one of {expected}")]
pub struct ParseEnumError {
    what: &'static str,
    got: String,
    expected: &'static str,
}

impl ParseEnumError {
    pub(crate) fn new(what: &'static str, got: &str, expected: &'static str) -> Self {
        ParseEnumError { what, got: got.to_string(), expected }
    }
}

/// The severity → action table. Defaults follow the proxy specification: Critical and High block,
/// Medium warns, Low allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionMap {
    /// Action for [`Severity::Critical`] findings.
    pub critical: Action,
    /// Action for [`Severity::High`] findings.
    pub high: Action,
    /// Action for [`Severity::Medium`] findings.
    pub medium: Action,
    /// Action for [`Severity::Low`] findings.
    pub low: Action,
    /// What low-confidence findings do (default `step_down`).
    pub low_confidence: LowConfidence,
}

/// How the action of a low-confidence finding follows from its severity ([`ActionMap`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LowConfidence {
    /// One step below its severity's action: block becomes warn, warn becomes allow (the
    /// finding is still reported). The default.
    #[default]
    StepDown,
    /// The same action as a high-confidence finding of its severity.
    Same,
}

impl FromStr for LowConfidence {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "step_down" => Ok(LowConfidence::StepDown),
            "same" => Ok(LowConfidence::Same),
            _ => Err(ParseEnumError { what: "low-confidence policy", got: s.to_string(), expected: "step_down, same" }),
        }
    }
}

impl Default for ActionMap {
    fn default() -> Self {
        ActionMap {
            critical: Action::Block,
            high: Action::Block,
            medium: Action::Warn,
            low: Action::Allow,
            low_confidence: LowConfidence::StepDown,
        }
    }
}

impl ActionMap {
    /// The action for one severity.
    pub fn action_for(&self, severity: Severity) -> Action {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
        }
    }

    /// The action for a finding of this severity and confidence.
    pub fn action_for_finding(&self, severity: Severity, confidence: Confidence) -> Action {
        let action = self.action_for(severity);
        match (confidence, self.low_confidence) {
            (Confidence::High, _) | (Confidence::Low, LowConfidence::Same) => action,
            (Confidence::Low, LowConfidence::StepDown) => match action {
                Action::Block => Action::Warn,
                Action::Warn | Action::Allow => Action::Allow,
            },
        }
    }

    /// Sets the action for one severity.
    pub fn set(&mut self, severity: Severity, action: Action) {
        match severity {
            Severity::Critical => self.critical = action,
            Severity::High => self.high = action,
            Severity::Medium => self.medium = action,
            Severity::Low => self.low = action,
        }
    }
}
