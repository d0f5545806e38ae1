//! Persistence of hooks, fires and submitted tasks behind one trait.
//!
//! [`HookStore`] is a handful of primitive document operations. Everything that is the same for
//! every backend (id rules, defaults, idempotent-create comparison, token sealing) lives above the
//! trait, so a backend only has to store and fetch faithfully. Two mechanisms over the trait live
//! here for every caller: the compare-and-set loop ([`compare_and_set`]), the walk over every
//! stored hook ([`every_hook`]), the cache of recently read hooks ([`HookCache`]) and the one
//! forwarding that makes a wrapper of a store a store ([`AroundStore`]). The behaviour every backend must
//! show is written once, as the contract suite in `tests/store/`.
//!
//! Owns: the trait, [`StoreError`] and the record shapes the backends share; `sqlite/` and
//! `mongo/` each own their queries, schema and driver errors (which stop there). Leaves to
//! others: the rules above the trait (`registry`), what a hook is (`domain`), timing each call
//! (`metrics::MeteredStore`), and choosing a backend (`startup`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    ApplySetName, ApplySetRecord, ChatAliasId, ChatAliasRecord, Encoded, FireRecord, HookGroupId,
    HookId, HookKey, HookRecord, KeyFilter, Refusal, ReplayJob, Schedule, SubmittedTask, TaskId,
};

pub mod apply;
mod cache;
mod cas;
pub mod mongo;
pub mod outage;
mod scan;
pub mod sqlite;
mod wrap;

pub use apply::{
    roll_forward, roll_forward_all, ApplyObserver, Claimed, Made, RollClaim, Rolled, Unobserved,
};
pub use cache::HookCache;
pub use cas::{compare_and_set, compare_and_set_as, CasWrite, Change};
pub use mongo::{MongoOptions, MongoStore};
pub use outage::{one_outage, OutageGuard};
pub use scan::{every_hook, every_hook_schedule};
pub use sqlite::SqliteStore;
pub use wrap::{AroundStore, StoreCall};

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

/// Extension (listings for people): how many hooks of one group a query admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    /// The group.
    pub group: HookGroupId,
    /// Its hooks the query admits (at least one).
    pub hooks: u64,
}

/// What the scheduler needs of one stored hook, read without the rest of its record (see
/// [`HookStore::list_hook_schedules_after`]): arming the timer over 100,000 hooks then decodes
/// no task template, trigger schema or token.
#[derive(Debug, Clone, PartialEq)]
pub struct HookSchedule {
    /// The hook.
    pub key: HookKey,
    /// Its schedule, parsed as a full read parses it.
    pub schedule: Schedule,
    /// Its stored next slot ([`HookRecord::next_scheduled_date`]).
    pub next_scheduled_date: Option<DateTime<Utc>>,
    /// Its claimed, unfinished slots, oldest first ([`HookRecord::claimed_slots`]).
    pub claimed_slots: Vec<DateTime<Utc>>,
}

/// The scheduler's state of one hook, written without the rest of its record (see
/// [`HookStore::write_hook_slots`]): a claim or a release changes only these fields, so it
/// neither reads nor encodes the task template, trigger schema or token.
#[derive(Debug, Clone, PartialEq)]
pub struct HookSlots {
    /// The hook.
    pub key: HookKey,
    /// The version the writer read; the write stores `expected_version + 1`.
    pub expected_version: u64,
    /// The new [`HookRecord::next_scheduled_date`].
    pub next_scheduled_date: Option<DateTime<Utc>>,
    /// The new [`HookRecord::next_task_id`].
    pub next_task_id: Option<TaskId>,
    /// The new [`HookRecord::claimed_slots`], oldest first.
    pub claimed_slots: Vec<DateTime<Utc>>,
}

impl HookSlots {
    /// The scheduler's fields of `record`, to be written over the version `expected_version`
    /// (`record` is the record as it will read after the write, its version the next one).
    pub fn of(record: &HookRecord, expected_version: u64) -> Self {
        Self {
            key: record.hook.key(),
            expected_version,
            next_scheduled_date: record.next_scheduled_date,
            next_task_id: record.next_task_id.clone(),
            claimed_slots: record.claimed_slots.clone(),
        }
    }
}

/// One write's outcome in [`HookStore::write_hook_slots`]' answers: a lost compare-and-set
/// (the hook written since, or gone) is that write's answer and changes nothing; any other
/// failure is the backend's and fails the whole call.
///
/// # Errors
/// `outcome`'s error when it is not a lost race.
pub(crate) fn lost_race_is_an_answer(
    outcome: Result<(), StoreError>,
) -> Result<Result<(), StoreError>, StoreError> {
    match outcome {
        Err(e) if !matches!(e, StoreError::VersionConflict | StoreError::NotFound) => Err(e),
        answer => Ok(answer),
    }
}

/// One pair's outcome in [`HookStore::insert_tasks_and_record_fires`]' answers: a task already
/// stored is that pair's answer and stores nothing; any other failure is the backend's and
/// fails the whole call.
///
/// # Errors
/// `outcome`'s error when it is not [`StoreError::AlreadyExists`].
pub(crate) fn already_stored_is_an_answer(
    outcome: Result<(), StoreError>,
) -> Result<Result<(), StoreError>, StoreError> {
    match outcome {
        Err(e) if !matches!(e, StoreError::AlreadyExists) => Err(e),
        answer => Ok(answer),
    }
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

    /// Deletes a hook, its fire history and its replay jobs. Returns whether it existed. Tasks
    /// it submitted stay in the outbox: they were handed to the queue and are part of what
    /// happened.
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

    /// At most `limit` hooks of a group whose ids sort after `after` (from the first without
    /// it), sorted by hook id in byte order: a page of [`HookStore::list_hooks`], so a walk
    /// over a group of 100,000 hooks holds one page at a time.
    ///
    /// # Errors
    /// Backend failures only.
    async fn list_hooks_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookRecord>, StoreError>;

    /// Extension (listings for people): per group, the number of hooks `keys` admits whose
    /// group, id or name holds `search` (every one when `search` is empty; ASCII letters match
    /// either case), sorted by group in byte order; groups with none are left out. Reads keys
    /// and names only, never a whole definition.
    ///
    /// # Errors
    /// Backend failures only.
    async fn count_hooks(
        &self,
        keys: &KeyFilter,
        search: &str,
    ) -> Result<Vec<GroupCount>, StoreError>;

    /// Extension (listings for people): the newest `limit` failed fires of the hooks `keys`
    /// admits, across hooks, newest first (by time, then fire id), read through an index of
    /// failed fires.
    ///
    /// # Errors
    /// Backend failures only.
    async fn error_fires(
        &self,
        keys: &KeyFilter,
        limit: usize,
    ) -> Result<Vec<FireRecord>, StoreError>;

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

    /// Extension: records a refused attempt to fire a hook, then drops the hook's refusals
    /// beyond the newest `keep`. Refusals go with their hook when it is deleted.
    ///
    /// # Errors
    /// Backend failures only.
    async fn record_refusal(&self, refusal: &Refusal, keep: usize) -> Result<(), StoreError>;

    /// Extension: up to `limit` refusals of a hook, newest first (by time, then id).
    ///
    /// # Errors
    /// Backend failures only.
    async fn list_refusals(&self, key: &HookKey, limit: usize) -> Result<Vec<Refusal>, StoreError>;

    /// Extension: stores a new bulk replay job.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when a job with its id is stored.
    async fn insert_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError>;

    /// Extension: the bulk replay job `job_id`, if any.
    ///
    /// # Errors
    /// Backend failures only; a missing job is `Ok(None)`.
    async fn get_replay_job(&self, job_id: Uuid) -> Result<Option<ReplayJob>, StoreError>;

    /// Extension: up to `limit` of the hook `key`'s bulk replay jobs, newest first (by
    /// creation time, then id).
    ///
    /// # Errors
    /// Backend failures only.
    async fn list_replay_jobs(
        &self,
        key: &HookKey,
        limit: usize,
    ) -> Result<Vec<ReplayJob>, StoreError>;

    /// Extension: every bulk replay job still running, of every hook, oldest first.
    ///
    /// # Errors
    /// Backend failures only.
    async fn running_replay_jobs(&self) -> Result<Vec<ReplayJob>, StoreError>;

    /// Extension: replaces a bulk replay job if its stored version is still
    /// `expected_version` (compare-and-set); the job is stored as given, with its `version`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the job is gone, [`StoreError::VersionConflict`] when it
    /// was written since `expected_version` was read.
    async fn replace_replay_job(
        &self,
        job: &ReplayJob,
        expected_version: u64,
    ) -> Result<(), StoreError>;

    /// Adds a task to the outbox, keyed by its task id.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when a task with that id is stored.
    async fn insert_task(&self, task: &SubmittedTask) -> Result<(), StoreError>;

    /// Adds a task to the outbox and records `fire`, the fire that submitted it, as one write:
    /// what [`HookStore::insert_task`] then [`HookStore::record_fire`] would do, in one durable
    /// step where the backend can make it one. A fire through the local outbox then waits for
    /// one commit, not two.
    ///
    /// Backends promise that a crash never leaves `fire` recorded without its task. SQLite
    /// writes both in one write job, so neither is stored without the other. MongoDB has no
    /// multi-document transactions here; it inserts the task first and records the fire after,
    /// so a crash between the two leaves a task without its record (the fire was not answered
    /// yet; a slot or message firing again finds its task and records the fire then).
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when a task with that id is stored; the fire is then not
    /// recorded either.
    async fn insert_task_and_record_fire(
        &self,
        task: &SubmittedTask,
        fire: &FireRecord,
    ) -> Result<(), StoreError>;

    /// [`HookStore::insert_task_and_record_fire`] for many tasks, each with its fire, in one
    /// write: SQLite commits all of them in one transaction (a burst of scheduled fires waits
    /// for one commit and one writer round trip, not one each). Each pair is stored whole or
    /// not at all, as by the single write. Answers for each pair in order:
    /// [`StoreError::AlreadyExists`] when its task id is stored (the pair stored nothing).
    /// Each task and fire comes with its JSON text, made when the fire was made ready (for a
    /// burst, ahead of its slot); a backend that stores JSON text writes that text.
    ///
    /// # Errors
    /// A backend failure. SQLite then stored none of the pairs; MongoDB, writing them one after
    /// another, may have stored those before the failure (a slot fired again finds its fire).
    async fn insert_tasks_and_record_fires(
        &self,
        fired: &[(&Encoded<SubmittedTask>, &Encoded<FireRecord>)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;

    /// Fetches a task from the outbox.
    ///
    /// # Errors
    /// Backend failures only; a missing task is `Ok(None)`.
    async fn get_task(&self, task_id: &TaskId) -> Result<Option<SubmittedTask>, StoreError>;

    /// Inserts a new chat alias.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when an alias with the same id is stored.
    async fn insert_chat_alias(&self, record: &ChatAliasRecord) -> Result<(), StoreError>;

    /// Fetches one chat alias.
    ///
    /// # Errors
    /// Backend failures only; a missing alias is `Ok(None)`.
    async fn get_chat_alias(&self, id: &ChatAliasId)
        -> Result<Option<ChatAliasRecord>, StoreError>;

    /// Replaces a chat alias if its stored version is still `expected_version`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when it is gone, [`StoreError::VersionConflict`] when it was
    /// written since `expected_version` was read.
    async fn replace_chat_alias(
        &self,
        record: &ChatAliasRecord,
        expected_version: u64,
    ) -> Result<(), StoreError>;

    /// Deletes a chat alias. Returns whether it existed.
    ///
    /// # Errors
    /// Backend failures only.
    async fn delete_chat_alias(&self, id: &ChatAliasId) -> Result<bool, StoreError>;

    /// Every chat alias, sorted by id in byte order.
    ///
    /// # Errors
    /// Backend failures only.
    async fn list_chat_aliases(&self) -> Result<Vec<ChatAliasRecord>, StoreError>;

    /// The position a chat platform reached in its event stream (a Matrix sync token), under
    /// `name`.
    ///
    /// # Errors
    /// Backend failures only; a position never saved is `Ok(None)`.
    async fn get_chat_cursor(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Saves the position `value` under `name`, replacing the one before.
    ///
    /// # Errors
    /// Backend failures only.
    async fn set_chat_cursor(&self, name: &str, value: &str) -> Result<(), StoreError>;

    /// Checks that the store answers, for health checks.
    ///
    /// # Errors
    /// The failure that made the check fail.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Extension (declarative apply): the record of apply set `name`.
    ///
    /// # Errors
    /// Backend failures only; an unknown set is `Ok(None)`.
    async fn get_apply_set(
        &self,
        name: &ApplySetName,
    ) -> Result<Option<ApplySetRecord>, StoreError>;

    /// Extension (declarative apply): the sets whose last apply has writes still pending.
    ///
    /// # Errors
    /// Backend failures only.
    async fn list_pending_apply_sets(&self) -> Result<Vec<ApplySetName>, StoreError>;

    /// Extension (declarative apply): commits a new revision of a set, if its stored revision
    /// is still `expected_revision` (0: the set has no record yet).
    ///
    /// A backend with transactions makes `record.pending` (each write by
    /// [`ApplyWrite::step`](crate::domain::ApplyWrite::step), reporting to `observer`) and
    /// stores the record without them, all in one transaction; a step that meets another set's
    /// hook fails it all. A backend without stores the record with its pending writes in one
    /// document, the commit point, and leaves the writes to [`roll_forward`]. Returns the hook
    /// writes the commit made itself (none on a backend without transactions).
    ///
    /// # Errors
    /// [`StoreError::VersionConflict`] when the set moved on (another apply won) or, on a
    /// transactional backend, another set owns a hook this revision writes.
    async fn commit_apply_set(
        &self,
        record: &ApplySetRecord,
        expected_revision: u64,
        observer: std::sync::Arc<dyn ApplyObserver>,
    ) -> Result<Vec<(HookKey, Made)>, StoreError>;

    /// Extension (declarative apply): stores `record` (its writes made, `pending` empty) in
    /// place of the pending one of the same revision. Does nothing when the set has moved on.
    ///
    /// # Errors
    /// Backend failures only.
    async fn finish_apply_set(&self, record: &ApplySetRecord) -> Result<(), StoreError>;

    /// Extension (declarative apply): takes over rolling the pending writes of set `name`'s
    /// revision `revision` forward, from whoever was rolling them before. Returns the claim,
    /// which [`holds_apply_roll`](Self::holds_apply_roll) checks before each write, or `None`
    /// when the set is not pending at that revision (finished or moved on). A backend that
    /// never stores pending writes always answers `None`.
    ///
    /// # Errors
    /// Backend failures only.
    async fn claim_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
    ) -> Result<Option<u64>, StoreError>;

    /// Extension (declarative apply): whether `claim` is still the newest claim on set `name`'s
    /// pending revision `revision`.
    ///
    /// # Errors
    /// Backend failures only.
    async fn holds_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
        claim: u64,
    ) -> Result<bool, StoreError>;

    /// Writes the scheduler's fields of many hooks, each by compare-and-set on its version, in
    /// one write: what [`HookStore::replace_hook`] of each record with only those fields
    /// changed would do, without reading, decoding or encoding the rest of the record. SQLite
    /// makes it one write job (one commit for a page of claims); MongoDB one conditional
    /// update per hook, all under way at once. Answers for each write in order: `Ok` when it
    /// was stored (the hook's version is now `expected_version + 1`),
    /// [`StoreError::VersionConflict`] when the hook was written since, [`StoreError::NotFound`]
    /// when it is gone. One write's lost race does not affect the others.
    ///
    /// # Errors
    /// A backend failure. SQLite then stored none of the writes; MongoDB may have stored some
    /// (each one whole).
    async fn write_hook_slots(
        &self,
        writes: &[HookSlots],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;

    /// What the scheduler needs of at most `limit` hooks of a group whose ids sort after
    /// `after` (from the first without it), sorted by hook id in byte order: the pages of
    /// [`HookStore::list_hooks_after`], each hook read as its [`HookSchedule`] only. A backend
    /// reads just those fields (SQLite extracts them from the document, MongoDB projects them),
    /// so the scheduler's start-up and resync decode no whole record.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] when a hook's schedule no longer parses, as a
    /// full read of it would be.
    async fn list_hook_schedules_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookSchedule>, StoreError>;
}
