//! The `amqp` sink: each task is a persistent JSON message on a RabbitMQ exchange.
//!
//! Publisher confirms make a submit succeed only once the broker has taken responsibility for
//! the message. A message no queue is bound for comes back (it is published `mandatory`), and
//! that is a failure too: a task nobody will ever read is not submitted. The message id is the
//! task id, so consumers can drop the duplicates at-least-once delivery may bring.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::sync::{Mutex, Semaphore};

use super::{SinkError, TaskSink};
use crate::domain::SubmittedTask;

/// How long a publish may wait for the broker's confirmation before it counts as failed.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting may take, so a broker behind a silent network fails a trigger instead
/// of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// AMQP delivery mode of messages that survive a broker restart.
const PERSISTENT: u8 = 2;

/// Why a publish did not go through. Every case is worth retrying later, so all of them become
/// [`SinkError::Unavailable`].
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("the broker could not be reached or refused the operation")]
    Broker(#[from] lapin::Error),
    #[error("the broker did not confirm the task")]
    Nacked,
    #[error("no queue is bound to exchange {exchange} for routing key {routing_key}")]
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    #[error("the broker did not answer within {0:?}")]
    Timeout(Duration),
    #[error("connecting to the broker was interrupted")]
    Interrupted(#[from] tokio::task::JoinError),
}

impl From<PublishError> for SinkError {
    fn from(e: PublishError) -> Self {
        SinkError::Unavailable(Box::new(e))
    }
}

/// Where the `amqp` sink publishes: a broker and an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpTaskQueue {
    /// Broker URL.
    pub url: String,
    /// Exchange tasks are published to.
    pub exchange: String,
    /// Routing key of tasks that name no queue.
    pub default_routing_key: String,
}

/// How many publishes may wait for their confirms at once, each on a channel of its own.
const PUBLISH_CHANNELS: usize = 64;

/// Publishes tasks to an exchange, reconnecting on demand.
///
/// Each publish in flight has a channel to itself: lapin hands a returned (unroutable)
/// message to whichever publish of its channel is confirmed next, and RabbitMQ confirms
/// several publishes with one `multiple` ack, so on a shared channel a task nobody can read
/// could count as published while another, delivered one counted as refused.
pub struct AmqpSink {
    config: AmqpTaskQueue,
    runtime: Handle,
    /// The open connection, replaced when it breaks.
    link: Mutex<Option<Arc<Link>>>,
    /// Bounds the publishes in flight, and so the channels.
    in_flight: Semaphore,
}

/// A connection and its confirm-mode channels with no publish in flight.
struct Link {
    connection: Connection,
    idle: std::sync::Mutex<Vec<Channel>>,
}

impl Link {
    /// An idle channel, or a new one in confirm mode.
    async fn channel(&self) -> Result<Channel, PublishError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(channel) = idle.filter(|c| c.status().connected()) {
            return Ok(channel);
        }
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    /// Takes a channel back once its publish is settled.
    fn give_back(&self, channel: Channel) {
        if channel.status().connected() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.push(channel);
        }
    }
}

impl AmqpSink {
    /// A sink for `config` whose connection runs on the current runtime. It connects on the
    /// first submit, so hookd starts even while the broker is away.
    pub fn new(config: AmqpTaskQueue) -> Self {
        Self {
            config,
            runtime: Handle::current(),
            link: Mutex::new(None),
            in_flight: Semaphore::new(PUBLISH_CHANNELS),
        }
    }

    /// The open connection, connecting (and declaring the exchange) when there is none.
    async fn link(&self) -> Result<Arc<Link>, PublishError> {
        let mut link = self.link.lock().await;
        if let Some(open) = link.as_ref().filter(|l| l.connection.status().connected()) {
            return Ok(Arc::clone(open));
        }
        let config = self.config.clone();
        let runtime = self.runtime.clone();
        let opening = self
            .runtime
            .spawn(async move { open(&config, &runtime).await });
        let (connection, channel) = tokio::time::timeout(CONNECT_TIMEOUT, opening)
            .await
            .map_err(|_| PublishError::Timeout(CONNECT_TIMEOUT))???;
        let opened = Arc::new(Link {
            connection,
            idle: std::sync::Mutex::new(vec![channel]),
        });
        *link = Some(Arc::clone(&opened));
        Ok(opened)
    }

    async fn publish(&self, task: &SubmittedTask) -> Result<(), PublishError> {
        // Never closed, so acquiring cannot fail.
        let _permit = self.in_flight.acquire().await;
        let link = self.link().await?;
        let channel = link.channel().await?;
        let published = self.publish_on(&channel, task).await;
        // A confirm that timed out may still come, and must not be taken for a later one's.
        if !matches!(published, Err(PublishError::Timeout(_))) {
            link.give_back(channel);
        }
        published
    }

    async fn publish_on(
        &self,
        channel: &Channel,
        task: &SubmittedTask,
    ) -> Result<(), PublishError> {
        let routing_key = routing_key(&task.task, &self.config.default_routing_key);
        // A struct of strings and JSON values always serializes.
        let body = serde_json::to_vec(task).unwrap_or_default();
        let confirm = channel
            .basic_publish(
                &self.config.exchange,
                &routing_key,
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &body,
                properties(task),
            )
            .await?;
        let confirmation = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
            .await
            .map_err(|_| PublishError::Timeout(CONFIRM_TIMEOUT))??;
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => Err(PublishError::Unroutable {
                exchange: self.config.exchange.clone(),
                routing_key,
            }),
            Confirmation::Nack(_) | Confirmation::NotRequested => Err(PublishError::Nacked),
        }
    }
}

/// Connects, declares the task exchange (durable topic) and turns on publisher confirms.
async fn open(
    config: &AmqpTaskQueue,
    runtime: &Handle,
) -> Result<(Connection, Channel), PublishError> {
    let connection = crate::amqp::connect(&config.url, "hookd task sink", runtime).await?;
    let channel = connection.create_channel().await?;
    channel
        .exchange_declare(
            config.exchange.as_str(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok((connection, channel))
}

/// The task's queue: `taskQueueId`, else Taskcluster's older `provisionerId/workerType`, else
/// the configured default.
fn routing_key(task: &Value, default: &str) -> String {
    let text = |field: &str| task.get(field).and_then(Value::as_str);
    match (
        text("taskQueueId"),
        text("provisionerId"),
        text("workerType"),
    ) {
        (Some(queue), _, _) => queue.to_owned(),
        (None, Some(provisioner), Some(worker)) => format!("{provisioner}/{worker}"),
        _ => default.to_owned(),
    }
}

/// Persistent JSON, the task id as message id, and where the task came from as headers.
fn properties(task: &SubmittedTask) -> BasicProperties {
    let mut headers = FieldTable::default();
    let mut header = |name: &str, value: &str| {
        headers.insert(
            name.into(),
            AMQPValue::LongString(LongString::from(value.to_owned())),
        );
    };
    header("hookGroupId", task.hook_group_id.as_str());
    header("hookId", task.hook_id.as_str());
    header("firedBy", task.fired_by.as_str());
    BasicProperties::default()
        .with_message_id(task.task_id.as_str().into())
        .with_content_type("application/json".into())
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(u64::try_from(task.submitted.timestamp()).unwrap_or_default())
        .with_headers(headers)
}

#[async_trait]
impl TaskSink for AmqpSink {
    #[tracing::instrument(skip_all, fields(task_id = %task.task_id))]
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        self.publish(task).await.map_err(|e| {
            tracing::warn!(error = %e, "task not published");
            SinkError::from(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routing_keys_follow_the_task_queue_then_the_legacy_pair_then_the_default() {
        let cases = [
            (json!({"taskQueueId": "p/w", "provisionerId": "x"}), "p/w"),
            (json!({"provisionerId": "p", "workerType": "w"}), "p/w"),
            (json!({"provisionerId": "p"}), "fallback"),
            (json!({}), "fallback"),
        ];
        for (task, expected) in cases {
            assert_eq!(routing_key(&task, "fallback"), expected, "for {task}");
        }
    }
}
