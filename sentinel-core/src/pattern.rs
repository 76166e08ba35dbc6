//! Compiling one rule's regex: RE2 syntax in, a checked HIR out, with errors that point into
//! the pattern.
//!
//! Word boundaries are rewritten to their ASCII form (`\b` → `(?-u:\b)`): a Unicode `\b` makes
//! the lazy DFA give up on any non-ASCII byte and fall back to a slower engine (the project style guide
//! §1). The cost is that `\b` treats non-ASCII letters as non-word characters.

use crate::error::{Position, RuleProblem};
use regex_syntax::ast::{self, Ast};
use regex_syntax::hir::Hir;

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
}
