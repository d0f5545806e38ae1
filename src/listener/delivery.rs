//! One message, start to finish: turn it into a trigger, fire the hook, then ack, retry or
//! dead-letter.
//!
//! At-least-once without duplicates downstream: the message is acked only after its fire is
//! recorded and its task accepted, and its task id is derived from the message, so a redelivery
//! submits the same task id and the sink can recognise it. Messages that can never succeed
//! (not JSON, refused by the trigger schema, a template that does not render) are recorded as
//! error fires and acked, so they do not block the queue. A redelivered message whose final
//! fire is already recorded (its acknowledgement was lost) is acked without firing again.

use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::AMQPValue;
use serde_json::Value;

use super::backoff;
use crate::clock::Clock;
use crate::domain::{HookKey, TaskId};
use crate::fire::{self, FireDeps, Trigger};
use crate::metrics::AmqpEvent;
use crate::store::one_outage;

/// The longest wait before a message is handed back for another attempt.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// What a hook's consumer needs to handle its messages.
#[derive(Clone)]
pub(super) struct DeliveryContext {
    pub(super) fire: FireDeps,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) key: HookKey,
    pub(super) max_attempts: u32,
    pub(super) retry_backoff: Duration,
}

/// Whether a message is finished with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Processed {
    /// Fired, declined, or recorded as an error fire: nothing more to do.
    Done,
    /// The sink or the store could not take it right now.
    Transient,
}

/// What to tell the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settlement {
    Ack,
    /// Hand it back after waiting this long.
    Retry(Duration),
    /// Give up: the broker moves it to the dead-letter queue.
    DeadLetter,
}

/// Handles one delivery of the hook's queue.
#[tracing::instrument(skip_all, fields(hook = %ctx.key, redelivered = delivery.redelivered))]
pub(super) async fn handle(ctx: &DeliveryContext, delivery: Delivery) {
    let metrics = &ctx.fire.metrics;
    metrics.amqp(AmqpEvent::Consumed);
    let attempt = attempt(&delivery);
    let processed = process(ctx, &delivery).await;
    let settlement = settlement(processed, attempt, ctx.max_attempts, ctx.retry_backoff);
    let settled = match settlement {
        Settlement::Ack => delivery.ack(BasicAckOptions::default()).await,
        Settlement::Retry(wait) => {
            tracing::info!(
                attempt,
                ?wait,
                "task not accepted; retrying the message later"
            );
            tokio::time::sleep(wait).await;
            let requeue = BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            };
            delivery.nack(requeue).await
        }
        Settlement::DeadLetter => {
            tracing::error!(
                attempt,
                "task still not accepted; dead-lettering the message"
            );
            delivery.nack(BasicNackOptions::default()).await
        }
    };
    // Unsettled messages (a channel that closed, an error) are delivered again by the broker;
    // the derived task id makes that harmless.
    match settled {
        Ok(true) => metrics.amqp(match settlement {
            Settlement::Ack => AmqpEvent::Acked,
            Settlement::Retry(_) => AmqpEvent::Requeued,
            Settlement::DeadLetter => AmqpEvent::DeadLettered,
        }),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not settle a message"),
    }
}

/// Hands a delivery back untouched, for a consumer that was cancelled before the delivery
/// could start: the broker delivers it again, to whichever consumer the queue has by then.
pub(super) async fn requeue(delivery: Delivery) {
    let requeue = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    if let Err(e) = delivery.nack(requeue).await {
        // Unsettled, it comes back when its channel closes.
        tracing::debug!(error = %e, "could not requeue a message of a cancelled consumer");
    }
}

/// Ack what is done; retry what may work later, `max_attempts` deliveries in all.
fn settlement(processed: Processed, attempt: u32, max_attempts: u32, base: Duration) -> Settlement {
    match processed {
        Processed::Done => Settlement::Ack,
        Processed::Transient if attempt >= max_attempts => Settlement::DeadLetter,
        Processed::Transient => Settlement::Retry(backoff::delay(base, attempt, MAX_RETRY_DELAY)),
    }
}

async fn process(ctx: &DeliveryContext, delivery: &Delivery) -> Processed {
    let record = match ctx.fire.store.get_hook(&ctx.key).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            // The hook is gone and its queue is about to be deleted with what it holds.
            tracing::warn!("message for a removed hook dropped");
            return Processed::Done;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the hook");
            return Processed::Transient;
        }
    };
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|m| m.as_str());
    let task_id = message_task_id(
        &ctx.key,
        message_id,
        [delivery.exchange.as_str(), delivery.routing_key.as_str()],
        &delivery.data,
    );
    let trigger = Trigger::pulse_message(
        serde_json::from_slice::<Value>(&delivery.data),
        delivery.exchange.as_str(),
        delivery.routing_key.as_str(),
        delivery.redelivered,
        task_id,
        ctx.clock.now(),
    );
    if delivery.redelivered {
        match fire::settled(&ctx.fire, &trigger).await {
            Ok(None) => {}
            Ok(Some(_)) => {
                // Its acknowledgement was lost after its fire was recorded: firing it again
                // would render a different task (a new `now`, `redelivered: true`) under the
                // same task id, and the sink would call that a conflict.
                tracing::info!("redelivered message was fired before; acknowledging it");
                return Processed::Done;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether the message was fired before");
                return Processed::Transient;
            }
        }
    }
    // One store outage costs one wait, not one for the task and another for the record.
    match one_outage(fire::fire(&ctx.fire, &record, trigger)).await {
        Err(e) if e.disposition().transient => Processed::Transient,
        // Fired, declined, or in the hook's history now (a refused message included, since
        // nobody else would hear of it); another delivery cannot change that.
        Ok(_) | Err(_) => Processed::Done,
    }
}

/// The task id of a message for one hook. It depends on the hook (two hooks fired by the same
/// message make two tasks) and on the message: its `message_id` when the publisher set one,
/// else its exchange, routing key and body.
fn message_task_id(
    key: &HookKey,
    message_id: Option<&str>,
    [exchange, routing_key]: [&str; 2],
    body: &[u8],
) -> TaskId {
    let mut input = Vec::new();
    let mut part = |bytes: &[u8]| {
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        input.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        input.extend_from_slice(bytes);
    };
    part(key.to_string().as_bytes());
    match message_id {
        Some(id) => part(id.as_bytes()),
        None => {
            part(exchange.as_bytes());
            part(routing_key.as_bytes());
            part(body);
        }
    }
    TaskId::derived_from(&input)
}

/// Which delivery of the message this is, from the count quorum queues keep.
fn attempt(delivery: &Delivery) -> u32 {
    let count = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").cloned());
    let previous = match count {
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(n).unwrap_or(u32::MAX),
        Some(AMQPValue::LongInt(n)) => u32::try_from(n).unwrap_or(u32::MAX),
        Some(AMQPValue::LongUInt(n)) => n,
        Some(AMQPValue::ShortInt(n)) => u32::try_from(n).unwrap_or(u32::MAX),
        _ => 0,
    };
    previous.saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HookGroupId, HookId};

    fn key(id: &str) -> HookKey {
        HookKey::new(HookGroupId::parse("g").unwrap(), HookId::parse(id).unwrap())
    }

    #[test]
    fn transient_failures_retry_with_growing_waits_until_the_last_attempt() {
        let ms = Duration::from_millis;
        let d = |processed, attempt| settlement(processed, attempt, 3, ms(10));
        assert_eq!(d(Processed::Done, 1), Settlement::Ack);
        assert_eq!(d(Processed::Done, 3), Settlement::Ack);
        assert_eq!(d(Processed::Transient, 1), Settlement::Retry(ms(10)));
        assert_eq!(d(Processed::Transient, 2), Settlement::Retry(ms(20)));
        assert_eq!(d(Processed::Transient, 3), Settlement::DeadLetter);
    }

    #[test]
    fn task_ids_follow_the_message_id_else_the_content_and_always_the_hook() {
        let route = ["exchange/x", "a.b"];
        let by_id = |hook, id| message_task_id(&key(hook), Some(id), route, b"{}");
        assert_eq!(by_id("h", "m1"), by_id("h", "m1"), "redelivery: same id");
        assert_eq!(
            by_id("h", "m1"),
            message_task_id(&key("h"), Some("m1"), ["other", "c"], b"[]"),
            "the message id alone identifies the message"
        );
        assert_ne!(by_id("h", "m1"), by_id("h", "m2"));
        assert_ne!(by_id("h", "m1"), by_id("h2", "m1"), "two hooks, two tasks");
        let by_content = |route, body| message_task_id(&key("h"), None, route, body);
        assert_eq!(by_content(route, b"{}"), by_content(route, b"{}"));
        assert_ne!(by_content(route, b"{}"), by_content(route, b"[]"));
        assert_ne!(
            by_content(route, b"{}"),
            by_content(["exchange/x", "a.c"], b"{}")
        );
        assert_ne!(by_content(["ab", "c"], b""), by_content(["a", "bc"], b""));
    }
}
