//! Persistence of hooks, fires and submitted tasks behind one trait.
//!
//! [`HookStore`] is a handful of primitive document operations. Everything that is the same for
//! every backend (id rules, defaults, idempotent-create comparison, token sealing) lives above the
//! trait, so a backend only has to store and fetch faithfully. Two mechanisms over the trait live
//! here for every caller: the compare-and-set loop ([`compare_and_set`]), the walk over every
//! stored hook ([`every_hook`]) and the cache of recently read hooks ([`HookCache`]). The behaviour every backend must
//! show is written once, as the contract suite in `tests/store/`.
//!
//! Owns: the trait, [`StoreError`] and the record shapes the backends share; `sqlite/` and
//! `mongo/` each own their queries, schema and driver errors (which stop there). Leaves to
//! others: the rules above the trait (`registry`), what a hook is (`domain`), timing each call
//! (`metrics::MeteredStore`), and choosing a backend (`startup`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{FireRecord, HookGroupId, HookKey, HookRecord, SubmittedTask, TaskId};

mod cache;
mod cas;
pub mod mongo;
pub mod outage;
mod scan;
pub mod sqlite;

pub use cache::HookCache;
pub use cas::{compare_and_set, Change};
pub use mongo::{MongoOptions, MongoStore};
pub use outage::{one_outage, OutageGuard};
pub use scan::every_hook;
pub use sqlite::SqliteStore;

/// A position in a hook's fire history: fires strictly older than this come next.
///
/// Fires are ordered newest first by `(task_create_time, fire_id)`, both descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireCursor {
    /// Time of the last fire already returned.
    pub time: DateTime<Utc>,
    /// Id of the last fire already returned.
    pub fire_id: Uuid,
}

/// Storage failures, named by what went wrong so callers can choose a response.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An insert found the key taken.
    #[error("a record with this key already exists")]
    AlreadyExists,
    /// An update or compare-and-set found no record.
    #[error("no such record")]
    NotFound,
    /// A compare-and-set found a different version than expected.
    #[error("the record changed since it was read")]
    VersionConflict,
    /// The backend is out of reach for now; retrying later may succeed.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend failed in a way retrying will not fix.
    #[error("the store failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored document or key could not be decoded. This includes a hook whose definition no
    /// longer parses (a release made parsing stricter since it was written): it is never loaded
    /// half-parsed or with an empty schedule. Reads of that hook, and scans over every hook,
    /// fail until an operator removes the hook or fixes its document; deleting it needs no read.
    #[error("a stored document is unreadable")]
    Corrupt(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Durable storage for hooks, their fire history and the local task outbox.
///
/// Implementations must be safe to share between tasks and processes that use the same
/// underlying database: the compare-and-set and insert-if-absent operations are the only
/// synchronisation callers rely on.
#[async_trait]
pub trait HookStore: Send + Sync + 'static {
    /// Inserts a new hook.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when a hook with the same key is stored.
    async fn insert_hook(&self, record: &HookRecord) -> Result<(), StoreError>;

    /// Fetches one hook.
    ///
    /// # Errors
    /// Backend failures only; a missing hook is `Ok(None)`.
    async fn get_hook(&self, key: &HookKey) -> Result<Option<HookRecord>, StoreError>;

    /// Replaces a hook if its stored version is still `expected_version` (compare-and-set).
    /// The new record is stored as given, including its `version`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the hook is gone, [`StoreError::VersionConflict`] when it
    /// was written since `expected_version` was read.
    async fn replace_hook(
        &self,
        record: &HookRecord,
        expected_version: u64,
    ) -> Result<(), StoreError>;

    /// Deletes a hook and its fire history. Returns whether it existed. Tasks it submitted stay
    /// in the outbox: they were handed to the queue and are part of what happened.
    ///
    /// # Errors
    /// Backend failures only.
    async fn delete_hook(&self, key: &HookKey) -> Result<bool, StoreError>;

    /// Every group that holds at least one hook, sorted by byte order.
    ///
    /// # Errors
    /// Backend failures only.
    async fn list_hook_groups(&self) -> Result<Vec<HookGroupId>, StoreError>;

    /// Every hook in a group, sorted by hook id in byte order.
    ///
    /// # Errors
    /// Backend failures only.
    async fn list_hooks(&self, group: &HookGroupId) -> Result<Vec<HookRecord>, StoreError>;

    /// Appends one fire to its hook's history. Recording a fire whose `fire_id` is already
    /// stored does nothing, so a retry after an ambiguous failure records it once.
    ///
    /// # Errors
    /// Backend failures only.
    async fn record_fire(&self, fire: &FireRecord) -> Result<(), StoreError>;

    /// The fire recorded under `fire_id`, if any. Scheduled slots and messages record their
    /// final fire under an id derived from their task id, so this tells whether one was
    /// already fired to the end before a crash or a lost acknowledgement.
    ///
    /// # Errors
    /// Backend failures only; a missing fire is `Ok(None)`.
    async fn get_fire(&self, fire_id: Uuid) -> Result<Option<FireRecord>, StoreError>;

    /// Up to `limit` fires of a hook, newest first, strictly after `after` when given.
    ///
    /// # Errors
    /// Backend failures only.
    async fn list_fires(
        &self,
        key: &HookKey,
        limit: usize,
        after: Option<&FireCursor>,
    ) -> Result<Vec<FireRecord>, StoreError>;

    /// Adds a task to the outbox, keyed by its task id.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when a task with that id is stored.
    async fn insert_task(&self, task: &SubmittedTask) -> Result<(), StoreError>;

    /// Fetches a task from the outbox.
    ///
    /// # Errors
    /// Backend failures only; a missing task is `Ok(None)`.
    async fn get_task(&self, task_id: &TaskId) -> Result<Option<SubmittedTask>, StoreError>;

    /// Checks that the store answers, for health checks.
    ///
    /// # Errors
    /// The failure that made the check fail.
    async fn ping(&self) -> Result<(), StoreError>;
}
