//! Fires that fail: a task queue that is briefly down (retried with backoff, same task id) and
//! a template that cannot render (recorded as an error fire; the schedule moves on).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use hookd::domain::{SubmittedTask, TaskId};
use hookd::fire::sink::LocalSink;
use hookd::fire::{SinkError, TaskSink};
use hookd::store::HookStore;
use serde_json::json;

use crate::harness::{at, fires, fresh_store, hook, key, node, record};

/// The real outbox sink behind a queue that is unreachable for the first `outages` submits.
struct FlakySink {
    inner: LocalSink,
    outages: AtomicUsize,
}

#[async_trait]
impl TaskSink for FlakySink {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        let down = self
            .outages
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if down {
            return Err(SinkError::Unavailable(Box::new(std::io::Error::other(
                "connection refused",
            ))));
        }
        self.inner.submit(task).await
    }
}

#[tokio::test]
async fn an_unreachable_queue_is_retried_with_backoff_and_the_same_task_id() {
    let (_dir, db, clock) = fresh_store();
    // The outbox store is the node's own file, opened a second time for the sink.
    let outbox: Arc<dyn HookStore> = Arc::new(hookd::store::SqliteStore::open(&db).unwrap());
    let sink = Arc::new(FlakySink {
        inner: LocalSink::new(outbox),
        outages: AtomicUsize::new(2),
    });
    let node = node(&db, &clock, Some(sink)).await;
    node.registry
        .create(hook("h", &["*/15 * * * *"]))
        .await
        .unwrap();
    node.scheduler.tick().await;
    let slot = at("2026-05-01T10:15:00Z");
    let task_id = TaskId::for_slot(&key("h"), slot);

    clock.set(slot);
    node.scheduler.tick().await; // fails
    assert_eq!(record(&*node.store, &key("h")).await.claimed_slots, [slot]);
    clock.advance(Duration::seconds(1));
    node.scheduler.tick().await; // fails again; the next wait is 2 s
    clock.advance(Duration::seconds(1));
    node.scheduler.tick().await; // too early: nothing happens
    assert_eq!(fires(&*node.store, &key("h")).await.len(), 2);
    clock.advance(Duration::seconds(1));
    node.scheduler.tick().await; // succeeds

    let fires = fires(&*node.store, &key("h")).await;
    let outcomes: Vec<_> = fires
        .iter()
        .map(|f| f.failure.as_ref().map(|e| e.code.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [Some("ServiceUnavailable"), Some("ServiceUnavailable"), None]
    );
    for fire in &fires {
        assert_eq!(fire.task_id, task_id);
        assert_eq!(fire.task_create_time, slot);
    }
    assert!(node.store.get_task(&task_id).await.unwrap().is_some());
    let record = record(&*node.store, &key("h")).await;
    assert!(record.claimed_slots.is_empty());
    assert_eq!(record.next_scheduled_date, Some(at("2026-05-01T10:30:00Z")));
}

#[tokio::test]
async fn a_template_that_cannot_render_is_recorded_and_the_schedule_moves_on() {
    let (_dir, db, clock) = fresh_store();
    let node = node(&db, &clock, None).await;
    let mut broken = hook("h", &["*/15 * * * *"]);
    broken.task = json!({"$eval": "no_such_variable"}).into();
    node.registry.create(broken).await.unwrap();
    node.scheduler.tick().await;

    for slot in ["2026-05-01T10:15:00Z", "2026-05-01T10:30:00Z"] {
        clock.set(at(slot));
        node.scheduler.tick().await;
    }

    let fires = fires(&*node.store, &key("h")).await;
    let seen: Vec<_> = fires
        .iter()
        .map(|f| {
            (
                f.task_create_time,
                f.failure.as_ref().map(|e| e.code.clone()),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (at("2026-05-01T10:15:00Z"), Some("InputError".to_owned())),
            (at("2026-05-01T10:30:00Z"), Some("InputError".to_owned())),
        ]
    );
    assert!(record(&*node.store, &key("h"))
        .await
        .claimed_slots
        .is_empty());
}
