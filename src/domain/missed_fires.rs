//! What to do about scheduled slots that passed while no scheduler was running.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The missed-fire policy: how a scheduler catches up on slots it finds well past due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissedFires {
    /// No catch-up: missed slots are dropped.
    Skip,
    /// One fire, for the latest missed slot, stands for all of them (as Taskcluster does).
    Once,
    /// Every missed slot inside the catch-up window fires, oldest first.
    All,
}

impl MissedFires {
    /// The name used in flags and in hook definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Once => "once",
            Self::All => "all",
        }
    }
}

impl fmt::Display for MissedFires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A missed-fire policy name that is not `skip`, `once` or `all`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("missed-fire policy {0:?} is not one of skip, once, all")]
pub struct UnknownMissedFires(pub String);

impl FromStr for MissedFires {
    type Err = UnknownMissedFires;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Skip, Self::Once, Self::All]
            .into_iter()
            .find(|policy| policy.as_str() == s)
            .ok_or_else(|| UnknownMissedFires(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_from_their_names_only() {
        for policy in [MissedFires::Skip, MissedFires::Once, MissedFires::All] {
            assert_eq!(policy.as_str().parse::<MissedFires>(), Ok(policy));
        }
        assert!("ONCE".parse::<MissedFires>().is_err());
    }
}
