//! Rules are data: the TOML schema of a rule pack, shared by the built-in pack and user packs.
//!
//! ```toml
//! [[rule]]
//! id = "SQL-001"                 # stable code, never reused
//! detector = "SEC-40"            # the detector that owns it
//! name = "UNION-based SQL injection"
//! severity = "high"              # low | medium | high | critical
//! description = "…"
//! keywords = ["union"]           # case-insensitive literals; a prefilter when a pattern is set
//! pattern = '(?-u:\b)union\s+(all\s+)?select(?-u:\b)'   # RE2 syntax, case-insensitive by default
//! scope = ["prompt", "metadata"] # prompt | response | tool | metadata | extra | any (default)
//! tools = ["*shell*"]            # only for these tools (globs); not_tools = [...] excludes
//! allow = ["EXAMPLE"]            # drop hits whose matched text contains one of these
//! validator = "luhn"             # optional: luhn | iban | us_ssn | entropy
//! # or, instead of keywords and a pattern, cue phrases (the phrase tier, phrases.rs):
//! # cues = [["act as", "@setup"], ["no restrictions", "unfilter*"]]
//! # within = 200                 # bytes of the word view the occurrences lie within
//! # ordered = false              # the classes must occur in this order
//! examples = ["1 UNION SELECT password FROM users"]
//! negative_examples = ["the union selected its leaders"]
//! references = ["https://owasp.org/…"]
//!
//! [cues]                         # named phrase lists, used as "@name" in this file's cues
//! setup = ["pretend to be", "you are now"]
//!
//! disable = ["KW-004"]           # user packs: turn built-in rules off
//! [severity]                     # user packs: change a rule's severity
//! "KW-001" = "low"
//! ```

use crate::error::{position_of, BuildError, Kind, RuleProblem};
use crate::event::Field;
use crate::severity::{Confidence, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One rule as written in a pack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable code, unique across all packs (e.g. `SQL-001`).
    pub id: String,
    /// Code of the detector that owns the rule (e.g. `SEC-40`).
    pub detector: String,
    /// Short name, used as the finding's reason.
    pub name: String,
    /// Severity of a finding.
    pub severity: Severity,
    /// How strongly a match alone shows an attack (default `high`). `low` for a weak signal
    /// (a phone-like number, an address after travel wording): its findings act one step below
    /// their severity by default (`actions.low_confidence`).
    #[serde(default, skip_serializing_if = "Confidence::is_high")]
    pub confidence: Confidence,
    /// What the rule catches and why it matters.
    pub description: String,
    /// Category of findings (snake_case); defaults to the detector's category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Case-insensitive literal keywords. Alone, any of them fires the rule; with a pattern,
    /// one of them must be present for the pattern to be considered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Keywords must stand as whole words (not inside a longer alphanumeric run).
    #[serde(default, skip_serializing_if = "is_false")]
    pub word_boundary: bool,
    /// A regex in RE2 syntax (the `regex` crate's). Case-insensitive unless `case_sensitive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Cue phrases, instead of keywords and a pattern: up to four classes of phrases (each a
    /// phrase such as `"act as"` or `"refus*"`, or `"@name"` for a list of the pack's `[cues]`
    /// table, expanded when the pack is read). The rule fires on a string where every class
    /// occurs within `within` bytes of its word view (see the phrase tier).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cues: Vec<Vec<String>>,
    /// For cue rules: the most bytes of the word view the occurrences may span (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<u32>,
    /// For cue rules: the classes must occur in the order written, without overlapping.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ordered: bool,
    /// Match the pattern case-sensitively (secrets with fixed-case prefixes).
    #[serde(default, skip_serializing_if = "is_false")]
    pub case_sensitive: bool,
    /// Where the rule applies; empty means everywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<Scope>,
    /// Apply only when the event's tool matches one of these case-insensitive globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Do not apply when the event's tool matches one of these case-insensitive globs (e.g. a
    /// documentation tool for a rule about shell commands).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_tools: Vec<String>,
    /// Known-harmless values (documentation example keys, placeholders): a hit whose matched
    /// text (or group `v`) contains one of these, case-insensitively, is dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// A check run on the matched text (or on its capture group named `v`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<Validator>,
    /// For `validator = "entropy"`: the minimum Shannon entropy in bits per character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_entropy: Option<f64>,
    /// Inputs the rule must fire on (a test checks each).
    #[serde(default)]
    pub examples: Vec<Example>,
    /// Inputs the rule must not fire on (a test checks each).
    #[serde(default)]
    pub negative_examples: Vec<Example>,
    /// Where the attack or format is documented.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where a rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Anywhere.
    Any,
    /// The tool name.
    Tool,
    /// The prompt.
    Prompt,
    /// The response.
    Response,
    /// Metadata string leaves.
    Metadata,
    /// Unknown top-level fields.
    Extra,
}

/// A bit set of fields, compiled from a rule's scope list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScopeMask(u8);

impl ScopeMask {
    pub(crate) const ANY: ScopeMask = ScopeMask(0xff);

    pub(crate) fn from_scopes(scopes: &[Scope]) -> ScopeMask {
        if scopes.is_empty() || scopes.contains(&Scope::Any) {
            return ScopeMask::ANY;
        }
        let mut bits = 0u8;
        for s in scopes {
            bits |= match s {
                Scope::Any => 0xff,
                Scope::Tool => Self::bit(Field::Tool),
                Scope::Prompt => Self::bit(Field::Prompt),
                Scope::Response => Self::bit(Field::Response),
                Scope::Metadata => Self::bit(Field::Metadata),
                Scope::Extra => Self::bit(Field::Extra),
            };
        }
        ScopeMask(bits)
    }

    fn bit(field: Field) -> u8 {
        1 << (field as u8)
    }

    pub(crate) fn contains(self, field: Field) -> bool {
        self.0 & Self::bit(field) != 0
    }
}

/// A check run on a match before it becomes a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// Payment card numbers: the Luhn checksum over the digits.
    Luhn,
    /// IBAN: country length and the ISO 13616 mod-97 check.
    Iban,
    /// US social security numbers: area, group and serial in their valid ranges.
    UsSsn,
    /// Random-looking secrets: Shannon entropy at least `min_entropy` bits per character.
    Entropy,
    /// A secret assigned to a name: `entropy`, and not a name from code itself (an identifier
    /// or type such as `btrfs_ioctl_search_key`, `FAST_IO_UNLOCK_ALL_BY_KEY` or
    /// `UnicodePassword`: words in snake, kebab, dotted or camel case with at most a short
    /// number after each).
    Secret,
}

/// An example input for a rule: a string (scanned in the rule's first scope field, or the
/// prompt), or a partial event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Example {
    /// A text.
    Text(String),
    /// A partial event; missing fields are empty (the tool defaults to `example_tool`).
    Event(ExampleEvent),
}

/// A partial event used as a rule example.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleEvent {
    /// The tool name.
    #[serde(default)]
    pub tool: Option<String>,
    /// The prompt.
    #[serde(default)]
    pub prompt: String,
    /// The response.
    #[serde(default)]
    pub response: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

impl Example {
    /// The example as a full event. A text goes to `field`.
    pub fn to_event(&self, field: Field) -> crate::Event {
        let mut event = crate::Event {
            timestamp: "2024-01-01T00:00:00Z".into(),
            user: "example".into(),
            agent: "example".into(),
            tool: "example_tool".into(),
            ..Default::default()
        };
        match self {
            Example::Text(text) => match field {
                Field::Tool => event.tool = text.clone(),
                Field::Response => event.response = text.clone(),
                Field::Metadata => event.metadata = Some(serde_json::json!({ "example": text })),
                Field::Extra => {
                    event.extra.insert("example".into(), serde_json::Value::String(text.clone()));
                }
                Field::Prompt | Field::Event => event.prompt = text.clone(),
            },
            Example::Event(e) => {
                if let Some(tool) = &e.tool {
                    event.tool = tool.clone();
                }
                event.prompt = e.prompt.clone();
                event.response = e.response.clone();
                event.metadata = e.metadata.clone();
            }
        }
        event
    }
}

impl RuleSpec {
    /// For a cue rule, how close its classes must occur (bytes of the word view): `within`, or
    /// the default of 200. `None` for a keyword or pattern rule.
    pub fn cue_within(&self) -> Option<u32> {
        (!self.cues.is_empty()).then(|| self.within.unwrap_or(crate::phrases::DEFAULT_WITHIN))
    }

    /// The field a text example is scanned in: the first field of the scope, else the prompt.
    pub fn example_field(&self) -> Field {
        match self.scope.iter().find(|s| **s != Scope::Any) {
            Some(Scope::Tool) => Field::Tool,
            Some(Scope::Response) => Field::Response,
            Some(Scope::Metadata) => Field::Metadata,
            Some(Scope::Extra) => Field::Extra,
            _ => Field::Prompt,
        }
    }
}

/// A parsed rule pack file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<RuleSpec>>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    severity: BTreeMap<String, Severity>,
    /// Named phrase lists for the pack's cue rules (`"@name"`).
    #[serde(default)]
    cues: BTreeMap<String, Vec<String>>,
}

/// A rule with where it came from.
#[derive(Clone, Debug)]
pub(crate) struct SourcedRule {
    pub(crate) spec: RuleSpec,
    pub(crate) source: String,
    pub(crate) line: Option<usize>,
}

/// A parsed pack: its new rules and its changes to other rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pack {
    pub(crate) source: String,
    pub(crate) rules: Vec<SourcedRule>,
    pub(crate) disable: Vec<String>,
    pub(crate) severity: BTreeMap<String, Severity>,
}

/// The largest index `<= i` on a character boundary of `s`.
pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl Pack {
    /// Parses a pack; `source` names it in errors.
    pub(crate) fn parse(source: &str, text: &str) -> Result<Pack, BuildError> {
        let file: PackFile = toml::from_str(text).map_err(|e| {
            let position = e.span().map(|s| position_of(text, s.start));
            BuildError::new(Kind::Toml { source: source.to_string(), position, message: e.message().to_string() })
        })?;
        // Each rule's line, counted on from the previous rule's (they come in order): linear
        // in the pack, however many rules it has.
        let (mut at, mut line) = (0, 1);
        let lists = file.cues;
        let rules = file
            .rule
            .into_iter()
            .map(|spanned| {
                let start = spanned.span().start.min(text.len());
                if start < at {
                    (at, line) = (0, 1);
                }
                line += memchr::memchr_iter(b'\n', &text.as_bytes()[at..start]).count();
                at = start;
                let mut rule = SourcedRule { spec: spanned.into_inner(), source: source.to_string(), line: Some(line) };
                expand_cues(&mut rule, &lists)?;
                Ok(rule)
            })
            .collect::<Result<_, BuildError>>()?;
        Ok(Pack { source: source.to_string(), rules, disable: file.disable, severity: file.severity })
    }
}

/// Replaces each `"@name"` of a rule's cues with the pack's list of that name.
fn expand_cues(rule: &mut SourcedRule, lists: &BTreeMap<String, Vec<String>>) -> Result<(), BuildError> {
    if !rule.spec.cues.iter().flatten().any(|p| p.starts_with('@')) {
        return Ok(());
    }
    let mut classes = Vec::with_capacity(rule.spec.cues.len());
    for class in &rule.spec.cues {
        let mut phrases = Vec::with_capacity(class.len());
        for phrase in class {
            match phrase.strip_prefix('@') {
                None => phrases.push(phrase.clone()),
                Some(name) => match lists.get(name) {
                    Some(list) => phrases.extend(list.iter().cloned()),
                    None => {
                        let message = format!("cue list \"@{name}\" is not in the pack's [cues] table");
                        return Err(BuildError::rule(
                            &rule.source,
                            &rule.spec.id,
                            rule.line,
                            RuleProblem::Invalid { message },
                        ));
                    }
                },
            }
        }
        classes.push(phrases);
    }
    rule.spec.cues = classes;
    Ok(())
}

/// Checks that a rule is well-formed on its own (its detector is checked by the builder).
pub(crate) fn check_rule_shape(rule: &SourcedRule) -> Result<(), BuildError> {
    let spec = &rule.spec;
    let err = |problem| Err(BuildError::rule(&rule.source, &spec.id, rule.line, problem));
    if spec.id.trim().is_empty() || spec.id.chars().any(|c| c.is_whitespace()) {
        return err(RuleProblem::Invalid { message: "rule id must be non-empty and contain no spaces".into() });
    }
    if spec.keywords.iter().any(|k| k.is_empty()) {
        return err(RuleProblem::EmptyKeyword);
    }
    let entropic = matches!(spec.validator, Some(Validator::Entropy | Validator::Secret));
    if entropic && spec.min_entropy.is_none() {
        return err(RuleProblem::Invalid { message: "validators \"entropy\" and \"secret\" need min_entropy".into() });
    }
    if spec.min_entropy.is_some() && !entropic {
        return err(RuleProblem::Invalid {
            message: "min_entropy is only meaningful with validator \"entropy\" or \"secret\"".into(),
        });
    }
    if spec.validator.is_some() && spec.pattern.is_none() {
        return err(RuleProblem::Invalid { message: "a validator needs a pattern to validate".into() });
    }
    check_cues(spec).map_or(Ok(()), |message| err(RuleProblem::Invalid { message }))
}

/// What is wrong with a rule's cues, if anything.
fn check_cues(spec: &RuleSpec) -> Option<String> {
    use crate::phrases::{Phrase, MAX_CLASSES, MAX_WITHIN};
    if spec.cues.is_empty() {
        return (spec.within.is_some() || spec.ordered)
            .then(|| "within and ordered are only meaningful with cues".into());
    }
    if !spec.keywords.is_empty() || spec.pattern.is_some() {
        return Some("a rule has either cues or keywords and a pattern, not both".into());
    }
    if spec.cues.len() > MAX_CLASSES {
        return Some(format!("a rule has at most {MAX_CLASSES} classes of cues, this one {}", spec.cues.len()));
    }
    if let Some(w) = spec.within.filter(|w| !(1..=MAX_WITHIN).contains(w)) {
        return Some(format!("within must be between 1 and {MAX_WITHIN} bytes, not {w}"));
    }
    for (k, class) in spec.cues.iter().enumerate() {
        if class.is_empty() {
            return Some(format!("class {} of cues is empty", k + 1));
        }
        if let Some(bad) = class.iter().find(|p| Phrase::parse(p).is_none()) {
            return Some(format!("cue {bad:?} (class {}) has no letter or digit", k + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_gets_the_line_it_starts_at() {
        let rule = |id: &str| {
            format!("[[rule]]\nid = \"{id}\"\ndetector = \"SEC-40\"\nname = \"n\"\nseverity = \"high\"\ndescription = \"d\"\nkeywords = [\"k\"]\n\n")
        };
        let text = format!("# a pack\n\n{}{}\n\n# more\n{}", rule("A-1"), rule("A-2"), rule("A-3"));
        let pack = Pack::parse("p.toml", &text).unwrap();
        let lines: Vec<_> = pack.rules.iter().map(|r| r.line.unwrap()).collect();
        let expected: Vec<_> = text.lines().enumerate().filter(|(_, l)| *l == "[[rule]]").map(|(i, _)| i + 1).collect();
        assert_eq!(lines, expected);
    }
}
