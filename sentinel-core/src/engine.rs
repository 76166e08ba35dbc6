//! The compiled engine, its builder and the per-thread scratch.
//!
//! Build once, scan many: [`Engine`] is immutable, `Send + Sync` and cheap to clone (an `Arc`
//! inside). All mutable search state lives in a [`Scratch`]. [`Engine::scan`] borrows a scratch
//! from an internal pool; [`Engine::scan_with`] takes one from the caller and, once the
//! scratch is warm, does not touch the heap.

use crate::config::{Config, FailMode};
use crate::decode;
use crate::deferred::Deferred;
use crate::detector::{self, DetectorImpl, DetectorInfo, Emit, Hit, Judgement};
use crate::error::{BuildError, Kind, RuleProblem};
use crate::event::{self, Event, EventContext, EventError, Field};
use crate::json::{self, push_index, push_key, DuplicateKey};
use crate::keywords::{Hit as KeywordHit, Keywords, Walks};
use crate::normalize::{OffsetMap, View};
use crate::pattern;
use crate::required::{self, implies, Literals, Set};
use crate::rule::{check_rule_shape, floor_char_boundary, Pack, RuleSpec, ScopeMask, SourcedRule, Validator};
use crate::severity::{Action, Confidence, Severity};
use crate::validate;
use crate::verdict::{Finding, Span, Verdict};
use regex_automata::nfa::thompson;
use regex_automata::util::captures::Captures;
use regex_automata::util::pool::Pool;
use regex_automata::{hybrid, meta, Anchored, Input, MatchKind, PatternSet};
use regex_syntax::hir::{Hir, HirKind};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wildmatch::WildMatch;

/// Lazy-DFA cache for the union of all regex rules. A union of ~150 rules thrashes at the
/// default 2 MB (about 1.5 MB/s measured) and runs at full speed from about 8–64 MB; the
/// cache grows only as far as the traffic needs.
const UNION_CACHE_CAPACITY: usize = 64 << 20;
/// NFA size limit for the union (regex-automata sets none by default).
const UNION_NFA_LIMIT: usize = 256 << 20;
/// Limits for each rule's own regex, used only to locate the span of a hit.
const SINGLE_CACHE_CAPACITY: usize = 16 << 20;
const SINGLE_NFA_LIMIT: usize = 16 << 20;
/// Most findings kept for one verdict; past it the scan stops adding findings and reports the
/// cut as a finding of its own.
pub const MAX_FINDINGS: usize = 1_000;

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// The built-in content packs, compiled into the crate.
pub(crate) const BUILTIN_PACKS: &[(&str, &str)] = &[
    ("builtin:seed.toml", SEED_PACK),
    ("builtin:credentials.toml", include_str!("../rules/credentials.toml")),
    ("builtin:pii.toml", include_str!("../rules/pii.toml")),
    ("builtin:injection.toml", include_str!("../rules/injection.toml")),
    ("builtin:llm_injection.toml", include_str!("../rules/llm_injection.toml")),
    ("builtin:llm_content.toml", include_str!("../rules/llm_content.toml")),
    ("builtin:unicode.toml", include_str!("../rules/unicode.toml")),
    ("builtin:jailbreak_variants.toml", include_str!("../rules/jailbreak_variants.toml")),
    ("builtin:injection_variants.toml", include_str!("../rules/injection_variants.toml")),
    ("builtin:exfiltration_variants.toml", include_str!("../rules/exfiltration_variants.toml")),
];

/// The rules of the detection specification on their own (suspicious keywords, SQL, command and script
/// injection), as TOML: part of the built-in packs, and a baseline for measuring the others
/// (`Engine::builder().without_builtin_rules().rules_toml("seed", SEED_PACK)`).
pub const SEED_PACK: &str = include_str!("../rules/seed.toml");
/// Where a keyword-gated rule's matches begin: at a hit of one of its start literals (derived
/// from its regex, see `required::starts`), where its regex runs anchored instead of scanning
/// the rule's windows.
#[derive(Clone, Copy)]
pub(crate) enum Anchor {
    /// The literals start the whole pattern. `Matchers::tails[tail]` is the whole pattern
    /// (a tail after an empty head): run anchored at each hit, it says whether a match begins
    /// there, and the rule's own regex then runs anchored there for the span.
    Start { tail: usize },
    /// The literals start a tail of the pattern that follows a head of at most `reach` bytes
    /// (`[^A-Za-z0-9][\w.-]{0,40}?` before `key|token|…`): the tail (`tails[tail]`) runs
    /// anchored at each hit, and the rule's own regex scans only from `reach` bytes before the
    /// first hit where the tail matches, since no match can begin earlier.
    Tail { tail: usize, reach: u32 },
    /// Every match goes through one of the rule's branches (`Matchers::inner`, named by the
    /// hits of their literals): a head of any length, then a tail that begins with one of the
    /// branch's literals. At each literal hit the head runs backwards to where a match through
    /// it can begin, and the tail runs forwards to check that one does; the rule's regex then
    /// runs anchored at the leftmost such start (see `CompiledRule::first_valid_inner`).
    Inner,
}

/// One branch of an `Anchor::Inner` rule: its head, reversed (a lazy DFA run backwards,
/// anchored at a literal hit, that reports the leftmost position the head can begin at; `None`
/// when the branch begins with its literals), and its tail (`Matchers::tails`), run anchored
/// at the hit.
pub(crate) struct InnerBranch {
    head: Option<usize>,
    tail: usize,
}

/// The rules of the built-in detectors (integrity, tool policy, size limits): always loaded.
const POLICY_PACK: (&str, &str) = ("builtin:policy.toml", include_str!("../rules/policy.toml"));

/// The starts of an `Anchor::Start` rule in a window (rule, position), in order, with its
/// pattern's forward lazy DFA and that DFA's cache: what `CompiledRule::first_valid_match` runs
/// anchored instead of scanning the window.
type StartRuns<'a> = (&'a [(u32, u32)], &'a hybrid::dfa::DFA, &'a mut hybrid::dfa::Cache);

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
    all: u32,
    /// When not empty, also every clause of one of these: one mask per branch of the first
    /// alternation every match goes through (see `top_alternations`), since such a match is a
    /// match of one of its branches (`\bxp_cmdshell\b|…|\bcopy\s+\w+\s+from\s+program\s+'`:
    /// `program` alone, a common word, opens the gate, but that branch also needs `copy`).
    any: Vec<u32>,
}

impl Required {
    /// The clauses seen (`seen`, a bit each) meet the requirement.
    #[inline]
    fn met(&self, seen: u32) -> bool {
        // No bit of `all`, or of one of `any`, missing from `seen`.
        self.all & !seen == 0 && (self.any.is_empty() || self.any.iter().any(|&m| m & !seen == 0))
    }
}

impl CompiledRule {
    /// The first match of the rule's own regex in `window` of `hay` that passes its validator
    /// and allow-list: the span of the whole match. Matches that fail are skipped.
    ///
    /// With `starts` (the positions in `window` where a match of the rule can begin, in
    /// order, and the rule's whole pattern as a tail, see `Anchor::Start`), the pattern runs
    /// anchored at each of them instead of scanning the window, and the regex where it matches:
    /// the first position with a valid match gives the same span as the scan would.
    fn first_valid_match(
        &self,
        single: &meta::Regex,
        cache: &mut meta::Cache,
        caps: &mut Option<Captures>,
        hay: &str,
        window: std::ops::Range<usize>,
        starts: Option<StartRuns<'_>>,
    ) -> Option<(usize, usize)> {
        let mut at = window.start;
        let mut next = 0;
        let mut starts = starts;
        // What the anchored runs may read together, at most: `ANCHOR_BUDGET` scans of the
        // window. When the starts cost more (a run of near-matches), the rest of the window is
        // scanned instead.
        let mut budget = window.len() * ANCHOR_BUDGET;
        while at < window.end {
            let input = match &mut starts {
                None => Input::new(hay).span(at..window.end),
                Some((list, tail, tail_cache)) => {
                    // The next start at or after `at` (a failed match skips those inside it).
                    while list.get(next).is_some_and(|&(_, p)| (p as usize) < at) {
                        next += 1;
                    }
                    let &(_, p) = list.get(next)?;
                    next += 1;
                    let p = p as usize;
                    match tail_matches(tail, tail_cache, hay, p..window.end, &mut budget) {
                        Some(true) => Input::new(hay).span(p..window.end).anchored(Anchored::Yes),
                        Some(false) => continue,
                        None => {
                            starts = None;
                            at = p;
                            continue;
                        }
                    }
                }
            };
            let Some((whole, value)) = self.search_at(single, cache, caps, &input) else {
                if starts.is_some() {
                    continue;
                }
                return None;
            };
            if self.valid_value(&hay[value.0..value.1]) {
                return Some(whole);
            }
            at = ceil_char_boundary(hay, whole.1.max(whole.0 + 1));
        }
        None
    }

    /// The first match of the rule's own regex in `input`: the span of the whole match, and of
    /// its value (the `v` group, or the whole match).
    #[inline]
    fn search_at(
        &self,
        single: &meta::Regex,
        cache: &mut meta::Cache,
        caps: &mut Option<Captures>,
        input: &Input<'_>,
    ) -> Option<((usize, usize), (usize, usize))> {
        if self.value_group {
            let caps = caps.get_or_insert_with(|| single.create_captures());
            single.search_captures_with(cache, input, caps);
            caps.get_match().map(|whole| {
                let value = caps.get_group_by_name("v").unwrap_or(whole.span());
                ((whole.start(), whole.end()), (value.start, value.end))
            })
        } else {
            single.search_with(cache, input).map(|m| ((m.start(), m.end()), (m.start(), m.end())))
        }
    }

    /// A matched value passes the rule's validator and is not on its allow-list.
    #[inline]
    fn valid_value(&self, text: &str) -> bool {
        self.validator.is_none_or(|v| validate::check(v, text, self.min_entropy)) && !self.is_allowed_value(text)
    }

    /// `first_valid_match` for an `Anchor::Inner` rule: the same span, found from the hits of
    /// its branches' literals in `window` (`hits`: (rule, position, branch), in order of
    /// position) instead of by scanning the window.
    ///
    /// A match through a branch has the branch's tail begin at one of those hits and its head
    /// end there. So the leftmost match begins at the leftmost position that some hit's head
    /// reaches backwards from it (the head's lazy DFA, reversed, run anchored at the hit) where
    /// the tail also matches forwards from the hit. Whether the tail matches does not depend on
    /// where the head began, so one start per hit is enough: the leftmost. The rule's own regex
    /// then runs anchored there for the span (leftmost-first, as the window scan would give).
    #[allow(clippy::too_many_arguments)]
    fn first_valid_inner(
        &self,
        single: &meta::Regex,
        cache: &mut meta::Cache,
        caps: &mut Option<Captures>,
        hay: &str,
        window: std::ops::Range<usize>,
        hits: &[(u32, u32, u32)],
        mx: &Matchers,
        head_caches: &mut [Option<hybrid::dfa::Cache>],
        tail_caches: &mut [Option<hybrid::dfa::Cache>],
    ) -> Option<(usize, usize)> {
        let mut from = window.start;
        // Bytes the heads may still walk backwards: an eighth of the window. Past that, hits
        // whose heads reach far (`<[a-z][^>]*?` before a common ` on`) would cost more than the
        // scan they replace, and the rest of the window is scanned instead.
        let mut budget = window.len() / INNER_BUDGET_DIVISOR;
        // Bytes the tails may read forwards, together: `ANCHOR_BUDGET` scans of the window.
        // Past that, the rest of the window is scanned instead.
        let mut tail_budget = window.len() * ANCHOR_BUDGET;
        while from < window.end {
            let mut best: Option<usize> = None;
            for &(_, k, b) in hits {
                let k = k as usize;
                if k < from {
                    continue;
                }
                if best == Some(from) {
                    break;
                }
                let branch = &mx.inner[b as usize];
                let start = match branch.head {
                    None => k,
                    Some(h) => {
                        let Some(head) = mx.heads[h].get() else {
                            return self.first_valid_match(single, cache, caps, hay, from..window.end, None);
                        };
                        let head_cache = head_caches[h].get_or_insert_with(|| head.create_cache());
                        match head_start(head, head_cache, hay, from..k, &mut budget) {
                            Some(Some(start)) => start,
                            Some(None) => continue,
                            None => return self.first_valid_match(single, cache, caps, hay, from..window.end, None),
                        }
                    }
                };
                if best.is_some_and(|s| s <= start) {
                    continue;
                }
                let Some(tail) = mx.tails[branch.tail].get() else {
                    return self.first_valid_match(single, cache, caps, hay, from..window.end, None);
                };
                let tail_cache = tail_caches[branch.tail].get_or_insert_with(|| tail.create_cache());
                match tail_matches(tail, tail_cache, hay, k..window.end, &mut tail_budget) {
                    Some(true) => best = Some(start),
                    Some(false) => {}
                    None => return self.first_valid_match(single, cache, caps, hay, from..window.end, None),
                }
            }
            let start = best?;
            let input = Input::new(hay).span(start..window.end).anchored(Anchored::Yes);
            // A head and a tail matched, so the rule's regex matches at `start`.
            let Some((whole, value)) = self.search_at(single, cache, caps, &input) else {
                from = ceil_char_boundary(hay, start + 1);
                continue;
            };
            if self.valid_value(&hay[value.0..value.1]) {
                return Some(whole);
            }
            from = ceil_char_boundary(hay, whole.1.max(whole.0 + 1));
        }
        None
    }

    /// The rule's tool filters accept `tool`.
    #[inline]
    fn applies_to_tool(&self, tool: &str) -> bool {
        (self.tools.is_empty() || self.tools.iter().any(|g| g.matches(tool)))
            && !self.not_tools.iter().any(|g| g.matches(tool))
    }

    /// The matched value contains one of the rule's `allow` entries (ASCII case-insensitively;
    /// no allocation).
    #[inline]
    fn is_allowed_value(&self, value: &str) -> bool {
        self.allow.iter().any(|a| {
            value.len() >= a.len() && value.as_bytes().windows(a.len()).any(|w| w.eq_ignore_ascii_case(a.as_bytes()))
        })
    }
}

pub(crate) struct DetectorEntry {
    info: DetectorInfo,
    code: Arc<str>,
    name: Arc<str>,
    pub(crate) imp: DetectorImpl,
    pub(crate) enabled: bool,
    floor: Option<Severity>,
    cap: Option<Severity>,
}

/// The shared matchers: one Aho-Corasick automaton over every keyword, one multi-pattern
/// regex over every pattern.
struct Matchers {
    ac: Option<Keywords>,
    /// Aho-Corasick pattern id → rule index.
    ac_rule: Vec<u32>,
    /// Per keyword pattern: a hit counts only as a whole word.
    ac_bounded: Vec<bool>,
    /// Union of all regex rules (`MatchKind::All`), used to learn which rules match.
    union: Option<Deferred<Vec<Hir>, meta::Regex>>,
    /// Regex pattern id → rule index.
    regex_rule: Vec<u32>,
    /// Each regex rule on its own (leftmost-first), run only for rules the union reported,
    /// to locate the span of the first match.
    single: Vec<Deferred<Hir, meta::Regex>>,
    /// Tails of anchored rules' regexes (the whole pattern for `Anchor::Start`), as lazy DFAs
    /// run forwards, anchored at a literal hit, a byte at a time (`tail_matches`): whether a
    /// match of the tail begins there, for what the run actually read.
    tails: Vec<Deferred<Hir, hybrid::dfa::DFA>>,
    /// Branches of `Anchor::Inner` rules.
    inner: Vec<InnerBranch>,
    /// Heads of those branches, reversed (`InnerBranch::head`).
    heads: Vec<Deferred<Hir, hybrid::dfa::DFA>>,
    /// Per field: does an enabled regex rule without keywords apply (so the union must run)?
    ungated: [bool; 6],
    /// Aho-Corasick pattern ids from here on are derived literals, not keywords.
    derived_start: usize,
    /// Per derived literal (pattern id - `derived_start`): what it says of which rules.
    derived: Vec<Derived>,
}

/// A literal derived from rules' regexes: the (rule, clause bit) pairs it satisfies as a
/// required literal, the rules whose matches can begin where it occurs, and the branches of
/// `Anchor::Inner` rules whose tails can.
#[derive(Default)]
struct Derived {
    clauses: Vec<(u32, u8)>,
    starts: Vec<u32>,
    /// (rule, branch of `Matchers::inner`) whose tail can begin where it occurs.
    inner: Vec<(u32, u32)>,
}

pub(crate) struct Inner {
    id: u64,
    pub(crate) config: Config,
    rules: Vec<CompiledRule>,
    pub(crate) rule_index: HashMap<Arc<str>, u32>,
    pub(crate) detectors: Vec<DetectorEntry>,
    matchers: Matchers,
    pub(crate) unreadable_rule: u32,
    pub(crate) truncated_rule: u32,
    pub(crate) duplicate_rule: u32,
    not_listed_rule: u32,
    /// `tools.documents`: tools whose results are the contents of files.
    documents: Vec<WildMatch>,
    /// The adversarial-Unicode rules, by evasion kind.
    evasion_rules: [u32; 5],
    pub(crate) pool: Pool<Scratch, ScratchFactory>,
}

type ScratchFactory = Box<dyn Fn() -> Scratch + Send + Sync>;

/// An immutable, compiled threat-detection engine.
///
/// ```
/// use sentinel_core::{Engine, Event, Action};
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

/// Builds an [`Engine`]: configuration, rule packs and extra detectors.
pub struct EngineBuilder {
    config: Config,
    builtin: bool,
    packs: Vec<(String, PackSource)>,
    detectors: Vec<Box<dyn crate::Detector>>,
}

enum PackSource {
    Text(String),
    File(PathBuf),
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder { config: Config::default(), builtin: true, packs: Vec::new(), detectors: Vec::new() }
    }
}

impl EngineBuilder {
    /// Sets the configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Adds a rule pack given as TOML text; `source` names it in errors.
    pub fn rules_toml(mut self, source: &str, toml: &str) -> Self {
        self.packs.push((source.to_string(), PackSource::Text(toml.to_string())));
        self
    }

    /// Adds a rule pack read from a TOML file when the engine is built.
    pub fn rules_file(mut self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.packs.push((path.display().to_string(), PackSource::File(path)));
        self
    }

    /// Leaves the built-in content packs out. The rules of the built-in detectors (scan
    /// integrity, tool policy, size limits) stay: their detectors are always there.
    pub fn without_builtin_rules(mut self) -> Self {
        self.builtin = false;
        self
    }

    /// Registers a detector of the embedder's.
    pub fn detector(mut self, detector: impl crate::Detector + 'static) -> Self {
        self.detectors.push(Box::new(detector));
        self
    }

    /// Compiles everything. Any error rejects the whole build.
    pub fn build(self) -> Result<Engine, BuildError> {
        Engine::compile(self)
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
        let mut scratch = self.inner.pool.get();
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
        for (d, entry) in inner.detectors.iter().enumerate() {
            if entry.enabled && entry.imp.has_event_check() {
                let mut emitter = EventEmitter { inner, out: &mut scratch.out, detector: d };
                entry.imp.check_event(event, &mut emitter);
            }
        }
        let tool = event.tool.as_str();
        let Scratch { m, path, out, .. } = scratch;
        // The response is a file's contents when the tool (or the MCP tool named in the
        // metadata) reads files.
        out.document =
            inner.is_document_tool(tool) || event.metadata_tool_name().is_some_and(|t| inner.is_document_tool(t));
        for (field, text) in
            [(Field::Tool, tool), (Field::Prompt, event.prompt.as_str()), (Field::Response, event.response.as_str())]
        {
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

    fn compile(builder: EngineBuilder) -> Result<Engine, BuildError> {
        let EngineBuilder { config, builtin, packs, detectors: custom } = builder;
        // Detectors: built-ins, then the embedder's.
        let mut imps = detector::builtins(&config);
        imps.extend(custom.into_iter().map(DetectorImpl::Custom));
        let mut detectors = Vec::with_capacity(imps.len());
        let mut detector_index: HashMap<String, usize> = HashMap::new();
        for imp in imps {
            let info = imp.info();
            if detector_index.insert(info.code.clone(), detectors.len()).is_some() {
                return Err(BuildError::config(format!("two detectors have the code {:?}", info.code)));
            }
            let settings = config.detectors.get(&info.code).copied().unwrap_or_default();
            if info.code == detector::SCAN_INTEGRITY && settings.enabled == Some(false) {
                return Err(BuildError::config(
                    "detector SYS-00 cannot be disabled: it reports input that was not scanned (choose fail_open instead)",
                ));
            }
            let enabled = settings.enabled.unwrap_or(info.profile <= config.profile);
            detectors.push(DetectorEntry {
                code: Arc::from(info.code.as_str()),
                name: Arc::from(info.name.as_str()),
                info,
                imp,
                enabled,
                floor: settings.severity_floor,
                cap: settings.severity_cap,
            });
        }
        for code in config.detectors.keys() {
            if !detector_index.contains_key(code) {
                return Err(BuildError::config(format!("the configuration names an unknown detector {code:?}")));
            }
        }
        for (code, settings) in &config.detectors {
            if let (Some(floor), Some(cap)) = (settings.severity_floor, settings.severity_cap) {
                if floor > cap {
                    return Err(BuildError::config(format!(
                        "detector {code}: severity_floor ({floor}) is above severity_cap ({cap})"
                    )));
                }
            }
        }

        // Packs: the built-in detectors' own, the content packs, detector-contributed rules,
        // user packs.
        let mut parsed = vec![Pack::parse(POLICY_PACK.0, POLICY_PACK.1)?];
        if builtin {
            for (name, text) in BUILTIN_PACKS {
                parsed.push(Pack::parse(name, text)?);
            }
        }
        for entry in &detectors {
            let rules = entry.imp.rules();
            if !rules.is_empty() {
                let source = format!("detector:{}", entry.info.code);
                parsed.push(Pack {
                    source: source.clone(),
                    rules: rules
                        .into_iter()
                        .map(|spec| SourcedRule { spec, source: source.clone(), line: None })
                        .collect(),
                    ..Pack::default()
                });
            }
        }
        for (source, pack) in packs {
            let text = match pack {
                PackSource::Text(t) => t,
                PackSource::File(path) => std::fs::read_to_string(&path).map_err(|e| {
                    BuildError::new(Kind::Toml {
                        source: source.clone(),
                        position: None,
                        message: format!("cannot read rule pack: {e}"),
                    })
                })?,
            };
            parsed.push(Pack::parse(&source, &text)?);
        }

        // The rules of the packs compiled into the crate come first; their matchers are
        // compiled on first use (see `Deferred`).
        let trusted: usize =
            parsed.iter().take(1 + if builtin { BUILTIN_PACKS.len() } else { 0 }).map(|p| p.rules.len()).sum();
        // Merge: unique ids, then overrides.
        let mut specs: Vec<SourcedRule> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for pack in &parsed {
            for rule in &pack.rules {
                check_rule_shape(rule)?;
                if let Some(&first) = by_id.get(&rule.spec.id) {
                    return Err(BuildError::rule(
                        &rule.source,
                        &rule.spec.id,
                        rule.line,
                        RuleProblem::Duplicate { first_source: specs[first].source.clone() },
                    ));
                }
                by_id.insert(rule.spec.id.clone(), specs.len());
                specs.push(rule.clone());
            }
        }
        let mut disabled = vec![false; specs.len()];
        for pack in &parsed {
            for id in &pack.disable {
                let Some(&i) = by_id.get(id) else {
                    return Err(BuildError::rule(
                        &pack.source,
                        id,
                        None,
                        RuleProblem::UnknownRule { context: "`disable`" },
                    ));
                };
                if specs[i].spec.detector == detector::SCAN_INTEGRITY {
                    return Err(BuildError::rule(
                        &pack.source,
                        id,
                        None,
                        RuleProblem::Invalid {
                            message: "the engine's integrity rules cannot be disabled (choose fail_open instead)"
                                .into(),
                        },
                    ));
                }
                disabled[i] = true;
            }
            for (id, severity) in &pack.severity {
                let Some(&i) = by_id.get(id) else {
                    return Err(BuildError::rule(
                        &pack.source,
                        id,
                        None,
                        RuleProblem::UnknownRule { context: "`[severity]`" },
                    ));
                };
                specs[i].spec.severity = *severity;
            }
        }

        // Rules each detector emits itself must exist and belong to it.
        let mut emitted = vec![false; specs.len()];
        for entry in &detectors {
            for id in entry.imp.emits() {
                let Some(&i) = by_id.get(&id) else {
                    return Err(BuildError::config(format!(
                        "detector {} emits rule {id}, which no pack defines",
                        entry.info.code
                    )));
                };
                if specs[i].spec.detector != entry.info.code {
                    return Err(BuildError::rule(
                        &specs[i].source,
                        &id,
                        specs[i].line,
                        RuleProblem::Invalid {
                            message: format!(
                                "rule belongs to {} but is emitted by {}",
                                specs[i].spec.detector, entry.info.code
                            ),
                        },
                    ));
                }
                emitted[i] = true;
            }
        }

        // Compile each rule.
        let mut rules = Vec::with_capacity(specs.len());
        let mut hirs = Vec::new();
        let mut union_trusted = true;
        let mut regex_rule = Vec::new();
        let mut single = Vec::new();
        let mut tails = Vec::new();
        let mut inner = Vec::new();
        let mut heads = Vec::new();
        let mut keywords: Vec<Vec<u8>> = Vec::new();
        let mut ac_bounded: Vec<bool> = Vec::new();
        let ordinary = ORDINARY_TEXT.to_ascii_lowercase();
        let mut literals = Literals::new(ordinary.as_bytes());
        let mut ac_rule = Vec::new();
        let mut ungated = [false; 6];
        let mut derived_by: HashMap<Vec<u8>, Derived> = HashMap::new();
        let mut view = View::default();
        for (i, sourced) in specs.into_iter().enumerate() {
            let SourcedRule { spec, source, line } = sourced;
            let err = |problem| BuildError::rule(&source, &spec.id, line, problem);
            let Some(&d) = detector_index.get(&spec.detector) else {
                return Err(err(RuleProblem::UnknownDetector { detector: spec.detector.clone() }));
            };
            if spec.keywords.is_empty()
                && spec.pattern.is_none()
                && !emitted[i]
                && spec.detector != detector::SCAN_INTEGRITY
            {
                return Err(err(RuleProblem::NoMatcher));
            }
            let compiled = match &spec.pattern {
                Some(p) => Some(pattern::compile(p, spec.case_sensitive).map_err(err)?),
                None => None,
            };
            let enabled = !disabled[i] && detectors[d].enabled;
            let scope = ScopeMask::from_scopes(&spec.scope);
            let rule_index = rules.len() as u32;
            let mut regex = None;
            let mut required = Required::default();
            let mut anchor = None;
            let mut value_group = false;
            if let Some(c) = &compiled {
                value_group = has_value_group(&c.hir);
                // A built-in rule's regex is compiled when a scan first needs it; any other
                // is compiled now, so that one over the limits fails the build.
                let one = if i < trusted {
                    Deferred::new(c.hir.clone(), build_single)
                } else {
                    let built = single_regex(&c.hir)
                        .map_err(|e| size_error(e, SINGLE_NFA_LIMIT, Some((&source, &spec.id, line))))?;
                    Deferred::ready(c.hir.clone(), build_single, built)
                };
                if enabled {
                    regex = Some(single.len());
                    single.push(one);
                    // Only rules without keywords go into the union; a keyword-gated rule is
                    // verified around its keyword hits instead.
                    if spec.keywords.is_empty() {
                        union_trusted &= i < trusted;
                        hirs.push(c.hir.clone());
                        regex_rule.push(rule_index);
                        for (fi, slot) in ungated.iter_mut().enumerate() {
                            if scope.contains(FIELDS[fi]) {
                                *slot = true;
                            }
                        }
                    }
                }
            }
            if enabled && !spec.keywords.is_empty() {
                // The declared keywords, as the view spells them.
                let mut anchors: Vec<Vec<u8>> = spec
                    .keywords
                    .iter()
                    .map(|kw| {
                        view.build(kw, &mut OffsetMap::default());
                        view.text(kw).as_bytes().to_vec()
                    })
                    .collect();
                let mut bounded = spec.word_boundary;
                if let (Some(c), Some(_)) = (&compiled, regex) {
                    // A gated rule's regex cannot match without one literal of each derived
                    // clause. The rarest of the keywords and those clauses on ordinary text
                    // anchors the windows; the other clauses that are rare there gate the regex.
                    let mut derived = literals.clauses(&c.hir, MAX_CLAUSES + 1);
                    let heat = keyword_hits(&ordinary, &anchors, bounded);
                    if derived.first().is_some_and(|best| literals.hits(best) < heat) {
                        anchors = derived.remove(0);
                        bounded = false;
                    }
                    // A clause an anchor hit already implies (every anchor, ASCII-lowercased as
                    // clauses are, contains one of its literals) gates nothing more.
                    let lowered: Vec<Vec<u8>> = anchors.iter().map(|a| a.to_ascii_lowercase()).collect();
                    let useful = |literals: &mut Literals<'_>, clause: &Set| {
                        literals.hits(clause) <= MAX_REQUIRED_HITS && !implies(&lowered, clause)
                    };
                    let all: Vec<Set> =
                        derived.into_iter().filter(|c| useful(&mut literals, c)).take(MAX_CLAUSES).collect();
                    // Per branch of an alternation every match goes through (the pattern, or a
                    // part of it: `\b(?:a|b)` is parsed as `\b` then the alternation), its own
                    // rare clauses; the first such alternation where no branch is without one
                    // (a match of that branch could be in any text).
                    let mut any: Vec<Vec<Set>> = Vec::new();
                    for branches in top_alternations(&c.hir) {
                        for branch in branches {
                            let own = literals.clauses(branch, MAX_CLAUSES);
                            let own: Vec<Set> =
                                own.into_iter().filter(|c| useful(&mut literals, c)).take(MAX_BRANCH_CLAUSES).collect();
                            if own.is_empty() {
                                any.clear();
                                break;
                            }
                            any.push(own);
                        }
                        if all.len() + any.iter().map(Vec::len).sum::<usize>() > MAX_REQUIRED_BITS {
                            any.clear();
                        }
                        if !any.is_empty() {
                            break;
                        }
                    }
                    let mut bit = 0u8;
                    let mut register = |clause: Set| {
                        for lit in clause {
                            derived_by.entry(lit).or_default().clauses.push((rule_index, bit));
                        }
                        let mask = 1u32 << bit;
                        bit += 1;
                        mask
                    };
                    required.all = all.into_iter().map(&mut register).fold(0, |m, b| m | b);
                    required.any =
                        any.into_iter().map(|own| own.into_iter().map(&mut register).fold(0, |m, b| m | b)).collect();
                    // Where the rule's matches can begin, when that is a few short literals not
                    // too common in ordinary text (the longest cut that gives such a set).
                    // (Their hits in the ordinary text, the set.) Of a concatenation of parts,
                    // so that the cuts below need not build each tail to ask.
                    let mut starts_of = |parts: &[Hir]| {
                        let s = START_LENGTHS.iter().find_map(|&len| required::starts_of_parts(parts, len))?;
                        let hits = literals.hits(&s);
                        (s.iter().all(|l| l.len() >= MIN_START_LEN) && hits <= MAX_START_HITS).then_some((hits, s))
                    };
                    let mut found = starts_of(std::slice::from_ref(&c.hir)).map(|(_, s)| {
                        tails.push(Deferred::new(c.hir.clone(), forward_tail));
                        (s, Anchor::Start { tail: tails.len() - 1 })
                    });
                    // Else the tail after the shortest bounded head that has such literals.
                    if let (None, HirKind::Concat(parts)) = (&found, c.hir.kind()) {
                        for at in 1..parts.len() {
                            let head = Hir::concat(parts[..at].to_vec());
                            let Some(reach) = head.properties().maximum_len().filter(|&n| n <= MAX_HEAD) else {
                                break;
                            };
                            if let Some((_, s)) = starts_of(&parts[at..]) {
                                found = Some((s, Anchor::Tail { tail: tails.len(), reach: reach as u32 }));
                                tails.push(Deferred::new(Hir::concat(parts[at..].to_vec()), forward_tail));
                                break;
                            }
                        }
                    }
                    // Else, when every branch of the pattern has a tail that begins with such
                    // literals after a head of any length, the branches (`Anchor::Inner`), each
                    // cut where its tail's literals are rarest in the ordinary text.
                    let mut cuts = Vec::new();
                    if found.is_none() {
                        for branch in branches_of(&c.hir) {
                            let parts = parts_of(branch);
                            let best = (0..parts.len())
                                .filter_map(|at| starts_of(&parts[at..]).map(|(hits, s)| (hits, at, s)))
                                .min_by_key(|&(hits, at, _)| (hits, at));
                            let Some((_, at, s)) = best else {
                                cuts.clear();
                                break;
                            };
                            cuts.push((parts, at, s, Hir::concat(parts[at..].to_vec())));
                        }
                    }
                    if let Some((starts, a)) = found {
                        for lit in starts {
                            derived_by.entry(lit).or_default().starts.push(rule_index);
                        }
                        anchor = Some(a);
                    } else if !cuts.is_empty() {
                        // Heads that count far leave the rule scanning its windows.
                        let built: Option<Vec<_>> = cuts
                            .into_iter()
                            .map(|(parts, at, s, tail)| {
                                let head = match at {
                                    0 => None,
                                    _ => {
                                        let head = Hir::concat(parts[..at].to_vec());
                                        if counts_far(&head) {
                                            return None;
                                        }
                                        Some(Deferred::new(head, reverse_head))
                                    }
                                };
                                Some((head, Deferred::new(tail, forward_tail), s))
                            })
                            .collect();
                        if let Some(built) = built {
                            for (head, tail, s) in built {
                                let branch = inner.len() as u32;
                                inner.push(InnerBranch {
                                    head: head.map(|h| {
                                        heads.push(h);
                                        heads.len() - 1
                                    }),
                                    tail: tails.len(),
                                });
                                tails.push(tail);
                                for lit in s {
                                    derived_by.entry(lit).or_default().inner.push((rule_index, branch));
                                }
                            }
                            anchor = Some(Anchor::Inner);
                        }
                    }
                }
                for anchor in anchors {
                    keywords.push(anchor);
                    ac_rule.push(rule_index);
                    ac_bounded.push(bounded);
                }
            }
            let category = spec.category.clone().unwrap_or_else(|| detectors[d].info.category.clone());
            rules.push(CompiledRule {
                id: Arc::from(spec.id.as_str()),
                reason: Arc::from(spec.name.as_str()),
                category: Arc::from(category.as_str()),
                detector: d,
                severity: spec.severity,
                scope,
                regex,
                required,
                anchor,
                value_group,
                confidence: spec.confidence,
                inert_in_documents: INERT_IN_DOCUMENTS.contains(&category.as_str()),
                validator: spec.validator,
                min_entropy: spec.min_entropy,
                enabled,
                tools: spec.tools.iter().map(|g| WildMatch::new_case_insensitive(g)).collect(),
                not_tools: spec.not_tools.iter().map(|g| WildMatch::new_case_insensitive(g)).collect(),
                allow: spec.allow.iter().map(|a| a.to_lowercase()).collect(),
                effective_pattern: compiled.map(|c| c.effective),
                spec,
                source,
            });
        }
        // Derived literals follow the keywords in the automaton, each once.
        let derived_start = keywords.len();
        let mut derived_by: Vec<(Vec<u8>, Derived)> = derived_by.into_iter().collect();
        derived_by.sort_by(|a, b| a.0.cmp(&b.0));
        let (derived_lits, derived): (Vec<Vec<u8>>, Vec<Derived>) = derived_by.into_iter().unzip();
        let patterns: Vec<&[u8]> =
            keywords.iter().map(|k| k.as_slice()).chain(derived_lits.iter().map(|l| l.as_slice())).collect();
        let ac = if patterns.is_empty() {
            None
        } else {
            Some(
                Keywords::new(&patterns)
                    .map_err(|e| BuildError::new(Kind::SizeLimit { limit: 0, message: e.to_string() }))?,
            )
        };
        let union = if hirs.is_empty() {
            None
        } else if union_trusted {
            Some(Deferred::new(hirs, build_union))
        } else {
            let built = union_regex(&hirs).map_err(|e| size_error(e, UNION_NFA_LIMIT, None))?;
            Some(Deferred::ready(hirs, build_union, built))
        };
        let rule_index: HashMap<Arc<str>, u32> =
            rules.iter().enumerate().map(|(i, r)| (r.id.clone(), i as u32)).collect();
        let unreadable_rule = rule_index[detector::RULE_UNREADABLE];
        let truncated_rule = rule_index[detector::RULE_TRUNCATED];
        let duplicate_rule = rule_index[detector::RULE_DUPLICATE_KEY];
        let not_listed_rule = rule_index[detector::RULE_FINDINGS_NOT_LISTED];
        let evasion_rules = detector::UNICODE_RULES.map(|id| rule_index[id]);
        let id = NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed);
        let matchers = Matchers {
            ac,
            ac_rule,
            ac_bounded,
            union,
            regex_rule,
            single,
            tails,
            inner,
            heads,
            ungated,
            derived_start,
            derived,
        };
        let factory = make_factory(id, &matchers, rules.len());
        let documents = config.tools.documents.iter().map(|g| WildMatch::new_case_insensitive(g)).collect();
        let inner = Inner {
            id,
            config,
            rules,
            rule_index,
            detectors,
            matchers,
            unreadable_rule,
            truncated_rule,
            duplicate_rule,
            not_listed_rule,
            documents,
            evasion_rules,
            pool: Pool::new(factory),
        };
        Ok(Engine { inner: Arc::new(inner) })
    }
}

/// Ordinary text (prose, code, SQL, logs, JSON, a table, an e-mail) to learn how often
/// literals occur in traffic: which of a rule's keywords and required literals gates its
/// regex, which clauses are rare enough to gate it too, and which start literals to anchor on.
const ORDINARY_TEXT: &str = include_str!("ordinary.txt");

/// Lengths at which a rule's start literals are cut, longest first: the first that gives a
/// small set is used (longer literals occur less often).
const START_LENGTHS: [usize; 4] = [8, 6, 4, 3];
/// Shortest start literal: one byte (a quote, `<`) occurs too often to anchor on.
const MIN_START_LEN: usize = 2;
/// A rule is anchored on its start literals when they occur at most this often in the
/// ordinary text (about 8 KB).
const MAX_START_HITS: u32 = 200;
/// An anchored rule scans its window instead when its starts there are closer together than
/// this many bytes on average: each anchored run has a fixed cost of about this many bytes
/// of scanning.
const ANCHOR_SPACING: usize = 24;
/// The anchored runs of one rule in one window may read, together, at most this many times
/// the window (each run counted for the bytes its lazy DFA stepped through, `tail_matches`);
/// the rest of the window is then scanned instead. This bounds a run of near-matches to a few
/// scans per window, while the sparse starts of ordinary text, each dying within a few bytes,
/// never reach it.
const ANCHOR_BUDGET: usize = 4;
/// Categories of payloads that act only where they are executed (a query, a shell, a page):
/// in the contents of a file that was read they are data, reported with low confidence.
const INERT_IN_DOCUMENTS: &[&str] = &["code_injection", "sql_injection", "command_injection", "path_traversal"];
/// Longest head (in bytes) before the tail a rule is anchored on. Bytes of UTF-8: a
/// case-insensitive `[a-z0-9]{0,40}` may be 120 bytes long (the Kelvin sign is 3).
const MAX_HEAD: usize = 160;

/// Longest counted repetition in a head an `Anchor::Inner` branch runs backwards (see
/// `counts_far`).
const MAX_HEAD_COUNT: u32 = 30;
/// An `Anchor::Inner` rule's heads walk at most this fraction of a window backwards in all
/// before the rest of the window is scanned instead (see `CompiledRule::first_valid_inner`).
const INNER_BUDGET_DIVISOR: usize = 8;

/// Most clauses of required literals that every match of a rule satisfies.
const MAX_CLAUSES: usize = 4;
/// Most clauses of required literals per branch of a rule's top-level alternation.
const MAX_BRANCH_CLAUSES: usize = 2;
/// Most clauses of required literals per rule: a bit each in a `u32`.
const MAX_REQUIRED_BITS: usize = 32;

/// A clause of required literals is used when its literals occur at most this often in the
/// ordinary text: a common one would cost automaton hits and seldom close the gate.
const MAX_REQUIRED_HITS: u32 = 2;

/// Where a match of `head` (a reversed head, `reverse_head`) that ends at `within.end` begins,
/// at the leftmost, no further left than `within.start`: `Some(None)` when there is none.
/// `None` when that takes more than `budget` bytes (counted down) or the lazy DFA gives up.
///
/// This is `hybrid::dfa::DFA::try_search_rev`, anchored, stepped a byte at a time so that it
/// can stop: a lazy DFA reports a match one byte late, and the byte before the range (or the
/// end of the text) is the last one it reads, for the look-behind assertions of the head.
fn head_start(
    head: &hybrid::dfa::DFA,
    cache: &mut hybrid::dfa::Cache,
    hay: &str,
    within: std::ops::Range<usize>,
    budget: &mut usize,
) -> Option<Option<usize>> {
    let bytes = hay.as_bytes();
    let input = Input::new(hay).range(within.clone()).anchored(Anchored::Yes);
    let mut sid = head.start_state_reverse(cache, &input).ok()?;
    let mut found = None;
    let mut at = within.end;
    while at > within.start {
        *budget = budget.checked_sub(1)?;
        at -= 1;
        sid = head.next_state(cache, sid, bytes[at]).ok()?;
        if sid.is_tagged() {
            if sid.is_match() {
                found = Some(at + 1);
            } else if sid.is_dead() {
                return Some(found);
            } else if sid.is_quit() {
                return None;
            }
        }
    }
    sid = match within.start {
        0 => head.next_eoi_state(cache, sid).ok()?,
        s => head.next_state(cache, sid, bytes[s - 1]).ok()?,
    };
    if sid.is_match() {
        found = Some(within.start);
    }
    Some(found)
}

/// Whether a match of `tail` (see `forward_tail`) begins at `within.start` and ends by
/// `within.end`. `None` when that takes more than `budget` bytes (counted down) or the lazy DFA
/// gives up.
///
/// This is `hybrid::dfa::DFA::try_search_fwd`, anchored, stepped a byte at a time so that it
/// can stop, and so that a run costs what it reads (the DFA dies at the first byte no match can
/// go on with), not the longest match the tail could have: a lazy DFA reports a match one byte
/// late, and the byte after the range (or the end of the text) is the last one it reads, for
/// the look-ahead assertions of the tail.
fn tail_matches(
    tail: &hybrid::dfa::DFA,
    cache: &mut hybrid::dfa::Cache,
    hay: &str,
    within: std::ops::Range<usize>,
    budget: &mut usize,
) -> Option<bool> {
    let bytes = hay.as_bytes();
    let input = Input::new(hay).range(within.clone()).anchored(Anchored::Yes);
    let mut sid = tail.start_state_forward(cache, &input).ok()?;
    for &byte in &bytes[within.clone()] {
        *budget = budget.checked_sub(1)?;
        sid = tail.next_state(cache, sid, byte).ok()?;
        if sid.is_tagged() {
            if sid.is_match() {
                return Some(true);
            } else if sid.is_dead() {
                return Some(false);
            } else if sid.is_quit() {
                return None;
            }
        }
    }
    sid = match bytes.get(within.end) {
        Some(&byte) => tail.next_state(cache, sid, byte).ok()?,
        None => tail.next_eoi_state(cache, sid).ok()?,
    };
    Some(sid.is_match())
}

/// The entries of `list` for rule `r` at positions in `within`. On first use in a string,
/// `list` is sorted (by rule, then position) and the entries of rules whose gates stayed closed
/// are dropped: most hits are of those.
fn live_in<'a, T: Copy + Ord>(
    list: &'a mut Vec<T>,
    sorted: &mut bool,
    kw_first: &[(u32, u32)],
    key: impl Fn(&T) -> (u32, u32),
    r: u32,
    within: std::ops::Range<u32>,
) -> &'a [T] {
    if !*sorted {
        list.retain(|e| kw_first[key(e).0 as usize].0 == LIVE);
        list.sort_unstable();
        *sorted = true;
    }
    let from = list.partition_point(|e| key(e) < (r, within.start));
    let to = list.partition_point(|e| key(e) < (r, within.end));
    &list[from..to]
}

/// `hir` inside the capture groups around it.
fn uncaptured(mut hir: &Hir) -> &Hir {
    while let HirKind::Capture(c) = hir.kind() {
        hir = &c.sub;
    }
    hir
}

/// The branches of `hir` when it is an alternation (inside capture groups), else `hir` alone.
fn branches_of(hir: &Hir) -> &[Hir] {
    match uncaptured(hir).kind() {
        HirKind::Alternation(branches) => branches,
        _ => std::slice::from_ref(hir),
    }
}

/// The parts of `hir` when it is a concatenation (inside capture groups), else `hir` alone.
fn parts_of(hir: &Hir) -> &[Hir] {
    match uncaptured(hir).kind() {
        HirKind::Concat(parts) => parts,
        _ => std::slice::from_ref(hir),
    }
}

/// A lazy DFA for a tail of a rule's pattern (or the whole pattern), run forwards and anchored
/// at a hit of the literals it begins with by `tail_matches`: any match will do
/// (`MatchKind::All`). `None` when it cannot be built.
fn forward_tail(tail: &Hir) -> Option<hybrid::dfa::DFA> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .which_captures(thompson::WhichCaptures::None)
                .nfa_size_limit(Some(SINGLE_NFA_LIMIT)),
        )
        .build_from_hir(tail)
        .ok()?;
    hybrid::dfa::DFA::builder()
        .configure(
            hybrid::dfa::Config::new()
                .match_kind(MatchKind::All)
                .starts_for_each_pattern(false)
                .cache_capacity(SINGLE_CACHE_CAPACITY),
        )
        .build_from_nfa(nfa)
        .ok()
}

/// A lazy DFA for a head of a rule's pattern, reversed: run backwards and anchored at a hit of
/// the literals its tail begins with, it reports the leftmost position the head can begin at
/// (all matches, not the first: `MatchKind::All`). `None` when it cannot be built.
fn reverse_head(head: &Hir) -> Option<hybrid::dfa::DFA> {
    if counts_far(head) {
        return None;
    }
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .reverse(true)
                .which_captures(thompson::WhichCaptures::None)
                .nfa_size_limit(Some(SINGLE_NFA_LIMIT)),
        )
        .build_from_hir(head)
        .ok()?;
    hybrid::dfa::DFA::builder()
        .configure(hybrid::dfa::Config::new().match_kind(MatchKind::All).cache_capacity(SINGLE_CACHE_CAPACITY))
        .build_from_nfa(nfa)
        .ok()
}

/// `hir` repeats something a counted number of times beyond `MAX_HEAD_COUNT` (`[^<]{0,300}`):
/// a lazy DFA needs a state per count, so walking such a head costs a new state per byte.
fn counts_far(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Repetition(r) => r.max.is_some_and(|m| m > MAX_HEAD_COUNT) || counts_far(&r.sub),
        HirKind::Capture(c) => counts_far(&c.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().any(counts_far),
        _ => false,
    }
}

/// The alternations every match of `hir` goes through: `hir` itself, or the parts of a
/// top-level concatenation (inside capture groups), in order. Their branches.
fn top_alternations(hir: &Hir) -> Vec<&[Hir]> {
    parts_of(hir)
        .iter()
        .filter_map(|p| match uncaptured(p).kind() {
            HirKind::Alternation(branches) => Some(branches.as_slice()),
            _ => None,
        })
        .collect()
}

/// How often `keywords` occur in `text` (ASCII-lowercased), whole words only when `bounded`.
fn keyword_hits(text: &str, keywords: &[Vec<u8>], bounded: bool) -> u32 {
    let mut n = 0;
    for k in keywords {
        let k = k.to_ascii_lowercase();
        for at in memchr::memmem::find_iter(text.as_bytes(), &k) {
            if !bounded || word_bounded(text, at, at + k.len()) {
                n += 1;
            }
        }
    }
    n
}

const FIELDS: [Field; 6] = [Field::Event, Field::Tool, Field::Prompt, Field::Response, Field::Metadata, Field::Extra];

fn size_error(e: meta::BuildError, limit: usize, rule: Option<(&str, &str, Option<usize>)>) -> BuildError {
    match (rule, e.size_limit()) {
        (Some((source, id, line)), None) => {
            BuildError::rule(source, id, line, RuleProblem::Regex { position: None, message: e.to_string() })
        }
        (Some((source, id, line)), Some(limit)) => {
            BuildError::rule(source, id, line, RuleProblem::SizeLimit { limit, message: e.to_string() })
        }
        (None, _) => {
            BuildError::new(Kind::SizeLimit { limit: e.size_limit().unwrap_or(limit), message: e.to_string() })
        }
    }
}

/// A rule's own regex (leftmost-first), run to locate the span of a hit.
#[allow(clippy::result_large_err)] // regex-automata's own error, as it comes
fn single_regex(hir: &Hir) -> Result<meta::Regex, meta::BuildError> {
    meta::Builder::new()
        .configure(
            meta::Config::new().nfa_size_limit(Some(SINGLE_NFA_LIMIT)).hybrid_cache_capacity(SINGLE_CACHE_CAPACITY),
        )
        .build_from_hir(hir)
}

fn build_single(hir: &Hir) -> Option<meta::Regex> {
    single_regex(hir).ok()
}

/// The union of the rules without keywords (`MatchKind::All`): which of them match.
#[allow(clippy::result_large_err)] // regex-automata's own error, as it comes
fn union_regex(hirs: &[Hir]) -> Result<meta::Regex, meta::BuildError> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(regex_automata::MatchKind::All)
                .which_captures(regex_automata::nfa::thompson::WhichCaptures::None)
                .nfa_size_limit(Some(UNION_NFA_LIMIT))
                .hybrid_cache_capacity(UNION_CACHE_CAPACITY),
        )
        .build_many_from_hir(hirs)
}

#[allow(clippy::ptr_arg)] // the shape `Deferred` calls
fn build_union(hirs: &Vec<Hir>) -> Option<meta::Regex> {
    union_regex(hirs).ok()
}

/// `hir` has a capture group named `v` (the value a validator checks).
fn has_value_group(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Capture(c) => c.name.as_deref() == Some("v") || has_value_group(&c.sub),
        HirKind::Repetition(r) => has_value_group(&r.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().any(has_value_group),
        _ => false,
    }
}

/// How many of each thing a scratch keeps state for.
#[derive(Clone, Copy)]
struct Sizes {
    patterns: usize,
    single: usize,
    tails: usize,
    heads: usize,
    rules: usize,
}

impl Sizes {
    fn of(m: &Matchers, rules: usize) -> Sizes {
        Sizes {
            patterns: m.regex_rule.len(),
            single: m.single.len(),
            tails: m.tails.len(),
            heads: m.heads.len(),
            rules,
        }
    }
}

/// A fresh scratch for the engine `id` with these sizes.
fn new_scratch(id: u64, sizes: Sizes) -> Scratch {
    let Sizes { patterns: npatterns, single: nsingle, tails: ntails, heads: nheads, rules: nrules } = sizes;
    Scratch {
        engine_id: id,
        m: MatchState {
            view: View::default(),
            map: OffsetMap::default(),
            union_cache: None,
            patset: PatternSet::new(npatterns),
            single_caches: (0..nsingle).map(|_| None).collect(),
            single_caps: (0..nsingle).map(|_| None).collect(),
            tail_caches: (0..ntails).map(|_| None).collect(),
            head_caches: (0..nheads).map(|_| None).collect(),
            kw_first: vec![NO_HIT; nrules],
            touched: Vec::new(),
            required_seen: vec![0; nrules],
            required_touched: Vec::new(),
            starts: Vec::new(),
            inner_hits: Vec::new(),
            pending: Vec::new(),
            hits: Vec::new(),
            walks: Walks::default(),
            decoded: Default::default(),
            decoded_bytes: Default::default(),
            budget: usize::MAX,
            over: Overflow::default(),
        },
        path: String::new(),
        out: Findings::default(),
    }
}

/// The pool's scratch factory: owns what `new_scratch` needs.
fn make_factory(id: u64, m: &Matchers, nrules: usize) -> ScratchFactory {
    let sizes = Sizes::of(m, nrules);
    Box::new(move || new_scratch(id, sizes))
}

impl Inner {
    /// Walks a JSON value, scanning each string leaf with its JSON path.
    ///
    /// `json_depth` is how many more levels of strings that hold JSON are parsed and scanned
    /// as JSON as well (MCP messages); 0 scans strings as text only (events).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn walk(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &mut String,
        value: &Value,
        json_depth: usize,
    ) {
        match value {
            Value::String(s) => {
                let whole = self.scan_text(m, out, tool, field, path, s);
                if json_depth > 0 && whole {
                    self.scan_json_string(m, out, tool, field, path, s, json_depth);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    push_index(path, i);
                    self.walk(m, out, tool, field, path, item, json_depth);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let len = path.len();
                    push_key(path, key, path.is_empty());
                    self.walk(m, out, tool, field, path, item, json_depth);
                    path.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// The value a duplicated key shadowed: the duplication is reported (`SYS-003`) and the
    /// value scanned at the key's path, as `field`. A shadowed tool name (the event's `tool`,
    /// an MCP `params.name` given as [`Field::Tool`]) gets the tool policy too.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn shadowed(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &mut String,
        duplicate: &DuplicateKey,
        json_depth: usize,
    ) {
        out.push(
            self,
            self.duplicate_rule as usize,
            None,
            field,
            &duplicate.path,
            Span::default(),
            format_args!(
                "the key at {} appears more than once: a parser that keeps the first value reads {}, \
                 which is scanned too",
                duplicate.path,
                event::json_type(&duplicate.value)
            ),
        );
        path.clear();
        path.push_str(&duplicate.path);
        if let (Field::Tool, Value::String(name)) = (field, &duplicate.value) {
            self.tool_policy(out, name, path);
        }
        self.walk(m, out, tool, field, path, &duplicate.value, json_depth);
    }

    /// The tool's results are the contents of files (`tools.documents`).
    pub(crate) fn is_document_tool(&self, tool: &str) -> bool {
        !tool.is_empty() && self.documents.iter().any(|g| g.matches(tool))
    }

    /// The tool policy (dangerous, denied, unlisted) on a tool name found at `path`.
    pub(crate) fn tool_policy(&self, out: &mut Findings, name: &str, path: &str) {
        for (d, entry) in self.detectors.iter().enumerate() {
            if entry.enabled {
                let mut emitter = EventEmitter { inner: self, out, detector: d };
                entry.imp.check_tool(name, path, &mut emitter);
            }
        }
    }

    /// The one finding for what the scan cap left unscanned in this event or message.
    pub(crate) fn report_overflow(&self, m: &MatchState, out: &mut Findings) {
        let over = &m.over;
        if over.strings == 0 {
            return;
        }
        let cap = self.config.limits.max_scan_bytes;
        let more = match over.strings {
            1 => String::new(),
            n => format!(", in {n} strings from this one on"),
        };
        out.push(
            self,
            self.truncated_rule as usize,
            None,
            over.field,
            &over.path,
            over.span,
            format_args!(
                "{} bytes past the scan cap of {cap} bytes (max_scan_bytes, for the whole event or message) were not \
                 scanned{more}",
                over.bytes
            ),
        );
    }

    /// A string that holds a JSON object or array is parsed and its leaves scanned too, at
    /// `path` + `(json)`, so that escapes inside it do not hide anything (nor duplicate keys
    /// inside it: their values are scanned and reported as well). Findings of a rule already
    /// found in the string as text are not repeated, and the leaves do not count against the
    /// scan budget (the string itself did).
    #[allow(clippy::too_many_arguments)]
    fn scan_json_string(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &mut String,
        text: &str,
        json_depth: usize,
    ) {
        let trimmed = text.trim_start();
        if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
            return;
        }
        let len = path.len();
        path.push_str("(json)");
        let Ok(parsed) = json::parse_at(text.as_bytes(), path.clone()) else {
            path.truncate(len);
            return;
        };
        let from = out.verdict.findings.len();
        let budget = m.budget;
        self.walk(m, out, tool, field, path, &parsed.value, json_depth - 1);
        path.truncate(len);
        m.budget = budget;
        out.dedupe_since(from, path);
        if !parsed.duplicates.is_empty() {
            let at = path.clone();
            for duplicate in &parsed.duplicates {
                self.shadowed(m, out, tool, field, path, duplicate, json_depth - 1);
            }
            m.budget = budget;
            path.clear();
            path.push_str(&at);
        }
    }

    /// Scans one string: one Aho-Corasick pass and at most one regex-union pass over its view.
    /// Returns whether the whole string was scanned (the scan cap did not cut it).
    ///
    /// The cap (`max_scan_bytes`) is a budget for the whole event or message: every string
    /// scanned uses it up, so neither one long string nor many short ones get content past it
    /// unscanned without a `SYS-002` finding (which the fail mode acts on).
    pub(crate) fn scan_text(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &str,
        full: &str,
    ) -> bool {
        if full.is_empty() {
            return true;
        }
        let text = if full.len() > m.budget {
            let cut = floor_char_boundary(full, m.budget);
            // One finding per event or message, at the first string the cap cut, written at
            // the end (`report_overflow`).
            let over = &mut m.over;
            if over.strings == 0 {
                over.path.clear();
                over.path.push_str(path);
                over.field = field;
                over.span = Span { start: cut, end: full.len() };
            }
            over.strings += 1;
            over.bytes += full.len() - cut;
            &full[..cut]
        } else {
            full
        };
        m.budget -= text.len();
        if !text.is_empty() {
            out.string_start = out.verdict.findings.len();
            self.scan_layer(m, out, tool, field, path, text, None, 0);
        }
        text.len() == full.len()
    }

    /// Scans one layer of a string: the string itself (depth 0), or a segment of it decoded
    /// from base64, percent-encoding, … (`origin` is then the encoded segment of the original
    /// string, and findings point at it). Then decodes the layer's own encoded segments and
    /// scans them, to `MAX_DECODE_DEPTH`.
    #[allow(clippy::too_many_arguments)]
    fn scan_layer(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &str,
        text: &str,
        origin: Option<Origin>,
        depth: usize,
    ) {
        self.match_layer(m, out, tool, field, path, text, origin);
        if depth >= MAX_DECODE_DEPTH || text.len() < 8 {
            return;
        }
        let mut segments = [None; decode::MAX_SEGMENTS];
        let mut n = 0;
        decode::segments(text, |s| {
            segments[n] = Some(s);
            n += 1;
        });
        for segment in segments.into_iter().flatten() {
            let mut decoded = std::mem::take(&mut m.decoded[depth]);
            let mut bytes = std::mem::take(&mut m.decoded_bytes[depth]);
            if decode::decode(text, segment, &mut bytes, &mut decoded) {
                let origin = origin.unwrap_or(Origin {
                    span: Span { start: segment.start, end: segment.end },
                    encoding: segment.encoding,
                });
                self.scan_layer(m, out, tool, field, path, &decoded, Some(origin), depth + 1);
            }
            m.decoded[depth] = decoded;
            m.decoded_bytes[depth] = bytes;
        }
    }

    /// One Aho-Corasick pass and at most one regex-union pass over the view of `text`.
    #[allow(clippy::too_many_arguments)]
    fn match_layer(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &str,
        text: &str,
        origin: Option<Origin>,
    ) {
        let MatchState {
            view,
            map,
            union_cache,
            patset,
            single_caches,
            single_caps,
            tail_caches,
            head_caches,
            kw_first,
            touched,
            required_seen,
            required_touched,
            starts,
            inner_hits,
            pending,
            hits,
            walks,
            ..
        } = m;
        view.build(text, map);
        for (kind, hit) in view.evasions().iter().enumerate() {
            if hit.count > 0 {
                let r = self.evasion_rules[kind] as usize;
                if self.rules[r].applies_to_tool(tool) && !(origin.is_some() && out.has(&self.rules[r].id, path)) {
                    let count = hit.count;
                    let name = &self.rules[r].reason;
                    match origin {
                        None => {
                            let span = Span { start: hit.start as usize, end: hit.end as usize };
                            out.push(self, r, None, field, path, span, format_args!("{name}: {count} in {path}"));
                        }
                        Some(o) => out.push(
                            self,
                            r,
                            None,
                            field,
                            path,
                            o.span,
                            format_args!("{name}: {count} in {} text of {path}", o.encoding.as_str()),
                        ),
                    }
                }
            }
        }
        let hay = view.text(text);
        let mx = &self.matchers;

        // Keywords: one Aho-Corasick pass. Keyword-only rules remember their first hit; a
        // keyword-gated rule's regex is verified in a window around its hits until it matches.
        if let Some(ac) = &mx.ac {
            ac.find_all(hay.as_bytes(), hits, walks);
            for hit in hits.iter() {
                let pid = hit.pattern as usize;
                if pid >= mx.derived_start {
                    let derived = &mx.derived[pid - mx.derived_start];
                    for &(r, bit) in &derived.clauses {
                        let seen = &mut required_seen[r as usize];
                        if *seen == 0 {
                            required_touched.push(r);
                        }
                        *seen |= 1 << bit;
                    }
                    for &r in &derived.starts {
                        starts.push((r, hit.start));
                    }
                    for &(r, b) in &derived.inner {
                        inner_hits.push((r, hit.start, b));
                    }
                    continue;
                }
                let r = mx.ac_rule[pid] as usize;
                let rule = &self.rules[r];
                // Most hits repeat a keyword of a rule already seen in this string: settle those
                // first. A keyword-only rule keeps its first hit; a gated rule's windows already
                // cover the hit once the search reached it (see below).
                let seen = kw_first[r];
                if seen != NO_HIT {
                    let searched = seen.1 as usize;
                    if rule.regex.is_none() || searched >= hay.len() || hit.end as usize + GATE_WINDOW <= searched {
                        continue;
                    }
                }
                if !rule.scope.contains(field)
                    || (mx.ac_bounded[pid] && !word_bounded(hay, hit.start as usize, hit.end as usize))
                {
                    continue;
                }
                if rule.regex.is_none() {
                    kw_first[r] = (hit.start, hit.end);
                    touched.push(r as u32);
                    continue;
                }
                if seen == NO_HIT {
                    kw_first[r] = (0, 0); // searched up to 0
                    touched.push(r as u32);
                }
                // Windows of one rule: a match of at most GATE_WINDOW bytes that contains this
                // hit lies in [hit.start - W, hit.end + W]. What was searched before, up to
                // `searched`, holds no such match wholly, so the new window starts at most W
                // before `searched`; it reaches GATE_LOOKAHEAD ahead, so that the next hits
                // within reach are covered and each rule searches each byte about once.
                // Once the search reached the end of the text, every later hit is covered: the
                // windows so far form one searched range from the first hit's window on.
                let searched = kw_first[r].1 as usize;
                let from = (hit.start as usize).saturating_sub(GATE_WINDOW).max(searched.saturating_sub(GATE_WINDOW));
                let start = floor_char_boundary(hay, from);
                let end = ceil_char_boundary(hay, (hit.end as usize + GATE_LOOKAHEAD).min(hay.len()));
                kw_first[r].1 = end as u32;
                pending.push((r as u32, start as u32, end as u32));
            }

            // The windows are verified once the pass is over, when the rest of the string is
            // known. A rule whose required literals were not all seen is left out.
            for &(r, _, _) in pending.iter() {
                let r = r as usize;
                if kw_first[r].0 == PENDING {
                    let complete = self.rules[r].required.met(required_seen[r]);
                    kw_first[r].0 = if complete { LIVE } else { EXCLUDED };
                }
            }
            let mut starts_sorted = false;
            let mut inner_sorted = false;
            for &(r, start, end) in pending.iter() {
                let r = r as usize;
                let rule = &self.rules[r];
                if kw_first[r].0 != LIVE {
                    continue;
                }
                let Some((ri, single)) = rule.regex.and_then(|ri| Some((ri, mx.single[ri].get()?))) else { continue };
                let cache = single_caches[ri].get_or_insert_with(|| single.create_cache());
                let window = start as usize..end as usize;
                let caps = &mut single_caps[ri];
                // An anchored rule runs at its starts in the window, unless they are dense.
                let r32 = r as u32;
                let found = match rule.anchor {
                    None => rule.first_valid_match(single, cache, caps, hay, window, None),
                    Some(Anchor::Start { tail: t }) => {
                        let at = live_in(starts, &mut starts_sorted, kw_first, |&(r, p)| (r, p), r32, start..end);
                        match mx.tails[t].get().filter(|_| at.len() * ANCHOR_SPACING <= window.len()) {
                            None => rule.first_valid_match(single, cache, caps, hay, window, None),
                            Some(tail) => {
                                let tail_cache = tail_caches[t].get_or_insert_with(|| tail.create_cache());
                                rule.first_valid_match(single, cache, caps, hay, window, Some((at, tail, tail_cache)))
                            }
                        }
                    }
                    Some(Anchor::Tail { tail: t, reach }) => {
                        let at = live_in(starts, &mut starts_sorted, kw_first, |&(r, p)| (r, p), r32, start..end);
                        let tail = mx.tails[t].get().filter(|_| at.len() * ANCHOR_SPACING <= window.len());
                        if let Some(tail) = tail {
                            let tail_cache = tail_caches[t].get_or_insert_with(|| tail.create_cache());
                            let end = window.end;
                            // The first hit where the tail matches; or, once the tail runs
                            // have read `ANCHOR_BUDGET` windows' worth, the hit where that
                            // happened (the scan from there finds the same match, if any).
                            let mut budget = window.len() * ANCHOR_BUDGET;
                            let hit = at.iter().find(|&&(_, p)| {
                                tail_matches(tail, tail_cache, hay, p as usize..end, &mut budget) != Some(false)
                            });
                            hit.and_then(|&(_, p)| {
                                let from = floor_char_boundary(
                                    hay,
                                    (p as usize).saturating_sub(reach as usize).max(window.start),
                                );
                                rule.first_valid_match(single, cache, caps, hay, from..end, None)
                            })
                        } else {
                            rule.first_valid_match(single, cache, caps, hay, window, None)
                        }
                    }
                    Some(Anchor::Inner) => {
                        let at = live_in(inner_hits, &mut inner_sorted, kw_first, |&(r, p, _)| (r, p), r32, start..end);
                        if at.len() * ANCHOR_SPACING > window.len() {
                            rule.first_valid_match(single, cache, caps, hay, window, None)
                        } else {
                            rule.first_valid_inner(single, cache, caps, hay, window, at, mx, head_caches, tail_caches)
                        }
                    }
                };
                if let Some(span) = found {
                    kw_first[r] = MATCHED;
                    self.fire(view, map, out, tool, field, path, text, r, span, origin);
                }
            }
            pending.clear();
            starts.clear();
            inner_hits.clear();
            for &r in required_touched.iter() {
                required_seen[r as usize] = 0;
            }
            required_touched.clear();
        }

        // Rules without keywords: one pass of their union, then each reported rule's own regex
        // for its span.
        let field_index = field as usize;
        if let Some(union) = mx.union.as_ref().filter(|_| mx.ungated[field_index]).and_then(Deferred::get) {
            let cache = union_cache.get_or_insert_with(|| union.create_cache());
            union.which_overlapping_matches_with(cache, &Input::new(hay), patset);
            for pid in patset.iter() {
                let r = mx.regex_rule[pid.as_usize()] as usize;
                let rule = &self.rules[r];
                if !rule.scope.contains(field) {
                    continue;
                }
                let Some((ri, single)) = rule.regex.and_then(|ri| Some((ri, mx.single[ri].get()?))) else { continue };
                let cache = single_caches[ri].get_or_insert_with(|| single.create_cache());
                if let Some(span) = rule.first_valid_match(single, cache, &mut single_caps[ri], hay, 0..hay.len(), None)
                {
                    self.fire(view, map, out, tool, field, path, text, r, span, origin);
                }
            }
            patset.clear();
        }

        // Keyword-only rules, and reset the keyword table.
        for &r in touched.iter() {
            let r = r as usize;
            if self.rules[r].regex.is_none() && kw_first[r] != NO_HIT {
                let (s, e) = kw_first[r];
                self.fire(view, map, out, tool, field, path, text, r, (s as usize, e as usize), origin);
            }
            kw_first[r] = NO_HIT;
        }
        touched.clear();
    }

    /// Turns a rule hit (a span of the view) into a finding, after the detector's judgement.
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &self,
        view: &View,
        map: &mut OffsetMap,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &str,
        text: &str,
        r: usize,
        span: (usize, usize),
        origin: Option<Origin>,
    ) {
        let rule = &self.rules[r];
        if !rule.applies_to_tool(tool) {
            return;
        }
        if origin.is_some() && out.has(&rule.id, path) {
            return; // already found in the layer above
        }
        let span = match origin {
            None => {
                let (start, end) = map.original_span(view, text, span.0, span.1);
                Span { start, end }
            }
            Some(o) => o.span,
        };
        let hit = Hit { rule: &rule.id, field, path, text, span, tool };
        let severity = match self.detectors[rule.detector].imp.judge(&hit) {
            Judgement::Accept => None,
            Judgement::Severity(s) => Some(s),
            Judgement::Reject => return,
        };
        match origin {
            None => out.push(self, r, severity, field, path, span, format_args!("{}", rule.reason)),
            Some(o) => out.push(
                self,
                r,
                severity,
                field,
                path,
                span,
                format_args!("{} (in {} text)", rule.reason, o.encoding.as_str()),
            ),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// True when `hay[start..end]` does not continue a word on either side.
fn word_bounded(hay: &str, start: usize, end: usize) -> bool {
    let m = &hay[start..end];
    let starts_word = m.chars().next().is_some_and(is_word_char);
    let ends_word = m.chars().next_back().is_some_and(is_word_char);
    if starts_word && hay[..start].chars().next_back().is_some_and(is_word_char) {
        return false;
    }
    if ends_word && hay[end..].chars().next().is_some_and(is_word_char) {
        return false;
    }
    true
}

const NO_HIT: (u32, u32) = (u32::MAX, u32::MAX);
/// States of a keyword-gated rule's `kw_first.0` while its windows are verified: windows
/// pending, to verify, left out (required literals missing).
const PENDING: u32 = 0;
const LIVE: u32 = 1;
const EXCLUDED: u32 = 2;
/// A keyword-gated rule that already matched in the current string.
const MATCHED: (u32, u32) = (u32::MAX, 0);
/// How far around a keyword hit a gated rule's regex is verified, each way (bytes). A match
/// that contains the keyword and is at most this long is always found.
pub const GATE_WINDOW: usize = 2048;
/// How far past a keyword hit a gated rule's window reaches. A window re-searches up to
/// `GATE_WINDOW` bytes of the previous one; reaching far ahead makes that overlap small when
/// hits are dense (a rule then searches the text about once, not twice), and costs nothing
/// more when they are sparse than one pass over what the window covers.
const GATE_LOOKAHEAD: usize = 16 * GATE_WINDOW;

/// The smallest index `>= i` on a character boundary of `s`.
fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Per-thread search state for [`Engine::scan_with`]: the regex caches, the normalised view,
/// the hit tables and a reusable verdict. Create one with [`Engine::create_scratch`]; keep one
/// per thread.
pub struct Scratch {
    engine_id: u64,
    pub(crate) m: MatchState,
    pub(crate) path: String,
    pub(crate) out: Findings,
}

impl Scratch {
    /// True when this scratch was made by `engine` (or a clone of it).
    pub(crate) fn belongs_to(&self, engine: &Engine) -> bool {
        self.engine_id == engine.inner.id
    }
}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scratch").field("engine_id", &self.engine_id).finish_non_exhaustive()
    }
}

pub(crate) struct MatchState {
    view: View,
    map: OffsetMap,
    union_cache: Option<meta::Cache>,
    patset: PatternSet,
    single_caches: Vec<Option<meta::Cache>>,
    single_caps: Vec<Option<Captures>>,
    /// Per tail regex (`Anchor::Tail`, `Anchor::Inner`): its cache, once used.
    tail_caches: Vec<Option<hybrid::dfa::Cache>>,
    /// Per reversed head (`Anchor::Inner`): its cache, once used.
    head_caches: Vec<Option<hybrid::dfa::Cache>>,
    /// Per rule: the first keyword hit in the current string (view offsets), or `NO_HIT`.
    kw_first: Vec<(u32, u32)>,
    /// Rules with a keyword hit in the current string.
    touched: Vec<u32>,
    /// Per rule: the clauses of required literals seen in the current string (a bit each).
    required_seen: Vec<u32>,
    /// Rules with a required literal seen in the current string.
    required_touched: Vec<u32>,
    /// (rule, position) of each start literal hit in the current string, sorted once the
    /// automaton pass is over.
    starts: Vec<(u32, u32)>,
    /// (rule, position, branch) of each hit of an `Anchor::Inner` branch's literals in the
    /// current string, sorted once the automaton pass is over.
    inner_hits: Vec<(u32, u32, u32)>,
    /// Windows (rule, start, end) of keyword-gated rules, in order, verified once the
    /// automaton pass is over.
    pending: Vec<(u32, u32, u32)>,
    /// Keyword and derived-literal hits in the current string.
    hits: Vec<KeywordHit>,
    /// The automaton walks' buffers.
    walks: Walks,
    /// Decoded text, one buffer per decoding depth.
    decoded: [String; MAX_DECODE_DEPTH],
    decoded_bytes: [Vec<u8>; MAX_DECODE_DEPTH],
    /// Bytes the current event or message may still scan, and what the cap left unscanned.
    pub(crate) budget: usize,
    pub(crate) over: Overflow,
}

impl MatchState {
    /// A new event or message, with `cap` bytes to scan.
    pub(crate) fn start_budget(&mut self, cap: usize) {
        self.budget = cap;
        self.over.strings = 0;
        self.over.bytes = 0;
    }
}

/// What the scan cap left unscanned in an event or message.
#[derive(Default)]
pub(crate) struct Overflow {
    pub(crate) strings: usize,
    pub(crate) bytes: usize,
    pub(crate) path: String,
    pub(crate) field: Field,
    pub(crate) span: Span,
}

/// Where a decoded layer came from: the encoded segment of the original string.
#[derive(Clone, Copy, Debug)]
struct Origin {
    span: Span,
    encoding: decode::Encoding,
}

/// How many times a string is decoded at the most (base64 inside percent-encoding is depth 2).
const MAX_DECODE_DEPTH: usize = 2;

/// The verdict being built, and a pool of finding buffers to reuse.
#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) verdict: Verdict,
    spare: Vec<Finding>,
    /// Findings past `MAX_FINDINGS`: how many, and the highest action and severity among
    /// them (they count in the verdict's action although they are not listed).
    dropped: usize,
    dropped_action: Action,
    dropped_severity: Option<Severity>,
    /// Where the findings of the string being scanned begin.
    string_start: usize,
    /// The response being scanned is the contents of a file or document (a result of a tool on
    /// `tools.documents`, or of `resources/read`): see `CompiledRule::inert_in_documents`.
    pub(crate) document: bool,
}

impl Findings {
    /// A finding of `rule` at `path` is already in the verdict, from the string being scanned
    /// (only its findings are looked at: a message of many strings costs each string its own
    /// findings, not every finding so far).
    fn has(&self, rule: &str, path: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The requirement the builder derived for the rule `id` of a one-rule pack.
    fn required_of(pattern: &str, keywords: &[&str]) -> Required {
        let toml = format!(
            "[[rule]]\nid = \"U-1\"\ndetector = \"SEC-40\"\nname = \"n\"\nseverity = \"high\"\ndescription = \"d\"\n\
             keywords = {keywords:?}\npattern = '''{pattern}'''\n"
        );
        let engine = Engine::builder().without_builtin_rules().rules_toml("user.toml", &toml).build().unwrap();
        let inner = &engine.inner;
        inner.rules[inner.rule_index["U-1"] as usize].required.clone()
    }

    #[test]
    fn each_branch_of_an_alternation_needs_its_own_literals() {
        // `program` opens the gate, but the branch it is in also needs `copy`; the other
        // branch needs `cmdshell` (the keyword `xp_` does not imply it). The leading `\b` of
        // both branches is parsed as a part of its own, before the alternation.
        let r = required_of(r"\bxp_cmdshell\b|\bcopy\s+\w+\s+from\s+program\s+'", &["xp_", "program"]);
        assert_eq!(r.any.len(), 2, "{r:?}");
        assert!(!r.met(r.all), "the clauses of every match are not enough: {r:?}");
        for &mask in &r.any {
            assert!(r.met(r.all | mask), "{r:?}");
            // Any one clause of a branch missing.
            for bit in (0..32).map(|b| 1u32 << b).filter(|b| mask & b != 0) {
                assert!(!r.met(r.all | (mask & !bit)), "{r:?} without bit {bit:#b}");
            }
        }
    }

    #[test]
    fn a_branch_without_rare_literals_leaves_the_alternation_ungated() {
        // `\d{4}` may match in any text: no requirement can be derived from the branches.
        let r = required_of(r"\bxp_cmdshell\b|\d{4}", &["xp_", "0"]);
        assert!(r.any.is_empty(), "{r:?}");
        assert!(r.met(0));
    }

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
        // A user pack's regex is compiled with the engine, so that its errors are the build's.
        let user = Engine::builder()
            .rules_toml(
                "user.toml",
                "[[rule]]\nid = \"U-1\"\ndetector = \"SEC-40\"\nname = \"n\"\nseverity = \"high\"\ndescription = \"d\"\npattern = 'zq[0-9]+x'\n",
            )
            .build()
            .unwrap();
        let ri = user.inner.rules.iter().find(|r| &*r.id == "U-1").unwrap().regex.unwrap();
        assert!(user.inner.matchers.single[ri].is_built());
    }

    /// The ids of the built-in rules anchored at inner literals.
    fn inner_rules(engine: &Engine) -> Vec<&str> {
        engine.inner.rules.iter().filter(|r| matches!(r.anchor, Some(Anchor::Inner))).map(|r| &*r.id).collect()
    }

    #[test]
    fn rules_without_starts_are_anchored_at_inner_literals() {
        let engine = Engine::new().unwrap();
        let inner = inner_rules(&engine);
        // SQL-004's matches begin at a line, a JSON value or a query parameter, anywhere
        // before the quote and comment marker its branches' tails begin with.
        for id in ["SQL-004", "CODE-107", "SQL-005"] {
            assert!(inner.contains(&id), "{id} is not anchored at inner literals: {inner:?}");
        }
        // CODE-101's heads count up to 300 (`[^<]{0,300}?`): it scans its windows.
        assert!(!inner.contains(&"CODE-101"), "{inner:?}");
        assert!(inner.len() >= 10, "{inner:?}");
    }

    #[test]
    fn a_head_run_by_steps_ends_where_the_reverse_search_does() {
        // `head_start` steps the reversed head by hand so that it can stop; without a budget
        // to stop at, it must give the start the library's reverse search gives, at every hit
        // position of every head of the built-in rules, on text with their examples.
        let engine = Engine::new().unwrap();
        let inner = &engine.inner;
        let mut text = String::new();
        for rule in &inner.rules {
            if matches!(rule.anchor, Some(Anchor::Inner)) {
                for example in rule.spec.examples.iter().chain(&rule.spec.negative_examples) {
                    if let crate::rule::Example::Text(t) = example {
                        text.push_str(t);
                        text.push_str(if text.len() % 3 == 0 { "\n" } else { " \n " });
                    }
                }
            }
        }
        assert!(text.len() > 2000, "{}", text.len());
        let (mut checked, mut found) = (0, 0);
        for head in inner.matchers.heads.iter().map(|h| h.get().expect("a built-in head builds")) {
            let mut cache = head.create_cache();
            for k in (0..=text.len()).filter(|&k| text.is_char_boundary(k)) {
                for from in [0, k.saturating_sub(40)] {
                    let from = floor_char_boundary(&text, from);
                    let input = Input::new(&text).range(from..k).anchored(Anchored::Yes);
                    let expected = head.try_search_rev(&mut cache, &input).unwrap().map(|m| m.offset());
                    let got = head_start(head, &mut cache, &text, from..k, &mut { usize::MAX });
                    assert_eq!(got, Some(expected), "head at {from}..{k}");
                    checked += 1;
                    found += usize::from(expected.is_some());
                }
            }
        }
        assert!(found > 100 && found < checked, "{found} of {checked}");
        // A budget stops the walk.
        let head = inner.matchers.heads[0].get().unwrap();
        let mut cache = head.create_cache();
        let mut budget = 0;
        assert_eq!(head_start(head, &mut cache, &text, 0..text.len(), &mut budget), None);
    }

    #[test]
    fn a_tail_run_by_steps_matches_where_the_forward_search_does() {
        // `tail_matches` steps a tail (or an anchored rule's whole pattern) by hand so that a
        // run costs what it reads; without a budget to stop at, it must say what the library's
        // anchored forward search says, at every position, on text with the examples of every
        // anchored rule.
        let engine = Engine::new().unwrap();
        let inner = &engine.inner;
        let mut text = String::new();
        for rule in inner.rules.iter().filter(|r| r.anchor.is_some()) {
            for example in rule.spec.examples.iter().chain(&rule.spec.negative_examples) {
                if let crate::rule::Example::Text(t) = example {
                    text.push_str(t);
                    text.push_str(if text.len() % 3 == 0 { "\n" } else { " \n " });
                }
            }
        }
        assert!(text.len() > 5000, "{}", text.len());
        let (mut checked, mut found) = (0, 0);
        for tail in inner.matchers.tails.iter().map(|t| t.get().expect("a built-in tail builds")) {
            let mut cache = tail.create_cache();
            for k in (0..=text.len()).filter(|&k| text.is_char_boundary(k)) {
                for end in [text.len(), ceil_char_boundary(&text, (k + 60).min(text.len()))] {
                    let input = Input::new(&text).range(k..end).anchored(Anchored::Yes).earliest(true);
                    let expected = tail.try_search_fwd(&mut cache, &input).unwrap().is_some();
                    let got = tail_matches(tail, &mut cache, &text, k..end, &mut { usize::MAX });
                    assert_eq!(got, Some(expected), "tail at {k}..{end}");
                    checked += 1;
                    found += usize::from(expected);
                }
            }
        }
        assert!(found > 100 && found < checked, "{found} of {checked}");
        // Every rule anchored at its starts has its pattern as a tail.
        let starts = inner.rules.iter().filter(|r| matches!(r.anchor, Some(Anchor::Start { .. }))).count();
        assert!(starts >= 50, "{starts}");
        // A budget stops the walk.
        let tail = inner.matchers.tails[0].get().unwrap();
        let mut cache = tail.create_cache();
        assert_eq!(tail_matches(tail, &mut cache, &text, 0..text.len(), &mut 0), None);
    }

    #[test]
    fn every_clause_and_one_branch() {
        let r = Required { all: 0b1, any: vec![0b10, 0b1100] };
        assert!(!r.met(0b10), "the clause every match needs is missing");
        assert!(r.met(0b11));
        assert!(!r.met(0b101), "half of the second branch");
        assert!(r.met(0b1101));
        assert!(Required::default().met(0));
    }
}
