//! How SQLite failures become [`StoreError`]s. Nothing outside this backend sees a
//! `rusqlite::Error` except as the boxed source of a `StoreError`.

use std::sync::Arc;

use rusqlite::ffi;
use rusqlite::ErrorCode;

use crate::store::StoreError;

/// Failures of this backend that are not plain SQLite errors.
#[derive(Debug, thiserror::Error)]
pub(super) enum SqliteError {
    /// The transaction holding a batch of writes failed; every write in it was rolled back.
    #[error("the write batch this change belonged to was rolled back")]
    BatchFailed(#[source] Arc<rusqlite::Error>),
    /// The writer thread is gone (it could not start, or it died); no write can succeed.
    #[error("the SQLite writer thread has stopped")]
    WriterStopped,
    /// A blocking read task panicked or was cancelled.
    #[error("a SQLite read task failed")]
    ReadTask(#[source] tokio::task::JoinError),
    /// The file's schema was written by a different (probably newer) hookd.
    #[error("the database has schema version {found}; this hookd knows versions 0 to {known}")]
    UnknownSchema { found: i64, known: i64 },
    /// SQLite refused write-ahead logging (for example on an in-memory database).
    #[error("the database is in journal mode {0:?}, not WAL")]
    NotWal(String),
    /// A number too large for an SQLite integer.
    #[error("{0} does not fit in an SQLite integer")]
    OutOfRange(u64),
    /// A document could not be serialized.
    #[error("a document could not be encoded as JSON")]
    Encode(#[source] serde_json::Error),
}

/// True when retrying later may succeed: another connection held a lock for longer than the
/// busy timeout, or the file cannot be written for now (a full disk, a read-only file or file
/// system, an I/O error). Nothing of the failed write was committed, and once an operator has
/// made room or made the file writable again the same connection writes again.
fn is_unavailable(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::SystemIoFailure
        )
    )
}

/// Maps an SQLite error: what may pass (see [`is_unavailable`]) is worth retrying, anything else
/// is not.
pub(super) fn sql(e: rusqlite::Error) -> StoreError {
    if is_unavailable(&e) {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Backend(Box::new(e))
    }
}

/// Maps an insert's error, reading a primary-key violation as "the key is taken".
pub(super) fn insert(e: rusqlite::Error) -> StoreError {
    if e.sqlite_extended_error_code() == Some(ffi::SQLITE_CONSTRAINT_PRIMARYKEY) {
        StoreError::AlreadyExists
    } else {
        sql(e)
    }
}

/// The error each caller of a failed batch receives; all of them share the one cause.
pub(super) fn batch(e: &Arc<rusqlite::Error>) -> StoreError {
    let wrapped = Box::new(SqliteError::BatchFailed(Arc::clone(e)));
    if is_unavailable(e) {
        StoreError::Unavailable(wrapped)
    } else {
        StoreError::Backend(wrapped)
    }
}

/// A backend-private failure that retrying will not fix.
pub(super) fn backend(e: SqliteError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Converts a count or version to an SQLite integer.
pub(super) fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| backend(SqliteError::OutOfRange(n)))
}
