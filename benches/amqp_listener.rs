//! Messages per second and latency from a message published on a bound exchange to its task
//! published by the AMQP task sink, across many hooks with bindings; beside it, the broker's
//! own publish-to-consume rate measured the same way, as the ceiling.
//!
//! Needs a RabbitMQ: `HOOKD_TEST_AMQP_URL=amqp://... cargo bench --bench amqp_listener`
//! (`scripts/services/rabbitmq.sh` starts one). Results go into the docs by hand, with the
//! machine they were measured on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hookd::clock::SystemClock;
use hookd::config::Settings;
use hookd::startup::Application;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Consumer, ExchangeKind};
use serde_json::{json, Value};

const HOOKS: usize = 1_000;
const MESSAGES: usize = 5_000;
const ROOT_TOKEN: &str = "bench-root-token";

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("HOOKD_TEST_AMQP_URL") else {
        eprintln!("set HOOKD_TEST_AMQP_URL to a RabbitMQ to run this benchmark");
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let channel = open_channel(&url).await;
    let ceiling = broker_ceiling(&channel, &run).await;
    let hookd = listener_to_sink(&url, &channel, &run).await;
    println!("| path | messages | msg/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    println!("{}", ceiling.row("RabbitMQ alone: publish -> consume"));
    println!(
        "{}",
        hookd.row(&format!(
            "hookd: publish -> fire ({HOOKS} hooks) -> task published -> consume"
        ))
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

/// hookd in between: `HOOKS` hooks bound to one exchange, the AMQP task sink publishing to a
/// second one.
async fn listener_to_sink(url: &str, channel: &Channel, run: &str) -> Sample {
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
        "64",
    ];
    settings.amqp = Settings::from_flags(amqp).unwrap().amqp;
    let task_queue = ["--task-queue", url, "--task-exchange", &tasks];
    settings.task_queue = Settings::from_flags(task_queue).unwrap().task_queue;
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}/api/hooks/v1", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
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
    measure(
        channel,
        &events,
        |n| format!("hook.{}", n % HOOKS),
        consumer,
        |b| b["task"]["payload"]["i"].as_u64().map(|n| n as usize),
    )
    .await
}

/// Waits until every hook's queue is bound, probing with unroutable-is-returned messages that
/// carry no `i` (so the measurement ignores the tasks they make).
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
