//! Rolling a committed apply forward: the hook writes of an apply set's revision, made one by
//! one after the backend stored the set's record (the commit point) with them pending.
//!
//! A backend with multi-document transactions makes the writes inside its commit and never
//! leaves any pending; MongoDB cannot, so it stores the whole revision in the set's one
//! document first and the writes follow here. Each write is decided by
//! [`ApplyWrite::step`] against what is stored at that moment, so running the same pending
//! writes twice (a crash, two replicas at once) ends in the same hooks. Until the last write
//! is done the set stays pending, and every reader of the set (an apply, `GET /apply-sets`,
//! start-up) calls [`roll_forward`] first: after a crash the apply is all there, never half.
//!
//! Rollers take turns: each one claims the revision first, and the newest claim is the only
//! one that may write (checked before every write). Without that, a roller that fell behind
//! could make a write of an old revision after a newer one had undone it, for example recreate
//! a hook the next apply pruned. What is left is the moment between a roller's check and its
//! write: a roller that stalls exactly there for longer than a whole later apply still writes
//! late. The writes a roller makes are returned, so its caller can announce them.

use std::fmt::Display;

use async_trait::async_trait;

use super::{HookStore, StoreError};
use crate::domain::{
    apply_step, ApplySetName, ApplySetRecord, ApplyStep, ChatAliasId, ChatAliasRecord, HookKey,
    HookRecord, OwnedRecord, Ownership, WriteTarget,
};

/// How often one write re-reads its hook after losing a race with another writer.
const MAX_ATTEMPTS: usize = 16;

/// Watches an apply's hook writes. Crash tests stop the process at an exact write through it;
/// everything else passes [`Unobserved`].
pub trait ApplyObserver: Send + Sync {
    /// The write at `index` of `total` is done (inside the transaction, on a transactional
    /// backend).
    fn wrote(&self, index: usize, total: usize);
}

/// An [`ApplyObserver`] that does nothing.
pub struct Unobserved;

impl ApplyObserver for Unobserved {
    fn wrote(&self, _index: usize, _total: usize) {}
}

/// What a roll-forward did.
#[derive(Debug, Default)]
pub struct Rolled {
    /// The set's record as it stands afterwards (`None`: no such set). Still pending when
    /// another roller took over: that one finishes it.
    pub set: Option<ApplySetRecord>,
    /// The hook writes this roller made, in order.
    pub made: Vec<(HookKey, Made)>,
}

/// One hook write a roll-forward made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// The hook was created.
    Inserted,
    /// The stored hook was replaced.
    Replaced,
    /// The hook was deleted.
    Deleted,
}

/// A claim on rolling one pending revision forward, taken by [`RollClaim::take`] and used by
/// [`RollClaim::roll`]; [`roll_forward`] is the two in a row.
pub struct RollClaim {
    set: ApplySetRecord,
    claim: u64,
}

/// What [`RollClaim::take`] found.
pub enum Claimed {
    /// The set has no pending writes (or does not exist); here is its record.
    Settled(Option<ApplySetRecord>),
    /// Pending writes, now claimed by this roller.
    Pending(RollClaim),
}

impl RollClaim {
    /// Reads set `name` and, when it has pending writes, takes over rolling them forward.
    ///
    /// # Errors
    /// Store failures.
    pub async fn take(store: &dyn HookStore, name: &ApplySetName) -> Result<Claimed, StoreError> {
        let Some(set) = store.get_apply_set(name).await? else {
            return Ok(Claimed::Settled(None));
        };
        if set.pending.is_empty() {
            return Ok(Claimed::Settled(Some(set)));
        }
        match store.claim_apply_roll(name, set.revision).await? {
            Some(claim) => Ok(Claimed::Pending(Self { set, claim })),
            // Finished (or moved on) between the read and the claim.
            None => Ok(Claimed::Settled(store.get_apply_set(name).await?)),
        }
    }

    /// Makes the claimed writes and marks them done, unless another roller takes over first.
    ///
    /// # Errors
    /// Store failures; the writes done until then stay done and the set stays pending, so the
    /// next caller continues.
    pub async fn roll(
        self,
        store: &dyn HookStore,
        observer: &dyn ApplyObserver,
    ) -> Result<Rolled, StoreError> {
        let Self { mut set, claim } = self;
        let owner = set.owner();
        let total = set.pending.len();
        let mut made = Vec::new();
        for (index, write) in set.pending.iter().enumerate() {
            let roller = Roller {
                store,
                owner: &owner,
                set: &set,
                claim,
            };
            let turn = match write.target() {
                WriteTarget::Hook(key, fresh) => roller.make(&HookRows(store, &key), fresh).await?,
                WriteTarget::ChatAlias(id, fresh) => {
                    roller.make(&AliasRows(store, &id), fresh).await?
                }
            };
            match turn {
                Turn::Made(Some(kind)) => {
                    if let WriteTarget::Hook(key, _) = write.target() {
                        made.push((key, kind));
                    }
                }
                Turn::Made(None) => {}
                Turn::TakenOver => {
                    tracing::info!(set = %set.name, revision = set.revision,
                        "another roller took over this apply's writes");
                    let set = store.get_apply_set(&set.name).await?;
                    return Ok(Rolled { set, made });
                }
            }
            observer.wrote(index, total);
        }
        set.pending.clear();
        store.finish_apply_set(&set).await?;
        tracing::info!(set = %set.name, revision = set.revision, writes = total,
            "rolled an apply forward");
        Ok(Rolled {
            set: Some(set),
            made,
        })
    }
}

/// Makes the pending writes of set `name`, if any, and marks them done.
///
/// # Errors
/// Store failures; the writes done until then stay done and the set stays pending, so the
/// next caller continues.
pub async fn roll_forward(
    store: &dyn HookStore,
    name: &ApplySetName,
    observer: &dyn ApplyObserver,
) -> Result<Rolled, StoreError> {
    match RollClaim::take(store, name).await? {
        Claimed::Settled(set) => Ok(Rolled {
            set,
            made: Vec::new(),
        }),
        Claimed::Pending(claim) => claim.roll(store, observer).await,
    }
}

/// How one write went.
enum Turn {
    /// Done by this roller (what it wrote), or found done already.
    Made(Option<Made>),
    /// Another roller claimed the revision since; this one must not write any more.
    TakenOver,
}

/// One roller's writes of one revision.
struct Roller<'a> {
    store: &'a dyn HookStore,
    owner: &'a Ownership,
    set: &'a ApplySetRecord,
    claim: u64,
}

impl Roller<'_> {
    /// Makes one write of `fresh` (`None`: a delete) to `rows`, re-reading the record when
    /// another writer got in between.
    async fn make<R: OwnedRecord + Send + Sync>(
        &self,
        rows: &dyn Rows<R>,
        fresh: Option<&R>,
    ) -> Result<Turn, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let stored = rows.get().await?;
            let step = apply_step(fresh, self.owner, self.set.applied_at, stored.as_ref());
            if step.writes()
                && !self
                    .store
                    .holds_apply_roll(&self.set.name, self.set.revision, self.claim)
                    .await?
            {
                return Ok(Turn::TakenOver);
            }
            let done = match step {
                ApplyStep::Insert(record) => match rows.insert(&record).await {
                    Err(StoreError::AlreadyExists) => None,
                    other => other.map(|()| Some(Some(Made::Inserted)))?,
                },
                ApplyStep::Replace {
                    record,
                    expected_version,
                } => match rows.replace(&record, expected_version).await {
                    Err(StoreError::VersionConflict | StoreError::NotFound) => None,
                    other => other.map(|()| Some(Some(Made::Replaced)))?,
                },
                // Gone already counts as done: whoever deleted it announced it.
                ApplyStep::Delete => Some(rows.delete().await?.then_some(Made::Deleted)),
                ApplyStep::Skip => return Ok(Turn::Made(None)),
                ApplyStep::Conflict(other) => {
                    // Another set took the record after this apply was accepted; it stays
                    // theirs and this set's status shows the difference.
                    tracing::warn!(set = %self.owner.set, record = %rows, owner = %other,
                        "an applied record belongs to another set now; left alone");
                    return Ok(Turn::Made(None));
                }
            };
            // `None`: another writer got in between; read again and decide again.
            if let Some(made) = done {
                return Ok(Turn::Made(made));
            }
        }
        Err(StoreError::VersionConflict)
    }
}

/// The store operations on one record that a roll-forward makes; shown as the record's name.
#[async_trait]
trait Rows<R>: Display + Sync {
    async fn get(&self) -> Result<Option<R>, StoreError>;
    async fn insert(&self, record: &R) -> Result<(), StoreError>;
    async fn replace(&self, record: &R, expected_version: u64) -> Result<(), StoreError>;
    async fn delete(&self) -> Result<bool, StoreError>;
}

/// A hook's row.
struct HookRows<'a>(&'a dyn HookStore, &'a HookKey);

impl Display for HookRows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "hook {}", self.1)
    }
}

#[async_trait]
impl Rows<HookRecord> for HookRows<'_> {
    async fn get(&self) -> Result<Option<HookRecord>, StoreError> {
        self.0.get_hook(self.1).await
    }

    async fn insert(&self, record: &HookRecord) -> Result<(), StoreError> {
        self.0.insert_hook(record).await
    }

    async fn replace(&self, record: &HookRecord, expected_version: u64) -> Result<(), StoreError> {
        self.0.replace_hook(record, expected_version).await
    }

    async fn delete(&self) -> Result<bool, StoreError> {
        self.0.delete_hook(self.1).await
    }
}

/// A chat alias's row.
struct AliasRows<'a>(&'a dyn HookStore, &'a ChatAliasId);

impl Display for AliasRows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chat alias {}", self.1)
    }
}

#[async_trait]
impl Rows<ChatAliasRecord> for AliasRows<'_> {
    async fn get(&self) -> Result<Option<ChatAliasRecord>, StoreError> {
        self.0.get_chat_alias(self.1).await
    }

    async fn insert(&self, record: &ChatAliasRecord) -> Result<(), StoreError> {
        self.0.insert_chat_alias(record).await
    }

    async fn replace(
        &self,
        record: &ChatAliasRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.0.replace_chat_alias(record, expected_version).await
    }

    async fn delete(&self) -> Result<bool, StoreError> {
        self.0.delete_chat_alias(self.1).await
    }
}

/// Rolls forward every set a crash left pending; start-up runs this before serving.
///
/// # Errors
/// The first store failure.
pub async fn roll_forward_all(store: &dyn HookStore) -> Result<(), StoreError> {
    // Nothing announces these writes: start-up runs before anything reads the hooks.
    for name in store.list_pending_apply_sets().await? {
        roll_forward(store, &name, &Unobserved).await?;
    }
    Ok(())
}
