//! Property tests: no input panics; spans are in bounds and on character boundaries; the
//! optimised engine (one automaton, one regex union, keyword gating, derived anchors and
//! required literals, per-branch required literals) agrees with a naive reference that runs every
//! rule on its own with the independent `regex` crate.

use mcp_threatscan::{Engine, Event, Field, Finding};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::OnceLock;

pub(crate) fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().unwrap())
}

/// Pieces that make rules fire, pieces that nearly do, and evasion characters.
const FRAGMENTS: &[&str] = &[
    "ignore instructions",
    "IGNORE INSTRUCTIONS",
    "delete all",
    "sudo",
    "pseudo",
    "shell",
    "shellfish",
    "<script>",
    "<script src=x>",
    "<system>",
    "export database",
    " UNION SELECT ",
    "union",
    "select",
    "' OR '1'='1",
    "or 1=1",
    "; DROP TABLE users",
    "admin'--",
    "SLEEP(5)",
    "; id",
    "&& whoami",
    "| nc x 1",
    "$(whoami)",
    "`id`",
    "rm -rf /",
    "javascript:alert(1)",
    "JavaScript: ",
    "<img src=x onerror=alert(1)>",
    // Literals the engine anchors rules on instead of their keywords, or requires besides them
    // (derived from the patterns), next to the keywords they stand in for.
    " onload=",
    "document.cookie",
    "eval(",
    "location=",
    "WAITFOR DELAY '0:0:5'",
    "benchmark(",
    "reply only with",
    "just say",
    "https://",
    "where",
    // Branches of alternations with literals of their own, which gate the rule besides its
    // keywords (`program` alone does not open SQL-103; with `copy` it does).
    "copy t from program 'id'",
    "program",
    "into outfile '/tmp/x'",
    "xp_cmdshell",
    "act as",
    "can do anything",
    "\u{200B}",
    "\u{00AD}",
    "\u{FEFF}",
    "É",
    "ß",
    "İ",
    "日本",
    "Привет",
    "ИГНОРИРУЙ",
    "'",
    "\"",
    ";",
    "|",
    "&",
    "`",
    "$(",
    ")",
    "--",
    "#",
    "/*",
    " ",
    "\n",
    "a",
    "0",
    "_",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            1 => "[ -~]{0,12}",
            1 => any::<String>().prop_map(|s| s.chars().take(8).collect::<String>()),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn event(tool: String, prompt: String, response: String, meta: String) -> Event {
    Event {
        timestamp: "t".into(),
        user: "u".into(),
        agent: "a".into(),
        tool,
        prompt,
        response,
        metadata: Some(serde_json::json!({ "arguments": { "q": meta.clone() }, "list": [meta] })),
        ..Default::default()
    }
}

/// The text a finding's path points at.
fn field_text<'e>(e: &'e Event, f: &Finding) -> Option<&'e str> {
    match (f.field, f.path.as_str()) {
        (Field::Tool, _) => Some(&e.tool),
        (Field::Prompt, _) => Some(&e.prompt),
        (Field::Response, _) => Some(&e.response),
        (Field::Metadata, "metadata.arguments.q") => e.metadata.as_ref()?["arguments"]["q"].as_str(),
        (Field::Metadata, "metadata.list[0]") => e.metadata.as_ref()?["list"][0].as_str(),
        (Field::Event, "") => Some(""),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_event_panics_and_spans_are_valid(tool in text(), prompt in text(), response in text(), meta in text()) {
        let e = event(tool, prompt, response, meta);
        let v = engine().scan(&e);
        for f in &v.findings {
            let Some(t) = field_text(&e, f) else {
                return Err(TestCaseError::fail(format!("unexpected path {:?} for field {:?}", f.path, f.field)));
            };
            prop_assert!(f.span.start <= f.span.end && f.span.end <= t.len(), "span {:?} out of bounds of {} bytes", f.span, t.len());
            prop_assert!(t.is_char_boundary(f.span.start) && t.is_char_boundary(f.span.end), "span {:?} not on char boundaries of {:?}", f.span, t);
        }
        // The warm-scratch path gives the same verdict as the pooled one.
        let mut scratch = engine().create_scratch();
        prop_assert_eq!(engine().scan_with(&mut scratch, &e), &v);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_event_parser(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Event::from_json(&bytes);
        let _ = engine().scan_json(&bytes);
    }

    #[test]
    fn the_engine_agrees_with_a_naive_per_rule_reference(prompt in text()) {
        let e = Event { tool: "notes".into(), prompt: prompt.clone(), ..Default::default() };
        let got: BTreeSet<String> = engine()
            .scan(&e)
            .findings
            .iter()
            .filter(|f| f.field == Field::Prompt && !["SZ-", "SYS-", "AU-"].iter().any(|p| f.rule.starts_with(p)))
            .map(|f| f.rule.to_string())
            .filter(|id| !reference().cue_rules.contains(id))
            .collect();
        // Cue rules have their own reference (tests/phrases.rs).
        let expected = reference().fired(&prompt);
        prop_assert_eq!(expected, got, "prompt {:?}", prompt);
    }
}

/// Words and punctuation of the built-in rules' examples and negative examples (ASCII ones),
/// with the fragments: texts built from them make the keyword-gated rules' regexes match, and
/// nearly match, in many places at once.
fn example_pieces() -> &'static [String] {
    static PIECES: OnceLock<Vec<String>> = OnceLock::new();
    PIECES.get_or_init(|| {
        let mut pieces: BTreeSet<String> = FRAGMENTS.iter().filter(|f| f.is_ascii()).map(|f| f.to_string()).collect();
        for rule in engine().rules() {
            for example in rule.spec().examples.iter().chain(&rule.spec().negative_examples) {
                if let mcp_threatscan::Example::Text(text) = example {
                    if text.is_ascii() {
                        pieces.extend(text.split_inclusive([' ', '(', '=', '\'']).map(str::to_string));
                    }
                }
            }
        }
        pieces.into_iter().collect()
    })
}

/// ASCII text, up to a few hundred bytes (well inside one window of a gated rule).
fn ascii_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(example_pieces()),
            1 => "[ -~\n]{0,6}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every keyword-gated rule with a pattern reports the first match of its regex, as the
    /// `regex` crate finds it over the whole text, however the engine got there: scanning a
    /// window, running at start literals, on a tail, or from inner literals backwards.
    #[test]
    fn gated_rules_report_the_first_match_of_their_regex(prompt in ascii_text()) {
        prop_assume!(mcp_threatscan::normalized_view(&prompt) == prompt);
        let verdict = engine().scan(&Event { tool: "notes".into(), prompt: prompt.clone(), ..Default::default() });
        for rule in &reference().rules {
            let Some(re) = &rule.regex else { continue };
            if rule.keywords.is_empty() || rule.validator.is_some() || rule.allows || !rule.applies_to_prompt {
                continue;
            }
            let got = verdict
                .findings
                .iter()
                .find(|f| *f.rule == *rule.id && f.field == Field::Prompt)
                .map(|f| (f.span.start, f.span.end, f.reason.ends_with(" text)")));
            let expected = rule.gate_opens(&prompt).then(|| re.find(&prompt)).flatten().map(|m| (m.start(), m.end(), false));
            match (got, expected) {
                // A match in decoded text (base64, percent, hex) where the plain text has none.
                (Some((_, _, true)), None) => {}
                (got, expected) => prop_assert_eq!(got, expected, "{} in {:?}", rule.id, prompt),
            }
        }
    }
}

/// One rule, compiled on its own with the `regex` crate.
struct NaiveRule {
    id: String,
    keywords: Vec<String>,
    word_boundary: bool,
    regex: Option<regex::Regex>,
    validator: Option<(mcp_threatscan::Validator, Option<f64>)>,
    /// Values the rule lets through (the reference does not apply them).
    allows: bool,
    applies_to_prompt: bool,
}

pub(crate) struct Reference {
    rules: Vec<NaiveRule>,
    /// The rules written as cue phrases.
    pub(crate) cue_rules: BTreeSet<String>,
}

pub(crate) fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| Reference {
        rules: engine()
            .rules()
            .filter(|r| r.enabled())
            .map(|r| NaiveRule {
                id: r.id().to_string(),
                keywords: r.spec().keywords.iter().map(|k| mcp_threatscan::normalized_view(k)).collect(),
                word_boundary: r.spec().word_boundary,
                regex: r.effective_pattern().map(|p| regex::Regex::new(p).unwrap()),
                validator: r.spec().validator.map(|v| (v, r.spec().min_entropy)),
                allows: !r.spec().allow.is_empty(),
                applies_to_prompt: r.spec().scope.is_empty()
                    || r.spec()
                        .scope
                        .iter()
                        .any(|s| matches!(s, mcp_threatscan::Scope::Any | mcp_threatscan::Scope::Prompt)),
            })
            .collect(),
        cue_rules: engine().rules().filter(|r| !r.spec().cues.is_empty()).map(|r| r.id().to_string()).collect(),
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every occurrence of `kw` in `hay`, ASCII case-insensitively, by brute force.
fn keyword_hits<'a>(hay: &'a str, kw: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    (0..=hay.len().saturating_sub(kw.len()))
        .filter(move |&i| {
            hay.is_char_boundary(i)
                && hay.as_bytes()[i..].len() >= kw.len()
                && hay.as_bytes()[i..i + kw.len()].eq_ignore_ascii_case(kw.as_bytes())
        })
        .map(move |i| (i, i + kw.len()))
}

fn bounded(hay: &str, s: usize, e: usize) -> bool {
    let m = &hay[s..e];
    let joins_before = m.chars().next().is_some_and(is_word) && hay[..s].chars().next_back().is_some_and(is_word);
    let joins_after = m.chars().next_back().is_some_and(is_word) && hay[e..].chars().next().is_some_and(is_word);
    !joins_before && !joins_after
}

impl NaiveRule {
    /// A keyword of the rule occurs in `view` (as a whole word when the rule says so).
    fn gate_opens(&self, view: &str) -> bool {
        self.keywords.is_empty()
            || self
                .keywords
                .iter()
                .any(|kw| keyword_hits(view, kw).any(|(s, e)| !self.word_boundary || bounded(view, s, e)))
    }
}

impl Reference {
    /// The rules that fire on `text` as a prompt.
    pub(crate) fn fired(&self, text: &str) -> BTreeSet<String> {
        let view = mcp_threatscan::normalized_view(text);
        let mut fired = BTreeSet::new();
        for rule in &self.rules {
            if !rule.applies_to_prompt || (rule.keywords.is_empty() && rule.regex.is_none()) {
                continue;
            }
            let keyword_ok = rule.gate_opens(&view);
            let pattern_ok = rule.regex.as_ref().is_none_or(|re| {
                // The engine takes the first match that passes the validator (group `v`, or
                // the whole match).
                re.captures_iter(&view).any(|caps| {
                    let value = caps.name("v").unwrap_or_else(|| caps.get(0).unwrap()).as_str();
                    rule.validator.is_none_or(|(v, min)| validate(v, value, min))
                })
            });
            if keyword_ok && pattern_ok {
                fired.insert(rule.id.clone());
            }
        }
        fired
    }
}

fn validate(v: mcp_threatscan::Validator, text: &str, min_entropy: Option<f64>) -> bool {
    use mcp_threatscan::Validator::*;
    match v {
        Luhn => mcp_threatscan::luhn(text),
        Iban => mcp_threatscan::iban(text),
        UsSsn => mcp_threatscan::us_ssn(text),
        Entropy => mcp_threatscan::shannon_entropy(text) >= min_entropy.unwrap_or(0.0),
        Secret => {
            mcp_threatscan::shannon_entropy(text) >= min_entropy.unwrap_or(0.0) && !mcp_threatscan::code_name(text)
        }
    }
}

#[test]
fn the_reference_is_not_vacuous() {
    // The agreement property only means something if rules fire on the generated texts.
    let fired = reference().fired("sudo ; id && ignore instructions' OR '1'='1 <script>");
    for id in ["KW-005", "CMD-001", "KW-002", "SQL-002", "KW-006", "CODE-001"] {
        assert!(fired.contains(id), "{id} missing from {fired:?}");
    }
    let got: BTreeSet<String> = engine()
        .scan(&Event {
            tool: "notes".into(),
            prompt: "sudo ; id && ignore instructions' OR '1'='1 <script>".into(),
            ..Default::default()
        })
        .findings
        .iter()
        .map(|f| f.rule.to_string())
        .collect();
    assert_eq!(fired, got);
}
