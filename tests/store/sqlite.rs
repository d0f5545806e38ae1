//! The SQLite backend: the contract suite, plus what only a file-backed store has: durability
//! across reopening, several replicas on one file, WAL, lock contention and schema versions.

use std::future::{poll_fn, Future};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hookd::domain::Encoded;
use hookd::store::{HookStore, SqliteStore, StoreError};
use rusqlite::Connection;
use tempfile::TempDir;
use tokio::task::JoinSet;

use crate::contract::{
    fire_at, fired_task, hook_record, key, store_contract, submitted_task,
    unparsable_hook_is_corrupt_until_deleted, updated,
};

/// A fresh store in its own temporary directory; the directory lives as long as the guard.
fn temp_store() -> (SqliteStore, TempDir) {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open(&db_path(&dir)).expect("open store");
    (store, dir)
}

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("hookd.sqlite")
}

/// A plain connection to the file, standing in for another process.
fn raw(path: &Path) -> Connection {
    Connection::open(path).expect("raw connection")
}

store_contract!(sqlite, async { temp_store() });
crate::apply_contract::apply_contract!(sqlite_apply, async { temp_store() });

/// As its one-pair write does, a batch keeps each task only with its fire on SQLite: a fire
/// that cannot follow its stored task fails the whole batch rather than leave the task alone
/// (MongoDB, with no transactions, may leave a task without its fire; see the trait). The
/// failure is a trigger another connection installs, refusing one hook's fires.
#[tokio::test]
async fn a_batch_whose_fire_cannot_be_stored_keeps_none_of_its_tasks() {
    let (store, dir) = temp_store();
    raw(&db_path(&dir))
        .execute_batch(
            "CREATE TRIGGER refuse_h1 BEFORE INSERT ON fires WHEN NEW.hook_id = 'h1'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    let (first, first_fire) = fired_task(&key("g", "h0"), 1_760_000_000_000);
    let (second, second_fire) = fired_task(&key("g", "h1"), 1_760_000_001_000);

    let written = store
        .insert_tasks_and_record_fires(&[
            (
                &Encoded::new(first.clone()),
                &Encoded::new(first_fire.clone()),
            ),
            (
                &Encoded::new(second.clone()),
                &Encoded::new(second_fire.clone()),
            ),
        ])
        .await;

    assert!(written.is_err(), "{written:?}");
    assert_eq!(store.get_task(&first.task_id).await.unwrap(), None);
    assert_eq!(store.get_task(&second.task_id).await.unwrap(), None);
    assert_eq!(store.get_fire(first_fire.fire_id).await.unwrap(), None);
}

#[tokio::test]
async fn data_survives_dropping_and_reopening_the_store() {
    let (store, dir) = temp_store();
    let hook = hook_record("g", "durable");
    let fire = fire_at(&hook.hook.key(), 1_760_000_000_000);
    let task = submitted_task(&hook.hook.key());
    store.insert_hook(&hook).await.unwrap();
    store.record_fire(&fire).await.unwrap();
    store.insert_task(&task).await.unwrap();
    drop(store);

    let reopened = SqliteStore::open(&db_path(&dir)).expect("reopen");
    assert_eq!(
        reopened.get_hook(&hook.hook.key()).await.unwrap(),
        Some(hook.clone())
    );
    assert_eq!(
        reopened
            .list_fires(&hook.hook.key(), 10, None)
            .await
            .unwrap(),
        [fire]
    );
    assert_eq!(reopened.get_task(&task.task_id).await.unwrap(), Some(task));
}

#[tokio::test]
async fn the_file_is_in_wal_mode_with_the_current_schema_version() {
    let (_store, dir) = temp_store();
    let conn = raw(&db_path(&dir));
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(
        version, 6,
        "hooks, fires and tasks; apply sets; refusals; chat aliases and cursors; replay jobs; \
         failed fires"
    );
}

#[tokio::test]
async fn opening_a_file_with_an_unknown_schema_version_fails() {
    let (store, dir) = temp_store();
    drop(store);
    raw(&db_path(&dir))
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteStore::open(&db_path(&dir)).unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_file_see_each_others_writes() {
    let (a, dir) = temp_store();
    let b = SqliteStore::open(&db_path(&dir)).expect("second replica");
    let hook = hook_record("g", "shared");
    a.insert_hook(&hook).await.unwrap();
    assert_eq!(
        b.get_hook(&hook.hook.key()).await.unwrap(),
        Some(hook.clone())
    );

    let next = updated(&hook, "written by b");
    b.replace_hook(&next, 1).await.unwrap();
    assert_eq!(a.get_hook(&hook.hook.key()).await.unwrap(), Some(next));

    let err = b.insert_hook(&hook).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert!(a.delete_hook(&hook.hook.key()).await.unwrap());
    assert_eq!(b.list_hook_groups().await.unwrap(), []);
}

#[tokio::test]
async fn a_stored_hook_whose_definition_no_longer_parses_reads_as_corrupt_and_can_be_deleted() {
    // What a release that parses schedules more strictly finds in a file an older one wrote.
    let (store, dir) = temp_store();
    let hook = hook_record("g", "stale");
    store.insert_hook(&hook).await.unwrap();
    raw(&db_path(&dir))
        .execute(
            "UPDATE hooks SET doc = json_set(doc, '$.hook.schedule', json('[\", * * * *\"]'))",
            [],
        )
        .unwrap();

    unparsable_hook_is_corrupt_until_deleted(&store, &hook).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_racing_compare_and_set_have_exactly_one_winner() {
    let (a, dir) = temp_store();
    let b = SqliteStore::open(&db_path(&dir)).expect("second replica");
    let replicas = [Arc::new(a), Arc::new(b)];
    let hook = hook_record("g", "raced");
    replicas[0].insert_hook(&hook).await.unwrap();

    let mut racers = JoinSet::new();
    for i in 0..16 {
        let store = Arc::clone(&replicas[i % 2]);
        let next = updated(&hook, &format!("replica {} writer {i}", i % 2));
        racers.spawn(async move { (store.replace_hook(&next, 1).await, next) });
    }
    let results = racers.join_all().await;
    let winners: Vec<_> = results.iter().filter(|(r, _)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results
        .iter()
        .all(|(r, _)| matches!(r, Ok(()) | Err(StoreError::VersionConflict))));
    for store in &replicas {
        let stored = store.get_hook(&hook.hook.key()).await.unwrap();
        assert_eq!(stored.as_ref(), Some(&winners[0].1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_queued_behind_another_process_lock_commit_together_minus_the_failed_one() {
    let (store, dir) = temp_store();
    let store = Arc::new(store);
    let existing = hook_record("g", "existing");
    store.insert_hook(&existing).await.unwrap();

    // Another process holds the write lock, so the writer thread stalls on its first batch
    // while the remaining writes queue up behind it and then go out as one batch.
    let blocker = raw(&db_path(&dir));
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut writers: Vec<_> = (0..12)
        .map(|i| {
            let store = Arc::clone(&store);
            let record = if i == 5 {
                updated(&existing, "duplicate")
            } else {
                hook_record("g", &format!("queued-{i:02}"))
            };
            Box::pin(async move { (i, store.insert_hook(&record).await) })
        })
        .collect();
    // The signal that a write is queued: a store write hands its job to the writer thread on
    // its first poll and then waits for the answer, which cannot come while the lock is held.
    for writer in &mut writers {
        let first_poll = poll_fn(|cx| Poll::Ready(writer.as_mut().poll(cx))).await;
        assert!(first_poll.is_pending(), "a write finished under the lock");
    }
    // WAL: reads go on while the file is locked for writing.
    let started = Instant::now();
    assert_eq!(
        store.get_hook(&existing.hook.key()).await.unwrap(),
        Some(existing.clone())
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a read waited for the write lock"
    );
    blocker.execute_batch("COMMIT").unwrap();

    for (i, result) in join_all(writers).await {
        if i == 5 {
            assert!(
                matches!(result, Err(StoreError::AlreadyExists)),
                "{result:?}"
            );
        } else {
            assert!(result.is_ok(), "{i}: {result:?}");
        }
    }
    let listed = store
        .list_hooks(&existing.hook.hook_group_id)
        .await
        .unwrap();
    assert_eq!(listed.len(), 12);
    assert_eq!(listed[0], existing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_that_cannot_get_the_lock_in_time_is_unavailable_and_not_stored() {
    let (store, dir) = temp_store();
    let blocker = raw(&db_path(&dir));
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Holding the lock until the write has given up (after the store's busy timeout).
    let started = Instant::now();
    let result = store.insert_hook(&hook_record("g", "late")).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "gave up too early"
    );
    blocker.execute_batch("ROLLBACK").unwrap();

    assert_eq!(store.get_hook(&key("g", "late")).await.unwrap(), None);
    // The writer recovers once the lock is free.
    store
        .insert_hook(&hook_record("g", "late"))
        .await
        .expect("write after the lock");
}
