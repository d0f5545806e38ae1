//! Bursts prepared ahead: slots claimed before they come due fire at their time, exactly once,
//! whether the process that claimed them fires them, stops first, races another replica, or
//! sees the hook changed or removed in between.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hookd::clock::ManualClock;
use hookd::domain::TaskId;
use hookd::scheduler::Ahead;
use hookd::store::{compare_and_set, Change, HookStore};
use serde_json::json;
use tokio::task::JoinSet;

use crate::harness::{at, fires, fresh_store, hook, key, node_with, record, Node};

/// Three hooks make a burst; they are claimed up to 10 s before their slot.
const AHEAD: Ahead = Ahead {
    lead: Duration::seconds(10),
    min_hooks: 3,
};
const IDS: [&str; 3] = ["h0", "h1", "h2"];
const SLOT: &str = "2026-05-01T10:15:00Z";

/// A node preparing bursts per [`AHEAD`], holding the quarter-hourly hooks [`IDS`], armed.
async fn node_with_burst(db: &std::path::Path, clock: &ManualClock) -> Node {
    node_holding_hooks(db, clock, AHEAD).await
}

/// A node preparing bursts per `ahead`, holding the quarter-hourly hooks [`IDS`], armed.
async fn node_holding_hooks(db: &std::path::Path, clock: &ManualClock, ahead: Ahead) -> Node {
    let node = node_with(db, clock, None, ahead).await;
    for id in IDS {
        node.registry
            .create(hook(id, &["*/15 * * * *"]))
            .await
            .unwrap();
    }
    node.scheduler.tick().await;
    node
}

/// Ticks the node at `now`.
async fn tick_at(node: &Node, clock: &ManualClock, now: DateTime<Utc>) {
    clock.set(now);
    node.scheduler.tick().await;
}

/// Checks that each hook's slot was claimed and nothing was fired yet.
async fn claimed_not_fired(store: &dyn HookStore, slot: DateTime<Utc>) {
    for id in IDS {
        let record = record(store, &key(id)).await;
        assert_eq!(record.claimed_slots, [slot], "{id}");
        assert_eq!(
            record.next_scheduled_date,
            Some(slot + Duration::minutes(15))
        );
        assert!(fires(store, &key(id)).await.is_empty(), "{id} fired early");
        let task_id = TaskId::for_slot(&key(id), slot);
        assert!(store.get_task(&task_id).await.unwrap().is_none());
    }
}

/// Checks that each of `ids` fired `slot` once, with its task submitted and its claim released.
async fn fired_once(store: &dyn HookStore, ids: &[&str], slot: DateTime<Utc>) {
    for id in ids {
        let fires = fires(store, &key(id)).await;
        assert_eq!(fires.len(), 1, "{id}: {fires:?}");
        let task_id = TaskId::for_slot(&key(id), slot);
        assert_eq!(fires[0].task_id, task_id);
        assert_eq!(fires[0].task_create_time, slot);
        assert!(fires[0].failure.is_none(), "{:?}", fires[0]);
        assert!(store.get_task(&task_id).await.unwrap().is_some(), "{id}");
        assert!(record(store, &key(id)).await.claimed_slots.is_empty());
    }
}

/// The `metadata.name` of the task submitted for hook `id`'s `slot`.
async fn task_name(store: &dyn HookStore, id: &str, slot: DateTime<Utc>) -> serde_json::Value {
    let task_id = TaskId::for_slot(&key(id), slot);
    let task = store.get_task(&task_id).await.unwrap().expect("submitted");
    task.task["metadata"]["name"].clone()
}

#[tokio::test]
async fn a_burst_is_claimed_ahead_and_each_slot_fires_once_at_its_time() {
    let (_dir, db, clock) = fresh_store();
    let slot = at(SLOT);
    let node = node_with_burst(&db, &clock).await;
    assert_eq!(node.scheduler.next_due().await, Some(slot - AHEAD.lead));

    tick_at(&node, &clock, slot - Duration::seconds(5)).await;
    claimed_not_fired(&*node.store, slot).await;
    assert_eq!(node.scheduler.next_due().await, Some(slot));

    tick_at(&node, &clock, slot).await;
    fired_once(&*node.store, &IDS, slot).await;
    // Rendered ahead, each task still has the slot's time as its `now`.
    for id in IDS {
        let name = task_name(&*node.store, id, slot).await;
        assert_eq!(name, "schedule at 2026-05-01T10:15:00.000Z");
    }
    // The next slot is a burst again.
    let next = slot + Duration::minutes(15);
    assert_eq!(node.scheduler.next_due().await, Some(next - AHEAD.lead));
}

#[tokio::test]
async fn fewer_hooks_than_a_burst_are_claimed_when_due() {
    let (_dir, db, clock) = fresh_store();
    let slot = at(SLOT);
    let ahead = Ahead {
        min_hooks: IDS.len() + 1,
        ..AHEAD
    };
    let node = node_holding_hooks(&db, &clock, ahead).await;
    assert_eq!(node.scheduler.next_due().await, Some(slot));

    tick_at(&node, &clock, slot - Duration::seconds(5)).await;
    for id in IDS {
        assert!(record(&*node.store, &key(id))
            .await
            .claimed_slots
            .is_empty());
    }
    tick_at(&node, &clock, slot).await;
    fired_once(&*node.store, &IDS, slot).await;
}

#[tokio::test]
async fn slots_claimed_ahead_by_a_process_that_stopped_fire_at_their_time_once() {
    let (_dir, db, clock) = fresh_store();
    let slot = at(SLOT);
    let stopped = node_with_burst(&db, &clock).await;
    tick_at(&stopped, &clock, slot - Duration::seconds(5)).await;
    // The process stops between the claims and the slot.
    drop(stopped);

    clock.set(slot - Duration::seconds(3));
    let restarted = node_with(&db, &clock, None, AHEAD).await;
    let other = node_with(&db, &clock, None, AHEAD).await;
    restarted.scheduler.tick().await;
    other.scheduler.tick().await;
    claimed_not_fired(&*restarted.store, slot).await;
    assert_eq!(restarted.scheduler.next_due().await, Some(slot));

    tick_at(&restarted, &clock, slot).await;
    other.scheduler.tick().await;
    fired_once(&*restarted.store, &IDS, slot).await;
}

#[tokio::test]
async fn a_burst_written_whose_claims_were_left_behind_is_released_without_a_second_fire() {
    let (_dir, db, clock) = fresh_store();
    let slot = at(SLOT);
    let crashed = node_with_burst(&db, &clock).await;
    tick_at(&crashed, &clock, slot - Duration::seconds(5)).await;
    tick_at(&crashed, &clock, slot).await;
    // What a crash after the burst's write and before its releases leaves in the store.
    for id in IDS {
        compare_and_set(&*crashed.store, &key(id), None, |record| {
            record.claimed_slots.push(slot);
            Change::Write(())
        })
        .await
        .unwrap();
    }
    drop(crashed);

    let restarted = node_with(&db, &clock, None, AHEAD).await;
    restarted.scheduler.tick().await;
    fired_once(&*restarted.store, &IDS, slot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_preparing_the_same_burst_fire_each_slot_once() {
    let (_dir, db, clock) = fresh_store();
    let slot = at(SLOT);
    let first = node_with_burst(&db, &clock).await;
    let nodes = [
        first,
        node_with(&db, &clock, None, AHEAD).await,
        node_with(&db, &clock, None, AHEAD).await,
    ];
    for now in [
        slot - Duration::seconds(8),
        slot - Duration::seconds(2),
        slot,
    ] {
        clock.set(now);
        let mut ticks = JoinSet::new();
        for node in &nodes {
            let scheduler = Arc::clone(&node.scheduler);
            ticks.spawn(async move { scheduler.tick().await });
        }
        ticks.join_all().await;
    }
    fired_once(&*nodes[0].store, &IDS, slot).await;
}

#[tokio::test]
async fn a_hook_changed_after_its_slot_was_claimed_fires_as_changed_and_a_removed_one_not_at_all() {
    let (_dir, db, clock) = fresh_store();
    let slot = at(SLOT);
    let node = node_with_burst(&db, &clock).await;
    tick_at(&node, &clock, slot - Duration::seconds(5)).await;

    node.registry
        .update::<hookd::registry::RegistryError>(&key("h0"), |hook| {
            let mut changed = hook.clone();
            let mut task = changed.task.as_json().clone();
            task["metadata"]["name"] = json!("changed at ${now}");
            changed.task = task.into();
            Ok(changed)
        })
        .await
        .unwrap();
    node.registry.remove(&key("h1")).await.unwrap();
    tick_at(&node, &clock, slot).await;

    fired_once(&*node.store, &["h0", "h2"], slot).await;
    let name = task_name(&*node.store, "h0", slot).await;
    assert_eq!(name, "changed at 2026-05-01T10:15:00.000Z");
    let removed = TaskId::for_slot(&key("h1"), slot);
    assert!(node.store.get_task(&removed).await.unwrap().is_none());
}
