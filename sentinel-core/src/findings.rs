//! The findings sink: the verdict being built, each finding's severity after the detector's
//! floor and cap and its confidence in context, the cut at `MAX_FINDINGS`, and the action.

use crate::compiled::Inner;
use crate::config::{Config, FailMode};
use crate::detector::{self, Emit};
use crate::event::{EventContext, Field};
use crate::severity::{Action, Confidence, Severity};
use crate::verdict::{Finding, Span, Verdict};
use std::fmt::{self, Write as _};

/// Most findings kept for one verdict; past it the scan stops adding findings and reports the
/// cut as a finding of its own.
pub const MAX_FINDINGS: usize = 1_000;

/// The verdict being built, and a pool of finding buffers to reuse.
#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) verdict: Verdict,
    pub(crate) spare: Vec<Finding>,
    /// Findings past `MAX_FINDINGS`: how many, and the highest action and severity among
    /// them (they count in the verdict's action although they are not listed).
    pub(crate) dropped: usize,
    pub(crate) dropped_action: Action,
    pub(crate) dropped_severity: Option<Severity>,
    /// Where the findings of the string being scanned begin.
    pub(crate) string_start: usize,
    /// The response being scanned is the contents of a file or document (a result of a tool on
    /// `tools.documents`, or of `resources/read`): see `CompiledRule::inert_in_documents`.
    pub(crate) document: bool,
}

impl Findings {
    /// A finding of `rule` at `path` is already in the verdict, from the string being scanned
    /// (only its findings are looked at: a message of many strings costs each string its own
    /// findings, not every finding so far).
    pub(crate) fn has(&self, rule: &str, path: &str) -> bool {
        let from = self.string_start.min(self.verdict.findings.len());
        self.verdict.findings[from..].iter().any(|f| &*f.rule == rule && f.path == path)
    }

    /// Drops the findings from `from` on whose rule was already found at `path` before `from`
    /// (a layer scanned again in another form, e.g. a string that holds JSON).
    pub(crate) fn dedupe_since(&mut self, from: usize, path: &str) {
        let mut i = from;
        while i < self.verdict.findings.len() {
            let rule = &self.verdict.findings[i].rule;
            if self.verdict.findings[..from].iter().any(|f| f.rule == *rule && f.path == path) {
                let f = self.verdict.findings.remove(i);
                self.spare.push(f);
            } else {
                i += 1;
            }
        }
    }

    pub(crate) fn reset(&mut self, context: &EventContext) {
        // Reversed, so that `pop` hands finding i the buffer finding i had last time: each
        // buffer then only ever grows to the largest text seen at its index.
        self.spare.extend(self.verdict.findings.drain(..).rev());
        self.verdict.action = Action::Allow;
        self.verdict.severity = None;
        self.verdict.context.assign_from(context);
        self.verdict.message = None;
        self.dropped = 0;
        self.dropped_action = Action::Allow;
        self.dropped_severity = None;
        self.string_start = 0;
        self.document = false;
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push(
        &mut self,
        inner: &Inner,
        r: usize,
        judged: Option<Severity>,
        field: Field,
        path: &str,
        span: Span,
        reason: fmt::Arguments<'_>,
    ) {
        let rule = &inner.rules[r];
        if !rule.enabled {
            return;
        }
        let d = &inner.detectors[rule.detector];
        let original = judged.unwrap_or(rule.severity);
        let mut severity = original;
        if let Some(floor) = d.floor {
            severity = severity.max(floor);
        }
        if let Some(cap) = d.cap {
            severity = severity.min(cap);
        }
        // A payload of injection into code, SQL or a shell is inert in the contents of a file
        // that was read: reported, with low confidence.
        let inert = self.document && field == Field::Response && rule.inert_in_documents;
        let confidence = if inert { Confidence::Low } else { rule.confidence };
        if self.verdict.findings.len() >= MAX_FINDINGS {
            self.dropped += 1;
            self.dropped_action = self.dropped_action.max(action_of(&inner.config, &rule.id, severity, confidence));
            self.dropped_severity = self.dropped_severity.max(Some(severity));
            return;
        }
        let mut f = self.spare.pop().unwrap_or_else(Finding::blank);
        f.detector.clone_from(&d.code);
        f.detector_name.clone_from(&d.name);
        f.category.clone_from(&rule.category);
        f.rule.clone_from(&rule.id);
        f.severity = severity;
        f.original_severity = (severity != rule.severity).then_some(rule.severity);
        f.confidence = confidence;
        f.field = field;
        f.path.clear();
        f.path.push_str(path);
        f.span = span;
        f.reason.clear();
        let _ = f.reason.write_fmt(reason);
        self.verdict.findings.push(f);
    }

    pub(crate) fn finish(&mut self, inner: &Inner) {
        let mut action = Action::Allow;
        let mut severity = None;
        if self.dropped > 0 {
            // Make room for the note so it is never itself dropped; the finding it replaces
            // is counted with the other unlisted ones.
            if let Some(last) = self.verdict.findings.pop() {
                self.dropped += 1;
                self.dropped_action =
                    self.dropped_action.max(action_of(&inner.config, &last.rule, last.severity, last.confidence));
                self.dropped_severity = self.dropped_severity.max(Some(last.severity));
                self.spare.push(last);
            }
            action = self.dropped_action;
            severity = self.dropped_severity;
            let dropped = self.dropped;
            self.dropped = 0;
            self.push(
                inner,
                inner.not_listed_rule as usize,
                None,
                Field::Event,
                "",
                Span::default(),
                format_args!(
                    "more than {MAX_FINDINGS} findings: {dropped} not listed (up to {}; the action counts them)",
                    severity.map_or("low", Severity::as_str)
                ),
            );
        }
        for f in &self.verdict.findings {
            action = action.max(action_of(&inner.config, &f.rule, f.severity, f.confidence));
            severity = severity.max(Some(f.severity));
        }
        self.verdict.action = action;
        self.verdict.severity = severity;
    }
}

/// The action a finding calls for: for content that was not read or not scanned (`SYS-001`,
/// `SYS-002`) the fail mode decides; for every other finding, the severity → action table.
pub(crate) fn action_of(config: &Config, rule: &str, severity: Severity, confidence: Confidence) -> Action {
    if rule == detector::RULE_UNREADABLE || rule == detector::RULE_TRUNCATED {
        match config.fail_mode {
            FailMode::Closed => Action::Block,
            FailMode::Open => Action::Allow,
        }
    } else {
        config.actions.action_for_finding(severity, confidence)
    }
}

/// Routes [`Emit::emit`] calls of one detector into the verdict.
pub(crate) struct EventEmitter<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) out: &'a mut Findings,
    pub(crate) detector: usize,
}

impl Emit for EventEmitter<'_> {
    fn emit(&mut self, rule: &str, field: Field, path: &str, span: Span, reason: fmt::Arguments<'_>) {
        let Some(&r) = self.inner.rule_index.get(rule) else { return };
        if self.inner.rules[r as usize].detector != self.detector {
            return;
        }
        self.out.push(self.inner, r as usize, None, field, path, span, reason);
    }
}
