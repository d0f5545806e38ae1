//! Losing the broker: the listener reconnects without a restart, nothing is lost or doubled,
//! and the AMQP sink fails loudly while the broker is away.

use std::collections::{BTreeSet, HashMap};

use hookd_testkit::app::{hook_body, spawn_app_with, TestApp};
use hookd_testkit::services::amqp_url;
use hookd_testkit::wait::eventually;
use serde_json::json;

use crate::broker::{self, await_listener, bound_hook, rabbitmqctl, unique, Client};
use crate::fires::fires;

/// Messages published before the broker stops, and again after it is back.
const BATCH: usize = 20;

async fn publish_batch(client: &Client, exchange: &str, range: std::ops::Range<usize>) {
    for n in range {
        let body = serde_json::to_vec(&json!({"n": n})).unwrap();
        let id = format!("message-{n}");
        assert!(client.publish(exchange, "stream", &body, Some(&id)).await);
    }
}

#[tokio::test]
async fn after_a_broker_restart_the_listener_reconnects_and_every_message_fires_once() {
    let Some(url) = amqp_url() else { return };
    let _broker = broker::exclusive().await;
    let (prefix, exchange, tasks) = (unique("restart"), unique("exchange"), unique("tasks"));
    let client = Client::connect(&url).await;
    client.exchange(&exchange).await;
    let app = broker::listening_app(&url, &prefix).await;
    app.create_hook("g/stream", bound_hook(&[(&exchange, "stream")]))
        .await;
    client
        .publish_routed(&exchange, "stream", &json!({"n": "probe"}))
        .await;
    let task_queue = broker::task_queue(&url, &tasks);
    let publisher = spawn_app_with(move |s| s.task_queue = task_queue.clone()).await;
    publisher.create_hook("g/direct", hook_body()).await;

    publish_batch(&client, &exchange, 0..BATCH).await;
    drop(client);
    rabbitmqctl(&["stop_app"]).await;
    let reply = publisher.trigger("g/direct", json!({})).await;
    let message = reply.expect_error(503, "ServiceUnavailable");
    let status = publisher.status("g/direct").await;
    await_listener(&app, "connecting").await;
    rabbitmqctl(&["start_app"]).await;

    assert!(!message.is_empty());
    assert_eq!(status["lastFire"]["result"], "error", "{status}");
    let listener = await_listener(&app, "connected").await;
    assert!(listener["reconnects"].as_u64() >= Some(1), "{listener}");
    let reconnects = app.metric("hookd_amqp_reconnects_total").await;
    assert!(reconnects >= Some(1.0), "{reconnects:?}");
    let client = Client::connect(&url).await;
    publish_batch(&client, &exchange, BATCH..2 * BATCH).await;

    let expected: BTreeSet<i64> = (0..2 * BATCH as i64).collect();
    let task_of_message = eventually("every message before and after the restart fired", || {
        tasks_by_message(&app)
    })
    .await;
    assert_eq!(
        task_of_message.keys().copied().collect::<BTreeSet<_>>(),
        expected
    );
    for (n, ids) in &task_of_message {
        assert_eq!(ids.len(), 1, "message {n} made exactly one task: {ids:?}");
    }
}

/// The tasks made for each message `n`, once every message made one. A message whose ack the
/// restart lost comes again with `redelivered: true`, renders a different task under the same
/// task id, and the sink refuses it as a conflict: recorded, but never a second task.
async fn tasks_by_message(app: &TestApp) -> Option<HashMap<i64, BTreeSet<String>>> {
    let mut task_of_message: HashMap<i64, BTreeSet<String>> = HashMap::new();
    for fire in fires(app, "g/stream").await {
        let task_id = fire["taskId"].as_str().unwrap().to_owned();
        if fire["result"] == "error" {
            let error = fire["error"].as_str().unwrap_or_default();
            assert!(error.contains("already submitted"), "{fire}");
        }
        let task = app.submitted_task(&task_id).await;
        if let Some(n) = task["task"]["payload"]["message"]["n"].as_i64() {
            task_of_message.entry(n).or_default().insert(task_id);
        }
    }
    (task_of_message.len() == 2 * BATCH).then_some(task_of_message)
}
