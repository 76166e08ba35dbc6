//! Verification of a keyword-gated rule around its hits: the rule's own regex run in a window,
//! or anchored where its matches can begin (the `Anchor` the planner chose), with the lazy
//! DFAs of its tails run forwards and its heads backwards a byte at a time, within a budget.

use crate::compiled::CompiledRule;
use crate::matchers::Matchers;
use regex_automata::util::captures::Captures;
use regex_automata::{hybrid, meta, Anchored, Input};

/// An anchored rule scans its window instead when its starts there are closer together than
/// this many bytes on average: each anchored run has a fixed cost of about this many bytes
/// of scanning.
pub(crate) const ANCHOR_SPACING: usize = 24;
/// The anchored runs of one rule in one window may read, together, at most this many times
/// the window (each run counted for the bytes its lazy DFA stepped through, `tail_matches`);
/// the rest of the window is then scanned instead. This bounds a run of near-matches to a few
/// scans per window, while the sparse starts of ordinary text, each dying within a few bytes,
/// never reach it.
pub(crate) const ANCHOR_BUDGET: usize = 4;
/// An `Anchor::Inner` rule's heads walk at most this fraction of a window backwards in all
/// before the rest of the window is scanned instead (see `CompiledRule::first_valid_inner`).
pub(crate) const INNER_BUDGET_DIVISOR: usize = 8;

/// The starts of an `Anchor::Start` rule in a window (rule, position), in order, with its
/// pattern's forward lazy DFA and that DFA's cache: what `CompiledRule::first_valid_match` runs
/// anchored instead of scanning the window.
pub(crate) type StartRuns<'a> = (&'a [(u32, u32)], &'a hybrid::dfa::DFA, &'a mut hybrid::dfa::Cache);

impl CompiledRule {
    /// The first match of the rule's own regex in `window` of `hay` that passes its validator
    /// and allow-list: the span of the whole match. Matches that fail are skipped.
    ///
    /// With `starts` (the positions in `window` where a match of the rule can begin, in
    /// order, and the rule's whole pattern as a tail, see `Anchor::Start`), the pattern runs
    /// anchored at each of them instead of scanning the window, and the regex where it matches:
    /// the first position with a valid match gives the same span as the scan would.
    pub(crate) fn first_valid_match(
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
    pub(crate) fn search_at(
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
    pub(crate) fn first_valid_inner(
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
}

/// Where a match of `head` (a reversed head, `reverse_head`) that ends at `within.end` begins,
/// at the leftmost, no further left than `within.start`: `Some(None)` when there is none.
/// `None` when that takes more than `budget` bytes (counted down) or the lazy DFA gives up.
///
/// This is `hybrid::dfa::DFA::try_search_rev`, anchored, stepped a byte at a time so that it
/// can stop: a lazy DFA reports a match one byte late, and the byte before the range (or the
/// end of the text) is the last one it reads, for the look-behind assertions of the head.
pub(crate) fn head_start(
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
pub(crate) fn tail_matches(
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

/// The smallest index `>= i` on a character boundary of `s`.
pub(crate) fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matchers::Anchor;
    use crate::rule::floor_char_boundary;
    use crate::Engine;

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
}
