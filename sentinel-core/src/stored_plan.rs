//! The plan of the built-in pack, computed once and stored with the crate.
//!
//! Planning a keyword-gated rule (which literals open its windows, which must also have been
//! seen, where its matches begin: `Planner::gate_plan`) counts literals in the ordinary text
//! and is most of the cost of building an engine. For the packs compiled into the crate it
//! gives the same answer every time, so it is computed when the packs change and stored in
//! `rules/builtin.plan.json`, with a fingerprint of what it was computed from. An engine uses
//! a rule's stored plan when the fingerprint matches the packs and ordinary text compiled in;
//! otherwise, and for every user pack, it plans at build as before. A test holds the stored
//! plan equal to a fresh one (`SENTINEL_UPDATE_PLAN=1` rewrites it).

use crate::gate::GatePlan;
use crate::packs::{BUILTIN_PACKS, ORDINARY_TEXT, POLICY_PACK};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// Changes when what a stored plan means does (its form, or how it is applied).
const FORMAT: &str = "sentinel-plan-1";

/// The stored plan's text.
const STORED: &str = include_str!("../rules/builtin.plan.json");

/// Each keyword-gated rule's plan, by id, and what they were computed from.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct StoredPlan {
    /// [`fingerprint`] of the packs and ordinary text the plans were computed from.
    pub(crate) fingerprint: String,
    pub(crate) rules: BTreeMap<String, GatePlan>,
}

impl StoredPlan {
    /// The stored form: JSON, one rule a line (so that a change of one rule's plan is a
    /// change of its line).
    #[cfg(test)]
    fn to_text(&self) -> String {
        let mut text = format!("{{\"fingerprint\": {:?},\n\"rules\": {{\n", self.fingerprint);
        for (i, (id, plan)) in self.rules.iter().enumerate() {
            let sep = if i + 1 < self.rules.len() { "," } else { "" };
            let plan = serde_json::to_string(plan).expect("a plan serialises");
            let _ = writeln!(text, "{}: {plan}{sep}", serde_json::Value::from(id.as_str()));
        }
        text.push_str("}}\n");
        text
    }
}

/// SHA-256 (hex) of the stored plan's format, the built-in packs and the ordinary text.
pub(crate) fn fingerprint() -> String {
    let mut h = Sha256::new();
    for text in [FORMAT, POLICY_PACK.1, ORDINARY_TEXT].into_iter().chain(BUILTIN_PACKS.iter().map(|p| p.1)) {
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.finalize().iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The stored plan, when it was computed from the packs and ordinary text compiled into this
/// crate. Read once per process.
pub(crate) fn stored() -> Option<&'static StoredPlan> {
    static PLAN: OnceLock<Option<StoredPlan>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let plan: StoredPlan = serde_json::from_str(STORED).ok()?;
        (plan.fingerprint == fingerprint()).then_some(plan)
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_plan_is_the_plan_of_the_built_in_packs() {
        let fresh = StoredPlan { fingerprint: fingerprint(), rules: crate::builder::fresh_builtin_plan() };
        assert!(fresh.rules.len() > 150, "{} rules planned", fresh.rules.len());
        let text = fresh.to_text();
        if std::env::var_os("SENTINEL_UPDATE_PLAN").is_some() {
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/builtin.plan.json"), &text).unwrap();
            return;
        }
        assert!(
            STORED == text,
            "rules/builtin.plan.json is not the plan of the built-in packs: rewrite it with \
             `SENTINEL_UPDATE_PLAN=1 cargo test -p mcp-threatscan --lib stored_plan`"
        );
        assert!(stored().is_some(), "the stored plan's fingerprint matches");
    }
}
