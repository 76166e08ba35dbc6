//! The keyword pass: every occurrence of every keyword and derived literal in a string.
//!
//! What this is for: one Aho-Corasick DFA holds the keywords of every rule and the literals the
//! engine derives from their patterns (required literals and start literals), some 12,600
//! strings with the built-in packs. Its transition table is about 30 MB,
//! so a walk of it is a chain of dependent table loads, one per byte, most of them served by L2
//! or L3: on shared x86 machines about 4-6 ns a byte, whatever the text. Two walks over the two
//! halves of the string, advanced in the same loop, do not depend on each other, so the CPU
//! overlaps their loads; the string is scanned in about two thirds of the time.
//!
//! The second walk starts `max_pattern_len - 1` bytes before the middle, so that it sees whole
//! every occurrence that ends after the middle, and reports only those; the first walk reports
//! those that end at or before it. The hits come out exactly as
//! `AhoCorasick::find_overlapping_iter` gives them: by end, then in the automaton's order.
//!
//! With the literals the engine derives from patterns, the automaton is in a match state at
//! about every third byte of ordinary text, too often and too irregularly for a branch per byte
//! to be predicted. The walks do not branch on it: each writes every state it enters to a
//! buffer and moves the buffer's end on only when the state is special, and the hits are read
//! off the buffer after the walk.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::{Builder, DFA};
use aho_corasick::{Anchored, BuildError, MatchKind, StartKind};

/// Strings shorter than this are walked once: the split would save less than it costs.
const SPLIT_MIN: usize = 256;

/// One occurrence of a pattern: its index and its span in the string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) pattern: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// Buffers of the walks (in the engine's scratch, reused).
#[derive(Clone, Debug, Default)]
pub(crate) struct Walks {
    a: Vec<(StateID, u32)>,
    b: Vec<(StateID, u32)>,
}

/// The compiled patterns, ASCII case-insensitive, every occurrence reported.
#[derive(Clone, Debug)]
pub(crate) struct Keywords {
    dfa: DFA,
}

impl Keywords {
    pub(crate) fn new(patterns: &[&[u8]]) -> Result<Keywords, BuildError> {
        let dfa = Builder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(patterns)?;
        Ok(Keywords { dfa })
    }

    /// Every occurrence of every pattern in `hay`, overlapping ones included, into `hits`
    /// (cleared first). `walks` holds the walks' buffers.
    pub(crate) fn find_all(&self, hay: &[u8], hits: &mut Vec<Hit>, walks: &mut Walks) {
        hits.clear();
        let dfa = &self.dfa;
        // The automaton is built unanchored: a start state always exists.
        let Ok(start) = dfa.start_state(Anchored::No) else { return };
        let overlap = dfa.max_pattern_len().saturating_sub(1);
        let n = hay.len();
        if n < SPLIT_MIN.max(4 * overlap) {
            grow(&mut walks.a, n);
            let marked = walk(dfa, hay, 0, n, start, &mut walks.a);
            report_all(dfa, &walks.a[..marked], 0, hits);
            return;
        }
        // Walk A covers [0, mid) and reports ends <= mid; walk B covers [mid - overlap, n) and
        // reports ends > mid. Both are `len` bytes long, give or take one.
        let mid = (n + overlap) / 2;
        let (mut a, mut b) = (0, mid - overlap);
        let len = mid.min(n - b);
        grow(&mut walks.a, len.max(mid - len));
        grow(&mut walks.b, len.max(n - b - len));
        let (mut sa, mut sb) = (start, start);
        let (mut na, mut nb) = (0, 0);
        for _ in 0..len {
            sa = dfa.next_state(Anchored::No, sa, hay[a]);
            a += 1;
            sb = dfa.next_state(Anchored::No, sb, hay[b]);
            b += 1;
            walks.a[na] = (sa, a as u32);
            na += usize::from(dfa.is_special(sa));
            walks.b[nb] = (sb, b as u32);
            nb += usize::from(dfa.is_special(sb));
        }
        report_all(dfa, &walks.a[..na], 0, hits);
        let marked = walk(dfa, hay, a, mid, sa, &mut walks.a);
        report_all(dfa, &walks.a[..marked], 0, hits);
        report_all(dfa, &walks.b[..nb], mid + 1, hits);
        let marked = walk(dfa, hay, b, n, sb, &mut walks.b);
        report_all(dfa, &walks.b[..marked], mid + 1, hits);
    }
}

/// Makes `buf` at least `len` long (it only grows, so a warm scratch does not allocate).
fn grow(buf: &mut Vec<(StateID, u32)>, len: usize) {
    if buf.len() < len {
        buf.resize(len, (StateID::ZERO, 0));
    }
}

/// Walks `hay[from..to]` from state `sid`, writing each special state entered, with where it
/// was entered, to the front of `marks` (at least `to - from` long). How many were written.
fn walk(dfa: &DFA, hay: &[u8], from: usize, to: usize, mut sid: StateID, marks: &mut [(StateID, u32)]) -> usize {
    let mut n = 0;
    for (at, &byte) in hay[from..to].iter().enumerate() {
        sid = dfa.next_state(Anchored::No, sid, byte);
        marks[n] = (sid, (from + at + 1) as u32);
        n += usize::from(dfa.is_special(sid));
    }
    n
}

/// The occurrences ending in the marked states, in order, those that end at or after
/// `report_from`.
fn report_all(dfa: &DFA, marks: &[(StateID, u32)], report_from: usize, out: &mut Vec<Hit>) {
    for &(sid, end) in marks {
        if end as usize >= report_from {
            report(dfa, sid, end as usize, out);
        }
    }
}

/// The occurrences ending at `end` in match state `sid`, in the automaton's order.
#[inline]
fn report(dfa: &DFA, sid: StateID, end: usize, out: &mut Vec<Hit>) {
    if !dfa.is_match(sid) {
        return;
    }
    for i in 0..dfa.match_len(sid) {
        let pid = dfa.match_pattern(sid, i);
        let len = dfa.pattern_len(pid);
        out.push(Hit { pattern: pid.as_u32(), start: (end - len) as u32, end: end as u32 });
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// True when `hay[start..end]` does not continue a word on either side.
pub(crate) fn word_bounded(hay: &str, start: usize, end: usize) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use proptest::prelude::*;

    fn reference(patterns: &[&[u8]], hay: &[u8]) -> Vec<Hit> {
        let ac = AhoCorasick::builder().ascii_case_insensitive(true).build(patterns).unwrap();
        ac.find_overlapping_iter(hay)
            .map(|m| Hit { pattern: m.pattern().as_u32(), start: m.start() as u32, end: m.end() as u32 })
            .collect()
    }

    fn find(patterns: &[&[u8]], hay: &[u8]) -> Vec<Hit> {
        let (mut hits, mut walks) = (Vec::new(), Walks::default());
        Keywords::new(patterns).unwrap().find_all(hay, &mut hits, &mut walks);
        hits
    }

    #[test]
    fn occurrences_across_the_middle_are_found_once() {
        let patterns: &[&[u8]] = &[b"ignore previous", b"ore", b"x", b"previous instructions"];
        for pad in 250..300 {
            let hay = format!("{}ignore previous instructions{}", "x".repeat(pad), "y".repeat(pad));
            assert_eq!(find(patterns, hay.as_bytes()), reference(patterns, hay.as_bytes()), "pad {pad}");
        }
    }

    #[test]
    fn case_is_folded_and_overlaps_are_kept() {
        let patterns: &[&[u8]] = &[b"aa", b"a", b"AAA"];
        let hay = "aAaA".repeat(100);
        let hits = find(patterns, hay.as_bytes());
        assert_eq!(hits.len(), 400 + 399 + 398);
        assert_eq!(hits, reference(patterns, hay.as_bytes()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn same_hits_as_aho_corasick(
            patterns in proptest::collection::vec("[abc;|]{1,6}", 1..12),
            hay in "[abcABC;| ]{0,900}",
        ) {
            let patterns: Vec<&[u8]> = patterns.iter().map(|p| p.as_bytes()).collect();
            prop_assert_eq!(find(&patterns, hay.as_bytes()), reference(&patterns, hay.as_bytes()));
        }
    }
}
