//! The AMQP task sink under the sink contract, and the listener's retries when the sink cannot
//! take a task.

use std::sync::Mutex;

use hookd::fire::sink::AmqpSink;
use hookd::fire::TaskSink;
use hookd_testkit::app::{metric_value, spawn_app_with, TestApp};
use hookd_testkit::services::amqp_url;
use hookd_testkit::wait::eventually;
use lapin::types::AMQPValue;
use serde_json::{json, Value};
use tokio::sync::RwLockReadGuard;

use crate::broker::{self, bound_hook, next_message, unique, Client};
use crate::fires::{await_fires, by_result};
use crate::sink_contract::{sink_contract, Peer};

/// An AMQP sink publishing to an exchange of its own, and a queue bound to every routing key
/// on it; the message id is the key consumers deduplicate by.
struct Exchange {
    sink: AmqpSink,
    client: Client,
    queue: String,
    /// Every message taken from the queue so far.
    taken: Mutex<Vec<(String, Value)>>,
    _broker: RwLockReadGuard<'static, ()>,
}

/// A fresh exchange and queue; `None` skips the test without a broker.
async fn exchange() -> Option<Exchange> {
    let url = amqp_url()?;
    let broker = broker::shared().await;
    let (exchange, queue) = (unique("sink"), unique("sink-tasks"));
    let client = Client::connect(&url).await;
    client.exchange(&exchange).await;
    client.bound_queue(&queue, &exchange, "#").await;
    Some(Exchange {
        sink: AmqpSink::new(broker::amqp_task_queue(&url, &exchange)),
        client,
        queue,
        taken: Mutex::new(Vec::new()),
        _broker: broker,
    })
}

impl Peer for Exchange {
    fn sink(&self) -> &dyn TaskSink {
        &self.sink
    }

    /// A confirmed publish is in the queue already, so taking until it is empty sees them all.
    async fn deliveries(&self) -> Vec<(String, Value)> {
        let mut fresh = Vec::new();
        while let Some(message) = self.client.take(&self.queue).await {
            let id = message
                .properties
                .message_id()
                .as_ref()
                .map(|m| m.to_string());
            let body: Value = serde_json::from_slice(&message.data).expect("a JSON task");
            fresh.push((id.unwrap_or_default(), body["task"].clone()));
        }
        let mut taken = self.taken.lock().unwrap();
        taken.extend(fresh);
        taken.clone()
    }
}

sink_contract!(amqp, exchange());

/// A header of a task message, as text.
fn header(message: &lapin::message::Delivery, name: &str) -> String {
    let headers = message.properties.headers().clone().unwrap_or_default();
    match headers.inner().get(name) {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => panic!("header {name}: {other:?}"),
    }
}

/// An app whose listener uses `prefix` and whose sink publishes to exchange `tasks`.
async fn relaying_app(url: &str, prefix: &str, tasks: &str) -> TestApp {
    let listener = broker::listener_settings(url, prefix);
    let task_queue = broker::task_queue(url, tasks);
    spawn_app_with(move |s| {
        s.amqp = Some(listener.clone());
        s.task_queue = task_queue.clone();
    })
    .await
}

/// The bodies of the next `count` messages dead-lettered under `prefix`.
async fn dead_letters(client: &Client, prefix: &str, count: usize) -> Vec<Value> {
    let mut queue = client
        .consume_existing(&format!("{prefix}/dead-letter"))
        .await;
    let mut dead = Vec::new();
    for _ in 0..count {
        let message = next_message(&mut queue).await;
        dead.push(serde_json::from_slice::<Value>(&message.data).unwrap());
    }
    dead
}

/// Checks the metric `counts` once `acked` messages are counted as acked: an ack is counted
/// just after it reaches the broker, so the scrape may have to wait for it.
async fn assert_counts_once_acked(app: &TestApp, acked: f64, counts: &[(&str, f64)]) {
    let scrape = eventually("the listener counted its acks", || async {
        let scrape = app.metrics().await;
        let counted = metric_value(&scrape, "hookd_amqp_messages_acked_total");
        (counted == Some(acked)).then_some(scrape)
    })
    .await;
    for &(series, count) in counts {
        assert_eq!(metric_value(&scrape, series), Some(count), "{series}");
    }
}

#[tokio::test]
async fn a_task_the_sink_cannot_take_is_retried_under_one_task_id_then_dead_lettered() {
    let Some(url) = amqp_url() else { return };
    let _broker = broker::shared().await;
    let (prefix, exchange, tasks) = (unique("retry"), unique("exchange"), unique("tasks"));
    let client = Client::connect(&url).await;
    client.exchange(&exchange).await;
    let app = relaying_app(&url, &prefix, &tasks).await;
    app.create_hook("g/retried", bound_hook(&[(&exchange, "#")]))
        .await;

    // No queue is bound to the task exchange yet, so the sink refuses every task.
    client
        .publish_routed(&exchange, "first", &json!({"n": 0}))
        .await;
    let body = serde_json::to_vec(&json!({"n": 1})).unwrap();
    assert!(
        client
            .publish(&exchange, "second", &body, Some("message-1"))
            .await
    );

    let mut dead = dead_letters(&client, &prefix, 2).await;
    dead.sort_by_key(|b| b["n"].as_i64());
    assert_eq!(dead, [json!({"n": 0}), json!({"n": 1})]);
    let fires = await_fires(&app, "g/retried", 6).await;
    let (ok, failed) = by_result(&fires);
    assert!(ok.is_empty(), "no fire succeeded: {fires:?}");
    let mut ids: Vec<&str> = failed.iter().filter_map(|f| f["taskId"].as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        2,
        "three attempts per message, one task id each: {fires:?}"
    );
    for fire in &failed {
        let error = fire["error"].as_str().unwrap_or_default();
        assert!(error.contains("unavailable"), "{error}");
    }

    // Once a worker queue is bound, tasks arrive with their id, routing key and origin.
    let mut worker = client
        .consume(&unique("worker"), &tasks, "proj/workers")
        .await;
    client
        .publish_routed(&exchange, "third", &json!({"n": 3}))
        .await;
    let task = next_message(&mut worker).await;
    let fires = await_fires(&app, "g/retried", 7).await;
    assert_eq!(fires[0]["result"], "success", "{:?}", fires[0]);
    assert_eq!(
        task.properties.message_id().as_ref().map(|m| m.to_string()),
        fires[0]["taskId"].as_str().map(str::to_owned)
    );
    assert_eq!(task.routing_key.as_str(), "proj/workers");
    assert_eq!(task.properties.delivery_mode(), &Some(2));
    assert_eq!(header(&task, "hookGroupId"), "g");
    assert_eq!(header(&task, "hookId"), "retried");
    assert_eq!(header(&task, "firedBy"), "pulseMessage");
    let body: Value = serde_json::from_slice(&task.data).unwrap();
    assert_eq!(body["taskId"], fires[0]["taskId"]);
    assert_eq!(body["task"]["payload"]["message"], json!({"n": 3}));

    // Seven deliveries: two messages three times each, then one that was acked.
    assert_counts_once_acked(
        &app,
        1.0,
        &[
            ("hookd_amqp_messages_consumed_total", 7.0),
            ("hookd_amqp_messages_requeued_total", 4.0),
            ("hookd_amqp_messages_dead_lettered_total", 2.0),
            (
                r#"hookd_fires_total{fired_by="pulseMessage",result="error"}"#,
                6.0,
            ),
            (
                r#"hookd_fires_total{fired_by="pulseMessage",result="success"}"#,
                1.0,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_full_queue_dead_letters_its_oldest_messages_instead_of_dropping_them() {
    let Some(url) = amqp_url() else { return };
    let _broker = broker::shared().await;
    let (prefix, exchange) = (unique("overflow"), unique("exchange"));
    let client = Client::connect(&url).await;
    client.exchange(&exchange).await;
    let mut listener = broker::listener_settings(&url, &prefix);
    listener.max_length = Some(2);
    let app = spawn_app_with(move |s| s.amqp = Some(listener.clone())).await;
    app.create_hook("g/full", bound_hook(&[(&exchange, "#")]))
        .await;
    broker::await_listener(&app, "connected").await;
    let queue = format!("{prefix}/g/full");
    eventually("the hook's queue is declared", || async {
        broker::queue_exists(&url, &queue).await.then_some(())
    })
    .await;
    // With nobody consuming, the hook's queue fills up.
    app.stop().await;

    for n in 0..5 {
        client
            .publish_routed(&exchange, "k", &json!({ "n": n }))
            .await;
    }
    let dead = dead_letters(&client, &prefix, 3).await;
    let dead: Vec<Value> = dead.into_iter().map(|b| b["n"].clone()).collect();
    assert_eq!(
        dead,
        [json!(0), json!(1), json!(2)],
        "the three oldest overflowed"
    );
}

/// Messages the sink cannot take are interleaved with messages it can, on one hook's channel:
/// the acks gathered around them never reach them, so each is retried and dead-lettered.
#[tokio::test]
async fn batched_acks_never_cover_the_retried_messages_between_them() {
    let Some(url) = amqp_url() else { return };
    let _broker = broker::shared().await;
    let (prefix, exchange, tasks) = (unique("mixed"), unique("exchange"), unique("tasks"));
    let client = Client::connect(&url).await;
    client.exchange(&exchange).await;
    client.exchange(&tasks).await;
    let worker = unique("mixed-worker");
    client.bound_queue(&worker, &tasks, "ok").await;
    let app = relaying_app(&url, &prefix, &tasks).await;
    let mut hook = bound_hook(&[(&exchange, "#")]);
    // Tasks of messages naming queue "nobody" are unroutable: the sink refuses them.
    hook["task"]["taskQueueId"] = json!({"$eval": "payload.queue"});
    app.create_hook("g/mixed", hook).await;
    let probe = json!({"n": "probe", "queue": "ok"});
    client.publish_routed(&exchange, "probe", &probe).await;

    let refused = |n: usize| n % 4 == 1;
    for n in 0..20 {
        let queue = if refused(n) { "nobody" } else { "ok" };
        let body = serde_json::to_vec(&json!({"n": n, "queue": queue})).unwrap();
        let id = format!("message-{n}");
        assert!(client.publish(&exchange, "k", &body, Some(&id)).await);
    }

    let dead = dead_letters(&client, &prefix, 5).await;
    let mut dead: Vec<usize> = dead
        .iter()
        .map(|b| b["n"].as_u64().unwrap() as usize)
        .collect();
    dead.sort();
    assert_eq!(dead, (0..20).filter(|&n| refused(n)).collect::<Vec<_>>());
    // 16 messages fired once each (the probe among them), 5 three times in vain.
    let fires = await_fires(&app, "g/mixed", 16 + 5 * 3).await;
    let (ok, failed) = by_result(&fires);
    assert_eq!((ok.len(), failed.len()), (16, 15), "{fires:?}");
    let mut made = Vec::new();
    while let Some(task) = client.take(&worker).await {
        let body: Value = serde_json::from_slice(&task.data).unwrap();
        made.push(body["task"]["payload"]["message"]["n"].to_string());
    }
    made.sort();
    let mut sent: Vec<String> = (0..20)
        .filter(|&n| !refused(n))
        .map(|n| n.to_string())
        .collect();
    sent.push("\"probe\"".to_owned());
    sent.sort();
    assert_eq!(
        made, sent,
        "every message the sink could take made one task"
    );

    // Acks are counted per message, however many one frame covered.
    let counts = [
        ("hookd_amqp_messages_requeued_total", 10.0),
        ("hookd_amqp_messages_dead_lettered_total", 5.0),
    ];
    assert_counts_once_acked(&app, 16.0, &counts).await;
}
