//! Apply sets: named groups of hooks that `hookd apply` keeps equal to files in git.
//!
//! A set's record holds what its last apply made of every hook it owns, and each hook it wrote
//! carries an [`Ownership`] naming the set, so an edit from elsewhere can be refused and drift
//! can be shown. [`ApplyWrite::step`] is the one rule for turning a planned write into a store
//! operation against whatever is stored now; every backend uses it, inside its transaction or
//! when rolling a committed apply forward, so a write repeated after a crash changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DomainError, Hook, HookGroupId, HookId, HookKey, HookRecord};

const MAX_SET_NAME_LEN: usize = 100;

/// The name of an apply set: 1-100 characters from `[a-zA-Z0-9-_.]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplySetName(String);

impl ApplySetName {
    /// Validates `value`.
    ///
    /// # Errors
    /// [`DomainError::InvalidApplySetName`] outside the allowed characters and length.
    pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
        let value = value.into();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if (1..=MAX_SET_NAME_LEN).contains(&value.len()) && value.chars().all(allowed) {
            Ok(Self(value))
        } else {
            Err(DomainError::InvalidApplySetName(value))
        }
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApplySetName {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<ApplySetName> for String {
    fn from(name: ApplySetName) -> String {
        name.0
    }
}

impl std::fmt::Display for ApplySetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which apply wrote a hook last: extension data of the stored record, never part of the
/// Taskcluster-shaped definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ownership {
    /// The set that owns the hook.
    pub set: ApplySetName,
    /// The set's revision that wrote it.
    pub revision: u64,
    /// Where that revision came from (a git commit, a CI run), as the caller said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One hook write of an apply, as planned when the apply was accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "op")]
pub enum ApplyWrite {
    /// Make the stored definition this record's `hook`. The record is complete (a sealed
    /// trigger token, the schedule's first slot from the apply's time, version 1) and is
    /// inserted as it is when the hook does not exist.
    Put {
        /// The hook as a brand-new record would store it (boxed: a delete is much smaller).
        record: Box<HookRecord>,
    },
    /// Delete the hook, if this set still owns it.
    Delete {
        /// The hook's group.
        hook_group_id: HookGroupId,
        /// The hook's id.
        hook_id: HookId,
    },
}

/// What one [`ApplyWrite`] does to the store, decided against the record stored now.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyStep {
    /// Insert this record.
    Insert(HookRecord),
    /// Replace the stored record, if it is still at `expected_version`, with `record`.
    Replace {
        /// The new record.
        record: HookRecord,
        /// The stored version it replaces.
        expected_version: u64,
    },
    /// Delete the hook.
    Delete,
    /// Nothing to do: already done (a repeated roll-forward) or nothing there.
    Skip,
    /// Another set took the hook after the apply was planned.
    Conflict(ApplySetName),
}

impl ApplyStep {
    /// Whether this step changes the store.
    pub fn writes(&self) -> bool {
        matches!(self, Self::Insert(_) | Self::Replace { .. } | Self::Delete)
    }
}

impl ApplyWrite {
    /// A delete of `key`.
    pub fn delete(key: HookKey) -> Self {
        Self::Delete {
            hook_group_id: key.group,
            hook_id: key.id,
        }
    }

    /// The hook this write is about.
    pub fn key(&self) -> HookKey {
        match self {
            Self::Put { record } => record.hook.key(),
            Self::Delete {
                hook_group_id,
                hook_id,
            } => HookKey::new(hook_group_id.clone(), hook_id.clone()),
        }
    }

    /// The step that brings `stored` to what this write of revision `owner` of a set means.
    ///
    /// A hook already written by this revision (or a later one) is skipped, which makes a
    /// roll-forward after a crash idempotent. A replace keeps the service's own state of the
    /// stored record (token, claims, secrets) and starts a changed schedule at `applied_at`.
    pub fn step(
        &self,
        owner: &Ownership,
        applied_at: DateTime<Utc>,
        stored: Option<&HookRecord>,
    ) -> ApplyStep {
        let owned_by = stored.and_then(|s| s.applied.as_ref());
        match (self, stored, owned_by) {
            (Self::Put { .. } | Self::Delete { .. }, Some(_), Some(o)) if o.set != owner.set => {
                ApplyStep::Conflict(o.set.clone())
            }
            (_, Some(_), Some(o)) if o.revision >= owner.revision => ApplyStep::Skip,
            (Self::Put { record }, None, _) => {
                let mut record = HookRecord::clone(record);
                record.applied = Some(owner.clone());
                ApplyStep::Insert(record)
            }
            (Self::Put { record }, Some(stored), _) => {
                let mut next = stored.clone();
                next.hook = record.hook.clone();
                next.applied = Some(owner.clone());
                next.version = stored.version + 1;
                if next.hook.schedule != stored.hook.schedule {
                    next.schedule_from(applied_at);
                }
                ApplyStep::Replace {
                    record: next,
                    expected_version: stored.version,
                }
            }
            // A hook nobody owns was not written by this set: pruning leaves it alone.
            (Self::Delete { .. }, None, _) | (Self::Delete { .. }, Some(_), None) => {
                ApplyStep::Skip
            }
            (Self::Delete { .. }, Some(_), Some(_)) => ApplyStep::Delete,
        }
    }
}

/// A set's last accepted apply: what it made of each hook it owns, and, until they are all
/// done, the hook writes that apply still has to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplySetRecord {
    /// The set.
    pub name: ApplySetName,
    /// Bumped by every apply that changes something; applies compare-and-set on it.
    pub revision: u64,
    /// Where the revision came from, as the caller said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the apply was accepted.
    pub applied_at: DateTime<Utc>,
    /// The client that applied it.
    pub applied_by: String,
    /// Every hook the set owns, as this apply left it, sorted by key.
    pub hooks: Vec<Hook>,
    /// Writes accepted with this revision and not yet known to be done. A backend without
    /// multi-document transactions commits the record with them (its commit point) and clears
    /// them once they are rolled forward; a transactional backend never stores any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<ApplyWrite>,
}

impl ApplySetRecord {
    /// The ownership this revision gives the hooks it writes.
    pub fn owner(&self) -> Ownership {
        Ownership {
            set: self.name.clone(),
            revision: self.revision,
            source: self.source.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{fixtures, SealedToken};

    fn record(name: &str) -> HookRecord {
        HookRecord::new(fixtures::hook("h", name), SealedToken("sealed".into()))
    }

    fn owner(set: &str, revision: u64) -> Ownership {
        Ownership {
            set: ApplySetName::parse(set).unwrap(),
            revision,
            source: None,
        }
    }

    #[test]
    fn set_names_are_short_and_path_safe() {
        assert!(ApplySetName::parse("team-a.prod_1").is_ok());
        for bad in ["", "a/b", "a b", &"x".repeat(101)] {
            assert!(ApplySetName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_put_inserts_then_replaces_then_is_done() {
        let now = chrono::Utc::now();
        let put = ApplyWrite::Put {
            record: Box::new(record("new")),
        };
        let ApplyStep::Insert(inserted) = put.step(&owner("s", 2), now, None) else {
            panic!("not an insert");
        };
        assert_eq!(inserted.applied, Some(owner("s", 2)));
        assert_eq!(
            put.step(&owner("s", 2), now, Some(&inserted)),
            ApplyStep::Skip
        );

        let mut older = record("old");
        older.version = 7;
        older.applied = Some(owner("s", 1));
        let ApplyStep::Replace {
            record,
            expected_version,
        } = put.step(&owner("s", 2), now, Some(&older))
        else {
            panic!("not a replace");
        };
        assert_eq!((record.version, expected_version), (8, 7));
        assert_eq!(record.hook.metadata.name, "new");
    }

    #[test]
    fn another_sets_hook_is_a_conflict_and_a_set_less_one_is_never_deleted() {
        let now = chrono::Utc::now();
        let mut theirs = record("theirs");
        theirs.applied = Some(owner("other", 9));
        let delete = ApplyWrite::delete(theirs.hook.key());
        assert_eq!(
            delete.step(&owner("s", 2), now, Some(&theirs)),
            ApplyStep::Conflict(ApplySetName::parse("other").unwrap())
        );
        assert_eq!(
            delete.step(&owner("s", 2), now, Some(&record("nobody's"))),
            ApplyStep::Skip
        );
        let mut ours = record("ours");
        ours.applied = Some(owner("s", 1));
        assert_eq!(
            delete.step(&owner("s", 2), now, Some(&ours)),
            ApplyStep::Delete
        );
    }
}
