//! The MongoDB backend of [`HookStore`], for production deployments.
//!
//! Several hookd replicas share one database. Hooks, fires and outbox tasks are one collection
//! each; this module owns the queries. Document shapes are in `codec`, apply sets' commit point in `apply`, the schema (indexes,
//! validators) and its migrations in `migrate`, and error mapping in `error`.
//!
//! The primary key of each collection settles races: inserts of one hook or task have one
//! winner, and a fire's `_id` is its fire id, so recording it twice stores it once. Updates are
//! compare-and-set on the stored `version`. Nothing here uses multi-document transactions,
//! which a standalone MongoDB does not offer.

mod apply;
mod chat;
mod codec;
mod error;
mod listing;
mod migrate;
mod refusals;
mod replay_jobs;
mod schedules;

use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};

use self::codec::{
    conflict_or_missing, date, fire_id, hook_filter, hook_id, page_filter, AliasDoc, CursorDoc,
    FireDoc, HookDoc, TaskDoc,
};
use self::error::{driver, insert, to_i64};
pub use self::migrate::MigrationState;
use crate::domain::{
    ApplySetName, ApplySetRecord, ChatAliasId, ChatAliasRecord, Encoded, FireRecord, HookGroupId,
    HookId, HookKey, HookRecord, KeyFilter, Refusal, ReplayJob, SubmittedTask, TaskId,
};
use crate::store::{
    already_stored_is_an_answer, ApplyObserver, FireCursor, GroupCount, HookSchedule, HookSlots,
    HookStore, Made, StoreError,
};

/// The database used when the URI names none.
const DEFAULT_DATABASE: &str = "hookd";

/// The index that serves a hook's fire history newest first; named so queries can hint it.
const FIRES_NEWEST_FIRST: &str = "byHookNewestFirst";

/// How many of a batch's task-and-fire pairs are written at once. The scheduler hands over
/// 2,048 fires to a batch and runs the batches of a burst side by side (about 50 for 100,000
/// fires), so 16 each keeps the writes in flight in the hundreds, as they were when a batch
/// was 256 pairs written one at a time and 256 batches ran side by side.
const PAIRS_AT_ONCE: usize = 16;

/// Where the store lives and how much fire history it keeps.
#[derive(Debug, Clone)]
pub struct MongoOptions {
    /// A `mongodb://` or `mongodb+srv://` URI; its path names the database (default `hookd`).
    pub uri: String,
    /// How long fires are kept; a TTL index removes older ones.
    pub fire_retention: chrono::Duration,
    /// When set, only this many of each hook's newest fires are kept.
    pub fires_per_hook: Option<u64>,
    /// How long an operation waits for a reachable server (and for a new connection) before
    /// failing as unavailable, unless the URI says otherwise. The driver's own 30 s would hold
    /// API callers far too long while the database is away.
    pub timeout: Duration,
}

/// A [`HookStore`] in a MongoDB database. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    hooks: Collection<HookDoc>,
    fires: Collection<FireDoc>,
    tasks: Collection<TaskDoc>,
    chat_aliases: Collection<AliasDoc>,
    chat_cursors: Collection<CursorDoc>,
    apply_sets: Collection<apply::SetDoc>,
    refusals: Collection<refusals::RefusalDoc>,
    replay_jobs: Collection<replay_jobs::JobDoc>,
    fire_retention: chrono::Duration,
    fires_per_hook: Option<u64>,
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore")
            .field("database", &self.db.name())
            .finish_non_exhaustive()
    }
}

/// The driver's options for `options`: the URI's, with hookd's timeout and name where the URI
/// is silent.
async fn client_options(options: &MongoOptions) -> Result<ClientOptions, StoreError> {
    let mut client_options = ClientOptions::parse(&options.uri).await.map_err(driver)?;
    client_options
        .server_selection_timeout
        .get_or_insert(options.timeout);
    client_options
        .connect_timeout
        .get_or_insert(options.timeout);
    client_options
        .app_name
        .get_or_insert_with(|| "hookd".into());
    Ok(client_options)
}

impl MongoStore {
    /// Prepares a connection pool for `options.uri`. The driver connects lazily, so this does
    /// not contact the server; check [`MongoStore::pending_migrations`] before serving.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URI is invalid, [`StoreError::Unavailable`] when an
    /// SRV lookup fails.
    pub async fn connect(options: &MongoOptions) -> Result<Self, StoreError> {
        let client_options = client_options(options).await?;
        let name = client_options
            .default_database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.into());
        let db = Client::with_options(client_options)
            .map_err(driver)?
            .database(&name);
        Ok(Self {
            hooks: db.collection("hooks"),
            fires: db.collection("fires"),
            tasks: db.collection("tasks"),
            chat_aliases: db.collection("chatAliases"),
            chat_cursors: db.collection("chatCursors"),
            apply_sets: db.collection("applySets"),
            refusals: db.collection("refusals"),
            replay_jobs: db.collection("replay_jobs"),
            db,
            fire_retention: options.fire_retention,
            fires_per_hook: options.fires_per_hook,
        })
    }

    /// Applies every migration the database has not seen, holding the migration lock so that
    /// concurrent migrators take turns. Returns the names of the migrations this call applied.
    ///
    /// # Errors
    /// Store failures, or [`StoreError::Backend`] when another migrator holds the lock too long.
    pub async fn migrate(&self) -> Result<Vec<&'static str>, StoreError> {
        migrate::run(&self.db).await
    }

    /// Every migration this build knows, with when it was applied, if it was.
    ///
    /// # Errors
    /// Store failures.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrate::status(&self.db).await
    }

    /// The names of the migrations this build knows and the database lacks.
    ///
    /// # Errors
    /// Store failures.
    pub async fn pending_migrations(&self) -> Result<Vec<&'static str>, StoreError> {
        Ok(self
            .migration_status()
            .await?
            .into_iter()
            .filter(|m| m.applied_at.is_none())
            .map(|m| m.name)
            .collect())
    }

    /// Deletes fires of `key` beyond the newest `cap`.
    async fn trim_fires(&self, key: &HookKey, cap: u64) -> Result<(), StoreError> {
        // The first fire past the cap, found by walking the history index; it and everything
        // older go.
        let first_dropped = self
            .fires
            .find_one(hook_filter(key))
            .sort(newest_first())
            .skip(cap)
            .hint(mongodb::options::Hint::Name(FIRES_NEWEST_FIRST.into()))
            .await
            .map_err(driver)?;
        let Some(first_dropped) = first_dropped else {
            return Ok(());
        };
        let record = first_dropped.into_record()?;
        let mut filter = hook_filter(key);
        filter.extend(at_or_before(&FireCursor {
            time: record.task_create_time,
            fire_id: record.fire_id,
        }));
        self.fires.delete_many(filter).await.map_err(driver)?;
        Ok(())
    }
}

/// The sort order of fire history: newest first, ties broken by fire id descending.
fn newest_first() -> Document {
    doc! { "taskCreateTime": -1, "_id": -1 }
}

/// Fires strictly older than `cursor` in [`newest_first`] order.
///
/// The `$lte` on the time bounds the index scan; the `$or` only skips the cursor's own time's
/// newer-or-equal ids, so the query stays one range scan of the history index.
fn before(cursor: &FireCursor) -> Document {
    let time = date(cursor.time);
    doc! {
        "taskCreateTime": { "$lte": time },
        "$or": [ { "taskCreateTime": { "$lt": time } }, { "_id": { "$lt": fire_id(cursor.fire_id) } } ],
    }
}

/// Fires at `cursor` or older in [`newest_first`] order.
fn at_or_before(cursor: &FireCursor) -> Document {
    let time = date(cursor.time);
    doc! {
        "taskCreateTime": { "$lte": time },
        "$or": [ { "taskCreateTime": { "$lt": time } }, { "_id": { "$lte": fire_id(cursor.fire_id) } } ],
    }
}

/// Inserts a document whose `_id` must be new.
async fn insert_new<D>(collection: &Collection<D>, doc: D) -> Result<(), StoreError>
where
    D: serde::Serialize + Send + Sync,
{
    collection.insert_one(doc).await.map_err(insert)?;
    Ok(())
}

/// Fetches the document with this `_id`, as a record.
async fn find_by_id<D, R>(
    collection: &Collection<D>,
    id: &str,
    into_record: fn(D) -> Result<R, StoreError>,
) -> Result<Option<R>, StoreError>
where
    D: serde::de::DeserializeOwned + Send + Sync + Unpin,
{
    let found = collection
        .find_one(doc! { "_id": id })
        .await
        .map_err(driver)?;
    found.map(into_record).transpose()
}

/// Collects a cursor of documents into records.
async fn collect<D, R>(
    cursor: mongodb::Cursor<D>,
    into_record: fn(D) -> Result<R, StoreError>,
) -> Result<Vec<R>, StoreError>
where
    D: serde::de::DeserializeOwned + Send + Sync + Unpin,
{
    let docs: Vec<D> = cursor.try_collect().await.map_err(driver)?;
    docs.into_iter().map(into_record).collect()
}

#[async_trait]
impl HookStore for MongoStore {
    async fn insert_hook(&self, record: &HookRecord) -> Result<(), StoreError> {
        insert_new(&self.hooks, HookDoc::new(record)?).await
    }

    async fn get_hook(&self, key: &HookKey) -> Result<Option<HookRecord>, StoreError> {
        find_by_id(&self.hooks, &hook_id(key), HookDoc::into_record).await
    }

    async fn replace_hook(
        &self,
        record: &HookRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let id = hook_id(&record.hook.key());
        let replaced = self
            .hooks
            .replace_one(
                doc! { "_id": &id, "version": to_i64(expected_version)? },
                HookDoc::new(record)?,
            )
            .await
            .map_err(driver)?;
        if replaced.matched_count > 0 {
            return Ok(());
        }
        Err(conflict_or_missing(&self.hooks, &id).await)
    }

    async fn delete_hook(&self, key: &HookKey) -> Result<bool, StoreError> {
        // History first: if the hook's delete then fails, a retry finds the hook and finishes
        // the job, where the other order could leave history behind for a recreated hook.
        self.fires
            .delete_many(hook_filter(key))
            .await
            .map_err(driver)?;
        self.refusals
            .delete_many(hook_filter(key))
            .await
            .map_err(driver)?;
        self.replay_jobs
            .delete_many(hook_filter(key))
            .await
            .map_err(driver)?;
        let deleted = self
            .hooks
            .delete_one(doc! { "_id": hook_id(key) })
            .await
            .map_err(driver)?;
        Ok(deleted.deleted_count > 0)
    }

    async fn list_hook_groups(&self) -> Result<Vec<HookGroupId>, StoreError> {
        let values = self
            .hooks
            .distinct("hookGroupId", doc! {})
            .await
            .map_err(driver)?;
        let mut groups = values
            .into_iter()
            .map(|v| mongodb::bson::from_bson(v).map_err(|e| StoreError::Corrupt(Box::new(e))))
            .collect::<Result<Vec<HookGroupId>, _>>()?;
        // String order is byte order, which the trait promises.
        groups.sort();
        Ok(groups)
    }

    async fn list_hooks(&self, group: &HookGroupId) -> Result<Vec<HookRecord>, StoreError> {
        // Without a collation MongoDB compares strings bytewise, the order the trait promises.
        let cursor = self
            .hooks
            .find(doc! { "hookGroupId": group.as_str() })
            .sort(doc! { "hookId": 1 })
            .await
            .map_err(driver)?;
        collect(cursor, HookDoc::into_record).await
    }

    async fn list_hooks_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookRecord>, StoreError> {
        let cursor = self
            .hooks
            .find(page_filter(group, after))
            .sort(doc! { "hookId": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(driver)?;
        collect(cursor, HookDoc::into_record).await
    }

    async fn count_hooks(
        &self,
        keys: &KeyFilter,
        search: &str,
    ) -> Result<Vec<GroupCount>, StoreError> {
        listing::count_hooks(&self.hooks, keys, search).await
    }

    async fn error_fires(
        &self,
        keys: &KeyFilter,
        limit: usize,
    ) -> Result<Vec<FireRecord>, StoreError> {
        listing::error_fires(&self.fires, keys, limit).await
    }

    async fn record_fire(&self, fire: &FireRecord) -> Result<(), StoreError> {
        match self
            .fires
            .insert_one(FireDoc::new(fire, self.fire_retention))
            .await
        {
            Ok(_) => {}
            // Already recorded by an earlier attempt: recording is idempotent on the fire id.
            Err(e) if error::is_duplicate_key(&e) => return Ok(()),
            Err(e) => return Err(driver(e)),
        }
        match self.fires_per_hook {
            Some(cap) => self.trim_fires(&fire.key(), cap).await,
            None => Ok(()),
        }
    }

    async fn record_refusal(&self, refusal: &Refusal, keep: usize) -> Result<(), StoreError> {
        refusals::record(&self.refusals, refusal, keep, self.fire_retention).await
    }

    async fn list_refusals(&self, key: &HookKey, limit: usize) -> Result<Vec<Refusal>, StoreError> {
        refusals::list(&self.refusals, key, limit).await
    }

    async fn get_fire(&self, id: uuid::Uuid) -> Result<Option<FireRecord>, StoreError> {
        find_by_id(&self.fires, &fire_id(id), FireDoc::into_record).await
    }

    async fn list_fires(
        &self,
        key: &HookKey,
        limit: usize,
        after: Option<&FireCursor>,
    ) -> Result<Vec<FireRecord>, StoreError> {
        if limit == 0 {
            // MongoDB reads a limit of 0 as "no limit".
            return Ok(Vec::new());
        }
        let mut filter = hook_filter(key);
        if let Some(cursor) = after {
            filter.extend(before(cursor));
        }
        let cursor = self
            .fires
            .find(filter)
            .sort(newest_first())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .hint(mongodb::options::Hint::Name(FIRES_NEWEST_FIRST.into()))
            .await
            .map_err(driver)?;
        collect(cursor, FireDoc::into_record).await
    }

    async fn insert_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError> {
        replay_jobs::insert(&self.replay_jobs, job).await
    }

    async fn get_replay_job(&self, job_id: uuid::Uuid) -> Result<Option<ReplayJob>, StoreError> {
        replay_jobs::get(&self.replay_jobs, job_id).await
    }

    async fn list_replay_jobs(
        &self,
        key: &HookKey,
        limit: usize,
    ) -> Result<Vec<ReplayJob>, StoreError> {
        replay_jobs::list(&self.replay_jobs, key, limit).await
    }

    async fn running_replay_jobs(&self) -> Result<Vec<ReplayJob>, StoreError> {
        replay_jobs::running(&self.replay_jobs).await
    }

    async fn replace_replay_job(
        &self,
        job: &ReplayJob,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        replay_jobs::replace(&self.replay_jobs, job, expected_version).await
    }

    async fn insert_task(&self, task: &SubmittedTask) -> Result<(), StoreError> {
        insert_new(&self.tasks, TaskDoc::new(task)).await
    }

    async fn insert_task_and_record_fire(
        &self,
        task: &SubmittedTask,
        fire: &FireRecord,
    ) -> Result<(), StoreError> {
        // Two documents and no transaction: the task goes first, so a crash in between leaves
        // a task without its record, never a recorded fire without its task (see the trait).
        self.insert_task(task).await?;
        self.record_fire(fire).await
    }

    async fn insert_tasks_and_record_fires(
        &self,
        fired: &[(&Encoded<SubmittedTask>, &Encoded<FireRecord>)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        // Each pair as its own write, a few at once: a burst hands thousands to a call, and
        // several calls run together. A task already stored is that pair's answer; any other
        // failure fails the call, as SQLite's does.
        let writes: Vec<_> = (fired.iter())
            .map(|(task, fire)| self.insert_task_and_record_fire(task.get(), fire.get()))
            .collect();
        let answers: Vec<_> = stream::iter(writes).buffered(PAIRS_AT_ONCE).collect().await;
        answers
            .into_iter()
            .map(already_stored_is_an_answer)
            .collect()
    }

    async fn get_task(&self, task_id: &TaskId) -> Result<Option<SubmittedTask>, StoreError> {
        find_by_id(&self.tasks, task_id.as_str(), TaskDoc::into_record).await
    }

    async fn insert_chat_alias(&self, record: &ChatAliasRecord) -> Result<(), StoreError> {
        self.insert_alias(record).await
    }

    async fn get_chat_alias(
        &self,
        id: &ChatAliasId,
    ) -> Result<Option<ChatAliasRecord>, StoreError> {
        self.get_alias(id).await
    }

    async fn replace_chat_alias(
        &self,
        record: &ChatAliasRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.replace_alias(record, expected_version).await
    }

    async fn delete_chat_alias(&self, id: &ChatAliasId) -> Result<bool, StoreError> {
        self.delete_alias(id).await
    }

    async fn list_chat_aliases(&self) -> Result<Vec<ChatAliasRecord>, StoreError> {
        self.list_aliases().await
    }

    async fn get_chat_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.get_cursor(name).await
    }

    async fn set_chat_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.set_cursor(name, value).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn get_apply_set(
        &self,
        name: &ApplySetName,
    ) -> Result<Option<ApplySetRecord>, StoreError> {
        apply::get(&self.apply_sets, name).await
    }

    async fn list_pending_apply_sets(&self) -> Result<Vec<ApplySetName>, StoreError> {
        apply::pending(&self.apply_sets).await
    }

    async fn commit_apply_set(
        &self,
        record: &ApplySetRecord,
        expected_revision: u64,
        // The writes happen in `store::roll_forward`, which reports them itself.
        _observer: std::sync::Arc<dyn ApplyObserver>,
    ) -> Result<Vec<(HookKey, Made)>, StoreError> {
        apply::commit(&self.apply_sets, record, expected_revision).await?;
        Ok(Vec::new())
    }

    async fn finish_apply_set(&self, record: &ApplySetRecord) -> Result<(), StoreError> {
        apply::finish(&self.apply_sets, record).await
    }

    async fn claim_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
    ) -> Result<Option<u64>, StoreError> {
        apply::claim_roll(&self.apply_sets, name, revision).await
    }

    async fn holds_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
        claim: u64,
    ) -> Result<bool, StoreError> {
        apply::holds_roll(&self.apply_sets, name, revision, claim).await
    }

    async fn list_hook_schedules_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookSchedule>, StoreError> {
        schedules::page(&self.hooks, group, after, limit).await
    }

    async fn write_hook_slots(
        &self,
        writes: &[HookSlots],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        schedules::write(&self.hooks, writes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MongoArgs;

    #[tokio::test]
    async fn the_configured_timeout_bounds_server_selection_and_connecting() {
        let mut options = MongoArgs::options_for("mongodb://db.invalid:27017/hookd").unwrap();
        assert!(
            options.timeout <= Duration::from_secs(2),
            "a caller would wait {:?} for a database that is away",
            options.timeout
        );
        options.timeout = Duration::from_millis(1234);
        let driver = client_options(&options).await.unwrap();
        assert_eq!(driver.server_selection_timeout, Some(options.timeout));
        assert_eq!(driver.connect_timeout, Some(options.timeout));
    }

    #[tokio::test]
    async fn timeouts_the_uri_sets_win_over_the_setting() {
        let uri = "mongodb://db.invalid:27017/hookd?serverSelectionTimeoutMS=300";
        let driver = client_options(&MongoArgs::options_for(uri).unwrap())
            .await
            .unwrap();
        assert_eq!(
            driver.server_selection_timeout,
            Some(Duration::from_millis(300))
        );
    }
}
