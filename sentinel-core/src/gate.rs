//! A keyword-gated rule's plan as data (`GatePlan`): what `Planner::gate_plan` decides and
//! `Planner::apply` registers, and what the stored plan of the built-in pack holds.

use crate::required::Set;
use serde::{Deserialize, Serialize};

/// What planning decided for one keyword-gated rule (`Planner::gate_plan`): data only, so
/// that the built-in pack's is computed once and stored with the crate (`stored_plan.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GatePlan {
    /// The clause of derived literals that opens the rule's windows instead of its keywords
    /// (rarer on ordinary text), matched as substrings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) anchors: Option<Lits>,
    /// The clauses of required literals every match satisfies (a bit each, from 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) all: Vec<Lits>,
    /// Per branch of the first alternation every match goes through, its own clauses (bits
    /// after those of `all`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) any: Vec<Vec<Lits>>,
    /// Where the rule's matches can begin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) anchor: Option<AnchorPlan>,
}

/// Where a rule's matches begin (`Anchor`), as planned: cuts of its pattern and the literals
/// that start them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AnchorPlan {
    /// The whole pattern begins with `starts`.
    Start { starts: Lits },
    /// The pattern's parts from `at` on begin with `starts`, after a head of at most `reach`
    /// bytes.
    Tail { at: usize, reach: u32, starts: Lits },
    /// Each branch of the pattern, cut at its part `at`: the tail begins with its literals.
    Inner { branches: Vec<(usize, Lits)> },
}

/// A literal of a plan: bytes (a cut may end inside a character), stored as hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lit(pub(crate) Vec<u8>);

/// A set of literals, one of which is there (a clause), or where matches begin.
pub(crate) type Lits = Vec<Lit>;

pub(crate) fn lits(set: Set) -> Lits {
    set.into_iter().map(Lit).collect()
}

impl Serialize for Lit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for Lit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let hex = String::deserialize(d)?;
        let bytes = hex.as_bytes();
        if bytes.len() % 2 != 0 {
            return Err(serde::de::Error::custom("a literal is an even number of hex digits"));
        }
        bytes
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .map(Lit)
            .ok_or_else(|| serde::de::Error::custom("a literal is hex digits"))
    }
}
