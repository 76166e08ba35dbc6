//! Planning: how each rule is searched, derived once from its keywords and regex when the
//! engine is built. A keyword-gated rule gets the keywords or derived literals that open its
//! windows (the rarest on ordinary text), the clauses of required literals that must also have
//! been seen, and an `Anchor` where its matches can begin; a rule without keywords joins the
//! union. The result is the compiled rules and the `Matchers`.

use crate::compiled::{CompiledRule, DetectorEntry, Required};
use crate::deferred::Deferred;
use crate::detector;
use crate::error::{BuildError, Kind, RuleProblem};
use crate::event::Field;
use crate::gate::{lits, AnchorPlan, GatePlan, Lits};
use crate::keywords::{word_bounded, Keywords};
use crate::matchers::{
    build_single, build_union, check_single, counts_far, forward_tail, reverse_head, size_error, union_regex, Anchor,
    Derived, InnerBranch, Matchers, UNION_NFA_LIMIT,
};
use crate::normalize::{OffsetMap, View};
use crate::packs::Merged;
use crate::packs::ORDINARY_TEXT;
use crate::pattern;
use crate::phrases::{Phrase, PhrasesBuilder};
use crate::required::{self, implies, Literals, Set};
use crate::rule::{ScopeMask, SourcedRule};
use crate::stored_plan::StoredPlan;
use regex_automata::hybrid;
use regex_syntax::hir::{Hir, HirKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use wildmatch::WildMatch;

/// Lengths at which a rule's start literals are cut, longest first: the first that gives a
/// small set is used (longer literals occur less often).
pub(crate) const START_LENGTHS: [usize; 4] = [8, 6, 4, 3];
/// Shortest start literal: one byte (a quote, `<`) occurs too often to anchor on.
pub(crate) const MIN_START_LEN: usize = 2;
/// A rule is anchored on its start literals when they occur at most this often in the
/// ordinary text (about 8 KB).
pub(crate) const MAX_START_HITS: u32 = 200;
/// Categories of payloads that act only where they are executed (a query, a shell, a page):
/// in the contents of a file that was read they are data, reported with low confidence.
pub(crate) const INERT_IN_DOCUMENTS: &[&str] =
    &["code_injection", "sql_injection", "command_injection", "path_traversal"];
/// Longest head (in bytes) before the tail a rule is anchored on. Bytes of UTF-8: a
/// case-insensitive `[a-z0-9]{0,40}` may be 120 bytes long (the Kelvin sign is 3).
pub(crate) const MAX_HEAD: usize = 160;

/// Most clauses of required literals that every match of a rule satisfies.
pub(crate) const MAX_CLAUSES: usize = 4;
/// Most clauses of required literals per branch of a rule's top-level alternation.
pub(crate) const MAX_BRANCH_CLAUSES: usize = 2;
/// Most clauses of required literals per rule: a bit each in a `u32`.
pub(crate) const MAX_REQUIRED_BITS: usize = 32;

/// A clause of required literals is used when its literals occur at most this often in the
/// ordinary text: a common one would cost automaton hits and seldom close the gate.
pub(crate) const MAX_REQUIRED_HITS: u32 = 2;

/// `hir` inside the capture groups around it.
pub(crate) fn uncaptured(mut hir: &Hir) -> &Hir {
    while let HirKind::Capture(c) = hir.kind() {
        hir = &c.sub;
    }
    hir
}

/// The branches of `hir` when it is an alternation (inside capture groups), else `hir` alone.
pub(crate) fn branches_of(hir: &Hir) -> &[Hir] {
    match uncaptured(hir).kind() {
        HirKind::Alternation(branches) => branches,
        _ => std::slice::from_ref(hir),
    }
}

/// The parts of `hir` when it is a concatenation (inside capture groups), else `hir` alone.
pub(crate) fn parts_of(hir: &Hir) -> &[Hir] {
    match uncaptured(hir).kind() {
        HirKind::Concat(parts) => parts,
        _ => std::slice::from_ref(hir),
    }
}

/// The alternations every match of `hir` goes through: `hir` itself, or the parts of a
/// top-level concatenation (inside capture groups), in order. Their branches.
pub(crate) fn top_alternations(hir: &Hir) -> Vec<&[Hir]> {
    parts_of(hir)
        .iter()
        .filter_map(|p| match uncaptured(p).kind() {
            HirKind::Alternation(branches) => Some(branches.as_slice()),
            _ => None,
        })
        .collect()
}

/// How often `keywords` occur in `text` (ASCII-lowercased), whole words only when `bounded`.
pub(crate) fn keyword_hits(text: &str, keywords: &[Vec<u8>], bounded: bool) -> u32 {
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

pub(crate) const FIELDS: [Field; 6] =
    [Field::Event, Field::Tool, Field::Prompt, Field::Response, Field::Metadata, Field::Extra];

/// `hir` has a capture group named `v` (the value a validator checks).
pub(crate) fn has_value_group(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Capture(c) => c.name.as_deref() == Some("v") || has_value_group(&c.sub),
        HirKind::Repetition(r) => has_value_group(&r.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().any(has_value_group),
        _ => false,
    }
}

/// What the planner keeps across rules: the ordinary text literals are counted in, and the
/// anchor automata and derived literals of the rules planned so far.
pub(crate) struct Planner<'o> {
    /// The ordinary text, ASCII-lowercased.
    pub(crate) ordinary: &'o str,
    pub(crate) literals: Literals<'o>,
    pub(crate) tails: Vec<Deferred<Hir, hybrid::dfa::DFA>>,
    pub(crate) inner: Vec<InnerBranch>,
    pub(crate) heads: Vec<Deferred<Hir, hybrid::dfa::DFA>>,
    pub(crate) derived_by: HashMap<Vec<u8>, Derived>,
}

/// The compiled rules and the shared matchers of a merged catalogue. The regexes of the first
/// `trusted` rules (the packs compiled into the crate) are compiled on first use; any other's
/// now, so that one over the limits fails the build, naming it.
///
/// A trusted rule's gate is taken from `stored` when it has one; the gates planned here for
/// trusted rules are added to `fresh`.
pub(crate) fn plan(
    merged: Merged,
    detectors: &[DetectorEntry],
    detector_index: &HashMap<String, usize>,
    trusted: usize,
    stored: Option<&StoredPlan>,
    fresh: &mut BTreeMap<String, GatePlan>,
) -> Result<(Vec<CompiledRule>, Matchers), BuildError> {
    let Merged { specs, disabled, emitted } = merged;
    let ordinary = ORDINARY_TEXT.to_ascii_lowercase();
    let mut planner = Planner {
        ordinary: &ordinary,
        literals: Literals::new(ordinary.as_bytes()),
        tails: Vec::new(),
        inner: Vec::new(),
        heads: Vec::new(),
        derived_by: HashMap::new(),
    };
    let mut rules = Vec::with_capacity(specs.len());
    let mut hirs = Vec::new();
    let mut union_trusted = true;
    let mut regex_rule = Vec::new();
    let mut single = Vec::new();
    let mut keywords: Vec<Vec<u8>> = Vec::new();
    let mut ac_bounded: Vec<bool> = Vec::new();
    let mut ac_rule = Vec::new();
    let mut ungated = [false; 6];
    let mut phrases = PhrasesBuilder::default();
    let mut phrase_fields = [false; 6];
    let mut view = View::default();
    for (i, sourced) in specs.into_iter().enumerate() {
        let SourcedRule { spec, source, line } = sourced;
        let err = |problem| BuildError::rule(&source, &spec.id, line, problem);
        let Some(&d) = detector_index.get(&spec.detector) else {
            return Err(err(RuleProblem::UnknownDetector { detector: spec.detector.clone() }));
        };
        if spec.keywords.is_empty()
            && spec.pattern.is_none()
            && spec.cues.is_empty()
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
            // Every rule's regex is compiled when a scan first needs it. A user pack's is
            // checked now against the limits (its NFA), so that one over them fails the build
            // naming it; the built-in pack's are held to that by a test.
            if i >= trusted {
                check_single(&c.hir, (&source, &spec.id, line))?;
            }
            let one = Deferred::new(c.hir.clone(), build_single);
            if enabled {
                regex = Some(single.len());
                single.push(one);
                // Only rules without keywords go into the union; a keyword-gated rule is
                // verified around its keyword hits instead.
                if spec.keywords.is_empty() {
                    union_trusted &= i < trusted;
                    hirs.push(c.hir.clone());
                    regex_rule.push(rule_index);
                    mark_fields(&mut ungated, scope);
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
                let computed;
                let plan = match stored.filter(|_| i < trusted).and_then(|s| s.rules.get(&spec.id)) {
                    Some(plan) => plan,
                    None => {
                        computed = planner.gate_plan(&c.hir, &anchors, bounded);
                        if i < trusted {
                            fresh.insert(spec.id.clone(), computed.clone());
                        }
                        &computed
                    }
                };
                (required, anchor) = planner.apply(rule_index, &c.hir, plan, &mut anchors, &mut bounded);
            }
            for anchor in anchors {
                keywords.push(anchor);
                ac_rule.push(rule_index);
                ac_bounded.push(bounded);
            }
        }
        if enabled && !spec.cues.is_empty() {
            // Checked by `check_rule_shape`: every phrase parses.
            let classes: Vec<Vec<Phrase>> =
                spec.cues.iter().map(|class| class.iter().filter_map(|p| Phrase::parse(p)).collect()).collect();
            phrases.add(rule_index, scope, &classes, spec.cue_within().unwrap_or_default(), spec.ordered);
            mark_fields(&mut phrase_fields, scope);
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
    let mut derived_by: Vec<(Vec<u8>, Derived)> = planner.derived_by.into_iter().collect();
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
    let matchers = Matchers {
        ac,
        ac_rule,
        ac_bounded,
        union,
        regex_rule,
        single,
        tails: planner.tails,
        inner: planner.inner,
        heads: planner.heads,
        ungated,
        derived_start,
        derived,
        phrases: phrases.build().map_err(|e| BuildError::new(Kind::SizeLimit { limit: 0, message: e.to_string() }))?,
        phrase_fields,
    };
    Ok((rules, matchers))
}

/// Marks, in a per-field table, the fields `scope` applies to.
fn mark_fields(fields: &mut [bool; 6], scope: ScopeMask) {
    for (slot, &field) in fields.iter_mut().zip(FIELDS.iter()) {
        *slot |= scope.contains(field);
    }
}

impl Planner<'_> {
    /// Plans a keyword-gated rule with regex `hir` and keywords `anchors` (whole words when
    /// `bounded`): which of its keywords or derived literals open its windows, which clauses
    /// of required literals must also have been seen, and where its matches can begin. Data
    /// only; [`Planner::apply`] registers it.
    fn gate_plan(&mut self, hir: &Hir, anchors: &[Vec<u8>], bounded: bool) -> GatePlan {
        // A gated rule's regex cannot match without one literal of each derived
        // clause. The rarest of the keywords and those clauses on ordinary text
        // anchors the windows; the other clauses that are rare there gate the regex.
        let mut derived = self.literals.clauses(hir, MAX_CLAUSES + 1);
        let heat = keyword_hits(self.ordinary, anchors, bounded);
        let mut replaced = None;
        if derived.first().is_some_and(|best| self.literals.hits(best) < heat) {
            replaced = Some(derived.remove(0));
        }
        // A clause an anchor hit already implies (every anchor, ASCII-lowercased as
        // clauses are, contains one of its literals) gates nothing more.
        let lowered: Vec<Vec<u8>> =
            replaced.as_deref().unwrap_or(anchors).iter().map(|a| a.to_ascii_lowercase()).collect();
        let useful = |literals: &mut Literals<'_>, clause: &Set| {
            literals.hits(clause) <= MAX_REQUIRED_HITS && !implies(&lowered, clause)
        };
        let all: Vec<Set> = derived.into_iter().filter(|c| useful(&mut self.literals, c)).take(MAX_CLAUSES).collect();
        // Per branch of an alternation every match goes through (the pattern, or a
        // part of it: `\b(?:a|b)` is parsed as `\b` then the alternation), its own
        // rare clauses; the first such alternation where no branch is without one
        // (a match of that branch could be in any text).
        let mut any: Vec<Vec<Set>> = Vec::new();
        for branches in top_alternations(hir) {
            for branch in branches {
                let own = self.literals.clauses(branch, MAX_CLAUSES);
                let own: Vec<Set> =
                    own.into_iter().filter(|c| useful(&mut self.literals, c)).take(MAX_BRANCH_CLAUSES).collect();
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
        // Where the rule's matches can begin, when that is a few short literals not
        // too common in ordinary text (the longest cut that gives such a set).
        // (Their hits in the ordinary text, the set.) Of a concatenation of parts,
        // so that the cuts below need not build each tail to ask.
        let mut starts_of = |parts: &[Hir]| {
            let s = START_LENGTHS.iter().find_map(|&len| required::starts_of_parts(parts, len))?;
            let hits = self.literals.hits(&s);
            (s.iter().all(|l| l.len() >= MIN_START_LEN) && hits <= MAX_START_HITS).then_some((hits, s))
        };
        let mut anchor =
            starts_of(std::slice::from_ref(hir)).map(|(_, starts)| AnchorPlan::Start { starts: lits(starts) });
        // Else the tail after the shortest bounded head that has such literals.
        if let (None, HirKind::Concat(parts)) = (&anchor, hir.kind()) {
            for at in 1..parts.len() {
                let head = Hir::concat(parts[..at].to_vec());
                let Some(reach) = head.properties().maximum_len().filter(|&n| n <= MAX_HEAD) else {
                    break;
                };
                if let Some((_, starts)) = starts_of(&parts[at..]) {
                    anchor = Some(AnchorPlan::Tail { at, reach: reach as u32, starts: lits(starts) });
                    break;
                }
            }
        }
        // Else, when every branch of the pattern has a tail that begins with such
        // literals after a head of any length, the branches (`Anchor::Inner`), each
        // cut where its tail's literals are rarest in the ordinary text. Heads that count
        // far leave the rule scanning its windows.
        if anchor.is_none() {
            let mut cuts = Vec::new();
            for branch in branches_of(hir) {
                let parts = parts_of(branch);
                let best = (0..parts.len())
                    .filter_map(|at| starts_of(&parts[at..]).map(|(hits, s)| (hits, at, s)))
                    .min_by_key(|&(hits, at, _)| (hits, at));
                let Some((_, at, s)) = best else {
                    cuts.clear();
                    break;
                };
                if at > 0 && counts_far(&Hir::concat(parts[..at].to_vec())) {
                    cuts.clear();
                    break;
                }
                cuts.push((at, lits(s)));
            }
            if !cuts.is_empty() {
                anchor = Some(AnchorPlan::Inner { branches: cuts });
            }
        }
        GatePlan {
            anchors: replaced.map(lits),
            all: all.into_iter().map(lits).collect(),
            any: any.into_iter().map(|own| own.into_iter().map(lits).collect()).collect(),
            anchor,
        }
    }

    /// Registers a rule's plan: its clauses and start literals in the derived literals, its
    /// anchor automata (tails and heads of `hir`, compiled on first use). Returns what the
    /// rule keeps; `anchors` and `bounded` become the plan's when it replaced the keywords.
    fn apply(
        &mut self,
        r: u32,
        hir: &Hir,
        plan: &GatePlan,
        anchors: &mut Vec<Vec<u8>>,
        bounded: &mut bool,
    ) -> (Required, Option<Anchor>) {
        if let Some(replaced) = &plan.anchors {
            *anchors = replaced.iter().map(|l| l.0.clone()).collect();
            *bounded = false;
        }
        let mut bit = 0u8;
        let mut register = |clause: &Lits| {
            for lit in clause {
                self.derived_by.entry(lit.0.clone()).or_default().clauses.push((r, bit));
            }
            let mask = 1u32 << bit;
            bit += 1;
            mask
        };
        let all = plan.all.iter().map(&mut register).fold(0, |m, b| m | b);
        let any = plan.any.iter().map(|own| own.iter().map(&mut register).fold(0, |m, b| m | b)).collect();
        let required = Required { all, any };
        let anchor = match &plan.anchor {
            None => None,
            Some(AnchorPlan::Start { starts }) => {
                self.tails.push(Deferred::new(hir.clone(), forward_tail));
                for lit in starts {
                    self.derived_by.entry(lit.0.clone()).or_default().starts.push(r);
                }
                Some(Anchor::Start { tail: self.tails.len() - 1 })
            }
            Some(AnchorPlan::Tail { at, reach, starts }) => {
                let parts = parts_of(hir);
                self.tails.push(Deferred::new(Hir::concat(parts[*at..].to_vec()), forward_tail));
                for lit in starts {
                    self.derived_by.entry(lit.0.clone()).or_default().starts.push(r);
                }
                Some(Anchor::Tail { tail: self.tails.len() - 1, reach: *reach })
            }
            Some(AnchorPlan::Inner { branches }) => {
                for (branch, (at, starts)) in branches_of(hir).iter().zip(branches) {
                    let parts = parts_of(branch);
                    let head = (*at > 0).then(|| {
                        self.heads.push(Deferred::new(Hir::concat(parts[..*at].to_vec()), reverse_head));
                        self.heads.len() - 1
                    });
                    let b = self.inner.len() as u32;
                    self.inner.push(InnerBranch { head, tail: self.tails.len() });
                    self.tails.push(Deferred::new(Hir::concat(parts[*at..].to_vec()), forward_tail));
                    for lit in starts {
                        self.derived_by.entry(lit.0.clone()).or_default().inner.push((r, b));
                    }
                }
                Some(Anchor::Inner)
            }
        };
        (required, anchor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

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
    fn every_clause_and_one_branch() {
        let r = Required { all: 0b1, any: vec![0b10, 0b1100] };
        assert!(!r.met(0b10), "the clause every match needs is missing");
        assert!(r.met(0b11));
        assert!(!r.met(0b101), "half of the second branch");
        assert!(r.met(0b1101));
        assert!(Required::default().met(0));
    }
}
