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
//! - a node whose matches form a small set of strings keeps that set (`exact`), and so does a
//!   node whose matches all start (`prefix`) or end (`suffix`) with one of a small set;
//! - a concatenation multiplies the exact sets of its parts while they stay small, and turns
//!   each run it cannot extend into a clause (every match contains one of the run's strings);
//!   where a part that is not exact meets its neighbour, the end of the one and the start of the
//!   other make a clause together (`[0-9]{15}\|` holds a digit followed by a bar);
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

/// What every match of a node satisfies. When `exact` is known, `prefix` and `suffix` are
/// that same set.
struct Info {
    /// Every string the node matches, when that is a small set.
    exact: Option<Set>,
    /// Every match starts with one of these strings (small sets only; may hold "").
    prefix: Option<Set>,
    /// Every match ends with one of these strings (small sets only; may hold "").
    suffix: Option<Set>,
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
        for set in [info.exact, info.prefix, info.suffix].into_iter().flatten() {
            push_clause(&mut all, set);
        }
        self.rank(&mut all);
        all.truncate(max);
        all
    }

    /// Sorts `clauses` rarest first (among equally rare ones, the smallest, then the one with
    /// the longest shortest literal), and drops each clause that a better one implies (one whose
    /// literals each contain a literal of it: `hello` makes `hell` say nothing more) or that
    /// implies a better one.
    fn rank(&mut self, clauses: &mut Vec<Set>) {
        clauses.sort_by_cached_key(|c| {
            let shortest = c.iter().map(|s| s.len()).min().unwrap_or(0);
            (self.hits(c), c.len(), std::cmp::Reverse(shortest))
        });
        // A clause that implies a better one is no rarer than it (it ranks after it), so it
        // gates nothing more, with more literals.
        let mut kept: Vec<Set> = Vec::with_capacity(clauses.len());
        for clause in clauses.drain(..) {
            if !kept.iter().any(|better| implies(better, &clause) || implies(&clause, better)) {
                kept.push(clause);
            }
        }
        *clauses = kept;
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
                    (1, Some(1)) => sub,
                    // A match may be empty: it starts and ends with "" or as one of `sub`'s.
                    (0, max) => {
                        let with_empty = |set: Option<Set>| {
                            set.map(|mut set| {
                                set.push(Vec::new());
                                normalize(&mut set);
                                set
                            })
                        };
                        let exact = if max == Some(1) { with_empty(sub.exact.clone()) } else { None };
                        let prefix = with_empty(sub.prefix);
                        let suffix = with_empty(sub.suffix);
                        Info { exact, prefix, suffix, clauses: Vec::new() }
                    }
                    // One match of `sub` or more: each of them holds `sub`'s clauses; the
                    // first starts the whole, the last ends it.
                    _ => {
                        let mut clauses = sub.clauses;
                        if let Some(set) = &sub.exact {
                            push_clause(&mut clauses, set.clone());
                        }
                        self.rank(&mut clauses);
                        Info { exact: None, prefix: sub.prefix, suffix: sub.suffix, clauses }
                    }
                }
            }
            HirKind::Concat(parts) => {
                // The parts so far, as one node, and the run of exact parts that ends them.
                let mut acc = exact(vec![Vec::new()]);
                let mut run: Option<Set> = Some(vec![Vec::new()]);
                let mut last_exact = true;
                for part in parts {
                    let info = self.analyze(part);
                    acc.clauses.extend(info.clauses);
                    // Where a part that is not a small set of strings meets its neighbour, a
                    // match holds an end of the one before and the start of the next, together
                    // (`\d{15}\|` holds a digit and a bar). Runs of exact parts are the run's.
                    if !(last_exact && info.exact.is_some()) {
                        if let (Some(s), Some(p)) = (&acc.suffix, &info.prefix) {
                            if s.len() * p.len() <= MAX_EXACT {
                                push_clause(&mut acc.clauses, product(s, p));
                            }
                        }
                    }
                    run = match (run.take(), &info.exact) {
                        (Some(a), Some(b)) if a.len() * b.len() <= MAX_EXACT => Some(product(&a, b)),
                        (Some(a), b) => {
                            push_clause(&mut acc.clauses, a);
                            b.clone()
                        }
                        (None, b) => b.clone(),
                    };
                    let prefix = match (&acc.exact, &info.prefix) {
                        (Some(a), Some(p)) if a.len() * p.len() <= MAX_EXACT => Some(product(a, p)),
                        // A match may start with "" of `a`: then it starts as this part does.
                        (Some(a), _) => (!a.contains(&Vec::new())).then(|| a.clone()),
                        (None, p) => or_next(acc.prefix.take(), p),
                    };
                    let suffix = match (&acc.suffix, &info.exact) {
                        (Some(s), Some(b)) if s.len() * b.len() <= MAX_EXACT => Some(product(s, b)),
                        (_, Some(b)) => (!b.contains(&Vec::new())).then(|| b.clone()),
                        (s, None) => or_next(info.suffix, s),
                    };
                    acc.exact = match (&acc.exact, &info.exact) {
                        (Some(a), Some(b)) if a.len() * b.len() <= MAX_EXACT => Some(product(a, b)),
                        _ => None,
                    };
                    last_exact = info.exact.is_some();
                    acc.prefix = prefix;
                    acc.suffix = suffix;
                }
                if acc.exact.is_none() {
                    for set in [run, acc.prefix.clone(), acc.suffix.clone()].into_iter().flatten() {
                        push_clause(&mut acc.clauses, set);
                    }
                }
                self.rank(&mut acc.clauses);
                acc.clauses.truncate(KEEP);
                acc
            }
            HirKind::Alternation(branches) => {
                let infos: Vec<Info> = branches.iter().map(|b| self.analyze(b)).collect();
                if let Some(set) = union(infos.iter().map(|i| &i.exact)) {
                    return exact(set);
                }
                let prefix = union(infos.iter().map(|i| &i.prefix));
                let suffix = union(infos.iter().map(|i| &i.suffix));
                // Per branch, its clauses with its exact, prefix and suffix sets as more; the
                // k-th clause of the alternation joins the k-th best clause of every branch.
                let mut per_branch = Vec::with_capacity(infos.len());
                for info in infos {
                    let mut clauses = info.clauses;
                    for set in [info.exact, info.prefix, info.suffix].into_iter().flatten() {
                        push_clause(&mut clauses, set);
                    }
                    if clauses.is_empty() {
                        return Info { exact: None, prefix, suffix, clauses: Vec::new() };
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
                Info { exact: None, prefix, suffix, clauses }
            }
        }
    }
}

fn exact(mut set: Set) -> Info {
    normalize(&mut set);
    Info { exact: Some(set.clone()), prefix: Some(set.clone()), suffix: Some(set), clauses: Vec::new() }
}

fn unknown() -> Info {
    Info { exact: None, prefix: None, suffix: None, clauses: Vec::new() }
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

/// The starts (or ends) of a node, `set`, when what follows (or precedes) it starts (or ends)
/// with one of `next`: a node that may match nothing ("" in `set`) leaves the whole starting
/// with `next`.
fn or_next(set: Option<Set>, next: &Option<Set>) -> Option<Set> {
    let mut set = set?;
    if set.first().is_some_and(|s| s.is_empty()) {
        set.remove(0);
        set.extend(next.as_ref()?.iter().cloned());
        normalize(&mut set);
    }
    (set.len() <= MAX_EXACT).then_some(set)
}

/// All the strings of `sets`, when each is known and together they stay small.
fn union<'a>(sets: impl Iterator<Item = &'a Option<Set>>) -> Option<Set> {
    let mut all: Set = Vec::new();
    for set in sets {
        all.extend(set.as_ref()?.iter().cloned());
    }
    normalize(&mut all);
    (all.len() <= MAX_EXACT).then_some(all)
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
/// no single letter, digit or space, nor a letter next to a space (which almost every text
/// contains), not too large, and
/// with its redundant members dropped (a literal that contains another member adds nothing:
/// wherever it occurs, so does the other).
fn push_clause(clauses: &mut Vec<Set>, mut set: Set) {
    normalize(&mut set);
    // Weak: empty, one letter, digit or space, or a letter and a space (`a `, ` g`).
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b.is_ascii_whitespace();
    let weak = |s: &Vec<u8>| {
        s.is_empty()
            || (s.len() == 1 && plain(&s[0]))
            || (s.len() == 2 && s.iter().all(plain) && s.iter().any(u8::is_ascii_whitespace))
    };
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

/// Short strings that every match of `hir` starts with (ASCII-lowercased, at most `len` bytes
/// or one character each, none empty), when there are at most `MAX_STARTS` of them: the
/// positions where a match can begin. `None` when a match may start with anything (a large
/// class, an empty match).
///
/// Unlike the prefix sets of the clause analysis, these are cut at `len` bytes, so that
/// alternations of long phrases (`act as|pretend\s+to be|from now on`) stay a small set
/// (`act as`, `pretend`, `from now`) instead of growing past the limit.
#[cfg(test)]
pub(crate) fn starts(hir: &Hir, len: usize) -> Option<Set> {
    starts_from(start_set(hir, len)?)
}

/// `starts` of the concatenation of `parts`, without building it (`Hir::concat(parts.to_vec())`
/// has the same starts).
pub(crate) fn starts_of_parts(parts: &[Hir], len: usize) -> Option<Set> {
    let mut set = concat_starts(parts, len)?;
    set.sort();
    set.dedup();
    starts_from((set.len() <= MAX_STARTS).then_some(set)?)
}

fn starts_from(set: Starts) -> Option<Set> {
    if set.iter().any(|(s, _)| s.is_empty()) {
        return None;
    }
    let mut out: Set = set.into_iter().map(|(s, _)| s).collect();
    normalize(&mut out);
    // A string that starts with another member adds no position: the shorter one has it.
    let mut kept: Set = Vec::with_capacity(out.len());
    for s in out {
        if !kept.last().is_some_and(|k: &Vec<u8>| s.starts_with(k)) {
            kept.push(s);
        }
    }
    Some(kept)
}

/// Most strings `starts` gives.
const MAX_STARTS: usize = 1024;

/// Starts of a node: each string with whether it is the whole of what the node matched
/// (`true`, open: what follows can extend it) or only the beginning (closed).
type Starts = Vec<(Vec<u8>, bool)>;

fn start_set(hir: &Hir, len: usize) -> Option<Starts> {
    let cut = |s: Vec<u8>| cut_at(s, len);
    let set = match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => vec![(Vec::new(), true)],
        HirKind::Literal(lit) => vec![cut(lit.0.to_ascii_lowercase())],
        HirKind::Class(class) => expand(class)?.into_iter().map(cut).collect(),
        HirKind::Capture(cap) => return start_set(&cap.sub, len),
        HirKind::Repetition(rep) => {
            let mut set = start_set(&rep.sub, len)?;
            // After one match of `sub`, another may follow: only a part matched at most
            // once stays open.
            if rep.max != Some(1) {
                for (_, open) in &mut set {
                    *open = false;
                }
            }
            if rep.min == 0 {
                set.push((Vec::new(), true));
            }
            set
        }
        HirKind::Concat(parts) => concat_starts(parts, len)?,
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for branch in branches {
                all.extend(start_set(branch, len)?);
            }
            all
        }
    };
    let mut set = set;
    set.sort();
    set.dedup();
    (set.len() <= MAX_STARTS).then_some(set)
}

/// `s` cut to at most `len` bytes on a character boundary (keeping at least one character), and
/// whether it was whole.
fn cut_at(mut s: Vec<u8>, len: usize) -> (Vec<u8>, bool) {
    let whole = s.len() <= len;
    if !whole {
        let continues = |b: u8| b & 0xC0 == 0x80;
        let mut end = len;
        while end > 0 && continues(s[end]) {
            end -= 1;
        }
        if end == 0 {
            end = 1 + s[1..].iter().take_while(|&&b| continues(b)).count();
        }
        s.truncate(end);
    }
    (s, whole)
}

/// Starts of the concatenation of `parts` (see `start_set`).
fn concat_starts(parts: &[Hir], len: usize) -> Option<Starts> {
    let mut acc: Starts = vec![(Vec::new(), true)];
    for part in parts {
        if !acc.iter().any(|(_, open)| *open) {
            break;
        }
        let next = start_set(part, len);
        let mut out = Vec::with_capacity(acc.len());
        for (s, open) in acc {
            match (&next, open) {
                (Some(next), true) => {
                    for (t, more) in next {
                        let mut joined = s.clone();
                        joined.extend_from_slice(t);
                        let (joined, whole) = cut_at(joined, len);
                        out.push((joined, *more && whole));
                    }
                }
                // What follows is unknown: the match only starts with `s`.
                _ => out.push((s, false)),
            }
        }
        out.sort();
        out.dedup();
        if out.len() > MAX_STARTS {
            return None;
        }
        acc = out;
    }
    Some(acc)
}

/// Every literal of `a` contains a literal of `b`: wherever `a` is satisfied, so is `b`.
pub(crate) fn implies(a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    a.iter().all(|lit| b.iter().any(|other| contains(lit, other)))
}

/// `hay` contains `needle`. Literals are short: a plain scan of the windows beats building a
/// searcher for each call (this runs for every pair of literals of a clause).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w[0] == first && &w[1..] == rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        // `foo` is followed by a space in every match, and the sample says that is rarer.
        assert!(c.iter().any(|k| k.contains(&"baz".to_string()) && k.contains(&"foo ".to_string())), "{c:?}");
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
    fn where_a_class_meets_a_literal_the_pair_is_a_clause() {
        // Fifteen digits and a bar: a digit next to a bar is far rarer than a bar. (A Unicode
        // `\d` is hundreds of characters, too many to expand.)
        let c = ranked(r"[0-9]{15,16}(?:\||%7C)[a-z]{27,40}", "a | b | c");
        let digits: Vec<String> = (0..10).flat_map(|d| [format!("{d}%7c"), format!("{d}|")]).collect();
        let mut expected = digits.clone();
        expected.sort();
        assert_eq!(c[0], expected, "{c:?}");
        // The last of a repetition meets what follows it.
        assert_eq!(of(r"(?:ab)+c")[0], strings(&["abc"]));
        // A part that may match nothing lets its neighbours meet.
        assert_eq!(of(r"x(?:ab)*c")[0], strings(&["abc", "xc"]));
    }

    /// Patterns built from parts the analysis treats differently: literals, small and large
    /// classes, optional, starred and counted repetitions, alternations, groups, word boundaries.
    fn pattern() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            "[a-c]{1,3}",
            Just("[0-9]".to_string()),
            Just(r"\d".to_string()),
            Just(r"\s".to_string()),
            Just("[a-z]".to_string()),
            Just("[|:@]".to_string()),
            Just(r"\b".to_string()),
            Just("-".to_string()),
            Just(":".to_string()),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
                proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| format!("({})", v.concat())),
                proptest::collection::vec(inner.clone(), 1..3).prop_map(|v| format!("(?:{})", v.join("|"))),
                (inner, prop_oneof![Just("?"), Just("*"), Just("+"), Just("{2}"), Just("{1,3}"), Just("{0,2}")])
                    .prop_map(|(p, q)| format!("(?:{p}){q}")),
            ]
        })
    }

    /// Every match of `re` in `hay`, not only the leftmost ones: for each start and end, the
    /// match of exactly that span, if there is one (ASCII-lowercased).
    fn every_match(re: &regex::Regex, hay: &str) -> Vec<String> {
        let mut out = Vec::new();
        for start in 0..=hay.len() {
            for end in start..=hay.len() {
                if let Some(m) = re.find_at(&hay[..end], start).filter(|m| m.start() == start && m.end() == end) {
                    out.push(m.as_str().to_ascii_lowercase());
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The property the engine relies on, over generated patterns: every match of the
        /// pattern holds a literal of every clause derived from it, and is one of the exact
        /// strings, starts with a prefix and ends with a suffix the analysis gives.
        #[test]
        fn every_match_holds_a_literal_of_every_derived_clause(
            pattern in pattern(),
            hay in "[abcABC019 |:@\\-]{0,40}",
        ) {
            let Ok(re) = regex::Regex::new(&format!("(?i){pattern}")) else { return Ok(()) };
            let hir = regex_syntax::ParserBuilder::new().case_insensitive(true).build().parse(&pattern).unwrap();
            // What the analysis says of the whole pattern, before ranking keeps the best.
            let info = Literals::new(b"ab a b c 1 | :").analyze(&hir);
            let clauses = ranked(&pattern, "ab a b c 1 | :").into_iter().chain(
                info.clauses.iter().map(|c| c.iter().map(|s| String::from_utf8(s.clone()).unwrap()).collect()),
            ).collect::<Vec<Vec<String>>>();
            let set = |s: &Option<Set>| s.as_ref().map(|s| s.iter().map(|x| String::from_utf8(x.clone()).unwrap()).collect::<Vec<_>>());
            let (exact, prefix, suffix) = (set(&info.exact), set(&info.prefix), set(&info.suffix));
            for m in every_match(&re, &hay) {
                for clause in &clauses {
                    prop_assert!(clause.iter().any(|lit| m.contains(lit.as_str())), "{pattern}: {m:?} misses {clause:?}");
                }
                if let Some(e) = &exact {
                    prop_assert!(e.contains(&m), "{pattern}: {m:?} is not in {e:?}");
                }
                if let Some(p) = &prefix {
                    prop_assert!(p.iter().any(|p| m.starts_with(p.as_str())), "{pattern}: {m:?} starts with none of {p:?}");
                }
                if let Some(x) = &suffix {
                    prop_assert!(x.iter().any(|x| m.ends_with(x.as_str())), "{pattern}: {m:?} ends with none of {x:?}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// What anchoring relies on: every match of the pattern starts with one of the starts
        /// derived from it, whatever the cut.
        #[test]
        fn every_match_starts_with_a_derived_start(
            pattern in pattern(),
            hay in "[abcABC019 |:@\\-]{0,40}",
            len in 1usize..7,
        ) {
            let Ok(re) = regex::Regex::new(&format!("(?i){pattern}")) else { return Ok(()) };
            let hir = regex_syntax::ParserBuilder::new().case_insensitive(true).build().parse(&pattern).unwrap();
            let Some(set) = starts(&hir, len) else { return Ok(()) };
            let set: Vec<String> = set.into_iter().map(|s| String::from_utf8(s).unwrap()).collect();
            prop_assert!(set.iter().all(|s| !s.is_empty() && (s.len() <= len || s.chars().count() == 1)), "{pattern}: {set:?}");
            for m in every_match(&re, &hay) {
                prop_assert!(set.iter().any(|s| m.starts_with(s.as_str())), "{pattern}: {m:?} starts with none of {set:?}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        /// The engine asks for the starts of each tail of a concatenation without building it:
        /// the answer is the same as for the tail built.
        #[test]
        fn starts_of_parts_are_the_starts_of_their_concatenation(pattern in pattern(), len in 1usize..7) {
            let hir = regex_syntax::ParserBuilder::new().case_insensitive(true).build().parse(&pattern).unwrap();
            let parts = match hir.kind() {
                HirKind::Concat(parts) => parts.clone(),
                _ => vec![hir.clone()],
            };
            for at in 0..parts.len() {
                let built = Hir::concat(parts[at..].to_vec());
                prop_assert_eq!(starts_of_parts(&parts[at..], len), starts(&built, len), "{} from part {}", pattern, at);
            }
        }
    }

    #[test]
    fn starts_are_cut_short_and_unknown_starts_say_nothing() {
        let of = |pattern: &str, len: usize| {
            let hir = regex_syntax::ParserBuilder::new().case_insensitive(true).build().parse(pattern).unwrap();
            starts(&hir, len).map(|set| set.into_iter().map(|s| String::from_utf8(s).unwrap()).collect::<Vec<_>>())
        };
        // Long phrases are cut, so that a large alternation stays a small set.
        assert_eq!(of(r"\b(?:act as|pretend\s+to be|from now on)\b", 4), Some(strings(&["act ", "from", "pret"])));
        // A string with a shorter member as its start adds no position.
        assert_eq!(of(r"key|keys|token", 8), Some(strings(&["key", "token"])));
        // An optional part lets what follows start the match too.
        assert_eq!(of(r"(?:un)?safe", 8), Some(strings(&["safe", "unsafe"])));
        // After a repetition, what follows is not part of the start.
        assert_eq!(of(r"(?:ab)+c", 8), Some(strings(&["ab"])));
        // A match may begin with anything: no starts.
        assert_eq!(of(r"\w+=secret", 8), None);
        assert_eq!(of(r"x?", 8), None);
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
            // A group that starts with a large class: its start is unknown, not "".
            (r"https?://(?P<v>[a-z0-9]{1,64}:[^\s@]{6,})@[a-z.]+", "https://deploy:Zr8Lp2Wq9Tx4@git.acme.io"),
            (r"[0-9]{15,16}(?:\||%7C)[a-z]{3}", "123456789012345|abc"),
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
