//! The per-thread scratch: every piece of mutable search state, sized for one engine, so that
//! a warm scratch scans without touching the heap.

use crate::compiled::Inner;
use crate::decode;
use crate::event::Field;
use crate::findings::Findings;
use crate::keywords::{Hit as KeywordHit, Walks};
use crate::matchers::Matchers;
use crate::normalize::{OffsetMap, View};
use crate::phrases::PhraseState;
use crate::verdict::Span;
use regex_automata::util::captures::Captures;
use regex_automata::{hybrid, meta, PatternSet};
use std::fmt;

/// Builds a scratch for the engine's pool.
pub(crate) type ScratchFactory = Box<dyn Fn() -> Scratch + Send + Sync>;

/// Per-thread search state for [`Engine::scan_with`]: the regex caches, the normalised view,
/// the hit tables and a reusable verdict. Create one with [`Engine::create_scratch`]; keep one
/// per thread.
pub struct Scratch {
    pub(crate) engine_id: u64,
    pub(crate) m: MatchState,
    pub(crate) path: String,
    pub(crate) out: Findings,
}

impl Scratch {
    /// True when this scratch was made by `engine` (or a clone of it).
    pub(crate) fn belongs_to(&self, inner: &Inner) -> bool {
        self.engine_id == inner.id
    }
}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scratch").field("engine_id", &self.engine_id).finish_non_exhaustive()
    }
}

pub(crate) struct MatchState {
    pub(crate) view: View,
    pub(crate) map: OffsetMap,
    pub(crate) union_cache: Option<meta::Cache>,
    pub(crate) patset: PatternSet,
    pub(crate) single_caches: Vec<Option<meta::Cache>>,
    pub(crate) single_caps: Vec<Option<Captures>>,
    /// Per tail regex (`Anchor::Tail`, `Anchor::Inner`): its cache, once used.
    pub(crate) tail_caches: Vec<Option<hybrid::dfa::Cache>>,
    /// Per reversed head (`Anchor::Inner`): its cache, once used.
    pub(crate) head_caches: Vec<Option<hybrid::dfa::Cache>>,
    /// Per rule: what the keyword pass saw of it in the current string.
    pub(crate) rule_hits: Vec<RuleHits>,
    /// Rules with a keyword hit in the current string.
    pub(crate) touched: Vec<u32>,
    /// Per rule: the clauses of required literals seen in the current string (a bit each).
    pub(crate) required_seen: Vec<u32>,
    /// Rules with a required literal seen in the current string.
    pub(crate) required_touched: Vec<u32>,
    /// (rule, position) of each start literal hit in the current string, sorted once the
    /// automaton pass is over.
    pub(crate) starts: Vec<(u32, u32)>,
    /// (rule, position, branch) of each hit of an `Anchor::Inner` branch's literals in the
    /// current string, sorted once the automaton pass is over.
    pub(crate) inner_hits: Vec<(u32, u32, u32)>,
    /// Windows (rule, start, end) of keyword-gated rules, in order, verified once the
    /// automaton pass is over.
    pub(crate) pending: Vec<(u32, u32, u32)>,
    /// Keyword and derived-literal hits in the current string.
    pub(crate) hits: Vec<KeywordHit>,
    /// The automaton walks' buffers.
    pub(crate) walks: Walks,
    /// The phrase tier's state.
    pub(crate) phrase: PhraseState,
    /// Decoded text, one buffer per decoding depth.
    pub(crate) decoded: [String; MAX_DECODE_DEPTH],
    pub(crate) decoded_bytes: [Vec<u8>; MAX_DECODE_DEPTH],
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
pub(crate) struct Origin {
    pub(crate) span: Span,
    pub(crate) encoding: decode::Encoding,
}

/// How many times a string is decoded at the most (base64 inside percent-encoding is depth 2).
pub(crate) const MAX_DECODE_DEPTH: usize = 2;

/// How many of each thing a scratch keeps state for.
#[derive(Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) patterns: usize,
    pub(crate) single: usize,
    pub(crate) tails: usize,
    pub(crate) heads: usize,
    pub(crate) rules: usize,
    /// The phrase tier's classes and rules.
    pub(crate) phrases: (usize, usize),
}

impl Sizes {
    pub(crate) fn of(m: &Matchers, rules: usize) -> Sizes {
        Sizes {
            patterns: m.regex_rule.len(),
            single: m.single.len(),
            tails: m.tails.len(),
            heads: m.heads.len(),
            rules,
            phrases: m.phrases.as_ref().map_or((0, 0), |p| p.sizes()),
        }
    }
}

/// A fresh scratch for the engine `id` with these sizes.
pub(crate) fn new_scratch(id: u64, sizes: Sizes) -> Scratch {
    let Sizes { patterns: npatterns, single: nsingle, tails: ntails, heads: nheads, rules: nrules, phrases } = sizes;
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
            rule_hits: vec![RuleHits::None; nrules],
            touched: Vec::new(),
            required_seen: vec![0; nrules],
            required_touched: Vec::new(),
            starts: Vec::new(),
            inner_hits: Vec::new(),
            pending: Vec::new(),
            hits: Vec::new(),
            walks: Walks::default(),
            phrase: PhraseState::new(phrases.0, phrases.1),
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
pub(crate) fn make_factory(id: u64, m: &Matchers, nrules: usize) -> ScratchFactory {
    let sizes = Sizes::of(m, nrules);
    Box::new(move || new_scratch(id, sizes))
}

/// What the keyword pass saw of one rule in the current string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleHits {
    /// No keyword hit (yet).
    None,
    /// A keyword-only rule: its first hit (view offsets), the finding.
    First { start: u32, end: u32 },
    /// A keyword-gated rule: its gate, and how far its windows reach so far (a hit before
    /// that, by more than `GATE_WINDOW`, is already covered).
    Gated { gate: Gate, searched: u32 },
    /// A keyword-gated rule that matched in the current string: its other windows are skipped.
    Matched,
}

impl RuleHits {
    /// A gated rule whose windows are to be verified.
    #[inline]
    pub(crate) fn is_live(self) -> bool {
        matches!(self, RuleHits::Gated { gate: Gate::Live, .. })
    }
}

/// The gate of a keyword-gated rule in the current string: its windows are collected during
/// the keyword pass (`Pending`), then verified (`Live`) or left out because a clause of its
/// required literals was not seen (`Excluded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    Pending,
    Live,
    Excluded,
}
