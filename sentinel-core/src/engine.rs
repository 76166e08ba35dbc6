//! The compiled engine: an immutable, shareable value that scans events (and, see
//! [`crate::mcp`], MCP messages) into verdicts.
//!
//! Build once, scan many: [`Engine`] is immutable, `Send + Sync` and cheap to clone (an `Arc`
//! inside). All mutable search state lives in a [`Scratch`]. [`Engine::scan`] borrows a scratch
//! from an internal pool; [`Engine::scan_with`] takes one from the caller and, once the
//! scratch is warm, does not touch the heap.

use crate::builder::EngineBuilder;
use crate::compiled::{CompiledRule, DetectorEntry, Inner};
use crate::config::Config;
use crate::detector::{DetectorInfo, Text};
use crate::error::{BuildError, Kind, RuleProblem};
use crate::event::{Event, EventContext, EventError, Field};
use crate::findings::Findings;
use crate::json::push_key;
use crate::matchers::{SINGLE_NFA_LIMIT, UNION_NFA_LIMIT};
use crate::rule::RuleSpec;
use crate::scratch::{make_factory, new_scratch, Scratch, ScratchFactory, Sizes};
use crate::severity::Severity;
use crate::verdict::{Span, Verdict};
use regex_automata::util::pool::Pool;
use std::fmt;
use std::sync::Arc;

/// An immutable, compiled threat-detection engine.
///
/// ```
/// use mcp_threatscan::{Engine, Event, Action};
/// let engine = Engine::new().unwrap(); // the built-in pack with the default config
/// let event = Event::from_json(br#"{"timestamp":"2024-01-15T14:31:00Z","user":"bob",
///     "agent":"AssistantBot","tool":"os_shell","prompt":"Run whoami command",
///     "response":"user123"}"#).unwrap();
/// let verdict = engine.scan(&event);
/// assert_eq!(verdict.action, Action::Block);
/// assert!(verdict.has_rule("DT-001"));
/// ```
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
    pub(crate) pool: Arc<Pool<Scratch, ScratchFactory>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.inner.rules.len())
            .field("detectors", &self.inner.detectors.len())
            .field("config", &self.inner.config)
            .finish()
    }
}

impl EngineBuilder {
    /// Compiles everything. Any error rejects the whole build.
    pub fn build(self) -> Result<Engine, BuildError> {
        let inner = self.compile()?;
        let pool = Pool::new(make_factory(inner.id, &inner.matchers, inner.rules.len()));
        Ok(Engine { inner: Arc::new(inner), pool: Arc::new(pool) })
    }
}

/// A rule of the engine's catalogue, as [`Engine::rules`] lists it.
#[derive(Clone, Copy)]
pub struct RuleInfo<'a> {
    rule: &'a CompiledRule,
    detector: &'a DetectorEntry,
}

impl<'a> RuleInfo<'a> {
    /// The stable code.
    pub fn id(&self) -> &'a str {
        &self.rule.id
    }
    /// The detector's code.
    pub fn detector(&self) -> &'a str {
        &self.detector.code
    }
    /// The detector's name.
    pub fn detector_name(&self) -> &'a str {
        &self.detector.name
    }
    /// The category of its findings.
    pub fn category(&self) -> &'a str {
        &self.rule.category
    }
    /// The severity after user-pack overrides (before detector floors and caps).
    pub fn severity(&self) -> Severity {
        self.rule.severity
    }
    /// Whether the rule runs (not disabled, and its detector is enabled).
    pub fn enabled(&self) -> bool {
        self.rule.enabled
    }
    /// The rule as written.
    pub fn spec(&self) -> &'a RuleSpec {
        &self.rule.spec
    }
    /// The pack it came from.
    pub fn source(&self) -> &'a str {
        &self.rule.source
    }
    /// The pattern as compiled (case-insensitivity flag and ASCII word boundaries applied).
    pub fn effective_pattern(&self) -> Option<&'a str> {
        self.rule.effective_pattern.as_deref()
    }
}

impl fmt::Debug for RuleInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleInfo").field("id", &self.id()).field("detector", &self.detector()).finish()
    }
}

impl Engine {
    /// An engine with the built-in pack and the default configuration.
    pub fn new() -> Result<Engine, BuildError> {
        Engine::builder().build()
    }

    /// A builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Every rule of the catalogue, enabled or not, in pack order.
    pub fn rules(&self) -> impl Iterator<Item = RuleInfo<'_>> + '_ {
        self.inner.rules.iter().map(move |rule| RuleInfo { rule, detector: &self.inner.detectors[rule.detector] })
    }

    /// One rule by id.
    pub fn rule(&self, id: &str) -> Option<RuleInfo<'_>> {
        let i = *self.inner.rule_index.get(id)?;
        let rule = &self.inner.rules[i as usize];
        Some(RuleInfo { rule, detector: &self.inner.detectors[rule.detector] })
    }

    /// Every detector, with whether it is enabled.
    pub fn detectors(&self) -> impl Iterator<Item = (&DetectorInfo, bool)> + '_ {
        self.inner.detectors.iter().map(|d| (&d.info, d.enabled))
    }

    /// Compiles now every matcher that the engine otherwise compiles the first time a scan
    /// needs it (the built-in pack's regexes and the automata that anchor them): for a host
    /// that would rather pay the whole build up front than a few milliseconds the first time
    /// each rule runs. Returns how many matchers were compiled by this call (0 the second
    /// time). A rule whose regex cannot be compiled is an error naming it; the built-in pack
    /// has none, which a test holds.
    pub fn precompile(&self) -> Result<usize, BuildError> {
        let inner = &*self.inner;
        let m = &inner.matchers;
        let mut compiled = 0;
        for rule in &inner.rules {
            let Some(ri) = rule.regex else { continue };
            let single = &m.single[ri];
            compiled += usize::from(!single.is_built());
            if single.get().is_none() {
                let message = "its regex cannot be compiled within the size limits".to_string();
                return Err(BuildError::rule(
                    &rule.source,
                    &rule.id,
                    None,
                    RuleProblem::SizeLimit { limit: SINGLE_NFA_LIMIT, message },
                ));
            }
        }
        if let Some(union) = &m.union {
            compiled += usize::from(!union.is_built());
            if union.get().is_none() {
                return Err(BuildError::new(Kind::SizeLimit {
                    limit: UNION_NFA_LIMIT,
                    message: "the union of the rules without keywords cannot be compiled".into(),
                }));
            }
        }
        // A tail or head that cannot be built leaves its rule scanning windows: not an error.
        for d in m.tails.iter().chain(&m.heads) {
            compiled += usize::from(!d.is_built());
            let _ = d.get();
        }
        Ok(compiled)
    }

    /// A new scratch for [`Engine::scan_with`]. It belongs to this engine (and its clones).
    pub fn create_scratch(&self) -> Scratch {
        let (inner, m) = (&*self.inner, &self.inner.matchers);
        new_scratch(inner.id, Sizes::of(m, inner.rules.len()))
    }

    /// Scans one event, with a scratch from the engine's pool. The verdict is owned.
    pub fn scan(&self, event: &Event) -> Verdict {
        let mut scratch = self.pool.get();
        self.scan_with(&mut scratch, event).clone()
    }

    /// Scans one event with the caller's scratch. Once the scratch is warm (it has seen inputs
    /// of this size and shape), this does not allocate.
    ///
    /// A scratch made by another engine is reset for this one first (which allocates).
    pub fn scan_with<'s>(&self, scratch: &'s mut Scratch, event: &Event) -> &'s Verdict {
        let inner = &*self.inner;
        if scratch.engine_id != inner.id {
            *scratch = self.create_scratch();
        }
        scratch.out.reset(&event.context);
        scratch.m.start_budget(inner.config.limits.max_scan_bytes);
        let tool = event.tool.as_str();
        let Scratch { m, path, out, .. } = scratch;
        // The response is a file's contents when the tool (or the MCP tool named in the
        // metadata) reads files.
        out.document =
            inner.is_document_tool(tool) || event.metadata_tool_name().is_some_and(|t| inner.is_document_tool(t));
        inner.tool_policy(out, tool, "tool");
        let fields =
            [(Field::Tool, tool), (Field::Prompt, event.prompt.as_str()), (Field::Response, event.response.as_str())];
        for (field, text) in fields {
            inner.check_text(out, &Text { field, path: field.as_str(), text, tool });
        }
        for (field, text) in fields {
            path.clear();
            path.push_str(field.as_str());
            inner.scan_text(m, out, tool, field, path, text);
        }
        if let Some(metadata) = &event.metadata {
            path.clear();
            path.push_str("metadata");
            inner.walk(m, out, tool, Field::Metadata, path, metadata, 0);
        }
        for (key, value) in &event.extra {
            path.clear();
            push_key(path, key, true);
            inner.walk(m, out, tool, Field::Extra, path, value, 0);
        }
        for duplicate in &event.duplicates {
            let top = duplicate.path.split(['.', '[']).next().unwrap_or("");
            let field = match top {
                "tool" => Field::Tool,
                "prompt" => Field::Prompt,
                "response" => Field::Response,
                "metadata" => Field::Metadata,
                _ => Field::Extra,
            };
            inner.shadowed(m, out, tool, field, path, duplicate, 0);
        }
        inner.report_overflow(m, out);
        out.finish(inner);
        &scratch.out.verdict
    }

    /// Parses JSON bytes as an event and scans it. An event that cannot be parsed gives the
    /// fail-mode verdict of [`Engine::error_verdict`].
    pub fn scan_json(&self, json: &[u8]) -> Verdict {
        match Event::from_json(json) {
            Ok(event) => self.scan(&event),
            Err(e) => self.error_verdict(&e),
        }
    }

    /// The verdict for input that could not be parsed or scanned: a `SYS-001` finding saying
    /// why, blocked under `fail_closed` (the default) and allowed under `fail_open`.
    pub fn error_verdict(&self, error: &EventError) -> Verdict {
        self.failure_verdict(format_args!("{error}"))
    }

    /// The fail-mode verdict for any reason the caller could not scan something.
    pub fn failure_verdict(&self, reason: fmt::Arguments<'_>) -> Verdict {
        let inner = &*self.inner;
        let mut out = Findings::default();
        out.reset(&EventContext::default());
        out.push(inner, inner.unreadable_rule as usize, None, Field::Event, "", Span::default(), reason);
        out.finish(inner);
        out.verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_matcher_compiles_and_only_when_asked() {
        // The built-in pack's matchers are compiled on first use: none is built with the
        // engine, every one builds (a rule that could not would never run), and once built
        // they are not built again.
        let engine = Engine::new().unwrap();
        let m = &engine.inner.matchers;
        let deferred = m.single.len() + m.tails.len() + m.heads.len() + usize::from(m.union.is_some());
        assert!(m.single.iter().all(|d| !d.is_built()), "a built-in regex was compiled with the engine");
        assert_eq!(engine.precompile().unwrap(), deferred);
        assert!(m.tails.iter().chain(&m.heads).all(|d| d.get().is_some()), "an anchor automaton did not build");
        assert_eq!(engine.precompile().unwrap(), 0);
        // A user pack's regex is checked with the engine (one over the limits is a build error
        // naming it, tests/errors.rs) and compiled on first use too.
        let user = Engine::builder()
            .rules_toml(
                "user.toml",
                "[[rule]]\nid = \"U-1\"\ndetector = \"SEC-40\"\nname = \"n\"\nseverity = \"high\"\ndescription = \"d\"\npattern = 'zq[0-9]+x'\n",
            )
            .build()
            .unwrap();
        let ri = user.inner.rules.iter().find(|r| &*r.id == "U-1").unwrap().regex.unwrap();
        assert!(!user.inner.matchers.single[ri].is_built());
        let v = user.scan(&Event { prompt: "a zq123x b".into(), ..Event::default() });
        assert!(v.has_rule("U-1"), "{:?}", v.findings);
        assert!(user.inner.matchers.single[ri].is_built());
    }
}
