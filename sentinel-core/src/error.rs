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
/// let err = sentinel_core::Engine::builder()
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

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Toml { source: String, position: Option<Position>, message: String },
    Rule { source: String, rule: String, line: Option<usize>, problem: RuleProblem },
    Config { message: String },
    SizeLimit { limit: usize, message: String },
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
            Kind::Toml { source, .. } | Kind::Rule { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Where the error is: in the pack for TOML errors; in the rule's pattern for regex errors.
    pub fn position(&self) -> Option<Position> {
        match &*self.kind {
            Kind::Toml { position, .. } => *position,
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
