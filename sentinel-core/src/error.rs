//! The opaque error returned when an engine cannot be built.

use std::fmt;

/// Why an [`Engine`](crate::Engine) could not be built: a rule pack that does not parse, a
/// rule that is invalid, or a configuration that names something that does not exist.
///
/// The error is opaque, with accessors for what a caller may act on (the rule, the position,
/// the size limit), as regex-automata's `BuildError`. A pack with any error is rejected whole:
/// nothing is half-applied.
///
/// ```
/// let err = mcp_threatscan::Engine::builder()
///     .rules_toml("user.toml", r#"
/// [[rule]]
/// id = "U-1"
/// detector = "SEC-40"
/// name = "broken"
/// severity = "high"
/// description = "a broken regex"
/// pattern = "union(select"
/// "#)
///     .build()
///     .unwrap_err();
/// assert_eq!(err.rule_id(), Some("U-1"));
/// assert!(err.to_string().contains("unclosed group"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    kind: Box<Kind>,
}

/// A position in a rule pack or in a rule's pattern (1-based line and column, 0-based byte
/// offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// 0-based byte offset.
    pub offset: usize,
}

/// 1-based line and column of a byte offset in `text`.
pub(crate) fn position_of(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let mut end = offset;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = memchr::memchr_iter(b'\n', before.as_bytes()).count() + 1;
    let line_start = memchr::memrchr(b'\n', before.as_bytes()).map_or(0, |p| p + 1);
    let column = before[line_start..].chars().count() + 1;
    Position { line, column, offset }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// What kind of error a [`BuildError`] is: the stable code a binding maps to its own error
/// types (`as_str`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A rule pack is not valid TOML, or not a rule pack (`rule_pack`).
    RulePack,
    /// One rule is invalid: its regex, its detector, a duplicate id, … (`rule`).
    Rule,
    /// The configuration is invalid: its text does not parse, or it names something that does
    /// not exist (`config`).
    Config,
    /// The compiled rules exceed a size limit (`size_limit`).
    SizeLimit,
}

impl ErrorKind {
    /// The kind's stable code: `rule_pack`, `rule`, `config` or `size_limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RulePack => "rule_pack",
            ErrorKind::Rule => "rule",
            ErrorKind::Config => "config",
            ErrorKind::SizeLimit => "size_limit",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Toml {
        source: String,
        position: Option<Position>,
        message: String,
    },
    /// A configuration's text (TOML or JSON) that does not parse as a configuration.
    ConfigText {
        source: String,
        position: Option<Position>,
        message: String,
    },
    Rule {
        source: String,
        rule: String,
        line: Option<usize>,
        problem: RuleProblem,
    },
    Config {
        message: String,
    },
    /// One option ([`crate::Config::set_option`]) with a value it cannot take.
    Option {
        name: String,
        message: String,
    },
    SizeLimit {
        limit: usize,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RuleProblem {
    Duplicate { first_source: String },
    UnknownDetector { detector: String },
    UnknownRule { context: &'static str },
    Regex { position: Option<Position>, message: String },
    SizeLimit { limit: usize, message: String },
    MatchesEmpty,
    NoMatcher,
    EmptyKeyword,
    Invalid { message: String },
}

impl BuildError {
    pub(crate) fn new(kind: Kind) -> Self {
        BuildError { kind: Box::new(kind) }
    }

    pub(crate) fn rule(source: &str, rule: &str, line: Option<usize>, problem: RuleProblem) -> Self {
        BuildError::new(Kind::Rule { source: source.to_string(), rule: rule.to_string(), line, problem })
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        BuildError::new(Kind::Config { message: message.into() })
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match &*self.kind {
            Kind::Toml { .. } => ErrorKind::RulePack,
            Kind::ConfigText { .. } | Kind::Config { .. } | Kind::Option { .. } => ErrorKind::Config,
            Kind::Rule { problem: RuleProblem::SizeLimit { .. }, .. } | Kind::SizeLimit { .. } => ErrorKind::SizeLimit,
            Kind::Rule { .. } => ErrorKind::Rule,
        }
    }

    /// The option at fault, for an error of [`crate::Config::set_option`].
    pub fn option(&self) -> Option<&str> {
        match &*self.kind {
            Kind::Option { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The id of the rule at fault, when the error is about one rule.
    pub fn rule_id(&self) -> Option<&str> {
        match &*self.kind {
            Kind::Rule { rule, .. } => Some(rule),
            _ => None,
        }
    }

    /// The name of the pack (file name or label) the error is in, when it is in a pack.
    pub fn source_name(&self) -> Option<&str> {
        match &*self.kind {
            Kind::Toml { source, .. } | Kind::ConfigText { source, .. } | Kind::Rule { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Where the error is: in the pack for TOML errors, in the configuration's text for
    /// configuration syntax errors, in the rule's pattern for regex errors.
    pub fn position(&self) -> Option<Position> {
        match &*self.kind {
            Kind::Toml { position, .. } | Kind::ConfigText { position, .. } => *position,
            Kind::Rule { problem: RuleProblem::Regex { position, .. }, .. } => *position,
            _ => None,
        }
    }

    /// The 1-based line in the pack where the faulty rule starts, when known.
    pub fn rule_line(&self) -> Option<usize> {
        match &*self.kind {
            Kind::Rule { line, .. } => *line,
            Kind::Toml { position, .. } => position.map(|p| p.line),
            _ => None,
        }
    }

    /// The size limit that was exceeded, when that is the error.
    pub fn size_limit(&self) -> Option<usize> {
        match &*self.kind {
            Kind::SizeLimit { limit, .. } | Kind::Rule { problem: RuleProblem::SizeLimit { limit, .. }, .. } => {
                Some(*limit)
            }
            _ => None,
        }
    }

    /// True when the error is a syntax error in a rule's regex.
    pub fn is_regex_error(&self) -> bool {
        matches!(&*self.kind, Kind::Rule { problem: RuleProblem::Regex { .. }, .. })
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            Kind::Toml { source, position: Some(p), message } => write!(f, "{source}: {p}: {message}"),
            Kind::Toml { source, position: None, message } => write!(f, "{source}: {message}"),
            Kind::Config { message } => write!(f, "invalid configuration: {message}"),
            Kind::Option { name, message } => write!(f, "{name}: {message}"),
            Kind::ConfigText { source, position: Some(p), message } => write!(f, "{source}: {p}: {message}"),
            Kind::ConfigText { source, position: None, message } => write!(f, "{source}: {message}"),
            Kind::SizeLimit { limit, message } => {
                write!(f, "the compiled rules together exceed the size limit of {limit} bytes: {message}")
            }
            Kind::Rule { source, rule, line, problem } => {
                match line {
                    Some(l) => write!(f, "{source}: line {l}: rule {rule}: ")?,
                    None => write!(f, "{source}: rule {rule}: ")?,
                }
                match problem {
                    RuleProblem::Duplicate { first_source } => {
                        write!(f, "duplicate rule id (first defined in {first_source})")
                    }
                    RuleProblem::UnknownDetector { detector } => write!(f, "unknown detector {detector:?}"),
                    RuleProblem::UnknownRule { context } => write!(f, "{context} names a rule that does not exist"),
                    RuleProblem::Regex { position: Some(p), message } => {
                        write!(f, "invalid regex at pattern offset {} ({p}): {message}", p.offset)
                    }
                    RuleProblem::Regex { position: None, message } => write!(f, "invalid regex: {message}"),
                    RuleProblem::SizeLimit { limit, message } => {
                        write!(f, "pattern compiles past the size limit of {limit} bytes: {message}")
                    }
                    RuleProblem::MatchesEmpty => {
                        f.write_str("pattern can match the empty string, so it would fire on every input")
                    }
                    RuleProblem::NoMatcher => {
                        f.write_str("rule has neither keywords nor a pattern, and its detector does not emit it itself")
                    }
                    RuleProblem::EmptyKeyword => f.write_str("empty keyword"),
                    RuleProblem::Invalid { message } => f.write_str(message),
                }
            }
        }
    }
}

impl std::error::Error for BuildError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_survive_bad_offsets() {
        let at = |text: &str, offset| {
            let p = position_of(text, offset);
            (p.line, p.column)
        };
        assert_eq!(at("ab\nc\u{e9}d", 6), (2, 3));
        assert_eq!(at("\u{e9}", 1), (1, 1));
        assert_eq!(at("x", 99), (1, 2));
    }
}
