//! The `local` sink (the outbox in the hook store) under the sink contract; and the contract
//! itself under test: sinks that break the promise in one way each, over the same outbox, and
//! the contract test that catches each of them; and how the local sink writes a fire's record
//! with its task.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use hookd::domain::{FireRecord, FiredBy, HookGroupId, HookId, HookKey, SubmittedTask, TaskId};
use hookd::fire::sink::LocalSink;
use hookd::fire::{SinkError, Submission, TaskSink};
use hookd::store::{HookStore, SqliteStore, StoreError};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::sink_contract::{self, sink_contract, Peer};

/// A sink writing to a fresh SQLite store, and the store's outbox read back with SQL.
struct Outbox {
    sink: Box<dyn TaskSink>,
    file: PathBuf,
    _dir: TempDir,
}

/// The outbox, with the sink `make` builds on its store.
fn outbox_with(make: impl FnOnce(Arc<dyn HookStore>) -> Box<dyn TaskSink>) -> Outbox {
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("hookd.sqlite");
    let store: Arc<dyn HookStore> = Arc::new(SqliteStore::open(&file).expect("store opens"));
    Outbox {
        sink: make(store),
        file,
        _dir: dir,
    }
}

/// The real local sink on a fresh outbox.
async fn outbox() -> Option<Outbox> {
    Some(outbox_with(|store| Box::new(LocalSink::new(store))))
}

impl Peer for Outbox {
    fn sink(&self) -> &dyn TaskSink {
        self.sink.as_ref()
    }

    /// Every row of the outbox, read with SQL rather than through the store under test.
    async fn deliveries(&self) -> Vec<(String, Value)> {
        let db = rusqlite::Connection::open(&self.file).expect("outbox opens");
        let mut rows = db
            .prepare("SELECT task_id, doc FROM tasks ORDER BY rowid")
            .expect("the outbox is a table");
        rows.query_map([], |row| Ok((row.get(0)?, row.get::<_, String>(1)?)))
            .expect("the outbox reads")
            .map(|row| {
                let (task_id, doc) = row.expect("an outbox row");
                let doc: Value = serde_json::from_str(&doc).expect("a JSON document");
                (task_id, doc["task"].clone())
            })
            .collect()
    }
}

sink_contract!(local, outbox());

/// Claims every task without keeping it.
struct Forgetful;

#[async_trait]
impl TaskSink for Forgetful {
    async fn submit(&self, _task: &SubmittedTask) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Writes to the outbox but refuses every repeat, as if the task id were not an idempotency
/// key.
struct Unforgiving(Arc<dyn HookStore>);

#[async_trait]
impl TaskSink for Unforgiving {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        self.0.insert_task(task).await.map_err(|e| match e {
            StoreError::AlreadyExists => SinkError::Conflict(task.task_id.clone()),
            other => SinkError::Unavailable(Box::new(other)),
        })
    }
}

/// Keeps each task under an id of its own making and takes an id it already holds as a
/// retry: `per_hook` makes one id per hook, otherwise every submit gets a fresh one.
struct Renaming {
    store: Arc<dyn HookStore>,
    per_hook: bool,
}

#[async_trait]
impl TaskSink for Renaming {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        let task_id = if self.per_hook {
            TaskId::derived_from(format!("{}/{}", task.hook_group_id, task.hook_id).as_bytes())
        } else {
            TaskId::generate()
        };
        let renamed = SubmittedTask {
            task_id,
            ..task.clone()
        };
        match self.store.insert_task(&renamed).await {
            Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
            Err(other) => Err(SinkError::Unavailable(Box::new(other))),
        }
    }
}

/// The broken sinks, as makers for [`outbox_with`].
fn forgetful(_: Arc<dyn HookStore>) -> Box<dyn TaskSink> {
    Box::new(Forgetful)
}

fn unforgiving(store: Arc<dyn HookStore>) -> Box<dyn TaskSink> {
    Box::new(Unforgiving(store))
}

fn renaming_each_time(store: Arc<dyn HookStore>) -> Box<dyn TaskSink> {
    Box::new(Renaming {
        store,
        per_hook: false,
    })
}

fn renaming_per_hook(store: Arc<dyn HookStore>) -> Box<dyn TaskSink> {
    Box::new(Renaming {
        store,
        per_hook: true,
    })
}

#[tokio::test]
#[should_panic(expected = "the task is held once, under its id")]
async fn the_contract_catches_a_sink_that_drops_tasks() {
    let peer = outbox_with(forgetful);
    sink_contract::a_submitted_task_arrives_once_under_its_task_id(peer).await;
}

#[tokio::test]
#[should_panic(expected = "the task is held once, under its id")]
async fn the_contract_catches_a_sink_that_files_a_task_under_another_id() {
    let peer = outbox_with(renaming_each_time);
    sink_contract::a_submitted_task_arrives_once_under_its_task_id(peer).await;
}

#[tokio::test]
#[should_panic(expected = "a repeated submit fails")]
async fn the_contract_catches_a_sink_that_refuses_a_retry() {
    let peer = outbox_with(unforgiving);
    sink_contract::submitting_the_same_task_again_succeeds_without_a_second_task(peer).await;
}

#[tokio::test]
#[should_panic(expected = "one task, not two")]
async fn the_contract_catches_a_sink_whose_retry_makes_a_second_task() {
    let peer = outbox_with(renaming_each_time);
    sink_contract::submitting_the_same_task_again_succeeds_without_a_second_task(peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "both submits succeed")]
async fn the_contract_catches_a_sink_that_refuses_a_concurrent_retry() {
    let peer = outbox_with(unforgiving);
    sink_contract::concurrent_submissions_of_one_task_make_one_task(peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "one task, not two")]
async fn the_contract_catches_a_sink_whose_concurrent_retry_makes_a_second_task() {
    let peer = outbox_with(renaming_each_time);
    sink_contract::concurrent_submissions_of_one_task_make_one_task(peer).await;
}

#[tokio::test]
#[should_panic(expected = "each id is a task of its own")]
async fn the_contract_catches_a_sink_that_merges_tasks_under_other_ids() {
    let peer = outbox_with(renaming_per_hook);
    sink_contract::tasks_under_different_ids_arrive_as_different_tasks(peer).await;
}

#[tokio::test]
async fn the_local_sink_records_a_fire_with_its_task_and_leaves_a_repeat_s_record_to_the_fire_path()
{
    let dir = TempDir::new().expect("temp dir");
    let store: Arc<dyn HookStore> =
        Arc::new(SqliteStore::open(&dir.path().join("hookd.sqlite")).expect("store opens"));
    let sink = LocalSink::new(Arc::clone(&store));
    let key = HookKey::new(
        HookGroupId::parse("g").unwrap(),
        HookId::parse("h").unwrap(),
    );
    let first = FireRecord::new(
        &key,
        FiredBy::Schedule,
        TaskId::generate(),
        Utc::now(),
        None,
    );
    let task = |fire: &FireRecord| SubmittedTask::of_fire(fire, json!({"payload": {"n": 1}}));

    let submission = sink.submit_fired(&task(&first), &first).await;

    assert_eq!(submission.unwrap(), Submission::Recorded);
    assert_eq!(
        store.get_fire(first.fire_id).await.unwrap(),
        Some(first.clone())
    );
    // The same slot fired again after a crash: the same task, a fire the sink did not record.
    let mut again = first.clone();
    again.fire_id = uuid::Uuid::now_v7();
    let submission = sink.submit_fired(&task(&again), &again).await;
    assert_eq!(submission.unwrap(), Submission::Submitted);
    assert_eq!(store.get_fire(again.fire_id).await.unwrap(), None);
    // Another task under the taken id is refused, and nothing of it is recorded.
    let mut other = task(&again);
    other.task = json!({"payload": {"n": 2}});
    let refused = sink.submit_fired(&other, &again).await.unwrap_err();
    assert!(matches!(refused, SinkError::Conflict(_)), "{refused:?}");
    assert_eq!(store.get_fire(again.fire_id).await.unwrap(), None);
}
