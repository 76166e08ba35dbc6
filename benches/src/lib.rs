//! Inputs, rule packs and the baseline shared by the benchmarks in `benches/`.
//!
//! Everything here is deterministic: the same source produces the same events, the same
//! synthetic pack and the same baseline patterns on every machine, so figures from two runs
//! (or two machines) measure the same work.
//!
//! - [`inputs`]: events of about 256 B, 4 KB and 64 KB of scanned text, benign or carrying
//!   attacks, and the list of strings the engine scans in each.
//! - [`synthetic`]: a pack of 1,000 generated rules shaped like real secret and
//!   prompt-injection packs, each with a sample text that fires it.
//! - [`baseline`]: a `regex::RegexSet` over the same rules as an engine, the point of
//!   comparison.

pub mod baseline;
pub mod inputs;
pub mod synthetic;

/// A small deterministic generator (SplitMix64): the benches need reproducible bytes, not
/// statistical quality.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
