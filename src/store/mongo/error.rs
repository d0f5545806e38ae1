//! How MongoDB driver failures become [`StoreError`]s. Nothing outside this backend sees a
//! `mongodb::error::Error` except as the boxed source of a `StoreError`.

use mongodb::error::{Error, ErrorKind, WriteFailure};

use crate::store::StoreError;

/// Failures of this backend that are not plain driver errors.
#[derive(Debug, thiserror::Error)]
pub(super) enum MongoError {
    /// A number too large for a BSON 64-bit integer.
    #[error("{0} does not fit in a BSON 64-bit integer")]
    OutOfRange(u64),
    /// A stored date outside the range this build can represent.
    #[error("the stored date {0} ms after the epoch is out of range")]
    DateOutOfRange(i64),
    /// A migration file that ships with this build is malformed (a build defect).
    #[error("migration {name} is malformed")]
    BadMigration {
        /// The migration's name.
        name: &'static str,
        /// Why it does not parse.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another migrator held the migration lock for longer than this one waits.
    #[error("another process has held the migration lock since {since}; try again later")]
    LockBusy {
        /// When the other process took the lock.
        since: chrono::DateTime<chrono::Utc>,
    },
}

/// Server error codes that mean "this server cannot answer right now" rather than "this request
/// is wrong": shutdown, step-down, network trouble reported by the server, timeouts.
const TRANSIENT_CODES: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    50,    // MaxTimeMSExpired
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    189,   // PrimarySteppedDown
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
];

/// The duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;

/// The server's error code, for the error kinds that carry one.
pub(super) fn code(e: &Error) -> Option<i32> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        _ => None,
    }
}

/// True when the error says the key of an insert is taken.
pub(super) fn is_duplicate_key(e: &Error) -> bool {
    code(e) == Some(DUPLICATE_KEY)
}

/// True when retrying later may succeed: the server is out of reach, restarting or stepping
/// down.
fn is_unavailable(e: &Error) -> bool {
    let by_kind = matches!(
        e.kind.as_ref(),
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
    );
    by_kind
        || code(e).is_some_and(|c| TRANSIENT_CODES.contains(&c))
        || e.contains_label(mongodb::error::RETRYABLE_WRITE_ERROR)
        || e.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
}

/// Maps a driver error: unreachable is worth retrying, undecodable is corruption, anything
/// else is a backend failure.
pub(super) fn driver(e: Error) -> StoreError {
    if matches!(e.kind.as_ref(), ErrorKind::BsonDeserialization(_)) {
        StoreError::Corrupt(Box::new(e))
    } else if is_unavailable(&e) {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Backend(Box::new(e))
    }
}

/// Maps an insert's error, reading a duplicate key as "the key is taken".
pub(super) fn insert(e: Error) -> StoreError {
    if is_duplicate_key(&e) {
        StoreError::AlreadyExists
    } else {
        driver(e)
    }
}

/// A backend-private failure that retrying will not fix.
pub(super) fn backend(e: MongoError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Converts a count or version to a BSON 64-bit integer.
pub(super) fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| backend(MongoError::OutOfRange(n)))
}
