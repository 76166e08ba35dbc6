//! The compiled rules and detectors of an engine (data only, filled by the planner), and the
//! tables the scan reads them through.

use crate::config::Config;
use crate::detector::{Detector, DetectorInfo, Hooks};
use crate::matchers::{Anchor, Matchers};
use crate::rule::{RuleSpec, ScopeMask, Validator};
use crate::severity::{Confidence, Severity};
use crate::validate;
use std::collections::HashMap;
use std::sync::Arc;
use wildmatch::WildMatch;

/// One compiled rule.
pub(crate) struct CompiledRule {
    pub(crate) id: Arc<str>,
    pub(crate) reason: Arc<str>,
    pub(crate) category: Arc<str>,
    pub(crate) detector: usize,
    pub(crate) severity: Severity,
    pub(crate) scope: ScopeMask,
    /// Index into the regex tables, when the rule has a pattern.
    pub(crate) regex: Option<usize>,
    /// The clauses of required literals (derived from the regex) that gate a keyword-gated
    /// rule besides its keywords: its regex runs only once they had hits.
    pub(crate) required: Required,
    /// Where the rule's matches can begin, when its regex says (see `Anchor`): its regex then
    /// runs anchored there instead of scanning its windows.
    pub(crate) anchor: Option<Anchor>,
    pub(crate) value_group: bool,
    /// The rule's own confidence (`RuleSpec::confidence`).
    pub(crate) confidence: Confidence,
    /// Its findings in the contents of a file or document that was read are inert (code, SQL
    /// and command injection, path traversal): reported with low confidence there.
    pub(crate) inert_in_documents: bool,
    pub(crate) validator: Option<Validator>,
    pub(crate) min_entropy: Option<f64>,
    pub(crate) enabled: bool,
    pub(crate) tools: Vec<WildMatch>,
    pub(crate) not_tools: Vec<WildMatch>,
    /// `allow` entries, lowercased.
    pub(crate) allow: Vec<String>,
    pub(crate) effective_pattern: Option<String>,
    pub(crate) spec: RuleSpec,
    pub(crate) source: String,
}

/// Which clauses of required literals must have had a hit in a string before a keyword-gated
/// rule's regex runs there. Each clause is a bit of the scratch's `required_seen`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Required {
    /// Every one of these clauses (a clause every match satisfies).
    pub(crate) all: u32,
    /// When not empty, also every clause of one of these: one mask per branch of the first
    /// alternation every match goes through (see `top_alternations`), since such a match is a
    /// match of one of its branches (`\bxp_cmdshell\b|…|\bcopy\s+\w+\s+from\s+program\s+'`:
    /// `program` alone, a common word, opens the gate, but that branch also needs `copy`).
    pub(crate) any: Vec<u32>,
}

impl Required {
    /// The clauses seen (`seen`, a bit each) meet the requirement.
    #[inline]
    pub(crate) fn met(&self, seen: u32) -> bool {
        // No bit of `all`, or of one of `any`, missing from `seen`.
        self.all & !seen == 0 && (self.any.is_empty() || self.any.iter().any(|&m| m & !seen == 0))
    }
}

impl CompiledRule {
    /// A matched value passes the rule's validator and is not on its allow-list.
    #[inline]
    pub(crate) fn valid_value(&self, text: &str) -> bool {
        self.validator.is_none_or(|v| validate::check(v, text, self.min_entropy)) && !self.is_allowed_value(text)
    }

    /// The rule's tool filters accept `tool`.
    #[inline]
    pub(crate) fn applies_to_tool(&self, tool: &str) -> bool {
        (self.tools.is_empty() || self.tools.iter().any(|g| g.matches(tool)))
            && !self.not_tools.iter().any(|g| g.matches(tool))
    }

    /// The matched value contains one of the rule's `allow` entries (ASCII case-insensitively;
    /// no allocation).
    #[inline]
    pub(crate) fn is_allowed_value(&self, value: &str) -> bool {
        self.allow.iter().any(|a| {
            value.len() >= a.len() && value.as_bytes().windows(a.len()).any(|w| w.eq_ignore_ascii_case(a.as_bytes()))
        })
    }
}

pub(crate) struct DetectorEntry {
    pub(crate) info: DetectorInfo,
    pub(crate) code: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) imp: Box<dyn Detector>,
    /// The hooks the engine calls (`Detector::hooks`, asked once).
    pub(crate) hooks: Hooks,
    pub(crate) enabled: bool,
    pub(crate) floor: Option<Severity>,
    pub(crate) cap: Option<Severity>,
}

/// Everything an engine compiled, shared by its clones and their scratches.
pub(crate) struct Inner {
    pub(crate) id: u64,
    pub(crate) config: Config,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) rule_index: HashMap<Arc<str>, u32>,
    pub(crate) detectors: Vec<DetectorEntry>,
    pub(crate) matchers: Matchers,
    pub(crate) unreadable_rule: u32,
    pub(crate) truncated_rule: u32,
    pub(crate) duplicate_rule: u32,
    pub(crate) not_listed_rule: u32,
    /// `tools.documents`: tools whose results are the contents of files.
    pub(crate) documents: Vec<WildMatch>,
    /// The adversarial-Unicode rules, by evasion kind.
    pub(crate) evasion_rules: [u32; 5],
    /// Enabled detectors that check each string, and each tool name called.
    pub(crate) text_checkers: Vec<usize>,
    pub(crate) tool_checkers: Vec<usize>,
}
