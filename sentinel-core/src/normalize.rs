//! The normalised view of a scanned string, with an offset map back to the original.
//!
//! Matching runs over the view, findings point into the original. The view drops invisible
//! characters that split words without showing (zero-width space, joiners, word joiner, BOM,
//! soft hyphen) and lowercases non-ASCII letters; ASCII case is left alone because the matchers
//! fold it themselves (and case-sensitive secret patterns need it). Pure-ASCII text is its own
//! view: no copy, no map.

/// True for characters that are dropped from the view.
#[inline]
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// A reusable normalised view (lives in the scratch; its buffers keep their capacity).
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    buf: String,
    /// For each byte of `buf`: the original start of the character it came from.
    starts: Vec<u32>,
    /// For each byte of `buf`: the original end of the character it came from.
    ends: Vec<u32>,
    identity: bool,
    /// How many invisible characters the last build dropped.
    removed: usize,
}

impl View {
    /// Builds the view of `text` (at most `u32::MAX` bytes: the scan cap ensures it).
    pub(crate) fn build(&mut self, text: &str) {
        self.removed = 0;
        if text.is_ascii() {
            self.identity = true;
            return;
        }
        self.identity = false;
        self.buf.clear();
        self.starts.clear();
        self.ends.clear();
        let mut utf8 = [0u8; 4];
        for (start, c) in text.char_indices() {
            let end = (start + c.len_utf8()) as u32;
            let start = start as u32;
            if c.is_ascii() {
                self.buf.push(c);
                self.starts.push(start);
                self.ends.push(end);
                continue;
            }
            if is_invisible(c) {
                self.removed += 1;
                continue;
            }
            for lc in c.to_lowercase() {
                let n = lc.encode_utf8(&mut utf8).len();
                self.buf.push(lc);
                for _ in 0..n {
                    self.starts.push(start);
                    self.ends.push(end);
                }
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

    /// Maps a non-empty byte span of the view to the span of the original characters it
    /// came from (always on character boundaries of the original).
    #[inline]
    pub(crate) fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        if self.identity {
            return (start, end);
        }
        if start >= end || end > self.starts.len() {
            // Empty spans only come from detector-level findings; clamp to a valid position.
            let at = self.starts.get(start).copied().unwrap_or_else(|| self.ends.last().copied().unwrap_or(0));
            return (at as usize, at as usize);
        }
        (self.starts[start] as usize, self.ends[end - 1] as usize)
    }

    /// How many invisible characters were dropped.
    #[allow(dead_code)]
    pub(crate) fn removed_invisible(&self) -> usize {
        self.removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_identity() {
        let mut v = View::default();
        v.build("Ignore Instructions");
        assert_eq!(v.text("Ignore Instructions"), "Ignore Instructions");
        assert_eq!(v.original_span(0, 6), (0, 6));
    }

    #[test]
    fn zero_width_is_dropped_and_spans_map_back() {
        let text = "ig\u{200B}nore in\u{00AD}structions";
        let mut v = View::default();
        v.build(text);
        assert_eq!(v.text(text), "ignore instructions");
        let (s, e) = v.original_span(0, 19);
        assert_eq!(&text[s..e], text);
        assert_eq!(v.removed_invisible(), 2);
    }

    #[test]
    fn non_ascii_letters_are_lowercased() {
        let text = "ИГНОРИРУЙ";
        let mut v = View::default();
        v.build(text);
        assert_eq!(v.text(text), "игнорируй");
        let (s, e) = v.original_span(2, 4);
        assert_eq!(&text[s..e], "Г");
    }
}
