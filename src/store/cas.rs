//! The one compare-and-set loop over a stored hook: read, change, write if the version is still
//! the one read, and start over when another writer got in between.
//!
//! Every read-modify-write of a hook (registry updates, token and secret rotation, the
//! scheduler's claims and releases) goes through [`compare_and_set`], so the retry bound and
//! the handling of a hook deleted mid-loop are decided once.

use super::{HookSlots, HookStore, StoreError};
use crate::domain::{HookKey, HookRecord};

/// How often one change re-reads and retries after losing a compare-and-set race before giving
/// up with [`StoreError::VersionConflict`].
const MAX_CAS_ATTEMPTS: usize = 16;

/// What a change decided for the record it was given.
#[derive(Debug)]
pub enum Change<T> {
    /// Write nothing; the loop ends with this value.
    Keep(T),
    /// Write the record as changed (the loop bumps its version); once written, the loop ends
    /// with this value.
    Write(T),
}

/// Applies `change` to the hook `key` by compare-and-set, retried when another writer changed
/// the hook in between. `change` may run more than once and always sees the record it is about
/// to replace. `known` is a record the caller read already; the first attempt uses it instead
/// of reading again.
///
/// Returns the record as written (or, after [`Change::Keep`], as `change` left it) with the
/// value `change` ended on, or `None` when the hook does not exist or was deleted meanwhile.
///
/// # Errors
/// Store failures, and [`StoreError::VersionConflict`] after losing every attempt.
pub async fn compare_and_set<T>(
    store: &dyn HookStore,
    key: &HookKey,
    known: Option<HookRecord>,
    change: impl FnMut(&mut HookRecord) -> Change<T>,
) -> Result<Option<(HookRecord, T)>, StoreError> {
    compare_and_set_as(CasWrite::Whole, store, key, known, change).await
}

/// How each attempt of a compare-and-set writes the changed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasWrite {
    /// The whole record ([`HookStore::replace_hook`]).
    Whole,
    /// The scheduler's fields only (`nextScheduledDate`, `nextTaskId`, `claimedSlots`), with
    /// [`HookStore::write_hook_slots`], so a claim or a release encodes no whole record. A
    /// change of any other field would not be stored; the change must not make one.
    Slots,
}

/// [`compare_and_set`], each attempt writing as `write` says.
///
/// # Errors
/// As [`compare_and_set`].
pub async fn compare_and_set_as<T>(
    write: CasWrite,
    store: &dyn HookStore,
    key: &HookKey,
    mut known: Option<HookRecord>,
    mut change: impl FnMut(&mut HookRecord) -> Change<T>,
) -> Result<Option<(HookRecord, T)>, StoreError> {
    for _ in 0..MAX_CAS_ATTEMPTS {
        let read = match known.take() {
            Some(record) => Some(record),
            None => store.get_hook(key).await?,
        };
        let Some(mut record) = read else {
            return Ok(None);
        };
        let expected = record.version;
        let value = match change(&mut record) {
            Change::Keep(value) => return Ok(Some((record, value))),
            Change::Write(value) => value,
        };
        record.version = expected + 1;
        let written = match write {
            CasWrite::Whole => store.replace_hook(&record, expected).await,
            CasWrite::Slots => one_answer(
                store
                    .write_hook_slots(&[HookSlots::of(&record, expected)])
                    .await,
            ),
        };
        match written {
            Ok(()) => return Ok(Some((record, value))),
            Err(StoreError::VersionConflict) => {}
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::VersionConflict)
}

/// The answer to a batch of one write.
fn one_answer(answers: Result<Vec<Result<(), StoreError>>, StoreError>) -> Result<(), StoreError> {
    answers?.pop().unwrap_or(Err(StoreError::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Hook, SealedToken};
    use crate::store::SqliteStore;
    use serde_json::json;

    /// A stored hook `g/h` at version 1.
    async fn stored(store: &SqliteStore) -> HookRecord {
        let hook: Hook = serde_json::from_value(json!({
            "hookGroupId": "g", "hookId": "h", "schedule": [], "task": {},
            "triggerSchema": {}, "bindings": [],
            "metadata": {"name": "n", "description": "d", "owner": "o@example.com"},
        }))
        .unwrap();
        let record = HookRecord::new(hook, SealedToken("sealed".into()));
        store.insert_hook(&record).await.unwrap();
        record
    }

    /// The hook `g/h` as [`stored`] first, after another writer set its description to
    /// `description` (version 2).
    async fn stale_after_another_writer(store: &SqliteStore, description: &str) -> HookRecord {
        let stale = stored(store).await;
        let mut winner = stale.clone();
        winner.hook.metadata.description = description.into();
        winner.version = 2;
        store.replace_hook(&winner, 1).await.unwrap();
        stale
    }

    #[tokio::test]
    async fn a_change_that_lost_a_race_runs_again_on_the_record_that_won() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let stale = stale_after_another_writer(&store, "the other writer's").await;

        let mut seen = Vec::new();
        let (written, ()) = compare_and_set(&store, &stale.hook.key(), Some(stale), |record| {
            seen.push(record.hook.metadata.description.clone());
            record.hook.metadata.name = "mine".into();
            Change::Write(())
        })
        .await
        .unwrap()
        .expect("the hook exists");

        assert_eq!(
            seen,
            ["d", "the other writer's"],
            "the second run saw the winner"
        );
        assert_eq!(written.version, 3);
        assert_eq!(written.hook.metadata.description, "the other writer's");
        let stored = store.get_hook(&written.hook.key()).await.unwrap();
        assert_eq!(stored, Some(written));
    }

    #[tokio::test]
    async fn a_slots_change_that_lost_a_race_to_an_edit_keeps_the_edit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let stale = stale_after_another_writer(&store, "edited").await;
        let slot = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();

        let key = stale.hook.key();
        let (written, ()) = compare_and_set_as(CasWrite::Slots, &store, &key, Some(stale), |r| {
            r.claimed_slots.push(slot);
            Change::Write(())
        })
        .await
        .unwrap()
        .expect("the hook exists");

        assert_eq!(written.version, 3);
        assert_eq!(written.claimed_slots, [slot]);
        assert_eq!(written.hook.metadata.description, "edited");
        assert_eq!(store.get_hook(&key).await.unwrap(), Some(written));
    }

    #[tokio::test]
    async fn keep_writes_nothing_and_a_missing_hook_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let record = stored(&store).await;
        let key = record.hook.key();

        let kept = compare_and_set(&store, &key, None, |_| Change::Keep("unchanged"))
            .await
            .unwrap();
        assert_eq!(
            kept.map(|(r, value)| (r.version, value)),
            Some((1, "unchanged"))
        );
        assert_eq!(store.get_hook(&key).await.unwrap().unwrap().version, 1);

        store.delete_hook(&key).await.unwrap();
        let gone = compare_and_set(&store, &key, None, |_| Change::Write(()))
            .await
            .unwrap();
        assert!(gone.is_none());
    }
}
