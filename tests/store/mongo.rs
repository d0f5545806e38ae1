//! The MongoDB backend: the contract suite, plus what only it has: migrations and their lock,
//! the document shapes operators see, validators, retention, several replicas on one database,
//! and how an unreachable server is reported.

use std::sync::Arc;

use hookd::config::MongoArgs;
use hookd::store::{FireCursor, HookStore, MongoOptions, MongoStore, StoreError};
use hookd_testkit::mongodb::{fresh_database_uri, PrivateServer};
use mongodb::bson::{doc, Bson, Document};
use tokio::task::JoinSet;

use crate::contract::{
    fire_at, hook_record, key, scheduled, store_contract, unparsable_hook_is_corrupt_until_deleted,
    updated,
};

/// Options for `uri` that keep fires for centuries: the shared fixtures date fires near the
/// epoch, and the default one-year retention would let the TTL monitor delete them mid-test.
fn options(uri: impl Into<String>) -> MongoOptions {
    MongoOptions {
        fire_retention: chrono::Duration::days(365 * 200),
        ..MongoArgs::options_for(&uri.into()).expect("the test URI parses")
    }
}

/// A migrated store on its own database, or `None` without a test server.
async fn fresh_store() -> Option<(MongoStore, ())> {
    Some((migrated(&options(fresh_database_uri()?)).await, ()))
}

async fn migrated(options: &MongoOptions) -> MongoStore {
    let store = MongoStore::connect(options).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// A driver handle on the same database, standing in for an operator or another program.
async fn raw(uri: &str) -> mongodb::Database {
    let client = mongodb::Client::with_uri_str(uri).await.expect("client");
    client.default_database().expect("the URI names a database")
}

store_contract!(mongo, fresh_store());
crate::apply_contract::apply_contract!(mongo_apply, fresh_store());

/// Runs the test body only when the test server is configured.
macro_rules! with_server {
    ($uri:ident) => {
        let Some($uri) = fresh_database_uri() else {
            hookd_testkit::mongodb::skipping(module_path!());
            return;
        };
    };
}

#[tokio::test]
async fn migrating_a_fresh_database_creates_indexes_and_records_each_step() {
    with_server!(uri);
    let store = MongoStore::connect(&options(&uri)).await.unwrap();
    let pending = store.pending_migrations().await.unwrap();
    assert!(!pending.is_empty(), "a fresh database has pending steps");

    let applied = store.migrate().await.unwrap();
    assert_eq!(applied, pending);
    assert!(store.pending_migrations().await.unwrap().is_empty());

    let db = raw(&uri).await;
    let recorded: Vec<Document> = futures_util::TryStreamExt::try_collect(
        db.collection::<Document>("migrations")
            .find(doc! {})
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let names: Vec<&str> = recorded.iter().map(|d| d.get_str("_id").unwrap()).collect();
    assert_eq!(names, pending);
    assert!(matches!(
        recorded[0].get("appliedAt"),
        Some(Bson::DateTime(_))
    ));

    let indexes = db
        .collection::<Document>("fires")
        .list_index_names()
        .await
        .unwrap();
    for name in ["byHookNewestFirst", "retention"] {
        assert!(indexes.contains(&name.to_owned()), "{name} in {indexes:?}");
    }
}

#[tokio::test]
async fn migrating_again_is_a_no_op() {
    with_server!(uri);
    let store = migrated(&options(&uri)).await;
    let before = store.migration_status().await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), Vec::<&str>::new());
    assert_eq!(store.migration_status().await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrators_run_each_step_exactly_once() {
    with_server!(uri);
    let mut migrators = JoinSet::new();
    for _ in 0..6 {
        let store = MongoStore::connect(&options(&uri)).await.unwrap();
        migrators.spawn(async move { store.migrate().await });
    }
    let mut ran: Vec<&str> = Vec::new();
    for result in migrators.join_all().await {
        ran.extend(result.expect("every migrator succeeds"));
    }
    let store = MongoStore::connect(&options(&uri)).await.unwrap();
    let all: Vec<&str> = store
        .migration_status()
        .await
        .unwrap()
        .iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(ran, all, "each step ran once, by one migrator");
    let db = raw(&uri).await;
    assert_eq!(
        db.collection::<Document>("migrationLock")
            .count_documents(doc! {})
            .await
            .unwrap(),
        0,
        "the lock is released"
    );
}

#[tokio::test]
async fn a_lock_left_by_a_dead_migrator_is_taken_over_after_its_lease() {
    with_server!(uri);
    let expired = mongodb::bson::DateTime::from_millis(0);
    raw(&uri)
        .await
        .collection::<Document>("migrationLock")
        .insert_one(
            doc! { "_id": "migrate", "owner": "dead", "since": expired, "expiresAt": expired },
        )
        .await
        .unwrap();
    let store = MongoStore::connect(&options(&uri)).await.unwrap();
    assert!(!store.migrate().await.unwrap().is_empty());
}

#[tokio::test]
async fn documents_have_readable_keys_real_dates_and_sealed_tokens() {
    with_server!(uri);
    let store = migrated(&MongoArgs::options_for(&uri).unwrap()).await;
    let hook = scheduled(hook_record("g", "nightly/linux"), 1_760_000_000_000);
    // Recent, so that the default retention keeps it.
    let fired_ms = chrono::Utc::now().timestamp_millis();
    let fire = fire_at(&hook.hook.key(), fired_ms);
    store.insert_hook(&hook).await.unwrap();
    store.record_fire(&fire).await.unwrap();

    let db = raw(&uri).await;
    let stored = db
        .collection::<Document>("hooks")
        .find_one(doc! { "_id": "g/nightly/linux" })
        .await
        .unwrap()
        .expect("the hook is stored under group/id");
    assert_eq!(stored.get_str("hookGroupId").unwrap(), "g");
    assert_eq!(
        stored.get_str("triggerToken").unwrap(),
        hook.trigger_token.0
    );
    assert_eq!(
        stored
            .get_datetime("nextScheduledDate")
            .unwrap()
            .timestamp_millis(),
        1_760_000_000_000
    );
    assert!(stored
        .get_document("metadata")
        .unwrap()
        .contains_key("emailOnError"));

    let stored_fire = db
        .collection::<Document>("fires")
        .find_one(doc! { "_id": fire.fire_id.to_string() })
        .await
        .unwrap()
        .expect("the fire is stored under its id");
    assert_eq!(
        stored_fire
            .get_datetime("taskCreateTime")
            .unwrap()
            .timestamp_millis(),
        fired_ms
    );
    let expires = stored_fire
        .get_datetime("expireAt")
        .unwrap()
        .timestamp_millis();
    assert_eq!(expires - fired_ms, 365 * 24 * 3600 * 1000, "kept a year");
}

#[tokio::test]
async fn the_validator_refuses_a_hook_with_a_date_written_as_text() {
    with_server!(uri);
    let _store = migrated(&options(&uri)).await;
    let result = raw(&uri)
        .await
        .collection::<Document>("hooks")
        .insert_one(doc! {
            "_id": "g/h", "hookGroupId": "g", "hookId": "h", "version": 1_i64,
            "triggerToken": "t", "task": "{}", "triggerSchema": "{}",
            "nextScheduledDate": "2026-01-01T00:00:00Z",
        })
        .await;
    assert!(result.is_err(), "a string date was accepted");
}

#[tokio::test]
async fn a_stored_hook_with_an_invalid_id_reads_as_corrupt() {
    with_server!(uri);
    let store = migrated(&options(&uri)).await;
    raw(&uri)
        .await
        .collection::<Document>("hooks")
        .insert_one(doc! {
            "_id": "g/bad id", "hookGroupId": "g", "hookId": "bad id", "version": 1_i64,
            "triggerToken": "t", "task": "{}", "triggerSchema": "{}",
        })
        .await
        .unwrap();
    let err = store.list_hooks(&key("g", "x").group).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[tokio::test]
async fn a_stored_hook_whose_definition_no_longer_parses_reads_as_corrupt_and_can_be_deleted() {
    // What a release that parses schedules more strictly finds in a database an older one wrote.
    with_server!(uri);
    let store = migrated(&options(&uri)).await;
    let hook = hook_record("g", "stale");
    store.insert_hook(&hook).await.unwrap();
    raw(&uri)
        .await
        .collection::<Document>("hooks")
        .update_one(
            doc! { "_id": "g/stale" },
            doc! { "$set": { "schedule": [", * * * *"] } },
        )
        .await
        .unwrap();

    unparsable_hook_is_corrupt_until_deleted(&store, &hook).await;
}

#[tokio::test]
async fn the_per_hook_cap_keeps_only_the_newest_fires() {
    with_server!(uri);
    let mut capped = options(&uri);
    capped.fires_per_hook = Some(3);
    let store = migrated(&capped).await;
    let (mine, other) = (key("g", "capped"), key("g", "other"));
    let fires: Vec<_> = (0..6).map(|i| fire_at(&mine, 1_000 + i)).collect();
    for fire in &fires {
        store.record_fire(fire).await.unwrap();
        store.record_fire(&fire_at(&other, 1_000)).await.unwrap();
    }
    let kept = store.list_fires(&mine, 10, None).await.unwrap();
    let newest: Vec<_> = fires.iter().rev().take(3).cloned().collect();
    assert_eq!(kept, newest);
    assert_eq!(store.list_fires(&other, 10, None).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_racing_one_create_have_exactly_one_winner() {
    with_server!(uri);
    let a = Arc::new(migrated(&options(&uri)).await);
    let b = Arc::new(MongoStore::connect(&options(&uri)).await.unwrap());
    let mut racers = JoinSet::new();
    for i in 0..16 {
        let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let record = updated(&hook_record("g", "raced"), &format!("writer {i}"));
        racers.spawn(async move { (store.insert_hook(&record).await, record) });
    }
    let results = racers.join_all().await;
    let winners: Vec<_> = results.iter().filter(|(r, _)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results
        .iter()
        .all(|(r, _)| matches!(r, Ok(()) | Err(StoreError::AlreadyExists))));
    for store in [&a, &b] {
        let stored = store.get_hook(&key("g", "raced")).await.unwrap();
        assert_eq!(stored.as_ref(), Some(&winners[0].1));
    }

    let next = updated(&winners[0].1, "compare-and-set by b");
    b.replace_hook(&next, winners[0].1.version).await.unwrap();
    let err = a
        .replace_hook(&updated(&winners[0].1, "stale"), winners[0].1.version)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict), "{err:?}");
}

#[tokio::test]
async fn paging_with_a_cursor_resumes_strictly_after_it() {
    with_server!(uri);
    let store = migrated(&options(&uri)).await;
    let k = key("g", "h");
    let fires: Vec<_> = (0..4).map(|_| fire_at(&k, 5_000)).collect();
    for fire in &fires {
        store.record_fire(fire).await.unwrap();
    }
    let first = store.list_fires(&k, 2, None).await.unwrap();
    let last = first.last().unwrap();
    let cursor = FireCursor {
        time: last.task_create_time,
        fire_id: last.fire_id,
    };
    let rest = store.list_fires(&k, 10, Some(&cursor)).await.unwrap();
    assert_eq!(first.len() + rest.len(), 4);
    assert!(rest.iter().all(|f| f.fire_id < cursor.fire_id));
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // A port nothing listens on (bound, then released); no test server needed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let uri = format!("mongodb://127.0.0.1:{port}/hookd?serverSelectionTimeoutMS=300");
    let store = MongoStore::connect(&options(uri)).await.unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.insert_hook(&hook_record("g", "h")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn the_store_recovers_by_itself_when_its_server_returns() {
    let Some(mut server) = PrivateServer::start().await else {
        return hookd_testkit::mongodb::skipping(module_path!());
    };
    let uri = format!("{}/recovery?serverSelectionTimeoutMS=500", server.uri());
    let store = migrated(&options(uri)).await;
    let hook = hook_record("g", "h");
    store.insert_hook(&hook).await.unwrap();

    server.crash();
    let err = store.get_hook(&hook.hook.key()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    server.resume().await;
    assert_eq!(store.get_hook(&hook.hook.key()).await.unwrap(), Some(hook));
}
