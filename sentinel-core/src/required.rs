//! Literals a regex cannot match without: the gates the engine derives from a rule's pattern.
//!
//! What this is for: a keyword-gated rule whose keywords are common words (`or`, `on`, `read`)
//! would run its regex over nearly every string. Its pattern often says more than its keywords:
//! CODE-101 cannot match without `alert`, `prompt`, `eval`, `document.` or a few others, however
//! many `on`s a page holds. This module reads such conditions off the compiled pattern, so that
//! the engine can anchor a rule on its rarest literals and skip its regex on strings that lack
//! them. Nothing is written by hand, so a derived gate can never be wrong about a rule: it only
//! says what every match of the regex contains.
//!
//! The result is a list of *clauses*, each a set of literals: every match of the pattern
//! contains at least one literal of each clause (ASCII case-insensitively). The analysis walks
//! the `Hir` in the way of Russ Cox's trigram-index analysis ("Regular Expression Matching with
//! a Trigram Index"), with whole literals instead of trigrams:
//! - a node whose matches form a small set of strings keeps that set (`exact`);
//! - a concatenation multiplies the exact sets of its parts while they stay small, and turns
//!   each run it cannot extend into a clause (every match contains one of the run's strings);
//! - an alternation unites its branches' sets, or, when it cannot, joins one clause of each
//!   branch into a clause of its own;
//! - a repetition that may match nothing, a large class (`\w`, `.`) or a look-around says
//!   nothing.
//!
//! Clauses are ranked by how often their literals occur in a sample of ordinary text (the
//! engine's `ordinary.txt`): the rarer, the better a clause gates its rule.

use std::collections::HashMap;

use regex_syntax::hir::{Class, Hir, HirKind};

use crate::normalize::absent_from_view;

/// A set of strings, ASCII-lowercased, sorted and without duplicates.
pub(crate) type Set = Vec<Vec<u8>>;

/// Largest set of exact strings a node keeps.
const MAX_EXACT: usize = 64;
/// Largest class expanded into its characters.
const MAX_CLASS: usize = 16;
/// Largest clause kept.
const MAX_CLAUSE: usize = 64;
/// Clauses kept per node, best first.
const KEEP: usize = 4;

/// What every match of a node satisfies.
struct Info {
    /// Every string the node matches, when that is a small set.
    exact: Option<Set>,
    /// Clauses (best first): every match contains one literal of each.
    clauses: Vec<Set>,
}

/// Derives clauses, ranking them by how often their literals occur in a sample of ordinary
/// text: the fewer, the better the clause gates a rule.
pub(crate) struct Literals<'s> {
    /// The sample, ASCII-lowercased.
    sample: &'s [u8],
    counts: HashMap<Vec<u8>, u32>,
}

impl<'s> Literals<'s> {
    /// `sample` must be ASCII-lowercased.
    pub(crate) fn new(sample: &'s [u8]) -> Literals<'s> {
        Literals { sample, counts: HashMap::new() }
    }

    /// How often the clause's literals occur in the sample, together.
    pub(crate) fn hits(&mut self, clause: &[Vec<u8>]) -> u32 {
        clause.iter().map(|lit| self.count(lit)).sum()
    }

    fn count(&mut self, lit: &[u8]) -> u32 {
        if let Some(&n) = self.counts.get(lit) {
            return n;
        }
        let n = memchr::memmem::find_iter(self.sample, lit).count() as u32;
        self.counts.insert(lit.to_vec(), n);
        n
    }

    /// The clauses of `hir`, at most `max`, rarest in the sample first. Clauses with a single
    /// letter, digit or space (present in almost any text) are left out.
    pub(crate) fn clauses(&mut self, hir: &Hir, max: usize) -> Vec<Set> {
        let info = self.analyze(hir);
        let mut all = info.clauses;
        if let Some(exact) = info.exact {
            push_clause(&mut all, exact);
        }
        self.rank(&mut all);
        all.truncate(max);
        all
    }

    /// Sorts `clauses` rarest first; among equally rare ones, longest shortest literal first.
    fn rank(&mut self, clauses: &mut [Set]) {
        clauses.sort_by_cached_key(|c| {
            let shortest = c.iter().map(|s| s.len()).min().unwrap_or(0);
            (self.hits(c), std::cmp::Reverse(shortest))
        });
    }

    fn analyze(&mut self, hir: &Hir) -> Info {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => exact(vec![Vec::new()]),
            HirKind::Literal(lit) => exact(vec![lit.0.to_ascii_lowercase()]),
            HirKind::Class(class) => match expand(class) {
                Some(set) => exact(set),
                None => unknown(),
            },
            HirKind::Capture(cap) => self.analyze(&cap.sub),
            HirKind::Repetition(rep) => {
                let sub = self.analyze(&rep.sub);
                match (rep.min, rep.max) {
                    (0, Some(1)) => match sub.exact {
                        Some(mut set) => {
                            set.push(Vec::new());
                            exact(set)
                        }
                        None => unknown(),
                    },
                    (0, _) => unknown(),
                    (1, Some(1)) => sub,
                    _ => {
                        let mut clauses = sub.clauses;
                        if let Some(set) = sub.exact {
                            push_clause(&mut clauses, set);
                        }
                        self.rank(&mut clauses);
                        Info { exact: None, clauses }
                    }
                }
            }
            HirKind::Concat(parts) => {
                let mut clauses = Vec::new();
                let mut run: Option<Set> = Some(vec![Vec::new()]);
                let mut whole = true;
                for part in parts {
                    let info = self.analyze(part);
                    clauses.extend(info.clauses);
                    match (run.take(), info.exact) {
                        (Some(a), Some(b)) if a.len() * b.len() <= MAX_EXACT => run = Some(product(&a, &b)),
                        (Some(a), b) => {
                            whole = false;
                            push_clause(&mut clauses, a);
                            run = b;
                        }
                        (None, b) => {
                            whole = false;
                            run = b;
                        }
                    }
                }
                let exact = if whole {
                    run
                } else {
                    if let Some(set) = run {
                        push_clause(&mut clauses, set);
                    }
                    None
                };
                self.rank(&mut clauses);
                clauses.truncate(KEEP);
                Info { exact, clauses }
            }
            HirKind::Alternation(branches) => {
                let infos: Vec<Info> = branches.iter().map(|b| self.analyze(b)).collect();
                if infos.iter().all(|i| i.exact.is_some()) {
                    let mut set: Set = infos.iter().flat_map(|i| i.exact.iter().flatten().cloned()).collect();
                    normalize(&mut set);
                    if set.len() <= MAX_EXACT {
                        return exact(set);
                    }
                }
                // Per branch, its clauses with its exact set as one more; the k-th clause of
                // the alternation joins the k-th best clause of every branch.
                let mut per_branch = Vec::with_capacity(infos.len());
                for info in infos {
                    let mut clauses = info.clauses;
                    if let Some(set) = info.exact {
                        push_clause(&mut clauses, set);
                    }
                    if clauses.is_empty() {
                        return unknown();
                    }
                    self.rank(&mut clauses);
                    per_branch.push(clauses);
                }
                let mut clauses = Vec::new();
                for k in 0..KEEP {
                    let mut joined: Set = Vec::new();
                    for branch in &per_branch {
                        joined.extend(branch[k.min(branch.len() - 1)].iter().cloned());
                    }
                    push_clause(&mut clauses, joined);
                }
                self.rank(&mut clauses);
                Info { exact: None, clauses }
            }
        }
    }
}

fn exact(mut set: Set) -> Info {
    normalize(&mut set);
    Info { exact: Some(set), clauses: Vec::new() }
}

fn unknown() -> Info {
    Info { exact: None, clauses: Vec::new() }
}

/// The characters (or bytes) of a small class, as strings.
fn expand(class: &Class) -> Option<Set> {
    let mut set = Vec::new();
    match class {
        Class::Unicode(c) => {
            for r in c.iter() {
                let n = r.end() as usize - r.start() as usize + 1;
                if set.len() + n > MAX_CLASS * 2 {
                    return None;
                }
                // Matching runs over the normalised view: a character it never holds (the long
                // s, the Kelvin sign of a case-insensitive `k`) can be left out.
                for ch in (r.start()..=r.end()).filter(|&c| !absent_from_view(c)) {
                    set.push(ch.to_string().into_bytes().to_ascii_lowercase());
                }
            }
        }
        Class::Bytes(c) => {
            for r in c.iter() {
                let n = r.end() as usize - r.start() as usize + 1;
                if set.len() + n > MAX_CLASS * 2 {
                    return None;
                }
                for b in r.start()..=r.end() {
                    set.push(vec![b.to_ascii_lowercase()]);
                }
            }
        }
    }
    normalize(&mut set);
    (set.len() <= MAX_CLASS).then_some(set)
}

fn product(a: &Set, b: &Set) -> Set {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    normalize(&mut out);
    out
}

fn normalize(set: &mut Set) {
    set.sort();
    set.dedup();
}

/// Adds `set` as a clause when it is worth one: no empty string (which every text contains),
/// no single letter, digit or space (which almost every text contains), not too large, and
/// with its redundant members dropped (a literal that contains another member adds nothing:
/// wherever it occurs, so does the other).
fn push_clause(clauses: &mut Vec<Set>, mut set: Set) {
    normalize(&mut set);
    let weak =
        |s: &Vec<u8>| s.is_empty() || (s.len() == 1 && (s[0].is_ascii_alphanumeric() || s[0].is_ascii_whitespace()));
    if set.is_empty() || set.iter().any(weak) {
        return;
    }
    set.sort_by_key(|s| s.len());
    let mut kept: Set = Vec::with_capacity(set.len());
    for s in set {
        if !kept.iter().any(|k| contains(&s, k)) {
            kept.push(s);
        }
    }
    normalize(&mut kept);
    if kept.len() <= MAX_CLAUSE && !clauses.contains(&kept) {
        clauses.push(kept);
    }
}

/// `hay` contains `needle`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clauses of `pattern` (case-insensitive), ranked against `sample`.
    fn ranked(pattern: &str, sample: &str) -> Vec<Vec<String>> {
        let hir = regex_syntax::ParserBuilder::new().case_insensitive(true).build().parse(pattern).unwrap();
        let sample = sample.to_ascii_lowercase();
        Literals::new(sample.as_bytes())
            .clauses(&hir, 8)
            .into_iter()
            .map(|c| c.into_iter().map(|s| String::from_utf8(s).unwrap()).collect())
            .collect()
    }

    fn of(pattern: &str) -> Vec<Vec<String>> {
        ranked(pattern, "")
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_literal_is_its_own_clause() {
        assert_eq!(of("Hello"), vec![strings(&["hello"])]);
    }

    #[test]
    fn concatenation_keeps_each_run() {
        let c = of(r"ignore\s+(?:all|previous)\s+instructions");
        assert!(c.contains(&strings(&["ignore"])), "{c:?}");
        assert!(c.contains(&strings(&["instructions"])), "{c:?}");
    }

    #[test]
    fn alternation_joins_the_rarest_clause_of_each_branch() {
        let c = ranked(r"foo\s+bar|baz\d+", "foo foo foo");
        assert_eq!(c[0], strings(&["bar", "baz"]), "{c:?}");
        assert!(c.contains(&strings(&["baz", "foo"])), "{c:?}");
    }

    #[test]
    fn clauses_are_ranked_by_how_often_the_sample_holds_them() {
        let c = ranked(r"alpha\s+beta\s+gamma", "alpha alpha beta");
        assert_eq!(c, vec![strings(&["gamma"]), strings(&["beta"]), strings(&["alpha"])]);
    }

    #[test]
    fn optional_and_starred_parts_say_nothing() {
        assert!(of(r"(?:abc)*").is_empty());
        assert!(of(r"a?\s*").is_empty());
        assert_eq!(of(r"x(?:yz)?q")[0], strings(&["xq", "xyzq"]));
    }

    #[test]
    fn single_letters_are_not_clauses_but_punctuation_is() {
        assert!(of(r"a\s+b").is_empty());
        assert_eq!(of(r"\w+=\d+"), vec![strings(&["="])]);
    }

    #[test]
    fn a_branch_without_clauses_empties_the_alternation() {
        assert!(of(r"password|\d{4}").is_empty());
    }

    #[test]
    fn contained_literals_are_redundant() {
        assert_eq!(of(r"(?:or|xor|order)[0-9]+"), vec![strings(&["or"])]);
    }

    #[test]
    fn characters_the_view_never_holds_are_left_out() {
        // A case-insensitive `k` also matches the Kelvin sign, and `s` the long s; the view
        // folds both to ASCII, so the literal set stays one string.
        assert_eq!(of("key|pass"), vec![strings(&["key", "pass"])]);
    }

    #[test]
    fn every_match_holds_a_literal_of_every_clause() {
        // The property the engine relies on, over a few patterns and matching strings.
        let cases = [
            (r"(?:ignore|disregard)\s+(?:all\s+)?previous\s+instructions", "please IGNORE  all previous instructions"),
            (r"\b(?:or|and)\s+\d+\s*=\s*\d+", "x' OR 1=1 --"),
            (r"<script\b[^>]{0,20}>|\bon[a-z]{3,10}\s*=", "<img src=x onerror=alert(1)>"),
        ];
        for (pattern, text) in cases {
            let re = regex::Regex::new(&format!("(?i){pattern}")).unwrap();
            let m = re.find(text).expect(pattern).as_str().to_ascii_lowercase();
            for clause in of(pattern) {
                assert!(clause.iter().any(|lit| m.contains(lit.as_str())), "{pattern}: {m:?} misses {clause:?}");
            }
        }
    }
}
