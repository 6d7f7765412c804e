//! What the planner knows of the declared values: for each, its keyed fingerprint and its
//! length in bytes, or nothing at all when no identity was available. Never a value.

use std::collections::BTreeMap;

use crate::domain::{Fingerprint, ValueKey};

/// One declared value as the planner sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueFact {
    /// Compared with the fingerprint in the live marker.
    pub fingerprint: Fingerprint,
    /// Byte length, checked against the API's limits before any write; never rendered.
    pub len: usize,
}

/// The planner's one input about values, built by the caller from the unsealed values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueFacts {
    /// No identity (a fork pull request): values were not unsealed, so they are not
    /// compared, and the plan says so and cannot be applied.
    NotCompared,
    /// The values were unsealed: one fact per value (none when the manifest holds no value
    /// to compare, e.g. every secret is `value: keep`).
    Compared(BTreeMap<ValueKey, ValueFact>),
}

impl ValueFacts {
    pub fn is_compared(&self) -> bool {
        matches!(self, ValueFacts::Compared(_))
    }

    /// The fact about one value; `None` when values were not compared or it was not unsealed.
    pub fn get(&self, key: &ValueKey) -> Option<&ValueFact> {
        match self {
            ValueFacts::NotCompared => None,
            ValueFacts::Compared(facts) => facts.get(key),
        }
    }
}

impl FromIterator<(ValueKey, ValueFact)> for ValueFacts {
    /// Compared values.
    fn from_iter<I: IntoIterator<Item = (ValueKey, ValueFact)>>(iter: I) -> Self {
        ValueFacts::Compared(iter.into_iter().collect())
    }
}
