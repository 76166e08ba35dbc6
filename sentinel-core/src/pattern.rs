//! Compiling one rule's regex: RE2 syntax in, a checked HIR out, with errors that point into
//! the pattern.
//!
//! Word boundaries are rewritten to their ASCII form (`\b` → `(?-u:\b)`): a Unicode `\b` makes
//! the lazy DFA give up on any non-ASCII byte and fall back to a slower engine (shared/STYLE.md
//! §1). The cost is that `\b` treats non-ASCII letters as non-word characters.

use crate::error::{Position, RuleProblem};
use regex_syntax::ast::{self, Ast};
use regex_syntax::hir::{Hir, HirKind};

/// A rule's pattern, compiled.
#[derive(Clone, Debug)]
pub(crate) struct CompiledPattern {
    /// The pattern as the engine runs it, in RE2 syntax (flags and rewrites applied).
    pub(crate) effective: String,
    pub(crate) hir: Hir,
}

/// Nesting limit for rule patterns (regex-syntax's default is 250).
const NEST_LIMIT: u32 = 100;

pub(crate) fn compile(pattern: &str, case_sensitive: bool) -> Result<CompiledPattern, RuleProblem> {
    let mut parsed = ast::parse::ParserBuilder::new()
        .nest_limit(NEST_LIMIT)
        .build()
        .parse(pattern)
        .map_err(|e| regex_problem(pattern, e.span(), e.kind().to_string()))?;
    ascii_word_boundaries(&mut parsed);
    let mut effective = String::new();
    if !case_sensitive {
        effective.push_str("(?i)");
    }
    ast::print::Printer::new()
        .print(&parsed, &mut effective)
        .map_err(|e| RuleProblem::Invalid { message: format!("cannot print pattern: {e}") })?;
    let hir = regex_syntax::hir::translate::TranslatorBuilder::new()
        .case_insensitive(!case_sensitive)
        .utf8(true)
        .build()
        .translate(pattern, &parsed)
        .map_err(|e| regex_problem(pattern, e.span(), e.kind().to_string()))?;
    if hir.properties().minimum_len() == Some(0) {
        return Err(RuleProblem::MatchesEmpty);
    }
    Ok(CompiledPattern { effective, hir })
}

fn regex_problem(pattern: &str, span: &ast::Span, message: String) -> RuleProblem {
    let _ = pattern;
    RuleProblem::Regex {
        position: Some(Position { line: span.start.line, column: span.start.column, offset: span.start.offset }),
        message,
    }
}

/// Rewrites every word-boundary assertion to its ASCII form.
fn ascii_word_boundaries(node: &mut Ast) {
    match node {
        Ast::Assertion(a) => {
            use ast::AssertionKind::*;
            if matches!(
                a.kind,
                WordBoundary
                    | NotWordBoundary
                    | WordBoundaryStart
                    | WordBoundaryEnd
                    | WordBoundaryStartAngle
                    | WordBoundaryEndAngle
                    | WordBoundaryStartHalf
                    | WordBoundaryEndHalf
            ) {
                let span = a.span;
                let inner = std::mem::replace(node, Ast::empty(span));
                *node = Ast::group(ast::Group {
                    span,
                    kind: ast::GroupKind::NonCapturing(ast::Flags {
                        span,
                        items: vec![
                            ast::FlagsItem { span, kind: ast::FlagsItemKind::Negation },
                            ast::FlagsItem { span, kind: ast::FlagsItemKind::Flag(ast::Flag::Unicode) },
                        ],
                    }),
                    ast: Box::new(inner),
                });
            }
        }
        Ast::Repetition(r) => ascii_word_boundaries(&mut r.ast),
        Ast::Group(g) => ascii_word_boundaries(&mut g.ast),
        Ast::Alternation(a) => a.asts.iter_mut().for_each(ascii_word_boundaries),
        Ast::Concat(c) => c.asts.iter_mut().for_each(ascii_word_boundaries),
        _ => {}
    }
}

/// `hir` with every class cut down to its ASCII members. On an ASCII string it matches
/// exactly what `hir` matches (a match of `hir` there is made of ASCII characters only), with
/// a much smaller automaton: Unicode classes (`\w`, `\s`, case folding of `k` and `s`) become
/// a few byte ranges.
pub(crate) fn ascii_only(hir: &Hir) -> Hir {
    use regex_syntax::hir::{Capture, Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Repetition};
    match hir.kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) => Hir::literal(lit.0.clone()),
        HirKind::Class(Class::Unicode(c)) => {
            let mut c = c.clone();
            c.intersect(&ClassUnicode::new([ClassUnicodeRange::new('\0', '\x7f')]));
            Hir::class(Class::Unicode(c))
        }
        HirKind::Class(Class::Bytes(c)) => {
            let mut c = c.clone();
            c.intersect(&ClassBytes::new([ClassBytesRange::new(0, 0x7f)]));
            Hir::class(Class::Bytes(c))
        }
        HirKind::Look(look) => Hir::look(*look),
        HirKind::Repetition(r) => {
            Hir::repetition(Repetition { min: r.min, max: r.max, greedy: r.greedy, sub: Box::new(ascii_only(&r.sub)) })
        }
        HirKind::Capture(c) => {
            Hir::capture(Capture { index: c.index, name: c.name.clone(), sub: Box::new(ascii_only(&c.sub)) })
        }
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(ascii_only).collect()),
        HirKind::Alternation(branches) => Hir::alternation(branches.iter().map(ascii_only).collect()),
    }
}

/// The pattern has a counted repetition longer than `max`.
pub(crate) fn has_repetition_over(hir: &Hir, max: u32) -> bool {
    match hir.kind() {
        HirKind::Repetition(r) => r.max.is_some_and(|m| m > max) || r.min > max || has_repetition_over(&r.sub, max),
        HirKind::Capture(c) => has_repetition_over(&c.sub, max),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(|h| has_repetition_over(h, max)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_boundaries_become_ascii() {
        let p = compile(r"\bunion\s+select\b", false).unwrap();
        assert_eq!(p.effective, r"(?i)(?-u:\b)union\s+select(?-u:\b)");
    }

    #[test]
    fn errors_point_into_the_pattern() {
        match compile("ab(cd", false) {
            Err(RuleProblem::Regex { position: Some(p), .. }) => assert_eq!(p.offset, 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_matches_are_rejected() {
        assert_eq!(compile("a*", false).unwrap_err(), RuleProblem::MatchesEmpty);
    }

    #[test]
    fn the_ascii_part_matches_ascii_text_as_the_whole_pattern_does() {
        let pattern = r"(?:ignore|kelvin)\s+\w{2,8}\s*[^\n]{0,10}?\b(?:rules|secrets)\b|\p{L}+=\d+";
        let whole = compile(pattern, false).unwrap().hir;
        let ascii = ascii_only(&whole);
        let (whole, ascii) = (
            regex_automata::meta::Regex::builder().build_from_hir(&whole).unwrap(),
            regex_automata::meta::Regex::builder().build_from_hir(&ascii).unwrap(),
        );
        for text in
            ["IGNORE  the previous RULES", "kelvin 12345678 secrets", "x key=42", "ignore\tall rules", "nothing"]
        {
            assert_eq!(whole.find(text), ascii.find(text), "{text:?}");
        }
        // Not for other text: the Kelvin sign folds to `k` in the whole pattern only.
        assert!(whole.is_match("\u{212A}elvin ab secrets") && !ascii.is_match("\u{212A}elvin ab secrets"));
    }

    #[test]
    fn counted_repetitions_are_found_at_any_depth() {
        let hir = compile(r"a(?:b|(?:c[^\n]{0,160}d)+)", false).unwrap().hir;
        assert!(has_repetition_over(&hir, 64));
        assert!(!has_repetition_over(&hir, 160));
    }
}
