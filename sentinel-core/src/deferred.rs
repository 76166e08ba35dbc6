//! Matchers built on first use.
//!
//! Compiling a rule's regex into automata (Thompson NFAs, forward and reverse, and the lazy
//! DFAs around them) is most of what building an engine costs, and most rules never run on a
//! given stream: a rule's regex runs only where its keywords or required literals had hits. So
//! the built-in pack's matchers are kept as their HIR and compiled the first time a scan needs
//! them (`Deferred::get`); a scan that needs one waits for it once, and every later scan, on
//! any thread, uses the same. User packs are compiled when the engine is built instead, so that
//! a pattern too large for the limits is an error of the build that names its rule, not a rule
//! that never runs. The built-in pack is proven to compile by a test that builds every matcher
//! (`Engine::precompile`).

use std::sync::OnceLock;

/// A matcher of type `T`, compiled from `source` (a HIR, or several) on first use.
pub(crate) struct Deferred<S, T> {
    source: S,
    built: OnceLock<Option<T>>,
    make: fn(&S) -> Option<T>,
}

impl<S, T> Deferred<S, T> {
    /// A matcher compiled by `make` from `source` when first asked for.
    pub(crate) fn new(source: S, make: fn(&S) -> Option<T>) -> Self {
        Deferred { source, built: OnceLock::new(), make }
    }

    /// A matcher already compiled (`built`), with `make` and `source` for the record.
    pub(crate) fn ready(source: S, make: fn(&S) -> Option<T>, built: T) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Some(built));
        Deferred { source, built: cell, make }
    }

    /// The matcher, compiled now if it was not yet; `None` when it cannot be compiled (it is
    /// not tried again).
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        self.built.get_or_init(|| (self.make)(&self.source)).as_ref()
    }

    /// The matcher was compiled (by `ready`, or by a scan that needed it).
    pub(crate) fn is_built(&self) -> bool {
        self.built.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferred_matcher_is_built_once_on_first_use() {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let d: Deferred<u32, u32> = Deferred::new(20, |s| {
            CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some(s + 1)
        });
        assert!(!d.is_built());
        assert_eq!(d.get(), Some(&21));
        assert_eq!(d.get(), Some(&21));
        assert!(d.is_built());
        assert_eq!(CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);
        let failed: Deferred<u32, u32> = Deferred::new(0, |_| None);
        assert_eq!(failed.get(), None);
        assert!(failed.is_built());
        let ready: Deferred<u32, u32> = Deferred::ready(0, |_| None, 7);
        assert_eq!(ready.get(), Some(&7));
    }
}
