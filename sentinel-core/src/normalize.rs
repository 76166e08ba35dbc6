//! The normalised view of a scanned string, with an offset map back to the original, and the
//! evasions seen while building it.
//!
//! Matching runs over the view, findings point into the original. The view:
//! - drops invisible characters that split words without showing (zero-width space, joiners,
//!   word joiner, BOM, soft hyphen, LRM/RLM, invisible math operators, variation selectors,
//!   combining grapheme joiner) and bidi embedding/override/isolate controls;
//! - decodes Unicode tag characters (U+E0020–U+E007E) into the ASCII they hide;
//! - folds compatibility forms character by character (NFKC: fullwidth letters, mathematical
//!   alphanumerics, ligatures, circled letters);
//! - folds homoglyphs (the UTS #39 confusable skeleton, from the `unicode-security` crate) in
//!   words that mix Latin letters with confusable letters of another script, and only when the
//!   prototype is ASCII; a word written wholly in Cyrillic or Greek is left alone;
//! - lowercases non-ASCII letters. ASCII case is left alone: the matchers fold it themselves,
//!   and case-sensitive secret patterns need it.
//!
//! Cost model: most text needs no change (ASCII, or non-ASCII without any of the above) and is
//! its own view: no copy, no map. Otherwise the view is built in one pass, and the offset map
//! only when a finding needs a span, and only as far as that span.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_normalization::{is_nfkc_quick, IsNormalized};
use unicode_security::confusable_detection::skeleton;

/// The kinds of evasion the view reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Evasion {
    /// An invisible character inside a word.
    Invisible = 0,
    /// A bidi embedding, override or isolate control.
    Bidi = 1,
    /// Unicode tag characters (hidden ASCII).
    Tag = 2,
    /// A word mixing Latin letters with confusable letters of another script.
    Homoglyph = 3,
    /// Letters in fullwidth, mathematical or enclosed forms.
    Compat = 4,
}

/// How many evasions of each kind the last build saw, and where the first one was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct EvasionHit {
    pub(crate) count: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// Styled (compatibility-folded) letters are reported when this many follow each other: a
/// word spelt in them. Fewer, or as many scattered (a fullwidth letter in CJK text, a table of
/// characters, a maths symbol in a comment), are ordinary.
const COMPAT_REPORT_MIN: u32 = 3;

/// True for characters that are dropped from the view without a trace.
#[inline]
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Bidi embedding, override and isolate controls (Trojan Source).
#[inline]
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Unicode tag characters.
#[inline]
fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0000}'..='\u{E007F}')
}

/// A tag digit or small letter: what the tag sequence of a subdivision flag spells.
fn is_flag_tag(c: char) -> bool {
    matches!(c, '\u{E0030}'..='\u{E0039}' | '\u{E0061}'..='\u{E007A}')
}

/// What [`emit`] carries from one character to the next: the longest run of styled letters
/// seen (a word spelt in them; single styled letters in a table of characters or a maths
/// comment are not an evasion), the current run, and how far the characters so far continue an
/// emoji flag's tag sequence (0: not in one).
#[derive(Default)]
struct Styled {
    styled: u32,
    run: u32,
    flag: u8,
}

/// Latin letters: ASCII and the Latin blocks.
#[inline]
fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}') && c.is_alphabetic())
}

/// Letters of the scripts whose letters pass for Latin ones (Greek, Cyrillic, Armenian,
/// Cherokee).
#[inline]
fn in_confusable_script(c: char) -> bool {
    matches!(c, '\u{0370}'..='\u{052F}' | '\u{0531}'..='\u{058F}' | '\u{13A0}'..='\u{13FF}' | '\u{1F00}'..='\u{1FFF}')
        && c.is_alphabetic()
}

/// A letter of such a script whose confusable prototype is ASCII (Cyrillic а, і, ԁ; Greek ο).
#[inline]
fn is_confusable_letter(c: char) -> bool {
    in_confusable_script(c) && ascii_prototype(c)
}

/// Latin-script letters that pass for ASCII ones and belong to no European orthography (IPA
/// and small capitals), plus dotless ı outside Turkish text.
#[inline]
fn is_lookalike_latin(c: char, turkish: bool) -> bool {
    matches!(c, '\u{0251}' | '\u{0261}' | '\u{0269}' | '\u{026A}' | '\u{028F}' | '\u{0237}' | '\u{1D00}'..='\u{1D22}')
        || (c == '\u{0131}' && !turkish)
}

/// What the whole string says about how to read its words.
#[derive(Clone, Copy, Debug, Default)]
struct Context {
    /// Most letters are Latin: a word of look-alike letters of another script is an evasion.
    latin_dominant: bool,
    /// Turkish letters occur: dotless ı is a letter, not a look-alike.
    turkish: bool,
}

impl Context {
    fn of(text: &str) -> Context {
        let (mut latin, mut other, mut turkish) = (0usize, 0usize, false);
        for c in text.chars() {
            if c.is_ascii_alphabetic() || is_latin_letter(c) {
                latin += 1;
            } else if c.is_alphabetic() {
                other += 1;
            }
            turkish |= matches!(c, 'ş' | 'Ş' | 'ğ' | 'Ğ' | 'İ');
        }
        Context { latin_dominant: latin >= 8 && other * 5 <= latin, turkish }
    }
}

/// The ASCII prototype of a look-alike letter, when it has one of one or more ASCII
/// alphanumerics (UTS #39 skeleton).
#[inline]
fn ascii_prototype(c: char) -> bool {
    let mut utf8 = [0u8; 4];
    let one = c.encode_utf8(&mut utf8);
    let mut any = false;
    for p in skeleton(one) {
        if !p.is_ascii_alphanumeric() {
            return false;
        }
        any = true;
    }
    any
}

/// Letters in forms that are only styled Latin letters.
#[inline]
fn is_styled_letter(c: char) -> bool {
    matches!(c, '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' | '\u{1D400}'..='\u{1D7FF}' | '\u{24B6}'..='\u{24E9}' | '\u{1F130}'..='\u{1F189}')
}

/// NFKC leaves `c` alone.
#[inline]
fn nfkc_stable(c: char) -> bool {
    matches!(is_nfkc_quick(std::iter::once(c)), IsNormalized::Yes)
}

/// True for characters the view never holds: NFKC changes them, so the view holds their
/// compatibility decomposition instead (`ſ` is `s` there, the Kelvin sign `K`).
pub(crate) fn absent_from_view(c: char) -> bool {
    !c.is_ascii() && !nfkc_stable(c)
}

/// Characters that are part of a word for homoglyph analysis.
#[inline]
fn is_wordish(c: char) -> bool {
    c.is_alphanumeric() || is_invisible(c) || is_combining_mark(c)
}

/// True when the view might not keep `c` as it is.
#[inline]
fn might_change(c: char) -> bool {
    !c.is_ascii()
        && (is_invisible(c)
            || is_bidi_control(c)
            || is_tag(c)
            || in_confusable_script(c)
            || is_lookalike_latin(c, false)
            || (c.is_alphabetic() && !c.is_lowercase() && c.to_lowercase().ne([c]))
            || !nfkc_stable(c))
}

/// Receives the view, one output character at a time, with the original span it came from.
trait Sink {
    fn push(&mut self, start: u32, end: u32, c: char);
    /// Checked after each unit (a word or a character): stop early.
    fn full(&self) -> bool {
        false
    }
}

/// The normaliser. Emits the view of `text[from..]` unit by unit into `sink`, recording
/// evasions when `evasions` is given; returns the offset where it stopped (a unit boundary).
fn normalize(
    text: &str,
    from: usize,
    ctx: Context,
    sink: &mut impl Sink,
    mut evasions: Option<&mut [EvasionHit; 5]>,
) -> usize {
    let bytes = text.as_bytes();
    let mut i = from;
    let mut styled = Styled::default();
    while i < text.len() {
        let b = bytes[i];
        if b.is_ascii() && !b.is_ascii_alphanumeric() {
            styled.run = 0;
            sink.push(i as u32, i as u32 + 1, b as char);
            i += 1;
            if sink.full() {
                break;
            }
            continue;
        }
        let Some(c) = text[i..].chars().next() else { break };
        if !is_wordish(c) {
            if c == '\u{FF1C}' {
                // A fullwidth `<` opening a tag (`＜script`, `＜/`, `＜!`): markup in disguise.
                let next = text[i + c.len_utf8()..].chars().next();
                if next.is_some_and(|n| {
                    n.is_ascii_alphabetic() || is_styled_letter(n) || matches!(n, '/' | '!' | '\u{FF0F}' | '\u{FF01}')
                }) {
                    styled.styled += COMPAT_REPORT_MIN;
                    note(evasions.as_deref_mut(), Evasion::Compat, i, i + c.len_utf8());
                }
            }
            emit(i, c, false, sink, evasions.as_deref_mut(), &mut styled);
            i += c.len_utf8();
        } else {
            // A word: decide homoglyph folding for the whole word first. Fold when every
            // look-alike letter has an ASCII prototype and no other foreign letter is there,
            // and the word is an evasion by its shape:
            // - Latin look-alikes (ɑ, small capitals, dotless ı in a word of ASCII letters):
            //   no orthography writes English words with them;
            // - letters of another script mixed with Latin letters in one word;
            // - a word wholly of look-alikes, glued to code or shell syntax in mostly-Latin text
            //   (`іԁ` in backticks, `&&іԁ`): a foreign word standing between spaces is left alone.
            let mut end = i;
            let (mut ascii_latin, mut foreign_latin, mut script_look, mut latin_look, mut other) =
                (false, false, false, false, false);
            let mut all_ascii_protos = true;
            for (k, d) in text[i..].char_indices() {
                if !is_wordish(d) {
                    break;
                }
                end = i + k + d.len_utf8();
                if d.is_ascii_alphabetic() {
                    ascii_latin = true;
                } else if is_lookalike_latin(d, ctx.turkish) {
                    latin_look = true;
                    all_ascii_protos &= ascii_prototype(d);
                } else if in_confusable_script(d) {
                    if ascii_prototype(d) {
                        script_look = true;
                    } else {
                        other = true;
                    }
                } else if is_latin_letter(d) {
                    foreign_latin = true;
                } else if d.is_alphabetic() {
                    other = true;
                }
            }
            let glued = |x: Option<char>| {
                x.is_some_and(|x| {
                    matches!(
                        x,
                        '`' | '&' | ';' | '|' | '$' | '=' | '\'' | '"' | '<' | '>' | '/' | '\\' | '{' | '}' | '[' | ']'
                    )
                })
            };
            let is_glued = glued(text[..i].chars().next_back()) || glued(text[end..].chars().next());
            let latin_look = latin_look && !foreign_latin;
            let fold = all_ascii_protos
                && !other
                && ((latin_look && !script_look)
                    || (script_look
                        && (ascii_latin || foreign_latin || latin_look || (is_glued && ctx.latin_dominant))));
            if fold {
                note(evasions.as_deref_mut(), Evasion::Homoglyph, i, end);
            }
            // The visible characters on each side of an invisible one: the last one before it
            // (carried along) and the first one after its run (looked up once per run), so
            // that a run of invisibles costs its length, not its square.
            let mut prev: Option<char> = None;
            let mut next: Option<(usize, Option<char>)> = None;
            let mut k = i;
            while k < end {
                let Some(d) = text[k..].chars().next() else { break };
                if is_invisible(d) && d != '\u{FEFF}' {
                    // Inside a word between letters or digits: splitting it to dodge matching.
                    let after = k + d.len_utf8();
                    let next = match next {
                        Some((at, c)) if at >= after => c,
                        _ => {
                            let found = text[after..end].char_indices().find(|(_, x)| !is_invisible(*x));
                            let (at, c) = found.map_or((end, None), |(j, x)| (after + j, Some(x)));
                            next = Some((at, c));
                            c
                        }
                    };
                    if prev.is_some_and(|x| x.is_alphanumeric())
                        && next.is_some_and(|x| x.is_alphanumeric())
                        && !is_variation_selector(d)
                    {
                        let joiner_in_script = matches!(d, '\u{200C}' | '\u{200D}')
                            && !(prev.is_some_and(is_latin_letter) || next.is_some_and(is_latin_letter));
                        if !joiner_in_script {
                            note(evasions.as_deref_mut(), Evasion::Invisible, k, k + d.len_utf8());
                        }
                    }
                }
                if !is_invisible(d) {
                    prev = Some(d);
                }
                emit(k, d, fold, sink, evasions.as_deref_mut(), &mut styled);
                k += d.len_utf8();
            }
            i = end;
        }
        if sink.full() {
            break;
        }
    }
    if let Some(ev) = evasions {
        if styled.styled < COMPAT_REPORT_MIN {
            ev[Evasion::Compat as usize] = EvasionHit::default();
        }
    }
    i
}

/// Variation selectors (emoji presentation and the like).
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

fn note(evasions: Option<&mut [EvasionHit; 5]>, kind: Evasion, start: usize, end: usize) {
    if let Some(ev) = evasions {
        let hit = &mut ev[kind as usize];
        if hit.count == 0 {
            hit.start = start as u32;
            hit.end = end as u32;
        }
        hit.count += 1;
    }
}

/// Emits the view of one character at `at`.
fn emit(
    at: usize,
    c: char,
    fold: bool,
    sink: &mut impl Sink,
    evasions: Option<&mut [EvasionHit; 5]>,
    state: &mut Styled,
) {
    // An emoji tag sequence (a subdivision flag: U+1F3F4, tag letters or digits, U+E007F
    // cancel tag, as in the flags of England, Scotland and Wales) uses tag characters as
    // Unicode means them: they are emitted as always, but are not an evasion.
    // (At most 7 tags: a region code and a subdivision are 2 to 6 letters or digits.)
    let in_flag = state.flag > 0;
    state.flag = match c {
        '\u{1F3F4}' => 1,
        _ if in_flag && is_flag_tag(c) && state.flag <= 7 => state.flag + 1,
        _ => 0,
    };
    let lookalike = fold && (is_confusable_letter(c) || is_lookalike_latin(c, false));
    let start = at as u32;
    let end = (at + c.len_utf8()) as u32;
    if c.is_ascii() {
        state.run = 0;
        sink.push(start, end, c);
        return;
    }
    if is_invisible(c) {
        return;
    }
    if !is_styled_letter(c) {
        state.run = 0;
    }
    if is_bidi_control(c) {
        note(evasions, Evasion::Bidi, at, end as usize);
        return;
    }
    if is_tag(c) {
        if !(in_flag && (is_flag_tag(c) || c == '\u{E007F}')) {
            note(evasions, Evasion::Tag, at, end as usize);
        }
        if let Some(ascii) = char::from_u32(c as u32 - 0xE0000).filter(|a| (' '..='~').contains(a)) {
            sink.push(start, end, ascii);
        }
        return;
    }
    if lookalike {
        let mut utf8 = [0u8; 4];
        let one = c.encode_utf8(&mut utf8);
        if skeleton(one).all(|p| p.is_ascii_alphanumeric()) {
            for p in skeleton(one) {
                sink.push(start, end, p);
            }
            return;
        }
    }
    if !nfkc_stable(c) {
        if is_styled_letter(c) {
            // Counted always; the report is dropped at the end when no run is long enough.
            state.run += 1;
            state.styled = state.styled.max(state.run);
            note(evasions, Evasion::Compat, at, end as usize);
        }
        decompose_compatible(c, |d| {
            if d.is_ascii() {
                sink.push(start, end, d);
            } else {
                for l in d.to_lowercase() {
                    sink.push(start, end, l);
                }
            }
        });
        return;
    }
    for l in c.to_lowercase() {
        sink.push(start, end, l);
    }
}

/// A reusable normalised view (lives in the scratch; its buffers keep their capacity).
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    buf: String,
    identity: bool,
    evasions: [EvasionHit; 5],
    ctx: Context,
}

struct TextSink<'a>(&'a mut String);

impl Sink for TextSink<'_> {
    #[inline]
    fn push(&mut self, _start: u32, _end: u32, c: char) {
        self.0.push(c);
    }
}

impl View {
    /// Builds the view of `text` (at most `u32::MAX` bytes: the scan cap ensures it).
    pub(crate) fn build(&mut self, text: &str, map: &mut OffsetMap) {
        self.evasions = [EvasionHit::default(); 5];
        map.starts.clear();
        map.ends.clear();
        map.done = 0;
        if text.is_ascii() || !text.chars().any(might_change) {
            self.identity = true;
            return;
        }
        self.buf.clear();
        self.ctx = Context::of(text);
        normalize(text, 0, self.ctx, &mut TextSink(&mut self.buf), Some(&mut self.evasions));
        // Characters that only might have changed (a Cyrillic word on its own) leave the text
        // as it is: then the text is its own view after all.
        self.identity = self.buf == text;
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

    /// The evasions the last build saw, by [`Evasion`] kind.
    pub(crate) fn evasions(&self) -> &[EvasionHit; 5] {
        &self.evasions
    }
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
    /// How far into the original text the map has been built (a unit boundary).
    done: usize,
}

struct MapSink<'a> {
    map: &'a mut OffsetMap,
    want: usize,
}

impl Sink for MapSink<'_> {
    #[inline]
    fn push(&mut self, start: u32, end: u32, c: char) {
        for _ in 0..c.len_utf8() {
            self.map.starts.push(start);
            self.map.ends.push(end);
        }
    }
    #[inline]
    fn full(&self) -> bool {
        self.map.starts.len() >= self.want
    }
}

impl OffsetMap {
    /// Maps a byte span of the view to the span of the original characters it came from
    /// (always on character boundaries of the original). `original` must be the text the view
    /// was built from.
    #[inline]
    pub(crate) fn original_span(&mut self, view: &View, original: &str, start: usize, end: usize) -> (usize, usize) {
        if view.identity {
            return (start, end);
        }
        let want = end.max(start + 1);
        if self.starts.len() < want && self.done < original.len() {
            let from = self.done;
            self.done = normalize(original, from, view.ctx, &mut MapSink { map: self, want }, None);
        }
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

    fn normalized(text: &str) -> String {
        let (v, _) = view(text);
        v.text(text).to_string()
    }

    fn hits(text: &str, kind: Evasion) -> u32 {
        view(text).0.evasions()[kind as usize].count
    }

    #[test]
    fn ascii_and_unchanged_unicode_are_identity() {
        for text in ["Ignore Instructions", "日本語のドキュメント", "привет мир", "naïve café", "مرحبا بالعالم"]
        {
            let (v, mut m) = view(text);
            assert!(v.identity, "{text}");
            assert_eq!(v.text(text), text);
            assert_eq!(m.original_span(&v, text, 0, 3), (0, 3));
            assert_eq!(v.evasions(), &[EvasionHit::default(); 5], "{text}");
        }
    }

    #[test]
    fn zero_width_is_dropped_reported_and_spans_map_back() {
        let text = "ig\u{200B}nore in\u{00AD}structions";
        let (v, mut m) = view(text);
        assert_eq!(v.text(text), "ignore instructions");
        assert_eq!(v.evasions()[Evasion::Invisible as usize].count, 2);
        let (s, e) = m.original_span(&v, text, 0, 19);
        assert_eq!(&text[s..e], text);
        let (s, e) = m.original_span(&v, text, 7, 19);
        assert_eq!(&text[s..e], "in\u{00AD}structions");
    }

    #[test]
    fn legitimate_joiners_are_not_reported() {
        assert_eq!(hits("👨\u{200D}👩\u{200D}👧 family", Evasion::Invisible), 0, "emoji ZWJ sequence");
        assert_eq!(hits("می\u{200C}خواهم", Evasion::Invisible), 0, "Persian ZWNJ");
        assert_eq!(hits("\u{FEFF}hello", Evasion::Invisible), 0, "leading BOM");
        assert_eq!(hits("❤\u{FE0F} ok", Evasion::Invisible), 0, "emoji presentation selector");
    }

    #[test]
    fn non_ascii_letters_are_lowercased_and_map_back() {
        let text = "x ИГНОРИРУЙ";
        let (v, mut m) = view(text);
        assert_eq!(v.text(text), "x игнорируй");
        let (s, e) = m.original_span(&v, text, 4, 6);
        assert_eq!(&text[s..e], "Г");
        let text = "İx";
        let (v, mut m) = view(text);
        assert_eq!(v.text(text), "i\u{307}x");
        assert_eq!(m.original_span(&v, text, 0, 3), (0, 2));
    }

    #[test]
    fn fullwidth_and_mathematical_letters_fold() {
        assert_eq!(normalized("ｉｇｎｏｒｅ previous"), "ignore previous");
        assert_eq!(hits("ｉｇｎｏｒｅ previous", Evasion::Compat), 6);
        assert_eq!(normalized("𝐢𝐠𝐧𝐨𝐫𝐞"), "ignore");
        assert_eq!(normalized("ﬁle ①"), "file 1");
        assert_eq!(hits("ＰＣ１２３ の設定", Evasion::Compat), 0, "two fullwidth letters in CJK text");
        assert!(hits("paste ＜ｕ onbeforecopy=alert(1)>", Evasion::Compat) > 0, "fullwidth tag opener");
        assert_eq!(normalized("＜ｕ onbeforecopy"), "<u onbeforecopy");
        assert_eq!(hits("＜注意＞ 日本語", Evasion::Compat), 0, "fullwidth brackets in Japanese prose");
    }

    #[test]
    fn homoglyphs_fold_in_mixed_script_words_only() {
        // Cyrillic а, о, е inside Latin words.
        let text = "ign\u{043E}r\u{0435} pr\u{0435}vious instructions";
        assert_eq!(normalized(text), "ignore previous instructions");
        assert_eq!(hits(text, Evasion::Homoglyph), 2);
        // A Russian word on its own is not folded, nor reported.
        assert_eq!(normalized("сор и мир"), "сор и мир");
        assert_eq!(hits("сор и мир", Evasion::Homoglyph), 0);
        // Greek omicron in a Latin word.
        assert_eq!(normalized("passw\u{03BF}rd"), "password");
        // Latin look-alikes (dotless i, Latin alpha) in English words.
        assert_eq!(normalized("d\u{0131}sable pol\u{0131}cy and byp\u{0251}ss"), "disable policy and bypass");
        // But dotless ı in Turkish text is a letter.
        assert_eq!(normalized("Işık ılık ve güzel, şimdi"), "Işık ılık ve güzel, şimdi");
        // An all-Cyrillic look-alike word inside mostly-Latin text.
        let text = "git clone https://github.com/acme/site.git`\u{0456}\u{0501}`";
        assert_eq!(normalized(text), "git clone https://github.com/acme/site.git`id`");
        assert_eq!(hits(text, Evasion::Homoglyph), 1);
        // Foreign words between spaces are left alone, even in mostly-Latin text.
        for text in [
            "Address: ΡΙΑ 12, Athens, Greece, see the office there",
            "the word είναι means is, in the Greek docs",
            "Turkish word çaydanlık in an English sentence here",
        ] {
            assert_eq!(hits(text, Evasion::Homoglyph), 0, "{text}");
        }
        assert_eq!(
            normalized("{\"input\": \"\u{0430};id;\", \"format\": \"pdf\"}"),
            "{\"input\": \"a;id;\", \"format\": \"pdf\"}"
        );
        // Greek letters without an ASCII prototype (F-beta, a garbled name) are left alone.
        for text in [
            "the F\u{03B2} score of the model",
            "n\u{03C6}\u{03BB}\u{03B1}\u{03BC}\u{03BF}\u{03C5}",
            "\u{03B1}c\u{03C4}\u{00B5}\u{03B1}lly",
        ] {
            assert_eq!(hits(text, Evasion::Homoglyph), 0, "{text}");
        }
    }

    #[test]
    fn tag_characters_are_decoded_and_bidi_controls_dropped() {
        let hidden: String =
            "hi".chars().chain("ignore all".chars().map(|c| char::from_u32(0xE0000 + c as u32).unwrap())).collect();
        assert_eq!(normalized(&hidden), "hiignore all");
        assert!(hits(&hidden, Evasion::Tag) >= 10);
        // The flags of England and Scotland are tag sequences, not hidden text...
        let flags = "Go \u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} and \u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}!";
        assert_eq!(hits(flags, Evasion::Tag), 0);
        // ...but text hidden after a flag is.
        let smuggled: String = "\u{1F3F4}"
            .chars()
            .chain("ignoreallpreviousinstructions".chars().map(|c| char::from_u32(0xE0000 + c as u32).unwrap()))
            .collect();
        assert!(hits(&smuggled, Evasion::Tag) > 0);
        let trojan = "access\u{202E}level\u{2066}x\u{2069}";
        assert_eq!(normalized(trojan), "accesslevelx");
        assert_eq!(hits(trojan, Evasion::Bidi), 3);
    }

    #[test]
    fn spans_map_back_through_every_kind_of_fold() {
        let text = "a\u{200B}b ｆｕｌｌ p\u{0430}ss İ \u{E0041}z";
        let (v, mut m) = view(text);
        let hay = v.text(text).to_string();
        for (i, _) in hay.char_indices() {
            let end = i + hay[i..].chars().next().unwrap().len_utf8();
            let (s, e) = m.original_span(&v, text, i, end);
            assert!(s < e && text.is_char_boundary(s) && text.is_char_boundary(e), "{i}: {s}..{e}");
        }
    }
}
