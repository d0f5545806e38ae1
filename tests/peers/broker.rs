//! The test side of RabbitMQ: where it is, an app wired to it, and a publisher/inspector that
//! talks AMQP to it directly.
//!
//! Every app gets its own queue and exchange prefixes, so tests share one broker without
//! seeing each other's queues. The one test that restarts the broker takes [`exclusive`]; all
//! others hold [`shared`] while they run.

use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use hookd::config::{Settings, TaskQueue};
use hookd::fire::sink::AmqpTaskQueue;
use hookd::listener::AmqpSettings;
use hookd_testkit::app::{spawn_app_with, TestApp};
use hookd_testkit::services::amqp_url;
use hookd_testkit::wait::eventually;
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, Consumer, ExchangeKind};
use serde_json::{json, Value};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use uuid::Uuid;

static BROKER: RwLock<()> = RwLock::const_new(());

/// Held by tests that need the broker to stay up.
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    BROKER.read().await
}

/// Held by the test that stops and starts the broker.
pub async fn exclusive() -> RwLockWriteGuard<'static, ()> {
    BROKER.write().await
}

/// A unique name for this test's queues and exchanges.
pub fn unique(what: &str) -> String {
    format!("test-{what}-{}", Uuid::new_v4().simple())
}

/// Listener settings for tests: own prefixes, quick retries and reconnects, a short periodic
/// reconciliation.
pub fn listener_settings(url: &str, prefix: &str) -> AmqpSettings {
    let mut settings = Settings::from_flags(["--amqp-url", url])
        .expect("the listener's defaults are valid")
        .amqp
        .expect("a URL turns the listener on");
    settings.queue_prefix = prefix.to_owned();
    settings.exchange_prefix = format!("{prefix}/exchange/");
    settings.max_attempts = 3;
    settings.retry_backoff = Duration::from_millis(20);
    settings.reconcile_interval = Duration::from_secs(1);
    settings.reconnect_max = Duration::from_millis(500);
    settings
}

/// The AMQP task queue for tests: `exchange` on the test broker.
pub fn task_queue(url: &str, exchange: &str) -> TaskQueue {
    Settings::from_flags(["--task-queue", url, "--task-exchange", exchange])
        .expect("an amqp:// URL is a task queue")
        .task_queue
}

/// The settings of an AMQP sink publishing to `exchange` on the test broker.
pub fn amqp_task_queue(url: &str, exchange: &str) -> AmqpTaskQueue {
    match task_queue(url, exchange) {
        TaskQueue::Amqp(queue) => queue,
        other => panic!("an amqp:// URL makes an AMQP task queue, not {other:?}"),
    }
}

/// An app whose listener uses `prefix`, with the local sink.
pub async fn listening_app(url: &str, prefix: &str) -> TestApp {
    let settings = listener_settings(url, prefix);
    spawn_app_with(move |s| s.amqp = Some(settings.clone())).await
}

/// What most listener tests start from: an app listening under its own prefix, a test
/// client, and one declared exchange. It holds the broker shared while it lives.
pub struct Fixture {
    pub url: String,
    pub prefix: String,
    pub exchange: String,
    pub client: Client,
    pub app: TestApp,
    _broker: RwLockReadGuard<'static, ()>,
}

/// A [`Fixture`] named after the test; `None` skips the test (see [`amqp_url`]).
pub async fn fixture(name: &str) -> Option<Fixture> {
    fixture_with(name, |_| {}).await
}

/// A [`fixture`] whose listener settings `tune` adjusts first.
pub async fn fixture_with(name: &str, tune: impl FnOnce(&mut AmqpSettings)) -> Option<Fixture> {
    let url = amqp_url()?;
    let broker = shared().await;
    let (prefix, exchange) = (unique(name), unique("exchange"));
    let client = Client::connect(&url).await;
    client.exchange(&exchange).await;
    let mut settings = listener_settings(&url, &prefix);
    tune(&mut settings);
    let app = spawn_app_with(move |s| s.amqp = Some(settings.clone())).await;
    Some(Fixture {
        url,
        prefix,
        exchange,
        client,
        app,
        _broker: broker,
    })
}

/// A hook bound to `bindings` whose task shows the whole message context.
pub fn bound_hook(bindings: &[(&str, &str)]) -> Value {
    let bindings: Vec<Value> = bindings
        .iter()
        .map(|(exchange, pattern)| json!({"exchange": exchange, "routingKeyPattern": pattern}))
        .collect();
    json!({
        "metadata": {"name": "on message", "description": "d", "owner": "ci@example.com"},
        "bindings": bindings,
        "triggerSchema": {"type": "object"},
        "task": {
            "provisionerId": "p",
            "workerType": "w",
            "taskQueueId": "proj/workers",
            "metadata": {"name": "t"},
            "payload": {
                "firedBy": {"$eval": "firedBy"},
                "message": {"$eval": "payload"},
                "exchange": {"$eval": "exchange"},
                "routingKey": {"$eval": "routingKey"},
                "redelivered": {"$eval": "redelivered"},
            },
        },
    })
}

/// The `listener` part of the app's heartbeat; `None` when the request did not get through
/// (a pooled connection the server closed while the test waited on the broker).
pub async fn listener_state(app: &TestApp) -> Option<Value> {
    let heartbeat = app.raw(reqwest::Method::GET, "/__heartbeat__").send().await;
    let body: Value = heartbeat.ok()?.json().await.ok()?;
    Some(body["listener"].clone())
}

/// Waits until the listener reports `state` in the heartbeat, and returns its report.
pub async fn await_listener(app: &TestApp, state: &str) -> Value {
    eventually(&format!("the listener is {state}"), || async {
        listener_state(app).await.filter(|l| l["state"] == state)
    })
    .await
}

/// Runs `rabbitmqctl` against the test node (e.g. `stop_app`, `start_app`), off the test's
/// runtime so the app under test keeps running meanwhile.
pub async fn rabbitmqctl(args: &[&str]) {
    rabbitmqctl_output(args).await;
}

/// Runs `rabbitmqctl` like [`rabbitmqctl`] and returns what it printed (e.g. a `list_*`
/// table, with `--quiet --no-table-headers`).
pub async fn rabbitmqctl_output(args: &[&str]) -> String {
    let ctl = std::env::var("HOOKD_TEST_RABBITMQ_CTL").expect("HOOKD_TEST_RABBITMQ_CTL is set");
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(ctl).args(&args).stderr(Stdio::null()).output()
    })
    .await
    .expect("rabbitmqctl task");
    match output {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        other => panic!("rabbitmqctl failed: {other:?}"),
    }
}

/// The test's own AMQP client.
pub struct Client {
    _connection: Connection,
    channel: Channel,
}

impl Client {
    /// Connects, with publisher confirms on.
    pub async fn connect(url: &str) -> Self {
        let runtime = tokio::runtime::Handle::current();
        let connection = hookd::amqp::connect(url, "hookd tests", &runtime)
            .await
            .expect("the test broker accepts connections");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        Self {
            _connection: connection,
            channel,
        }
    }

    /// Declares a durable topic exchange.
    pub async fn exchange(&self, name: &str) {
        let options = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        self.channel
            .exchange_declare(name, ExchangeKind::Topic, options, FieldTable::default())
            .await
            .expect("exchange declared");
    }

    /// Publishes a persistent message and returns whether a queue took it.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        message_id: Option<&str>,
    ) -> bool {
        let mut properties = BasicProperties::default().with_delivery_mode(2);
        if let Some(id) = message_id {
            properties = properties.with_message_id(id.into());
        }
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirmation = self
            .channel
            .basic_publish(exchange, routing_key, options, body, properties)
            .await
            .expect("published")
            .await
            .expect("confirmed");
        matches!(confirmation, Confirmation::Ack(None))
    }

    /// Publishes JSON until a queue takes it, e.g. while hookd is still binding.
    pub async fn publish_routed(&self, exchange: &str, routing_key: &str, body: &Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        eventually(
            &format!("a queue bound for {routing_key} on {exchange}"),
            || async {
                self.publish(exchange, routing_key, &bytes, None)
                    .await
                    .then_some(())
            },
        )
        .await;
    }

    /// Declares a queue bound to `exchange` for `pattern` and consumes it.
    pub async fn consume(&self, queue: &str, exchange: &str, pattern: &str) -> Consumer {
        self.bound_queue(queue, exchange, pattern).await;
        self.consume_existing(queue).await
    }

    /// Declares a queue bound to `exchange` (unless empty: the default exchange) for `pattern`.
    pub async fn bound_queue(&self, queue: &str, exchange: &str, pattern: &str) {
        let options = QueueDeclareOptions {
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        self.channel
            .queue_declare(queue, options, FieldTable::default())
            .await
            .expect("queue declared");
        if !exchange.is_empty() {
            self.channel
                .queue_bind(
                    queue,
                    exchange,
                    pattern,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("queue bound");
        }
    }

    /// Takes the next message waiting in `queue`, if there is one, without waiting for more.
    pub async fn take(&self, queue: &str) -> Option<lapin::message::Delivery> {
        self.get(queue, true).await
    }

    /// Takes the next message waiting in `queue` and hands it back unacknowledged, as a
    /// consumer that died before its ack would: the broker delivers it again marked
    /// `redelivered`. Returns whether there was a message.
    pub async fn bounce(&self, queue: &str) -> bool {
        let Some(message) = self.get(queue, false).await else {
            return false;
        };
        let requeue = BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        };
        message.nack(requeue).await.expect("nacked");
        true
    }

    async fn get(&self, queue: &str, no_ack: bool) -> Option<lapin::message::Delivery> {
        let options = BasicGetOptions { no_ack };
        let message = self
            .channel
            .basic_get(queue, options)
            .await
            .expect("basic.get");
        message.map(|m| m.delivery)
    }

    /// Consumes a queue someone else declared.
    pub async fn consume_existing(&self, queue: &str) -> Consumer {
        let options = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        self.channel
            .basic_consume(queue, "", options, FieldTable::default())
            .await
            .expect("consuming")
    }

    /// Deletes a queue, as an operator or a broker failure might.
    pub async fn delete_queue(&self, queue: &str) {
        self.channel
            .queue_delete(queue, QueueDeleteOptions::default())
            .await
            .expect("queue deleted");
    }
}

/// The other ends of a relay: a client with the `events` and `tasks` exchanges declared, and a
/// worker consuming the tasks published for `proj/workers`.
pub async fn relay_ends(url: &str, events: &str, tasks: &str) -> (Client, Consumer) {
    let client = Client::connect(url).await;
    client.exchange(events).await;
    client.exchange(tasks).await;
    let worker = client
        .consume(&unique("worker"), tasks, "proj/workers")
        .await;
    (client, worker)
}

/// Whether a queue exists (a passive declare on a throwaway connection: a miss closes the
/// channel).
pub async fn queue_exists(url: &str, queue: &str) -> bool {
    let probe = Client::connect(url).await;
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    probe
        .channel
        .queue_declare(queue, options, FieldTable::default())
        .await
        .is_ok()
}

/// The next message of `consumer`, within a minute.
pub async fn next_message(consumer: &mut Consumer) -> lapin::message::Delivery {
    tokio::time::timeout(Duration::from_secs(60), consumer.next())
        .await
        .expect("a message arrives")
        .expect("the consumer is open")
        .expect("a delivery")
}
