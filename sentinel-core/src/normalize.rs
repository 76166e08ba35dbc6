//! The normalised view of a scanned string, with an offset map back to the original.
//!
//! Matching runs over the view, findings point into the original. The view drops invisible
//! characters that split words without showing (zero-width space, joiners, word joiner, BOM,
//! soft hyphen) and lowercases non-ASCII letters; ASCII case is left alone because the matchers
//! fold it themselves (and case-sensitive secret patterns need it).
//!
//! Cost model: most text needs no change (all ASCII, or non-ASCII without invisible or
//! upper-case letters) and is its own view: no copy, no map. Otherwise the view text is built
//! in one pass, and the offset map only when a finding needs a span (rare on benign text).

/// True for characters that are dropped from the view.
#[inline]
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// True when the view would not keep `c` as it is.
#[inline]
fn changes(c: char) -> bool {
    !c.is_ascii() && (is_invisible(c) || (c.is_alphabetic() && !c.is_lowercase() && c.to_lowercase().ne([c])))
}

/// A reusable normalised view (lives in the scratch; its buffers keep their capacity).
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    buf: String,
    identity: bool,
    /// How many invisible characters the last build dropped.
    removed: usize,
}

/// The offset map of a [`View`], built on demand and only as far as the furthest span asked
/// for (kept apart from the view so that the view's text can stay borrowed while spans are
/// mapped).
#[derive(Clone, Debug, Default)]
pub(crate) struct OffsetMap {
    /// For each byte of the view mapped so far: the original start of its character.
    starts: Vec<u32>,
    /// For each byte of the view mapped so far: the original end of its character.
    ends: Vec<u32>,
    /// How far into the original text the map has been built.
    done: usize,
}

impl View {
    /// Builds the view of `text` (at most `u32::MAX` bytes: the scan cap ensures it).
    pub(crate) fn build(&mut self, text: &str, map: &mut OffsetMap) {
        self.removed = 0;
        map.starts.clear();
        map.ends.clear();
        map.done = 0;
        // Find the first character the view changes; before it, the view is the text itself.
        let first = if text.is_ascii() { None } else { text.char_indices().find(|&(_, c)| changes(c)) };
        let Some((at, _)) = first else {
            self.identity = true;
            return;
        };
        self.identity = false;
        self.buf.clear();
        self.buf.push_str(&text[..at]);
        for c in text[at..].chars() {
            if c.is_ascii() {
                self.buf.push(c);
            } else if is_invisible(c) {
                self.removed += 1;
            } else {
                self.buf.extend(c.to_lowercase());
            }
        }
    }

    /// The view's text; `original` must be the text the view was built from.
    #[inline]
    pub(crate) fn text<'a>(&'a self, original: &'a str) -> &'a str {
        if self.identity {
            original
        } else {
            &self.buf
        }
    }

    /// How many invisible characters were dropped.
    #[allow(dead_code)]
    pub(crate) fn removed_invisible(&self) -> usize {
        self.removed
    }
}

impl OffsetMap {
    /// Extends the map until it covers `view_len` bytes of the view (or all of `text`).
    fn extend_to(&mut self, text: &str, view_len: usize) {
        let mut utf8 = [0u8; 4];
        let base = self.done;
        let mut chars = text[base..].char_indices();
        while self.starts.len() < view_len {
            let Some((offset, c)) = chars.next() else { break };
            let start = (base + offset) as u32;
            let end = start + c.len_utf8() as u32;
            if c.is_ascii() {
                self.starts.push(start);
                self.ends.push(end);
            } else if !is_invisible(c) {
                for lc in c.to_lowercase() {
                    for _ in 0..lc.encode_utf8(&mut utf8).len() {
                        self.starts.push(start);
                        self.ends.push(end);
                    }
                }
            }
            self.done = end as usize;
        }
    }

    /// Maps a byte span of the view to the span of the original characters it came from
    /// (always on character boundaries of the original). `original` must be the text the view
    /// was built from.
    #[inline]
    pub(crate) fn original_span(&mut self, view: &View, original: &str, start: usize, end: usize) -> (usize, usize) {
        if view.identity {
            return (start, end);
        }
        self.extend_to(original, end.max(start + 1));
        if start >= end || end > self.starts.len() {
            // Only an empty or out-of-range span lands here; clamp to a valid position.
            let at = self.starts.get(start).copied().unwrap_or(original.len() as u32);
            return (at as usize, at as usize);
        }
        (self.starts[start] as usize, self.ends[end - 1] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str) -> (View, OffsetMap) {
        let mut v = View::default();
        let mut m = OffsetMap::default();
        v.build(text, &mut m);
        (v, m)
    }

    #[test]
    fn ascii_and_unchanged_unicode_are_identity() {
        for text in ["Ignore Instructions", "日本語のドキュメント", "привет мир", "naïve café"] {
            let (v, mut m) = view(text);
            assert!(v.identity, "{text}");
            assert_eq!(v.text(text), text);
            assert_eq!(m.original_span(&v, text, 0, 3), (0, 3));
        }
    }

    #[test]
    fn zero_width_is_dropped_and_spans_map_back() {
        let text = "ig\u{200B}nore in\u{00AD}structions";
        let (v, mut m) = view(text);
        assert_eq!(v.text(text), "ignore instructions");
        let (s, e) = m.original_span(&v, text, 0, 19);
        assert_eq!(&text[s..e], text);
        assert_eq!(v.removed_invisible(), 2);
        let (s, e) = m.original_span(&v, text, 7, 19);
        assert_eq!(&text[s..e], "in\u{00AD}structions");
    }

    #[test]
    fn non_ascii_letters_are_lowercased() {
        let text = "x ИГНОРИРУЙ";
        let (v, mut m) = view(text);
        assert_eq!(v.text(text), "x игнорируй");
        let (s, e) = m.original_span(&v, text, 4, 6);
        assert_eq!(&text[s..e], "Г");
    }

    #[test]
    fn expanding_lowercase_maps_back_to_the_whole_character() {
        let text = "İx";
        let (v, mut m) = view(text);
        assert_eq!(v.text(text), "i\u{307}x");
        assert_eq!(m.original_span(&v, text, 0, 3), (0, 2));
    }
}
