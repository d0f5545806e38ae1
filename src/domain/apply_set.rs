//! Apply sets: named groups of hooks that `hookd apply` keeps equal to files in git.
//!
//! A set's record holds what its last apply made of every hook it owns, and each hook it wrote
//! carries an [`Ownership`] naming the set, so an edit from elsewhere can be refused and drift
//! can be shown; a set owns chat aliases the same way. [`apply_step`] is the one rule for
//! turning a planned write into a store operation against whatever is stored now; every backend
//! uses it, inside its transaction or when rolling a committed apply forward, so a write
//! repeated after a crash changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ChatAlias, ChatAliasId, ChatAliasRecord, DomainError, Hook, HookGroupId, HookId, HookKey,
    HookRecord,
};

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

/// A stored record an apply set can own: a hook's or a chat alias's.
pub trait OwnedRecord: Clone {
    /// The set that wrote it last, if any.
    fn ownership(&self) -> Option<&Ownership>;
    /// Its version, which replacing it compares and sets.
    fn version(&self) -> u64;
    /// `self` (as stored) with `fresh`'s definition at `applied_at`, one version on, keeping
    /// the service's own state of the stored record; the caller sets the ownership.
    fn redefined(&self, fresh: &Self, applied_at: DateTime<Utc>) -> Self;
    /// Where its ownership is kept.
    fn ownership_mut(&mut self) -> &mut Option<Ownership>;

    /// This record, written by `owner`.
    fn owned_by(&self, owner: &Ownership) -> Self {
        let mut record = self.clone();
        *record.ownership_mut() = Some(owner.clone());
        record
    }
}

impl OwnedRecord for HookRecord {
    fn ownership(&self) -> Option<&Ownership> {
        self.applied.as_ref()
    }

    fn version(&self) -> u64 {
        self.version
    }

    /// Keeps the token, claims and secrets; a changed schedule starts at `applied_at`.
    fn redefined(&self, fresh: &Self, applied_at: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        next.hook = fresh.hook.clone();
        next.version = self.version + 1;
        if next.hook.schedule != self.hook.schedule {
            next.schedule_from(applied_at);
        }
        next
    }

    fn ownership_mut(&mut self) -> &mut Option<Ownership> {
        &mut self.applied
    }
}

impl OwnedRecord for ChatAliasRecord {
    fn ownership(&self) -> Option<&Ownership> {
        self.applied.as_ref()
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn redefined(&self, fresh: &Self, _applied_at: DateTime<Utc>) -> Self {
        Self {
            alias: fresh.alias.clone(),
            version: self.version + 1,
            applied: self.applied.clone(),
        }
    }

    fn ownership_mut(&mut self) -> &mut Option<Ownership> {
        &mut self.applied
    }
}

/// One write of an apply, to a hook or a chat alias, as planned when the apply was accepted.
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
    /// Make the stored chat alias this record's, inserting it as it is when there is none.
    PutChatAlias {
        /// The alias as a brand-new record would store it.
        record: Box<ChatAliasRecord>,
    },
    /// Delete the chat alias, if this set still owns it.
    DeleteChatAlias {
        /// The alias.
        alias_id: ChatAliasId,
    },
}

/// What an [`ApplyWrite`] is about: the record kind, its name, and the record a put writes
/// (`None`: a delete).
pub enum WriteTarget<'a> {
    /// A hook write.
    Hook(HookKey, Option<&'a HookRecord>),
    /// A chat alias write.
    ChatAlias(ChatAliasId, Option<&'a ChatAliasRecord>),
}

/// What one [`ApplyWrite`] does to the store, decided against the record stored now.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyStep<R> {
    /// Insert this record.
    Insert(R),
    /// Replace the stored record, if it is still at `expected_version`, with `record`.
    Replace {
        /// The new record.
        record: R,
        /// The stored version it replaces.
        expected_version: u64,
    },
    /// Delete the record.
    Delete,
    /// Nothing to do: already done (a repeated roll-forward) or nothing there.
    Skip,
    /// Another set took the record after the apply was planned.
    Conflict(ApplySetName),
}

impl<R> ApplyStep<R> {
    /// Whether this step changes the store.
    pub fn writes(&self) -> bool {
        matches!(self, Self::Insert(_) | Self::Replace { .. } | Self::Delete)
    }
}

impl ApplyWrite {
    /// A delete of the hook `key`.
    pub fn delete(key: HookKey) -> Self {
        Self::Delete {
            hook_group_id: key.group,
            hook_id: key.id,
        }
    }

    /// What this write is about.
    pub fn target(&self) -> WriteTarget<'_> {
        match self {
            Self::Put { record } => WriteTarget::Hook(record.hook.key(), Some(record)),
            Self::Delete {
                hook_group_id,
                hook_id,
            } => WriteTarget::Hook(HookKey::new(hook_group_id.clone(), hook_id.clone()), None),
            Self::PutChatAlias { record } => {
                WriteTarget::ChatAlias(record.alias.alias_id.clone(), Some(record))
            }
            Self::DeleteChatAlias { alias_id } => WriteTarget::ChatAlias(alias_id.clone(), None),
        }
    }
}

/// The step that brings `stored` to what a write of revision `owner` of a set means: a put of
/// `fresh`, or a delete when `fresh` is `None`.
///
/// A record already written by this revision (or a later one) is skipped, which makes a
/// roll-forward after a crash idempotent. A record nobody owns was not written by this set:
/// pruning leaves it alone.
pub fn apply_step<R: OwnedRecord>(
    fresh: Option<&R>,
    owner: &Ownership,
    applied_at: DateTime<Utc>,
    stored: Option<&R>,
) -> ApplyStep<R> {
    let owned_by = stored.and_then(OwnedRecord::ownership);
    match (fresh, stored, owned_by) {
        (_, Some(_), Some(o)) if o.set != owner.set => ApplyStep::Conflict(o.set.clone()),
        (_, Some(_), Some(o)) if o.revision >= owner.revision => ApplyStep::Skip,
        (Some(fresh), None, _) => ApplyStep::Insert(fresh.owned_by(owner)),
        (Some(fresh), Some(stored), _) => ApplyStep::Replace {
            record: stored.redefined(fresh, applied_at).owned_by(owner),
            expected_version: stored.version(),
        },
        (None, None, _) | (None, Some(_), None) => ApplyStep::Skip,
        (None, Some(_), Some(_)) => ApplyStep::Delete,
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
    /// Every chat alias the set owns, as this apply left it, sorted by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chat_aliases: Vec<ChatAlias>,
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
        let fresh = record("new");
        let put = |stored| apply_step(Some(&fresh), &owner("s", 2), now, stored);
        let ApplyStep::Insert(inserted) = put(None) else {
            panic!("not an insert");
        };
        assert_eq!(inserted.applied, Some(owner("s", 2)));
        assert_eq!(put(Some(&inserted)), ApplyStep::Skip);

        let mut older = record("old");
        older.version = 7;
        older.applied = Some(owner("s", 1));
        let ApplyStep::Replace {
            record,
            expected_version,
        } = put(Some(&older))
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
        let delete = |stored| apply_step(None, &owner("s", 2), now, stored);
        let nobodys = record("nobody's");
        assert_eq!(
            delete(Some(&theirs)),
            ApplyStep::Conflict(ApplySetName::parse("other").unwrap())
        );
        assert_eq!(delete(Some(&nobodys)), ApplyStep::Skip);
        let mut ours = record("ours");
        ours.applied = Some(owner("s", 1));
        assert_eq!(delete(Some(&ours)), ApplyStep::Delete);
    }
}
