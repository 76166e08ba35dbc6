//! The built-in rule packs, and how the packs of an engine merge into one catalogue: unique
//! ids, then each pack's `disable` list and `[severity]` table, then the rules detectors emit
//! from code, which must exist and belong to them.

use crate::compiled::DetectorEntry;
use crate::detector;
use crate::error::{BuildError, RuleProblem};
use crate::rule::{check_rule_shape, Pack, SourcedRule};
use std::collections::HashMap;

/// The built-in content packs, compiled into the crate.
pub(crate) const BUILTIN_PACKS: &[(&str, &str)] = &[
    ("builtin:seed.toml", SEED_PACK),
    ("builtin:credentials.toml", include_str!("../rules/credentials.toml")),
    ("builtin:pii.toml", include_str!("../rules/pii.toml")),
    ("builtin:injection.toml", include_str!("../rules/injection.toml")),
    ("builtin:llm_injection.toml", include_str!("../rules/llm_injection.toml")),
    ("builtin:llm_content.toml", include_str!("../rules/llm_content.toml")),
    ("builtin:unicode.toml", include_str!("../rules/unicode.toml")),
    ("builtin:jailbreak_variants.toml", include_str!("../rules/jailbreak_variants.toml")),
    ("builtin:injection_variants.toml", include_str!("../rules/injection_variants.toml")),
    ("builtin:exfiltration_variants.toml", include_str!("../rules/exfiltration_variants.toml")),
    ("builtin:jailbreak_phrases.toml", include_str!("../rules/jailbreak_phrases.toml")),
];

/// The rules of the detection specification on their own (suspicious keywords, SQL, command and script
/// injection), as TOML: part of the built-in packs, and a baseline for measuring the others
/// (`Engine::builder().without_builtin_rules().rules_toml("seed", SEED_PACK)`).
pub const SEED_PACK: &str = include_str!("../rules/seed.toml");

/// The rules of the built-in detectors (integrity, tool policy, size limits): always loaded.
pub(crate) const POLICY_PACK: (&str, &str) = ("builtin:policy.toml", include_str!("../rules/policy.toml"));

/// The catalogue of an engine's packs, merged: each rule once, in pack order.
pub(crate) struct Merged {
    /// The rules, with the `[severity]` overrides applied.
    pub(crate) specs: Vec<SourcedRule>,
    /// Per rule: a pack's `disable` list names it.
    pub(crate) disabled: Vec<bool>,
    /// Per rule: a detector emits it from code (so it needs no keyword or pattern).
    pub(crate) emitted: Vec<bool>,
}

/// Merges parsed packs, in order. A duplicate id, or an override or emitted rule that names
/// no rule (or another detector's), is an error naming the rule and its pack.
pub(crate) fn merge(parsed: &[Pack], detectors: &[DetectorEntry]) -> Result<Merged, BuildError> {
    // Merge: unique ids, then overrides.
    let mut specs: Vec<SourcedRule> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for pack in parsed {
        for rule in &pack.rules {
            check_rule_shape(rule)?;
            if let Some(&first) = by_id.get(&rule.spec.id) {
                return Err(BuildError::rule(
                    &rule.source,
                    &rule.spec.id,
                    rule.line,
                    RuleProblem::Duplicate { first_source: specs[first].source.clone() },
                ));
            }
            by_id.insert(rule.spec.id.clone(), specs.len());
            specs.push(rule.clone());
        }
    }
    let mut disabled = vec![false; specs.len()];
    for pack in parsed {
        for id in &pack.disable {
            let Some(&i) = by_id.get(id) else {
                return Err(BuildError::rule(
                    &pack.source,
                    id,
                    None,
                    RuleProblem::UnknownRule { context: "`disable`" },
                ));
            };
            if specs[i].spec.detector == detector::SCAN_INTEGRITY {
                return Err(BuildError::rule(
                    &pack.source,
                    id,
                    None,
                    RuleProblem::Invalid {
                        message: "the engine's integrity rules cannot be disabled (choose fail_open instead)".into(),
                    },
                ));
            }
            disabled[i] = true;
        }
        for (id, severity) in &pack.severity {
            let Some(&i) = by_id.get(id) else {
                return Err(BuildError::rule(
                    &pack.source,
                    id,
                    None,
                    RuleProblem::UnknownRule { context: "`[severity]`" },
                ));
            };
            specs[i].spec.severity = *severity;
        }
    }

    // Rules each detector emits itself must exist and belong to it.
    let mut emitted = vec![false; specs.len()];
    for entry in detectors {
        for id in entry.imp.emits() {
            let Some(&i) = by_id.get(&id) else {
                return Err(BuildError::config(format!(
                    "detector {} emits rule {id}, which no pack defines",
                    entry.info.code
                )));
            };
            if specs[i].spec.detector != entry.info.code {
                return Err(BuildError::rule(
                    &specs[i].source,
                    &id,
                    specs[i].line,
                    RuleProblem::Invalid {
                        message: format!(
                            "rule belongs to {} but is emitted by {}",
                            specs[i].spec.detector, entry.info.code
                        ),
                    },
                ));
            }
            emitted[i] = true;
        }
    }
    Ok(Merged { specs, disabled, emitted })
}

/// Ordinary text (prose, code, SQL, logs, JSON, a table, an e-mail) to learn how often
/// literals occur in traffic: which of a rule's keywords and required literals gates its
/// regex, which clauses are rare enough to gate it too, and which start literals to anchor on.
pub(crate) const ORDINARY_TEXT: &str = include_str!("ordinary.txt");
