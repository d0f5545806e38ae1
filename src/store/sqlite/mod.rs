//! The embedded SQLite backend of [`HookStore`].
//!
//! One file holds everything; several hookd replicas may open the same file. This module owns
//! the SQL of each operation. The write path (one thread, group commit) is in `writer`, the read
//! connections in `reader`, the tables and pragmas in `schema`, record encoding in `rows`, an
//! apply set's one-transaction commit in `apply`, and error mapping in `error`.
//!
//! Rows copy the fields that queries filter and sort on into indexed columns and keep the whole
//! record as a JSON document in `doc`; only `doc` is read back, so the record is the truth and
//! the columns are an index of it.

mod apply;
mod chat;
mod error;
mod listing;
mod reader;
mod replay_jobs;
mod rows;
mod schedules;
mod schema;
mod writer;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, Connection};
use serde::Serialize;

use self::error::{insert, sql, to_i64};
use self::reader::ReadPool;
use self::rows::{
    delete_row, encode, execute, insert_row, key_params, query_doc, query_docs, replace_row,
    HookRow,
};
use self::writer::Writer;
use crate::domain::{
    ApplySetName, ApplySetRecord, ChatAliasId, ChatAliasRecord, Encoded, FireRecord, HookGroupId,
    HookId, HookKey, HookRecord, KeyFilter, Refusal, ReplayJob, SubmittedTask, TaskId,
};
use crate::store::{
    already_stored_is_an_answer, lost_race_is_an_answer, ApplyObserver, FireCursor, GroupCount,
    HookSchedule, HookSlots, HookStore, Made, StoreError,
};

/// A [`HookStore`] in an SQLite database file.
///
/// Cloning is cheap and shares the writer thread and read pool. The writer thread stops once
/// the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<ReadPool>,
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file and its tables when missing and
    /// migrating an older schema.
    ///
    /// This blocks while it opens the file and, if another replica is writing, for up to the
    /// busy timeout; call it before serving or from a blocking task.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when another process holds the database lock too long,
    /// [`StoreError::Backend`] when the file cannot be opened, is not a database, or has a
    /// schema this build does not know.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = Writer::spawn(schema::open_writer(path)?)?;
        let first_reader = schema::open_reader(path)?;
        Ok(Self {
            writer,
            readers: Arc::new(ReadPool::new(path.to_path_buf(), first_reader)),
        })
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

#[async_trait]
impl HookStore for SqliteStore {
    async fn insert_hook(&self, r: &HookRecord) -> Result<(), StoreError> {
        let r = HookRow::new(r)?;
        self.writer.write_rows(r, insert_row).await
    }

    async fn get_hook(&self, key: &HookKey) -> Result<Option<HookRecord>, StoreError> {
        let (group, id) = key_params(key);
        self.readers
            .read(move |conn| {
                query_doc(
                    conn,
                    "SELECT doc FROM hooks WHERE hook_group_id = ?1 AND hook_id = ?2",
                    params![group, id],
                )
            })
            .await
    }

    async fn replace_hook(&self, r: &HookRecord, expected_version: u64) -> Result<(), StoreError> {
        let r = HookRow::new(r)?;
        let expected = to_i64(expected_version)?;
        self.writer
            .write_rows(r, move |conn, r| replace_row(conn, r, expected))
            .await
    }

    async fn delete_hook(&self, key: &HookKey) -> Result<bool, StoreError> {
        let (group, id) = key_params(key);
        self.writer
            .write(move |conn| delete_row(conn, &group, &id))
            .await
    }

    async fn list_hook_groups(&self) -> Result<Vec<HookGroupId>, StoreError> {
        self.readers
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT DISTINCT hook_group_id FROM hooks ORDER BY hook_group_id",
                    )
                    .map_err(sql)?;
                let rows = stmt
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(sql)?;
                // Parsing through serde keeps the id rules in one place and reports a stored
                // id that breaks them as corruption.
                rows.map(|group| {
                    serde_json::from_value(serde_json::Value::String(group.map_err(sql)?))
                        .map_err(|e| StoreError::Corrupt(Box::new(e)))
                })
                .collect()
            })
            .await
    }

    async fn list_hooks(&self, group: &HookGroupId) -> Result<Vec<HookRecord>, StoreError> {
        let group = group.to_string();
        self.readers
            .read(move |conn| {
                query_docs(
                    conn,
                    "SELECT doc FROM hooks WHERE hook_group_id = ?1 ORDER BY hook_id",
                    params![group],
                )
            })
            .await
    }

    async fn list_hooks_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookRecord>, StoreError> {
        let group = group.to_string();
        let (after, limit) = page_bounds(after, limit)?;
        self.readers
            .read(move |conn| {
                query_docs(
                    conn,
                    "SELECT doc FROM hooks WHERE hook_group_id = ?1 AND hook_id > ?2
                     ORDER BY hook_id LIMIT ?3",
                    params![group, after, limit],
                )
            })
            .await
    }

    async fn count_hooks(
        &self,
        keys: &KeyFilter,
        search: &str,
    ) -> Result<Vec<GroupCount>, StoreError> {
        let (keys, search) = (keys.clone(), search.to_owned());
        self.readers
            .read(move |conn| listing::count_hooks(conn, &keys, &search))
            .await
    }

    async fn error_fires(
        &self,
        keys: &KeyFilter,
        limit: usize,
    ) -> Result<Vec<FireRecord>, StoreError> {
        let keys = keys.clone();
        self.readers
            .read(move |conn| listing::error_fires(conn, &keys, limit))
            .await
    }

    async fn record_fire(&self, fire: &FireRecord) -> Result<(), StoreError> {
        let row = FireRow::new(fire)?;
        self.writer
            .write_rows(row, |conn, row| row.insert(conn))
            .await
    }

    async fn get_fire(&self, fire_id: uuid::Uuid) -> Result<Option<FireRecord>, StoreError> {
        let fire_id = fire_id.to_string();
        self.readers
            .read(move |conn| {
                query_doc(
                    conn,
                    "SELECT doc FROM fires WHERE fire_id = ?1",
                    params![fire_id],
                )
            })
            .await
    }

    async fn list_fires(
        &self,
        key: &HookKey,
        limit: usize,
        after: Option<&FireCursor>,
    ) -> Result<Vec<FireRecord>, StoreError> {
        let (group, id) = key_params(key);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = after.map(|c| (c.time.timestamp_millis(), c.fire_id.to_string()));
        // Both shapes are one range scan of fires_by_hook_newest_first; the row-value
        // comparison resumes strictly after the cursor in the index's own order.
        self.readers
            .read(move |conn| match after {
                None => query_docs(
                    conn,
                    "SELECT doc FROM fires WHERE hook_group_id = ?1 AND hook_id = ?2
                     ORDER BY time_ms DESC, fire_id DESC LIMIT ?3",
                    params![group, id, limit],
                ),
                Some((time_ms, fire_id)) => query_docs(
                    conn,
                    "SELECT doc FROM fires WHERE hook_group_id = ?1 AND hook_id = ?2
                       AND (time_ms, fire_id) < (?3, ?4)
                     ORDER BY time_ms DESC, fire_id DESC LIMIT ?5",
                    params![group, id, time_ms, fire_id, limit],
                ),
            })
            .await
    }

    async fn record_refusal(&self, refusal: &Refusal, keep: usize) -> Result<(), StoreError> {
        let refusal_id = refusal.refusal_id.to_string();
        let (group, id) = key_params(&refusal.key());
        let time_ms = refusal.time.timestamp_millis();
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let doc = encode(refusal)?;
        self.writer
            .write_rows(doc, move |conn, doc| {
                execute(
                    conn,
                    "INSERT INTO refusals (refusal_id, hook_group_id, hook_id, time_ms, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (refusal_id) DO NOTHING",
                    params![refusal_id, group, id, time_ms, doc],
                )
                .map_err(sql)?;
                // The cap is kept in the same write job, so the table never holds more than
                // `keep` of a hook's refusals at a commit.
                execute(
                    conn,
                    "DELETE FROM refusals WHERE hook_group_id = ?1 AND hook_id = ?2
                       AND refusal_id NOT IN (
                         SELECT refusal_id FROM refusals WHERE hook_group_id = ?1 AND hook_id = ?2
                         ORDER BY time_ms DESC, refusal_id DESC LIMIT ?3)",
                    params![group, id, keep],
                )
                .map_err(sql)?;
                Ok(())
            })
            .await
    }

    async fn list_refusals(&self, key: &HookKey, limit: usize) -> Result<Vec<Refusal>, StoreError> {
        let (group, id) = key_params(key);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |conn| {
                query_docs(
                    conn,
                    "SELECT doc FROM refusals WHERE hook_group_id = ?1 AND hook_id = ?2
                     ORDER BY time_ms DESC, refusal_id DESC LIMIT ?3",
                    params![group, id, limit],
                )
            })
            .await
    }

    async fn insert_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError> {
        let row = replay_jobs::JobRow::new(job)?;
        self.writer.write_rows(row, replay_jobs::insert_job).await
    }

    async fn get_replay_job(&self, job_id: uuid::Uuid) -> Result<Option<ReplayJob>, StoreError> {
        self.readers
            .read(move |conn| replay_jobs::get_job(conn, job_id))
            .await
    }

    async fn list_replay_jobs(
        &self,
        key: &HookKey,
        limit: usize,
    ) -> Result<Vec<ReplayJob>, StoreError> {
        let key = key.clone();
        self.readers
            .read(move |conn| replay_jobs::list_jobs(conn, &key, limit))
            .await
    }

    async fn running_replay_jobs(&self) -> Result<Vec<ReplayJob>, StoreError> {
        self.readers.read(replay_jobs::running_jobs).await
    }

    async fn replace_replay_job(
        &self,
        job: &ReplayJob,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let row = replay_jobs::JobRow::new(job)?;
        let expected = to_i64(expected_version)?;
        self.writer
            .write_rows(row, move |conn, row| {
                replay_jobs::replace_job(conn, row, expected)
            })
            .await
    }

    async fn insert_task(&self, task: &SubmittedTask) -> Result<(), StoreError> {
        let row = TaskRow::new(task)?;
        self.writer
            .write_rows(row, |conn, row| row.insert(conn))
            .await
    }

    async fn insert_task_and_record_fire(
        &self,
        task: &SubmittedTask,
        fire: &FireRecord,
    ) -> Result<(), StoreError> {
        let (task, fire) = (TaskRow::new(task)?, FireRow::new(fire)?);
        // One write job is undone as a whole: a task that is already stored rolls the fire back too.
        self.writer
            .write_rows((task, fire), |conn, (task, fire)| {
                task.insert(conn)?;
                fire.insert(conn)
            })
            .await
    }

    async fn insert_tasks_and_record_fires(
        &self,
        fired: &[(&Encoded<SubmittedTask>, &Encoded<FireRecord>)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let rows = (fired.iter())
            .map(|(task, fire)| Ok((TaskRow::encoded(task)?, FireRow::encoded(fire)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // One write job, not one per pair. A task insert that fails changes nothing (SQLite
        // undoes a failed statement), and its fire is then not inserted; any other failure,
        // a fire that cannot follow its stored task included, fails the job, which rolls all of
        // it back: no task is ever left without its fire.
        self.write_each(rows, |conn, (task, fire)| match task.insert(conn) {
            Ok(()) => fire.insert(conn).map(Ok),
            not_stored => already_stored_is_an_answer(not_stored),
        })
        .await
    }

    async fn get_task(&self, task_id: &TaskId) -> Result<Option<SubmittedTask>, StoreError> {
        let task_id = task_id.to_string();
        self.readers
            .read(move |conn| {
                query_doc(
                    conn,
                    "SELECT doc FROM tasks WHERE task_id = ?1",
                    params![task_id],
                )
            })
            .await
    }

    async fn insert_chat_alias(&self, record: &ChatAliasRecord) -> Result<(), StoreError> {
        chat::insert_alias(&self.writer, record).await
    }

    async fn get_chat_alias(
        &self,
        id: &ChatAliasId,
    ) -> Result<Option<ChatAliasRecord>, StoreError> {
        chat::get_alias(&self.readers, id).await
    }

    async fn replace_chat_alias(
        &self,
        record: &ChatAliasRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        chat::replace_alias(&self.writer, record, expected_version).await
    }

    async fn delete_chat_alias(&self, id: &ChatAliasId) -> Result<bool, StoreError> {
        chat::delete_alias(&self.writer, id).await
    }

    async fn list_chat_aliases(&self) -> Result<Vec<ChatAliasRecord>, StoreError> {
        chat::list_aliases(&self.readers).await
    }

    async fn get_chat_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        chat::get_cursor(&self.readers, name).await
    }

    async fn set_chat_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        chat::set_cursor(&self.writer, name, value).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.readers
            .read(|conn| {
                conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                    .map_err(sql)?;
                Ok(())
            })
            .await
    }

    async fn get_apply_set(
        &self,
        name: &ApplySetName,
    ) -> Result<Option<ApplySetRecord>, StoreError> {
        let name = name.to_string();
        self.readers
            .read(move |conn| {
                query_doc(
                    conn,
                    "SELECT doc FROM apply_sets WHERE name = ?1",
                    params![name],
                )
            })
            .await
    }

    async fn list_pending_apply_sets(&self) -> Result<Vec<ApplySetName>, StoreError> {
        let records: Vec<ApplySetRecord> = self
            .readers
            .read(|conn| {
                query_docs(
                    conn,
                    "SELECT doc FROM apply_sets WHERE pending = 1 ORDER BY name",
                    [],
                )
            })
            .await?;
        Ok(records.into_iter().map(|r| r.name).collect())
    }

    async fn commit_apply_set(
        &self,
        record: &ApplySetRecord,
        expected_revision: u64,
        observer: Arc<dyn ApplyObserver>,
    ) -> Result<Vec<(HookKey, Made)>, StoreError> {
        let commit = apply::Commit::new(record, expected_revision)?;
        self.writer
            .write_rows(commit, move |conn, commit| commit.run(conn, &*observer))
            .await
    }

    async fn finish_apply_set(&self, record: &ApplySetRecord) -> Result<(), StoreError> {
        let row = apply::SetRow::new(record)?;
        self.writer
            .write_rows(row, |conn, row| row.finish(conn))
            .await
    }

    /// Never a claim: every commit makes its writes in its own transaction, so no set is ever
    /// left pending here for anyone to roll forward.
    async fn claim_apply_roll(
        &self,
        _name: &ApplySetName,
        _revision: u64,
    ) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Never held, as no claim is ever given (see `claim_apply_roll`).
    async fn holds_apply_roll(
        &self,
        _name: &ApplySetName,
        _revision: u64,
        _claim: u64,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn list_hook_schedules_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookSchedule>, StoreError> {
        let group = group.clone();
        let (after, limit) = page_bounds(after, limit)?;
        self.readers
            .read(move |conn| schedules::page(conn, &group, &after, limit))
            .await
    }

    async fn write_hook_slots(
        &self,
        writes: &[HookSlots],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let rows = (writes.iter())
            .map(schedules::SlotsRow::new)
            .collect::<Result<Vec<_>, StoreError>>()?;
        // One write job: a lost compare-and-set is an answer, not a failure of the job, so
        // it changes nothing and the others are stored.
        self.write_each(rows, |conn, row| lost_race_is_an_answer(row.write(conn)))
            .await
    }
}

/// One row's answer in a write of many.
type Answer = Result<(), StoreError>;

impl SqliteStore {
    /// Runs `write` for each of `rows` in one write job and collects its answers. `write`
    /// answers `Ok(answer)` for a row whose outcome is the caller's to hear (stored, or a lost
    /// race that changed nothing), and fails for anything else, which rolls the whole job back.
    async fn write_each<R: Send + 'static>(
        &self,
        rows: Vec<R>,
        write: fn(&Connection, &R) -> Result<Answer, StoreError>,
    ) -> Result<Vec<Answer>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        self.writer
            .write_many(rows, move |conn, rows| {
                rows.iter().map(|row| write(conn, row)).collect()
            })
            .await
    }
}

/// A page's bounds as query parameters: the id to start after (every id sorts after the empty
/// string) and the limit.
fn page_bounds(after: Option<&HookId>, limit: usize) -> Result<(String, i64), StoreError> {
    let after = after.map_or_else(String::new, ToString::to_string);
    Ok((after, to_i64(u64::try_from(limit).unwrap_or(u64::MAX))?))
}

/// A record's stored document: the text it was encoded to ahead, shared rather than copied,
/// or else encoded now.
fn doc_of<T: Serialize>(record: &Encoded<T>) -> Result<Arc<str>, StoreError> {
    match record.json() {
        Some(json) => Ok(Arc::clone(json)),
        None => encode(record.get()).map(Arc::from),
    }
}

/// A fire's row, encoded on the caller's thread so that the writer thread only runs SQL.
struct FireRow {
    fire_id: String,
    group: String,
    id: String,
    time_ms: i64,
    doc: Arc<str>,
}

impl FireRow {
    fn new(fire: &FireRecord) -> Result<Self, StoreError> {
        Ok(Self::with_doc(fire, encode(fire)?.into()))
    }

    /// The row of a fire encoded ahead, with the text it was encoded to.
    fn encoded(fire: &Encoded<FireRecord>) -> Result<Self, StoreError> {
        Ok(Self::with_doc(fire.get(), doc_of(fire)?))
    }

    fn with_doc(fire: &FireRecord, doc: Arc<str>) -> Self {
        let (group, id) = key_params(&fire.key());
        Self {
            fire_id: fire.fire_id.to_string(),
            group,
            id,
            time_ms: fire.task_create_time.timestamp_millis(),
            doc,
        }
    }

    /// Appends the fire; one already recorded under its id is left as it is.
    fn insert(&self, conn: &rusqlite::Connection) -> Result<(), StoreError> {
        execute(
            conn,
            "INSERT INTO fires (fire_id, hook_group_id, hook_id, time_ms, doc)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (fire_id) DO NOTHING",
            params![self.fire_id, self.group, self.id, self.time_ms, self.doc],
        )
        .map_err(sql)?;
        Ok(())
    }
}

/// An outbox task's row, encoded on the caller's thread like [`FireRow`].
struct TaskRow {
    task_id: String,
    group: String,
    id: String,
    doc: Arc<str>,
}

impl TaskRow {
    fn new(task: &SubmittedTask) -> Result<Self, StoreError> {
        Ok(Self::with_doc(task, encode(task)?.into()))
    }

    /// The row of a task encoded ahead, with the text it was encoded to.
    fn encoded(task: &Encoded<SubmittedTask>) -> Result<Self, StoreError> {
        Ok(Self::with_doc(task.get(), doc_of(task)?))
    }

    fn with_doc(task: &SubmittedTask, doc: Arc<str>) -> Self {
        Self {
            task_id: task.task_id.to_string(),
            group: task.hook_group_id.to_string(),
            id: task.hook_id.to_string(),
            doc,
        }
    }

    /// Adds the task; [`StoreError::AlreadyExists`] when its id is taken.
    fn insert(&self, conn: &rusqlite::Connection) -> Result<(), StoreError> {
        execute(
            conn,
            "INSERT INTO tasks (task_id, hook_group_id, hook_id, doc) VALUES (?1, ?2, ?3, ?4)",
            params![self.task_id, self.group, self.id, self.doc],
        )
        .map_err(insert)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;

    use super::{FireRow, TaskRow};
    use crate::domain::{
        Encoded, FireRecord, FiredBy, HookGroupId, HookId, HookKey, SubmittedTask, TaskId,
    };

    /// A burst's rows at its slot take the text encoded ahead as it is: no encoding and no copy
    /// is left for the slot.
    #[test]
    fn rows_of_records_encoded_ahead_share_their_text() {
        let key = HookKey::new(
            HookGroupId::parse("g").unwrap(),
            HookId::parse("h").unwrap(),
        );
        let now = Utc::now();
        let fire = FireRecord::new(
            &key,
            FiredBy::Schedule,
            TaskId::for_slot(&key, now),
            now,
            None,
        );
        let task = Encoded::new(SubmittedTask::of_fire(&fire, serde_json::json!({"n": 1})));
        let fire = Encoded::new(fire);

        let (task_row, fire_row) = (TaskRow::encoded(&task), FireRow::encoded(&fire));

        assert!(Arc::ptr_eq(&task_row.unwrap().doc, task.json().unwrap()));
        assert!(Arc::ptr_eq(&fire_row.unwrap().doc, fire.json().unwrap()));
    }
}
