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

use super::{HookStore, StoreError};
use crate::domain::{ApplySetName, ApplySetRecord, ApplyStep, ApplyWrite, Ownership};

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

/// Makes the pending writes of set `name`, if any, and marks them done. Returns the set's
/// record as it stands afterwards (`None`: no such set).
///
/// # Errors
/// Store failures; the writes done until then stay done and the set stays pending, so the
/// next caller continues.
pub async fn roll_forward(
    store: &dyn HookStore,
    name: &ApplySetName,
    observer: &dyn ApplyObserver,
) -> Result<Option<ApplySetRecord>, StoreError> {
    let Some(mut set) = store.get_apply_set(name).await? else {
        return Ok(None);
    };
    if set.pending.is_empty() {
        return Ok(Some(set));
    }
    let owner = set.owner();
    let total = set.pending.len();
    for (index, write) in set.pending.iter().enumerate() {
        make(store, &owner, &set, write).await?;
        observer.wrote(index, total);
    }
    set.pending.clear();
    store.finish_apply_set(&set).await?;
    tracing::info!(set = %name, revision = set.revision, writes = total, "rolled an apply forward");
    Ok(Some(set))
}

/// Makes one write, re-reading its hook when another writer got in between.
async fn make(
    store: &dyn HookStore,
    owner: &Ownership,
    set: &ApplySetRecord,
    write: &ApplyWrite,
) -> Result<(), StoreError> {
    let key = write.key();
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get_hook(&key).await?;
        let done = match write.step(owner, set.applied_at, stored.as_ref()) {
            ApplyStep::Insert(record) => match store.insert_hook(&record).await {
                Err(StoreError::AlreadyExists) => false,
                other => other.map(|()| true)?,
            },
            ApplyStep::Replace {
                record,
                expected_version,
            } => match store.replace_hook(&record, expected_version).await {
                Err(StoreError::VersionConflict | StoreError::NotFound) => false,
                other => other.map(|()| true)?,
            },
            ApplyStep::Delete => store.delete_hook(&key).await.map(|_| true)?,
            ApplyStep::Skip => true,
            ApplyStep::Conflict(other) => {
                // Another set took the hook after this apply was accepted; it stays theirs and
                // this set's status shows the difference.
                tracing::warn!(set = %owner.set, hook = %key, owner = %other,
                    "an applied hook belongs to another set now; left alone");
                true
            }
        };
        if done {
            return Ok(());
        }
    }
    Err(StoreError::VersionConflict)
}

/// Rolls forward every set a crash left pending; start-up runs this before serving.
///
/// # Errors
/// The first store failure.
pub async fn roll_forward_all(store: &dyn HookStore) -> Result<(), StoreError> {
    for name in store.list_pending_apply_sets().await? {
        roll_forward(store, &name, &Unobserved).await?;
    }
    Ok(())
}
