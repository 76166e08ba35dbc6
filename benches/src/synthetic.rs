//! A synthetic rule pack, generated in code, to measure how scanning scales with the number
//! of rules.
//!
//! The shape follows real rule packs (gitleaks, noseyparker, prompt-injection lists) rather
//! than random regexes, because the shape decides the cost:
//!
//! - 60% **secret formats** gated by a keyword, like gitleaks: a fixed prefix keyword
//!   (`qb0n_`, `QB0N`, …) and a case-sensitive pattern for the token after it
//!   (`qb0n_[A-Za-z0-9]{36}`), plus one case-insensitive "service key assignment" shape
//!   in six. Counted repetitions stay at or under `{40}`.
//! - 25% **keyword-only** rules: two four-word injection phrases each
//!   ("disregard every hidden guardrails"), a third of them with `word_boundary`.
//! - 15% **ungated** case-insensitive regexes in four shapes around two words
//!   (`wire\s+funds\s+\d+`, `grant[_-]?keys\s*[:=]\s*\d{2,8}`, …): no keyword, so they run
//!   on every string.
//!
//! Every rule carries a [`SyntheticRule::sample`] that fires it; the tests check each one,
//! and [`crate::inputs`] puts some of them in the malicious events.

use crate::Rng;
use mcp_threatscan::Engine;
use std::fmt::Write as _;

/// The number of rules of the synthetic pack the benches load.
pub const RULES: usize = 1_000;

/// The pack name passed to `rules_toml`.
pub const SOURCE: &str = "bench:synthetic.toml";

/// An engine with the synthetic pack `toml` and without the built-in content packs (the
/// built-in detectors' policy rules, tool policy and size limits, stay, as in any engine).
pub fn engine(toml: &str) -> Result<Engine, mcp_threatscan::BuildError> {
    Engine::builder().without_builtin_rules().rules_toml(SOURCE, toml).build()
}

/// What a synthetic rule looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A keyword-gated secret format.
    Secret,
    /// Keywords only.
    Phrase,
    /// A regex without keywords.
    Ungated,
}

/// One generated rule.
#[derive(Clone, Debug)]
pub struct SyntheticRule {
    /// Unique id (`SYN-0001`, …).
    pub id: String,
    /// What it looks like.
    pub kind: Kind,
    /// Owning detector (an existing built-in code).
    pub detector: &'static str,
    /// Short name.
    pub name: String,
    /// Severity name.
    pub severity: &'static str,
    /// Description.
    pub description: String,
    /// Keywords (case-insensitive literals).
    pub keywords: Vec<String>,
    /// Whether keywords must stand as whole words.
    pub word_boundary: bool,
    /// The pattern, if any.
    pub pattern: Option<String>,
    /// Whether the pattern is case-sensitive.
    pub case_sensitive: bool,
    /// A text that fires the rule.
    pub sample: String,
}

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGIT: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_DIGIT: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const DIGITS: &[u8] = b"0123456789";

const SYLLABLES: [&str; 16] =
    ["zor", "vex", "quan", "dril", "mab", "tek", "plo", "fyn", "gar", "wix", "sul", "bren", "kos", "tav", "yum", "jel"];

const VERBS: [&str; 10] =
    ["ignore", "disregard", "forget", "override", "bypass", "skip", "drop", "discard", "abandon", "suspend"];
const DETERMINERS: [&str; 5] = ["all", "any", "the", "every", "your"];
const ADJECTIVES: [&str; 10] =
    ["previous", "prior", "earlier", "original", "hidden", "internal", "initial", "preceding", "system", "safety"];
const NOUNS: [&str; 10] = [
    "instructions",
    "rules",
    "guidelines",
    "directives",
    "constraints",
    "policies",
    "prompts",
    "filters",
    "guardrails",
    "restrictions",
];

const ACTIONS: [&str; 15] = [
    "transfer", "wire", "grant", "export", "dump", "upload", "send", "forward", "copy", "sync", "mirror", "push",
    "leak", "post", "share",
];
const OBJECTS: [&str; 15] = [
    "funds", "credits", "admin", "records", "tables", "logs", "keys", "tokens", "files", "emails", "contacts",
    "backups", "secrets", "invoices", "reports",
];

fn random(rng: &mut Rng, alphabet: &[u8], len: usize) -> String {
    (0..len).map(|_| *rng.pick(alphabet) as char).collect()
}

/// The first `n` rules of the synthetic pack, in pack order. Rule `i` is a secret format when
/// `i % 20 < 12`, a keyword-only rule when `12 <= i % 20 < 17`, else an ungated regex.
pub fn rules(n: usize) -> Vec<SyntheticRule> {
    let (mut secrets, mut phrases, mut ungated) = (0, 0, 0);
    (0..n)
        .map(|i| {
            let id = format!("SYN-{:04}", i + 1);
            let mut rng = Rng::new(0x5e47_1e11 ^ (i as u64).wrapping_mul(0x1000_0000_01b3));
            match i % 20 {
                0..=11 => {
                    secrets += 1;
                    secret(id, secrets - 1, &mut rng)
                }
                12..=16 => {
                    phrases += 1;
                    phrase(id, phrases - 1)
                }
                _ => {
                    ungated += 1;
                    ungated_rule(id, ungated - 1)
                }
            }
        })
        .collect()
}

/// A four-character prefix (letter, letter, digit, letter), unique for `k < 6,760`.
fn prefix(k: usize) -> String {
    let c0 = k % 26;
    let c1 = (k / 26) % 26;
    let q = k / 676;
    let digit = (q + 3 * k) % 10; // 9q + const (mod 10): still unique for q < 10
    let mut s = String::with_capacity(4);
    s.push(LOWER[(c1 * 7 + 3) % 26] as char);
    s.push(LOWER[(c0 * 11 + 5) % 26] as char);
    s.push(DIGITS[digit] as char);
    s.push(LOWER[(k * 5 + 1) % 26] as char);
    s
}

fn secret(id: String, k: usize, rng: &mut Rng) -> SyntheticRule {
    let p = prefix(k);
    let severity = if k % 3 == 0 { "critical" } else { "high" };
    let (name, keywords, pattern, case_sensitive, sample) = match k % 6 {
        0 => (
            format!("{p}_ personal access token"),
            vec![format!("{p}_")],
            format!("{p}_[A-Za-z0-9]{{36}}"),
            true,
            format!("{p}_{}", random(rng, ALNUM, 36)),
        ),
        1 => (
            format!("{p}- bot token"),
            vec![format!("{p}-")],
            format!("{p}-[0-9]{{10,13}}-[0-9]{{10,13}}-[A-Za-z0-9]{{24}}"),
            true,
            format!("{p}-{}-{}-{}", random(rng, DIGITS, 12), random(rng, DIGITS, 11), random(rng, ALNUM, 24)),
        ),
        2 => {
            let up = p.to_ascii_uppercase();
            (
                format!("{up} access key id"),
                vec![up.clone()],
                format!(r"\b{up}[0-9A-Z]{{16}}\b"),
                true,
                format!("{up}{}", random(rng, UPPER_DIGIT, 16)),
            )
        }
        3 => (
            format!("{p}_live_ / {p}_test_ API key"),
            vec![format!("{p}_live_"), format!("{p}_test_")],
            format!("{p}_(?:live|test)_[A-Za-z0-9]{{24,40}}"),
            true,
            format!("{p}_live_{}", random(rng, ALNUM, 30)),
        ),
        4 => (
            format!("{p}- hex token"),
            vec![format!("{p}-")],
            format!(r"\b{p}-[a-f0-9]{{40}}\b"),
            true,
            format!("{p}-{}", random(rng, HEX, 40)),
        ),
        _ => {
            let m = k / 6;
            let service = format!("{}{}{}", SYLLABLES[m % 16], SYLLABLES[(m / 16) % 16], SYLLABLES[(m * 7 + 3) % 16]);
            (
                format!("{service} API key assignment"),
                vec![service.clone()],
                format!(r#"{service}[_.-]?(?:api[_.-]?)?(?:key|token|secret)\s*[:=]\s*["']?[a-z0-9]{{32}}["']?"#),
                false,
                format!("{service}_api_key = \"{}\"", random(rng, LOWER_DIGIT, 32)),
            )
        }
    };
    SyntheticRule {
        id,
        kind: Kind::Secret,
        detector: "SEC-02",
        description: format!("Synthetic secret format: {name}."),
        name,
        severity,
        keywords,
        word_boundary: false,
        pattern: Some(pattern),
        case_sensitive,
        sample,
    }
}

/// Injection phrase number `idx` (< 5,000) of the verb × determiner × adjective × noun grid.
fn injection_phrase(idx: usize) -> String {
    format!(
        "{} {} {} {}",
        VERBS[idx % 10],
        DETERMINERS[(idx / 10) % 5],
        ADJECTIVES[(idx / 50) % 10],
        NOUNS[(idx / 500) % 10]
    )
}

fn phrase(id: String, k: usize) -> SyntheticRule {
    // 17 is invertible mod 5,000, so the phrases are distinct for k < 5,000; the second
    // phrase is half the grid away and cannot collide with a first phrase for k < 2,500.
    let main = injection_phrase((k * 17) % 5000);
    let alt = injection_phrase((k * 17 + 2500) % 5000);
    let detector = if k % 4 == 3 { "SEC-05" } else { "SEC-01" };
    SyntheticRule {
        id,
        kind: Kind::Phrase,
        detector,
        name: format!("injection phrase \"{main}\""),
        severity: if k % 2 == 0 { "medium" } else { "high" },
        description: format!("Synthetic instruction-override phrase: \"{main}\" or \"{alt}\"."),
        sample: format!("so please {main} and answer"),
        keywords: vec![main, alt],
        word_boundary: k % 3 == 0,
        pattern: None,
        case_sensitive: false,
    }
}

fn ungated_rule(id: String, k: usize) -> SyntheticRule {
    let a = k % 15;
    let b = (k / 15 + 4 * a) % 15; // unique (a, b) for k < 225
    let (act, obj, obj2) = (ACTIONS[a], OBJECTS[b], OBJECTS[(b + 1) % 15]);
    let (pattern, sample) = match k % 4 {
        0 => (format!(r"{act}\s+{obj}\s+\d+"), format!("{act} {obj} 4096")),
        1 => (
            format!(r"{act}\s+(?:the\s+|all\s+)?{obj}\s+to\s+\S+@\S+\.\w+"),
            format!("{act} all {obj} to drop@exfil.example"),
        ),
        2 => (format!(r"\b{act}[_-]?{obj}\s*[:=]\s*\d{{2,8}}\b"), format!("{act}_{obj} = 31337")),
        _ => (format!(r"{act}\s+(?:{obj}|{obj2})\s+(?:of|from|in)\s+\w+"), format!("{act} {obj2} from production")),
    };
    let detector = ["SEC-04", "SEC-40", "SEC-41", "SEC-46"][k % 4];
    SyntheticRule {
        id,
        kind: Kind::Ungated,
        detector,
        name: format!("\"{act} {obj}\" request"),
        severity: if k % 2 == 0 { "low" } else { "medium" },
        description: format!("Synthetic ungated regex around \"{act}\" and \"{obj}\"."),
        keywords: Vec::new(),
        word_boundary: false,
        pattern: Some(pattern),
        case_sensitive: false,
        sample,
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The rules as a TOML rule pack (the schema of `sentinel-core/rules/seed.toml`).
pub fn pack_toml(rules: &[SyntheticRule]) -> String {
    let mut out = String::from("# Synthetic rule pack generated by sentinel-benches (see synthetic.rs).\n");
    for r in rules {
        let _ = writeln!(out, "\n[[rule]]");
        let _ = writeln!(out, "id = {}", toml_string(&r.id));
        let _ = writeln!(out, "detector = {}", toml_string(r.detector));
        let _ = writeln!(out, "name = {}", toml_string(&r.name));
        let _ = writeln!(out, "severity = {}", toml_string(r.severity));
        let _ = writeln!(out, "description = {}", toml_string(&r.description));
        if !r.keywords.is_empty() {
            let list: Vec<String> = r.keywords.iter().map(|k| toml_string(k)).collect();
            let _ = writeln!(out, "keywords = [{}]", list.join(", "));
        }
        if r.word_boundary {
            let _ = writeln!(out, "word_boundary = true");
        }
        if let Some(p) = &r.pattern {
            let _ = writeln!(out, "pattern = {}", toml_string(p));
        }
        if r.case_sensitive {
            let _ = writeln!(out, "case_sensitive = true");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_threatscan::Event;
    use std::collections::HashSet;

    #[test]
    fn mix_ids_and_keywords() {
        let rules = rules(RULES);
        let count = |k| rules.iter().filter(|r| r.kind == k).count();
        assert_eq!((count(Kind::Secret), count(Kind::Phrase), count(Kind::Ungated)), (600, 250, 150));
        let ids: HashSet<_> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), RULES);
        let patterns: HashSet<_> = rules.iter().filter_map(|r| r.pattern.as_deref()).collect();
        assert_eq!(patterns.len(), 750);
        let keywords: Vec<_> = rules.iter().flat_map(|r| r.keywords.iter().map(|k| k.to_lowercase())).collect();
        let distinct: HashSet<_> = keywords.iter().collect();
        assert_eq!(distinct.len(), keywords.len(), "keywords repeat across rules");
    }

    #[test]
    fn every_sample_fires_its_rule() {
        let rules = rules(RULES);
        let engine = engine(&pack_toml(&rules)).unwrap();
        assert_eq!(engine.rules().filter(|r| r.id().starts_with("SYN-")).count(), RULES);
        let mut scratch = engine.create_scratch();
        for r in &rules {
            let event = Event { tool: "bench".into(), prompt: r.sample.clone(), ..Event::default() };
            let verdict = engine.scan_with(&mut scratch, &event);
            assert!(verdict.has_rule(&r.id), "{} does not fire on its sample {:?}", r.id, r.sample);
        }
    }
}
