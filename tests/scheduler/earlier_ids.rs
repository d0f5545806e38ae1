//! Fires recorded under the ids that builds before time-first task ids gave them are still
//! recognised: a slot's claim such a build left behind is released without a second fire, and
//! a message it fired to the end is found settled, so its redelivery is not fired again.

use std::sync::Arc;

use hookd::clock::Clock;
use hookd::config::Settings;
use hookd::domain::{FireRecord, FiredBy, TaskId};
use hookd::fire::{self, TaskSink, Trigger};
use hookd::metrics::Metrics;
use hookd::startup::fire_deps;
use hookd::store::{compare_and_set, Change, HookStore, SqliteStore};
use serde_json::json;

use crate::harness::{at, fires, fresh_store, hook, key, node, record, CountingSink};

/// A success recorded under `fire_id` for hook `g/h`, as an earlier build recorded it.
async fn recorded_by_an_earlier_build(
    store: &dyn HookStore,
    fired_by: FiredBy,
    task_id: &TaskId,
    fire_id: uuid::Uuid,
) {
    let slot = at("2026-05-01T10:15:00Z");
    let mut fire = FireRecord::new(&key("h"), fired_by, task_id.clone(), slot, None);
    fire.fire_id = fire_id;
    store.record_fire(&fire).await.unwrap();
}

#[tokio::test]
async fn a_claim_left_behind_by_an_earlier_build_is_released_without_a_second_fire() {
    let (_dir, db, clock) = fresh_store();
    let sink = Arc::new(CountingSink::default());
    let first = node(&db, &clock, Some(Arc::clone(&sink) as Arc<dyn TaskSink>)).await;
    first
        .registry
        .create(hook("h", &["*/15 * * * *"]))
        .await
        .unwrap();
    let slot = at("2026-05-01T10:15:00Z");
    // What such a build left when it stopped between recording the slot's fire and releasing
    // the claim.
    let earlier_task_id = TaskId::for_slot_by_hash(&key("h"), slot);
    let earlier_fire_id = FireRecord::settled_id_by_hash(&earlier_task_id);
    recorded_by_an_earlier_build(
        &*first.store,
        FiredBy::Schedule,
        &earlier_task_id,
        earlier_fire_id,
    )
    .await;
    compare_and_set(&*first.store, &key("h"), None, |record| {
        record.claimed_slots.push(slot);
        record.next_scheduled_date = Some(slot + chrono::Duration::minutes(15));
        Change::Write(())
    })
    .await
    .unwrap();
    drop(first);

    clock.set(slot);
    let second = node(&db, &clock, Some(Arc::clone(&sink) as Arc<dyn TaskSink>)).await;
    second.scheduler.tick().await;

    assert!(sink.submitted.lock().unwrap().is_empty(), "fired again");
    let fires = fires(&*second.store, &key("h")).await;
    assert_eq!(fires.len(), 1, "{fires:?}");
    assert_eq!(fires[0].fire_id, earlier_fire_id);
    assert!(record(&*second.store, &key("h"))
        .await
        .claimed_slots
        .is_empty());
}

#[tokio::test]
async fn a_message_an_earlier_build_fired_to_the_end_is_found_settled() {
    let (dir, db, clock) = fresh_store();
    let store: Arc<dyn HookStore> = Arc::new(SqliteStore::open(&db).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(clock);
    let deps = fire_deps(
        &Settings::new(dir.path()),
        Arc::clone(&store),
        Arc::new(CountingSink::default()),
        &clock,
        Arc::new(Metrics::new()),
    )
    .unwrap();
    // A message's task id depends on the message alone, in every build; its final fire's id
    // changed with time-first task ids.
    let task_id = TaskId::derived_from(b"message-1");
    let redelivered = Trigger::pulse_message(
        Ok(json!({"n": 1})),
        "exchange",
        "r.x",
        true,
        task_id.clone(),
        clock.now(),
    );
    assert!(fire::settled(&deps, &redelivered).await.unwrap().is_none());

    let earlier_fire_id = FireRecord::settled_id_by_hash(&task_id);
    recorded_by_an_earlier_build(&*store, FiredBy::PulseMessage, &task_id, earlier_fire_id).await;
    let settled = fire::settled(&deps, &redelivered).await.unwrap();
    assert_eq!(settled.map(|fire| fire.fire_id), Some(earlier_fire_id));
}
