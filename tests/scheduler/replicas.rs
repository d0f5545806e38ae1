//! Exactly once per slot: replicas racing on one store, and a crash between claim and submit.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use chrono::{DateTime, Duration, Utc};
use hookd::clock::ManualClock;
use hookd::domain::{SubmittedTask, TaskId};
use hookd::fire::{SinkError, TaskSink};
use hookd::store::HookStore;
use hookd_testkit::wait::eventually;
use tokio::task::JoinSet;

use crate::harness::{at, fires, fresh_store, hook, key, node, record, Node, START};

const HOOKS: usize = 8;
const SLOTS: i64 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_one_store_fire_every_slot_exactly_once() {
    let (_dir, db, clock) = fresh_store();
    let first = node(&db, &clock, None).await;
    for i in 0..HOOKS {
        first
            .registry
            .create(hook(&format!("h{i}"), &["* * * * * *"]))
            .await
            .unwrap();
    }
    let nodes = [
        first,
        node(&db, &clock, None).await,
        node(&db, &clock, None).await,
    ];

    // The first round arms the new hooks; each later one follows a slot.
    for round in 0..=SLOTS {
        if round > 0 {
            clock.advance(Duration::seconds(1));
        }
        let mut ticks = JoinSet::new();
        for node in &nodes {
            let scheduler = Arc::clone(&node.scheduler);
            ticks.spawn(async move { scheduler.tick().await });
        }
        ticks.join_all().await;
    }

    let store = &*nodes[0].store;
    for i in 0..HOOKS {
        let key = key(&format!("h{i}"));
        let fires = fires(store, &key).await;
        let expected: Vec<_> = (1..=SLOTS)
            .map(|s| at(START) + Duration::seconds(s))
            .collect();
        let times: Vec<_> = fires.iter().map(|f| f.task_create_time).collect();
        assert_eq!(times, expected, "{key}: one fire per slot, in order");
        let ids: HashSet<_> = fires.iter().map(|f| f.task_id.clone()).collect();
        assert_eq!(ids.len(), fires.len(), "{key}: distinct task ids");
        for fire in &fires {
            assert!(fire.failure.is_none(), "{fire:?}");
            assert_eq!(fire.task_id, TaskId::for_slot(&key, fire.task_create_time));
            assert!(store.get_task(&fire.task_id).await.unwrap().is_some());
        }
        assert!(record(store, &key).await.claimed_slots.is_empty());
    }
}

/// A task queue that never answers: a process that submits into it is stuck mid-fire, which
/// is where the test kills it.
struct StuckSink;

#[async_trait]
impl TaskSink for StuckSink {
    async fn submit(&self, _task: &SubmittedTask) -> Result<(), SinkError> {
        std::future::pending().await
    }
}

/// A replica whose task queue never answers, with one quarter-hourly hook `g/h` it has armed.
async fn doomed_replica(db: &Path, clock: &ManualClock) -> Node {
    let doomed = node(db, clock, Some(Arc::new(StuckSink))).await;
    doomed
        .registry
        .create(hook("h", &["*/15 * * * *"]))
        .await
        .unwrap();
    doomed.scheduler.tick().await;
    doomed
}

/// Lets `doomed` tick at `slot`, which claims the slot and hangs in submit, and kills it
/// there. Returns a handle on the store it used.
async fn crash_after_claiming(
    doomed: Node,
    clock: &ManualClock,
    slot: DateTime<Utc>,
) -> Arc<dyn HookStore> {
    clock.set(slot);
    let scheduler = Arc::clone(&doomed.scheduler);
    let crashed = tokio::spawn(async move { scheduler.tick().await });
    let store = Arc::clone(&doomed.store);
    // The claim is the crashing tick's first write; nothing in it signals the point.
    eventually("the slot is claimed", || {
        let store = Arc::clone(&store);
        async move { (record(&*store, &key("h")).await.claimed_slots == [slot]).then_some(()) }
    })
    .await;
    crashed.abort();
    assert!(crashed.await.unwrap_err().is_cancelled());
    store
}

#[tokio::test]
async fn a_crash_between_claim_and_submit_still_fires_the_slot_exactly_once() {
    let (_dir, db, clock) = fresh_store();
    let slot = at("2026-05-01T10:15:00Z");
    let doomed = doomed_replica(&db, &clock).await;
    let store = crash_after_claiming(doomed, &clock, slot).await;
    let task_id = TaskId::for_slot(&key("h"), slot);
    assert!(store.get_task(&task_id).await.unwrap().is_none());
    assert!(fires(&*store, &key("h")).await.is_empty());

    // A fresh process finishes the claimed slot with the same task id.
    clock.advance(Duration::seconds(30));
    let survivor = node(&db, &clock, None).await;
    survivor.scheduler.tick().await;
    // And yet another start finds nothing left to do.
    node(&db, &clock, None).await.scheduler.tick().await;

    let fires = fires(&*store, &key("h")).await;
    assert_eq!(fires.len(), 1, "{fires:?}");
    assert_eq!(fires[0].task_id, task_id);
    assert_eq!(fires[0].task_create_time, slot);
    assert!(fires[0].failure.is_none());
    let task = store.get_task(&task_id).await.unwrap().expect("submitted");
    assert_eq!(
        task.task["metadata"]["name"],
        "schedule at 2026-05-01T10:15:00.000Z"
    );
    let record = record(&*store, &key("h")).await;
    assert!(record.claimed_slots.is_empty());
    assert_eq!(record.next_scheduled_date, Some(at("2026-05-01T10:30:00Z")));
}

#[tokio::test]
async fn a_running_replica_adopts_a_slot_abandoned_by_one_that_died() {
    let (_dir, db, clock) = fresh_store();
    let slot = at("2026-05-01T10:15:00Z");
    let doomed = doomed_replica(&db, &clock).await;
    let survivor = node(&db, &clock, None).await;
    // Only the doomed replica ticks at 10:15.
    let store = crash_after_claiming(doomed, &clock, slot).await;

    // The survivor, running all along, meets the stale claim at the next slot.
    clock.set(at("2026-05-01T10:30:00Z"));
    survivor.scheduler.tick().await;
    survivor.scheduler.tick().await;

    let fired: Vec<_> = fires(&*store, &key("h"))
        .await
        .iter()
        .map(|f| (f.task_create_time, f.task_id.clone()))
        .collect();
    let next = at("2026-05-01T10:30:00Z");
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert!(fired.contains(&(slot, TaskId::for_slot(&key("h"), slot))));
    assert!(fired.contains(&(next, TaskId::for_slot(&key("h"), next))));
    assert!(record(&*store, &key("h")).await.claimed_slots.is_empty());
}
