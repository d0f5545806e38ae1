//! The AMQP task sink under the sink contract, and the listener's retries when the sink cannot
//! take a task.

use std::sync::Mutex;

use hookd::fire::sink::AmqpSink;
use hookd::fire::TaskSink;
use hookd_testkit::app::{metric_value, spawn_app_with};
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

#[tokio::test]
async fn a_task_the_sink_cannot_take_is_retried_under_one_task_id_then_dead_lettered() {
    let Some(url) = amqp_url() else { return };
    let _broker = broker::shared().await;
    let (prefix, exchange, tasks) = (unique("retry"), unique("exchange"), unique("tasks"));
    let client = Client::connect(&url).await;
    client.exchange(&exchange).await;
    let listener = broker::listener_settings(&url, &prefix);
    let task_queue = broker::task_queue(&url, &tasks);
    let app = spawn_app_with(move |s| {
        s.amqp = Some(listener.clone());
        s.task_queue = task_queue.clone();
    })
    .await;
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

    let mut dead_letters = client
        .consume_existing(&format!("{prefix}/dead-letter"))
        .await;
    let mut dead = Vec::new();
    for _ in 0..2 {
        let message = next_message(&mut dead_letters).await;
        dead.push(serde_json::from_slice::<Value>(&message.data).unwrap());
    }
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

    // Seven deliveries: two messages three times each, then one that was acked. The ack is
    // counted just after it reaches the broker, so the scrape may have to wait for it.
    let scrape = eventually("the listener counted its ack", || async {
        let scrape = app.metrics().await;
        let acked = metric_value(&scrape, "hookd_amqp_messages_acked_total");
        (acked == Some(1.0)).then_some(scrape)
    })
    .await;
    for (series, count) in [
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
    ] {
        assert_eq!(metric_value(&scrape, series), Some(count), "{series}");
    }
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
    let mut dead_letters = client
        .consume_existing(&format!("{prefix}/dead-letter"))
        .await;
    let mut dead = Vec::new();
    for _ in 0..3 {
        let message = next_message(&mut dead_letters).await;
        dead.push(serde_json::from_slice::<Value>(&message.data).unwrap()["n"].clone());
    }
    assert_eq!(
        dead,
        [json!(0), json!(1), json!(2)],
        "the three oldest overflowed"
    );
}
