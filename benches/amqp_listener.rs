//! Messages per second and latency from a message published on a bound exchange to its task
//! published by the AMQP task sink, across many hooks with bindings; beside it, in the same
//! run, two ceilings measured the same way:
//! - RabbitMQ alone: one publish into a non-durable classic queue and its delivery, the
//!   broker's cheapest path, far less broker work than hookd's;
//! - a bare relay: a few lines of lapin here doing exactly the broker work hookd does per
//!   message and nothing else (a persistent publish into one of `HOOKS` quorum queues, its
//!   delivery, the task's persistent, mandatory, confirmed publish, the ack after the
//!   confirm, the task's delivery). hookd's share of it is the honest measure of hookd's own
//!   cost.
//!
//! Every queue the run declared is deleted at its end, so runs against one broker do not pile
//! up thousands of quorum queues.
//!
//! Needs a RabbitMQ: `HOOKD_TEST_AMQP_URL=amqp://... cargo bench --bench amqp_listener`
//! (`scripts/services/rabbitmq.sh` starts one; `scripts/bench.sh` runs it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hookd::clock::SystemClock;
use hookd::config::Settings;
use hookd::startup::Application;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Consumer, ExchangeKind};
use serde_json::{json, Value};

const HOOKS: usize = 1_000;
const MESSAGES: usize = 5_000;
const PREFETCH: u16 = 64;
/// As many consumers per channel as hookd's listener puts on one.
const CONSUMERS_PER_CHANNEL: usize = 64;
const ROOT_TOKEN: &str = "bench-root-token";

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("HOOKD_TEST_AMQP_URL") else {
        eprintln!("set HOOKD_TEST_AMQP_URL to a RabbitMQ to run this benchmark");
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let channel = open_channel(&url).await;
    let mut queues = Vec::new();
    let ceiling = broker_ceiling(&channel, &run).await;
    let bare = bare_relay(&url, &channel, &run, &mut queues).await;
    let hookd = listener_to_sink(&url, &channel, &run, &mut queues).await;
    for queue in &queues {
        channel
            .queue_delete(queue, QueueDeleteOptions::default())
            .await
            .expect("queue deleted");
    }
    println!("| path | messages | msg/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    println!("{}", ceiling.row("RabbitMQ alone: publish -> consume"));
    println!(
        "{}",
        bare.row(&format!(
            "bare relay ({HOOKS} quorum queues): publish -> relay (confirm, ack) -> consume"
        ))
    );
    println!(
        "{}",
        hookd.row(&format!(
            "hookd: publish -> fire ({HOOKS} hooks) -> task published -> consume"
        ))
    );
    println!();
    println!(
        "hookd's share: {:.1} % of the bare relay (the goal's measure), {:.1} % of RabbitMQ alone.",
        100.0 * hookd.rate / bare.rate,
        100.0 * hookd.rate / ceiling.rate
    );
}

struct Sample {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Sample {
    fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {MESSAGES} | {:.0} | {:.1} | {:.1} |",
            self.rate, self.p50_ms, self.p99_ms
        )
    }
}

async fn open_channel(url: &str) -> Channel {
    let runtime = tokio::runtime::Handle::current();
    let connection = hookd::amqp::connect(url, "hookd bench", &runtime)
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    // The channel keeps what it needs of the connection; leak the handle for the whole run.
    std::mem::forget(connection);
    channel
}

async fn declare_exchange(channel: &Channel, name: &str) {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(name, ExchangeKind::Topic, options, FieldTable::default())
        .await
        .expect("exchange");
}

/// A queue bound to `exchange` for everything, consumed without acks.
async fn consume_all(channel: &Channel, queue: &str, exchange: &str) -> Consumer {
    let options = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue, options, FieldTable::default())
        .await
        .expect("queue");
    channel
        .queue_bind(
            queue,
            exchange,
            "#",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    let options = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    channel
        .basic_consume(queue, "", options, FieldTable::default())
        .await
        .expect("consume")
}

/// Publishes `MESSAGES` persistent messages `{"i": n}` to `exchange` with routing keys from
/// `key`, while `consumer` reads whatever they turn into; `index` finds `n` in what arrives.
async fn measure(
    channel: &Channel,
    exchange: &str,
    key: impl Fn(usize) -> String,
    mut consumer: Consumer,
    index: fn(&Value) -> Option<usize>,
) -> Sample {
    let sent: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let received = {
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(MESSAGES);
            while latencies.len() < MESSAGES {
                let Some(Ok(delivery)) = consumer.next().await else {
                    break;
                };
                let Ok(body) = serde_json::from_slice::<Value>(&delivery.data) else {
                    continue;
                };
                if let Some(at) = index(&body).and_then(|n| sent.lock().ok()?.remove(&n)) {
                    latencies.push(at.elapsed());
                }
            }
            (latencies, Instant::now())
        })
    };
    let start = Instant::now();
    for n in 0..MESSAGES {
        let body = serde_json::to_vec(&json!({ "i": n })).unwrap();
        sent.lock().unwrap().insert(n, Instant::now());
        channel
            .basic_publish(
                exchange,
                &key(n),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish");
    }
    channel.wait_for_confirms().await.expect("confirms");
    let (mut latencies, end) = tokio::time::timeout(Duration::from_secs(600), received)
        .await
        .expect("every message arrives within ten minutes")
        .expect("consumer task");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Sample {
        rate: latencies.len() as f64 / (end - start).as_secs_f64(),
        p50_ms: at(0.50).as_secs_f64() * 1e3,
        p99_ms: at(0.99).as_secs_f64() * 1e3,
    }
}

/// The broker alone: publish to an exchange, consume from a queue bound to it.
async fn broker_ceiling(channel: &Channel, run: &str) -> Sample {
    let exchange = format!("bench-{run}-plain");
    declare_exchange(channel, &exchange).await;
    let consumer = consume_all(channel, &format!("bench-{run}-plain"), &exchange).await;
    measure(
        channel,
        &exchange,
        |_| "k".into(),
        consumer,
        |b| b["i"].as_u64().map(|n| n as usize),
    )
    .await
}

/// The broker work of hookd's relay with nothing else: `HOOKS` quorum queues bound to one
/// exchange, consumed with hookd's prefetch and channel sharing; each delivery's body is
/// published persistent and mandatory to a second exchange, and acked once that publish is
/// confirmed.
async fn bare_relay(url: &str, channel: &Channel, run: &str, queues: &mut Vec<String>) -> Sample {
    let (events, tasks) = (
        format!("bench-{run}-bare"),
        format!("bench-{run}-bare-tasks"),
    );
    declare_exchange(channel, &events).await;
    declare_exchange(channel, &tasks).await;
    let runtime = tokio::runtime::Handle::current();
    let consuming = hookd::amqp::connect(url, "bench bare relay", &runtime)
        .await
        .expect("broker");
    let publisher = open_channel(url).await;
    let mut consumer_channel = None;
    for h in 0..HOOKS {
        let queue = format!("bench-{run}-bare/q{h}");
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(&queue, options, args)
            .await
            .expect("quorum queue");
        queues.push(queue.clone());
        channel
            .queue_bind(
                &queue,
                &events,
                &format!("hook.{h}"),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind");
        if h % CONSUMERS_PER_CHANNEL == 0 {
            let shared = consuming.create_channel().await.expect("channel");
            shared
                .basic_qos(PREFETCH, BasicQosOptions { global: false })
                .await
                .expect("qos");
            consumer_channel = Some(shared);
        }
        let consumer = (consumer_channel.as_ref().expect("a consumer channel"))
            .basic_consume(
                &queue,
                &queue,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        tokio::spawn(relay(consumer, publisher.clone(), tasks.clone()));
    }
    std::mem::forget(consuming);
    let consumer = consume_all(channel, &format!("bench-{run}-bare-tasks"), &tasks).await;
    wait_until_bound(channel, &events).await;
    measure(
        channel,
        &events,
        |n| format!("hook.{}", n % HOOKS),
        consumer,
        |b| b["i"].as_u64().map(|n| n as usize),
    )
    .await
}

/// One queue's relay: each delivery on a task of its own, as hookd's listener does.
async fn relay(mut consumer: Consumer, publisher: Channel, exchange: String) {
    while let Some(Ok(delivery)) = consumer.next().await {
        let (publisher, exchange) = (publisher.clone(), exchange.clone());
        tokio::spawn(async move {
            let options = BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            };
            let properties = BasicProperties::default().with_delivery_mode(2);
            let confirm = publisher
                .basic_publish(&exchange, "task", options, &delivery.data, properties)
                .await
                .expect("publish");
            let confirmation = confirm.await.expect("confirm");
            assert!(matches!(confirmation, Confirmation::Ack(None)));
            delivery.ack(BasicAckOptions::default()).await.expect("ack");
        });
    }
}

/// hookd in between: `HOOKS` hooks bound to one exchange, the AMQP task sink publishing to a
/// second one. The hooks' queues and the dead-letter queue are left to the caller to delete,
/// once hookd has stopped.
async fn listener_to_sink(
    url: &str,
    channel: &Channel,
    run: &str,
    queues: &mut Vec<String>,
) -> Sample {
    let (events, tasks) = (format!("bench-{run}-events"), format!("bench-{run}-tasks"));
    declare_exchange(channel, &events).await;
    declare_exchange(channel, &tasks).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(data_dir.path());
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.root_access_token = Some(ROOT_TOKEN.into());
    settings.render_limits.worker_program = env!("CARGO_BIN_EXE_hookd").into();
    let (queue_prefix, exchange_prefix) = (format!("bench-{run}"), format!("bench-{run}/"));
    let amqp = [
        "--amqp-url",
        url,
        "--amqp-queue-prefix",
        &queue_prefix,
        "--amqp-exchange-prefix",
        &exchange_prefix,
        "--amqp-prefetch",
        &PREFETCH.to_string(),
    ];
    settings.amqp = Settings::from_flags(amqp).unwrap().amqp;
    let task_queue = ["--task-queue", url, "--task-exchange", &tasks];
    settings.task_queue = Settings::from_flags(task_queue).unwrap().task_queue;
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}/api/hooks/v1", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let consumer = consume_all(channel, &format!("bench-{run}-tasks"), &tasks).await;

    let client = reqwest::Client::new();
    for h in 0..HOOKS {
        let hook = json!({
            "metadata": {"name": "bench", "description": "d", "owner": "bench@example.com"},
            "bindings": [{"exchange": events, "routingKeyPattern": format!("hook.{h}")}],
            "triggerSchema": {"type": "object"},
            "task": {"taskQueueId": "bench/workers", "payload": {"$eval": "payload"}},
        });
        let response = client
            .put(format!("{address}/hooks/bench/h{h}"))
            .bearer_auth(format!("root:{ROOT_TOKEN}"))
            .json(&hook)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "hook {h} created");
    }
    wait_until_bound(channel, &events).await;
    let sample = measure(
        channel,
        &events,
        |n| format!("hook.{}", n % HOOKS),
        consumer,
        |b| b["task"]["payload"]["i"].as_u64().map(|n| n as usize),
    )
    .await;
    // Stopped first, so its listener does not declare the queues again as they go.
    let _ = stop.send(());
    running.await.expect("hookd task").expect("hookd stops");
    queues.extend((0..HOOKS).map(|h| format!("{queue_prefix}/bench/h{h}")));
    queues.push(format!("{queue_prefix}/dead-letter"));
    sample
}

/// Waits until every hook's queue is bound, probing with unroutable-is-returned messages that
/// carry no `i` (so the measurement ignores the tasks they make). Both relays go through it, so
/// each of their queues has relayed one message before the measurement starts.
async fn wait_until_bound(channel: &Channel, exchange: &str) {
    for h in 0..HOOKS {
        loop {
            let confirm = channel
                .basic_publish(
                    exchange,
                    &format!("hook.{h}"),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    b"{}",
                    BasicProperties::default(),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            if confirm.take_message().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
