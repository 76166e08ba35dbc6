//! The baseline: one `regex::RegexSet` over the same rules as an engine.
//!
//! For each enabled rule of the engine's catalogue, the set holds the rule's
//! [`effective_pattern`](mcp_threatscan::RuleInfo::effective_pattern) (flags and ASCII word
//! boundaries applied, as the engine compiles it) when it has one, else `(?i)` and an
//! alternation of its escaped keywords. Rules with neither (tool policy, size limits, the
//! engine's integrity rules) are left out: they are not text matching. Keywords that gate a
//! pattern are not used: the set runs every pattern on every string, which is what a
//! `RegexSet`-based scanner does.
//!
//! It matches the strings the engine scans, one `matches` call per string, as they are: no
//! normalisation, no spans, no findings. It answers "which rules match this string", which is
//! less than a verdict, so it is a lower bound on the work rather than an equivalent scanner.
//!
//! The set is built with the same limits as the engine's union regex
//! ([`SIZE_LIMIT`], [`DFA_SIZE_LIMIT`]); at the `regex` crate's defaults (10 MB and 2 MB) a
//! set of this many patterns either fails to build or thrashes its lazy-DFA cache, which would
//! measure the defaults rather than the approach.

use mcp_threatscan::Engine;
use regex::{RegexSet, RegexSetBuilder};

/// NFA size limit of the set (the engine's union uses 256 MiB).
pub const SIZE_LIMIT: usize = 256 << 20;
/// Lazy-DFA cache capacity of the set (the engine's union uses 64 MiB).
pub const DFA_SIZE_LIMIT: usize = 64 << 20;

/// The baseline patterns of an engine's rules, in catalogue order.
pub fn patterns(engine: &Engine) -> Vec<String> {
    engine
        .rules()
        .filter(|r| r.enabled())
        .filter_map(|r| match r.effective_pattern() {
            Some(p) => Some(p.to_string()),
            None if !r.spec().keywords.is_empty() => {
                let alternation: Vec<String> = r.spec().keywords.iter().map(|k| regex::escape(k)).collect();
                Some(format!("(?i)(?:{})", alternation.join("|")))
            }
            None => None,
        })
        .collect()
}

/// A `RegexSet` over an engine's rules.
#[derive(Clone, Debug)]
pub struct Baseline {
    set: RegexSet,
}

impl Baseline {
    /// Builds the set over `engine`'s rules with [`SIZE_LIMIT`] and [`DFA_SIZE_LIMIT`].
    pub fn new(engine: &Engine) -> Result<Baseline, regex::Error> {
        Baseline::with_limits(engine, SIZE_LIMIT, DFA_SIZE_LIMIT)
    }

    /// Builds the set with explicit limits.
    pub fn with_limits(engine: &Engine, size_limit: usize, dfa_size_limit: usize) -> Result<Baseline, regex::Error> {
        let set =
            RegexSetBuilder::new(patterns(engine)).size_limit(size_limit).dfa_size_limit(dfa_size_limit).build()?;
        Ok(Baseline { set })
    }

    /// The number of patterns.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the set has no pattern.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Matches each string and returns the number of (string, pattern) matches.
    pub fn scan<'a>(&self, strings: impl IntoIterator<Item = &'a str>) -> usize {
        strings.into_iter().map(|s| self.set.matches(s).iter().count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{Input, Mix};

    #[test]
    fn builtin_baseline_covers_the_text_rules_and_matches_attacks() {
        let engine = Engine::new().unwrap();
        let baseline = Baseline::new(&engine).unwrap();
        let text_rules = engine
            .rules()
            .filter(|r| r.enabled() && (r.effective_pattern().is_some() || !r.spec().keywords.is_empty()))
            .count();
        assert_eq!(baseline.len(), text_rules);
        let input = Input::new(Mix::Malicious, 4 << 10, "4KB");
        assert!(baseline.scan(input.strings()) > 0);
    }
}
