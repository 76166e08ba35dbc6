//! The compiled matchers an engine shares between threads (data only, filled by the planner):
//! one Aho-Corasick automaton over every keyword and derived literal, the union of the rules
//! without keywords, each rule's own regex and the anchor automata; with the builders and
//! limits of each.

use crate::deferred::Deferred;
use crate::error::{BuildError, Kind, RuleProblem};
use crate::keywords::Keywords;
use crate::phrases::Phrases;
use regex_automata::nfa::thompson;
use regex_automata::{hybrid, meta, MatchKind};
use regex_syntax::hir::{Hir, HirKind};

/// Lazy-DFA cache for the union of all regex rules. A union of ~150 rules thrashes at the
/// default 2 MB (about 1.5 MB/s measured) and runs at full speed from about 8–64 MB; the
/// cache grows only as far as the traffic needs.
pub(crate) const UNION_CACHE_CAPACITY: usize = 64 << 20;
/// NFA size limit for the union (regex-automata sets none by default).
pub(crate) const UNION_NFA_LIMIT: usize = 256 << 20;
/// Limits for each rule's own regex, used only to locate the span of a hit.
pub(crate) const SINGLE_CACHE_CAPACITY: usize = 16 << 20;
pub(crate) const SINGLE_NFA_LIMIT: usize = 16 << 20;

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
    pub(crate) head: Option<usize>,
    pub(crate) tail: usize,
}

/// The shared matchers: one Aho-Corasick automaton over every keyword, one multi-pattern
/// regex over every pattern.
pub(crate) struct Matchers {
    pub(crate) ac: Option<Keywords>,
    /// Aho-Corasick pattern id → rule index.
    pub(crate) ac_rule: Vec<u32>,
    /// Per keyword pattern: a hit counts only as a whole word.
    pub(crate) ac_bounded: Vec<bool>,
    /// Union of all regex rules (`MatchKind::All`), used to learn which rules match.
    pub(crate) union: Option<Deferred<Vec<Hir>, meta::Regex>>,
    /// Regex pattern id → rule index.
    pub(crate) regex_rule: Vec<u32>,
    /// Each regex rule on its own (leftmost-first), run only for rules the union reported,
    /// to locate the span of the first match.
    pub(crate) single: Vec<Deferred<Hir, meta::Regex>>,
    /// Tails of anchored rules' regexes (the whole pattern for `Anchor::Start`), as lazy DFAs
    /// run forwards, anchored at a literal hit, a byte at a time (`tail_matches`): whether a
    /// match of the tail begins there, for what the run actually read.
    pub(crate) tails: Vec<Deferred<Hir, hybrid::dfa::DFA>>,
    /// Branches of `Anchor::Inner` rules.
    pub(crate) inner: Vec<InnerBranch>,
    /// Heads of those branches, reversed (`InnerBranch::head`).
    pub(crate) heads: Vec<Deferred<Hir, hybrid::dfa::DFA>>,
    /// Per field: does an enabled regex rule without keywords apply (so the union must run)?
    pub(crate) ungated: [bool; 6],
    /// Aho-Corasick pattern ids from here on are derived literals, not keywords.
    pub(crate) derived_start: usize,
    /// Per derived literal (pattern id - `derived_start`): what it says of which rules.
    pub(crate) derived: Vec<Derived>,
    /// The phrase tier: the rules written as cue phrases.
    pub(crate) phrases: Option<Phrases>,
    /// Per field: does an enabled phrase rule apply (so the tier must run)?
    pub(crate) phrase_fields: [bool; 6],
}

/// A literal derived from rules' regexes: the (rule, clause bit) pairs it satisfies as a
/// required literal, the rules whose matches can begin where it occurs, and the branches of
/// `Anchor::Inner` rules whose tails can.
#[derive(Default)]
pub(crate) struct Derived {
    pub(crate) clauses: Vec<(u32, u8)>,
    pub(crate) starts: Vec<u32>,
    /// (rule, branch of `Matchers::inner`) whose tail can begin where it occurs.
    pub(crate) inner: Vec<(u32, u32)>,
}

/// Longest counted repetition in a head an `Anchor::Inner` branch runs backwards (see
/// `counts_far`).
pub(crate) const MAX_HEAD_COUNT: u32 = 30;

/// A lazy DFA for a tail of a rule's pattern (or the whole pattern), run forwards and anchored
/// at a hit of the literals it begins with by `tail_matches`: any match will do
/// (`MatchKind::All`). `None` when it cannot be built.
pub(crate) fn forward_tail(tail: &Hir) -> Option<hybrid::dfa::DFA> {
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
pub(crate) fn reverse_head(head: &Hir) -> Option<hybrid::dfa::DFA> {
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
pub(crate) fn counts_far(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Repetition(r) => r.max.is_some_and(|m| m > MAX_HEAD_COUNT) || counts_far(&r.sub),
        HirKind::Capture(c) => counts_far(&c.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().any(counts_far),
        _ => false,
    }
}

pub(crate) fn size_error(e: meta::BuildError, limit: usize, rule: Option<(&str, &str, Option<usize>)>) -> BuildError {
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

/// Checks that a rule's own regex compiles within the limits, without compiling it: its NFA,
/// which is what a size limit stops. Compiled on first use, the regex gets twice the limit
/// (`LAZY_NFA_LIMIT`), so that a rule that passed here always builds then (its reverse NFA may
/// be a little larger than the forward one checked here).
pub(crate) fn check_single(hir: &Hir, rule: (&str, &str, Option<usize>)) -> Result<(), BuildError> {
    let (source, id, line) = rule;
    thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .which_captures(thompson::WhichCaptures::None)
                .nfa_size_limit(Some(SINGLE_NFA_LIMIT)),
        )
        .build_from_hir(hir)
        .map(drop)
        .map_err(|e| match e.size_limit() {
            Some(limit) => BuildError::rule(source, id, line, RuleProblem::SizeLimit { limit, message: e.to_string() }),
            None => BuildError::rule(source, id, line, RuleProblem::Regex { position: None, message: e.to_string() }),
        })
}

/// The NFA limit of a rule's regex compiled on first use (see `check_single`).
const LAZY_NFA_LIMIT: usize = 2 * SINGLE_NFA_LIMIT;

/// A rule's own regex (leftmost-first), run to locate the span of a hit.
#[allow(clippy::result_large_err)] // regex-automata's own error, as it comes
pub(crate) fn single_regex(hir: &Hir) -> Result<meta::Regex, meta::BuildError> {
    meta::Builder::new()
        .configure(
            meta::Config::new().nfa_size_limit(Some(LAZY_NFA_LIMIT)).hybrid_cache_capacity(SINGLE_CACHE_CAPACITY),
        )
        .build_from_hir(hir)
}

pub(crate) fn build_single(hir: &Hir) -> Option<meta::Regex> {
    single_regex(hir).ok()
}

/// The union of the rules without keywords (`MatchKind::All`): which of them match.
#[allow(clippy::result_large_err)] // regex-automata's own error, as it comes
pub(crate) fn union_regex(hirs: &[Hir]) -> Result<meta::Regex, meta::BuildError> {
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
pub(crate) fn build_union(hirs: &Vec<Hir>) -> Option<meta::Regex> {
    union_regex(hirs).ok()
}
