//! The one compare-and-set loop over a stored hook: read, change, write if the version is still
//! the one read, and start over when another writer got in between.
//!
//! Every read-modify-write of a hook (registry updates, token and secret rotation, the
//! scheduler's claims and releases) goes through [`compare_and_set`], so the retry bound and
//! the handling of a hook deleted mid-loop are decided once.

use super::{HookStore, StoreError};
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
        match store.replace_hook(&record, expected).await {
            Ok(()) => return Ok(Some((record, value))),
            Err(StoreError::VersionConflict) => {}
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::VersionConflict)
}
