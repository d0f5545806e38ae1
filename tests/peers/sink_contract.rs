//! The promise every [`TaskSink`] keeps, written once (see `hookd::fire::sink`): a sink accepts
//! a task under its task id, and submitting the same id again with the same definition
//! succeeds without creating a second task, so callers can retry freely.
//!
//! A sink is checked through a [`Peer`]: the sink plus the far side it delivers to, as that
//! side sees tasks. A far side keeps one task per key and drops repeats of it (the outbox's
//! primary key, the AMQP message id, the HTTP `Idempotency-Key`, the queue's task id in the
//! URL), so the peer reports every delivery with its key, and the contract counts the distinct
//! (key, definition) pairs: a second task is a second key, or a second definition under one key.
//!
//! Each `pub async fn` takes a fresh peer and checks one part of the promise. The
//! [`sink_contract!`] macro turns the whole list into `#[tokio::test]`s for one sink:
//!
//! ```ignore
//! sink_contract!(local, outbox());
//! ```
//!
//! The second argument is evaluated once per test and must be a future that yields
//! `Option<peer>`; `None` (its service is not configured) skips the test.

use std::future::Future;

use chrono::{TimeZone, Utc};
use hookd::domain::{FiredBy, HookGroupId, HookId, SubmittedTask, TaskId};
use hookd::fire::TaskSink;
use serde_json::{json, Value};
use uuid::Uuid;

/// Emits one `#[tokio::test]` per contract function, in a module named `$sink`.
///
/// `$make` is evaluated inside that module (which glob-imports its parent), once per test; it
/// must be a future resolving to `Option<impl Peer>`.
macro_rules! sink_contract {
    ($sink:ident, $make:expr) => {
        $crate::sink_contract::sink_contract!(@tests $sink, $make,
            a_submitted_task_arrives_once_under_its_task_id,
            submitting_the_same_task_again_succeeds_without_a_second_task,
            concurrent_submissions_of_one_task_make_one_task,
            tasks_under_different_ids_arrive_as_different_tasks,
        );
    };
    (@tests $sink:ident, $make:expr, $($test:ident),+ $(,)?) => {
        mod $sink {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(peer) = $make.await else {
                        eprintln!("skipping {}: its peer is not configured", stringify!($test));
                        return;
                    };
                    $crate::sink_contract::$test(peer).await;
                }
            )+
        }
    };
}
pub(crate) use sink_contract;

/// A sink under test and the far side it delivers to.
pub trait Peer {
    /// The sink under test.
    fn sink(&self) -> &dyn TaskSink;

    /// Every delivery the far side has received so far, repeats included, as the key the far
    /// side deduplicates by and the task definition it holds under that key.
    fn deliveries(&self) -> impl Future<Output = Vec<(String, Value)>>;
}

/// The tasks the far side holds: its deliveries without repeats, in arrival order.
async fn tasks(peer: &impl Peer) -> Vec<(String, Value)> {
    let mut distinct: Vec<(String, Value)> = Vec::new();
    for delivery in peer.deliveries().await {
        if !distinct.contains(&delivery) {
            distinct.push(delivery);
        }
    }
    distinct
}

/// A task as `fire()` hands it to a sink, with a fresh id, for a queue named `proj/workers`.
fn task(label: &str) -> SubmittedTask {
    SubmittedTask {
        task_id: TaskId::generate(),
        hook_group_id: HookGroupId::parse("contract").expect("valid group id"),
        hook_id: HookId::parse("sink/hook").expect("valid hook id"),
        fire_id: Uuid::new_v4(),
        fired_by: FiredBy::TriggerHook,
        submitted: Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap(),
        task: json!({
            "taskQueueId": "proj/workers",
            "metadata": {"name": label, "description": "a task", "owner": "o@example.com"},
            "payload": {"label": label, "nested": {"list": [1, 2.5, "three", null]}},
        }),
    }
}

/// What the far side should hold for `task`.
fn held(task: &SubmittedTask) -> (String, Value) {
    (task.task_id.to_string(), task.task.clone())
}

pub async fn a_submitted_task_arrives_once_under_its_task_id(peer: impl Peer) {
    let task = task("once");

    peer.sink().submit(&task).await.expect("the sink accepts");

    assert_eq!(
        tasks(&peer).await,
        [held(&task)],
        "the task is held once, under its id"
    );
}

pub async fn submitting_the_same_task_again_succeeds_without_a_second_task(peer: impl Peer) {
    let task = task("again");

    peer.sink().submit(&task).await.expect("the first submit");
    let again = peer.sink().submit(&task).await;

    assert!(again.is_ok(), "a repeated submit fails: {again:?}");
    assert_eq!(tasks(&peer).await, [held(&task)], "one task, not two");
}

pub async fn concurrent_submissions_of_one_task_make_one_task(peer: impl Peer) {
    let task = task("concurrent");

    // A retry may overlap the first attempt (a caller that timed out, a redelivery).
    let (first, second) = tokio::join!(peer.sink().submit(&task), peer.sink().submit(&task));

    assert!(
        first.is_ok() && second.is_ok(),
        "both submits succeed: {first:?}, {second:?}"
    );
    assert_eq!(tasks(&peer).await, [held(&task)], "one task, not two");
}

pub async fn tasks_under_different_ids_arrive_as_different_tasks(peer: impl Peer) {
    let (a, b) = (task("a"), task("b"));

    peer.sink().submit(&a).await.expect("the sink accepts a");
    peer.sink().submit(&b).await.expect("the sink accepts b");

    let mut held_tasks = tasks(&peer).await;
    held_tasks.sort_by(|x, y| x.0.cmp(&y.0));
    let mut expected = vec![held(&a), held(&b)];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(held_tasks, expected, "each id is a task of its own");
}
