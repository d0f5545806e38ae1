//! Keeping the broker in line with the stored hooks: one durable queue per hook with bindings,
//! bound to exactly its bindings, with a consumer on it.
//!
//! Nothing here trusts what it did before to still be there: each pass re-declares every
//! binding and every queue (both idempotent; a queue with a running consumer is only looked up,
//! see [`Reconciler::declare_queue`]), so a queue the broker lost comes back with its bindings.
//! What was applied is remembered only to find what must go: bindings a hook no longer has,
//! queues of hooks that are gone.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use lapin::Connection;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::channels::{ConsumerChannels, Lease};
use super::delivery::{self, DeliveryContext};
use super::deps::ListenerDeps;
use super::topology::{Topology, TopologyError};
use crate::domain::{Binding, HookKey};
use crate::store::{every_hook, StoreError};

/// A running consumer of one hook's queue, on a channel it shares with other hooks.
struct HookConsumer {
    lease: Lease,
    /// The consumer tag (the queue name), to cancel it.
    tag: String,
    task: JoinHandle<()>,
    /// The deliveries being handled.
    deliveries: TaskTracker,
    /// Set before the consumer is cancelled: deliveries the broker sent before the cancel
    /// took effect go back to the queue instead of firing.
    stopping: CancellationToken,
    /// Set by the consumer's task when its stream ended, before it says so on the listener's
    /// `ended` queue: the task itself may not have finished yet when the listener acts on that
    /// message, and a consumer taken for running then would not be started again.
    stream_ended: CancellationToken,
}

impl HookConsumer {
    fn is_running(&self) -> bool {
        !self.stream_ended.is_cancelled()
            && !self.task.is_finished()
            && self.lease.channel.status().connected()
    }

    /// Cancels the consumer; the other hooks on its channel keep consuming. Messages the
    /// broker already sent and no fire has taken yet are requeued; fires in flight finish
    /// and acknowledge on the channel, which stays open.
    async fn cancel(&self) {
        self.stopping.cancel();
        let cancelled = (self.lease.channel)
            .basic_cancel(&self.tag, BasicCancelOptions::default())
            .await;
        if cancelled.is_err() {
            // The channel is gone, and with it everything unacknowledged on it.
            self.task.abort();
        }
    }

    async fn stop(self, channels: &mut ConsumerChannels) {
        self.cancel().await;
        channels.release(&self.lease);
    }

    /// Stops for good without cutting fires short: cancels the consumer so no delivery
    /// arrives, then lets those in flight finish (and be acknowledged). The caller bounds how
    /// long this may take and closes the channels afterwards.
    async fn drain(self) {
        self.cancel().await;
        let _ = self.task.await;
        self.deliveries.close();
        self.deliveries.wait().await;
    }
}

/// Queues, bindings and consumers over one connection.
pub(super) struct Reconciler<'a> {
    pub(super) deps: &'a ListenerDeps,
    pub(super) connection: Arc<Connection>,
    pub(super) topology: Topology,
    /// The bindings last applied per hook; it outlives connections.
    pub(super) applied: &'a mut HashMap<HookKey, Vec<Binding>>,
    consumers: HashMap<HookKey, HookConsumer>,
    /// The channels the consumers share.
    channels: ConsumerChannels,
    /// Consumers report here when they stop (e.g. their queue was deleted).
    ended: mpsc::UnboundedSender<HookKey>,
}

impl<'a> Reconciler<'a> {
    pub(super) fn new(
        deps: &'a ListenerDeps,
        connection: Arc<Connection>,
        topology: Topology,
        applied: &'a mut HashMap<HookKey, Vec<Binding>>,
        ended: mpsc::UnboundedSender<HookKey>,
    ) -> Self {
        let channels = ConsumerChannels::new(Arc::clone(&connection), deps.settings.prefetch);
        Self {
            deps,
            connection,
            topology,
            applied,
            consumers: HashMap::new(),
            channels,
            ended,
        }
    }

    /// Brings every hook in line with the store. A store failure skips this pass.
    ///
    /// # Errors
    /// [`TopologyError::ConnectionLost`] only; refusals are recorded per hook.
    pub(super) async fn all(&mut self) -> Result<(), TopologyError> {
        let wanted = match self.wanted().await {
            Ok(wanted) => wanted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list hooks; reconciliation skipped");
                return Ok(());
            }
        };
        let gone: Vec<HookKey> = (self.applied.keys())
            .filter(|key| !wanted.contains_key(*key))
            .cloned()
            .collect();
        for key in gone {
            self.remove(&key).await?;
        }
        for (key, bindings) in wanted {
            self.apply(&key, bindings).await?;
        }
        Ok(())
    }

    /// Brings one hook in line with the store.
    ///
    /// # Errors
    /// [`TopologyError::ConnectionLost`] only.
    pub(super) async fn one(&mut self, key: &HookKey) -> Result<(), TopologyError> {
        match self.deps.fire.store.get_hook(key).await {
            Ok(Some(record)) if !record.hook.bindings.is_empty() => {
                self.apply(key, record.hook.bindings).await
            }
            Ok(_) => self.remove(key).await,
            Err(e) => {
                tracing::warn!(hook = %key, error = %e, "cannot read hook; left for the next pass");
                Ok(())
            }
        }
    }

    /// Stops every consumer; unacked messages return to their queues.
    pub(super) async fn stop_consumers(&mut self) {
        for (_, consumer) in self.consumers.drain() {
            consumer.task.abort();
        }
        self.channels.close_all("listener session ended").await;
    }

    /// Stops every consumer once its deliveries in flight are handled: the listener's stop
    /// on request, while the connection is still up.
    pub(super) async fn drain_consumers(&mut self) {
        let draining = self.consumers.drain().map(|(_, consumer)| consumer.drain());
        futures_util::future::join_all(draining).await;
        self.channels.close_all("hookd stopping").await;
    }

    /// Every stored hook that has bindings.
    async fn wanted(&self) -> Result<HashMap<HookKey, Vec<Binding>>, StoreError> {
        let mut wanted = HashMap::new();
        every_hook(&*self.deps.fire.store, |record| {
            if !record.hook.bindings.is_empty() {
                wanted.insert(record.hook.key(), record.hook.bindings);
            }
        })
        .await?;
        Ok(wanted)
    }

    /// Declares the hook's queue and bindings, drops bindings it no longer has, and makes sure
    /// a consumer runs.
    async fn apply(&mut self, key: &HookKey, bindings: Vec<Binding>) -> Result<(), TopologyError> {
        let queue = match self.declare_queue(key).await {
            Ok(queue) => queue,
            Err(TopologyError::Refused(e)) => {
                let name = self.topology.names().hook_queue(key);
                let error = format!("queue {name} could not be declared: {e}");
                self.deps.status.set_binding_errors(key, vec![error]);
                return Ok(());
            }
            Err(lost) => return Err(lost),
        };
        let mut errors = Vec::new();
        for binding in &bindings {
            match self.topology.bind(&queue, binding).await {
                Ok(()) => {}
                Err(TopologyError::Refused(e)) => errors.push(format!(
                    "binding to exchange {:?} with pattern {:?} failed: {e}",
                    binding.exchange, binding.routing_key_pattern
                )),
                Err(lost) => return Err(lost),
            }
        }
        let stale: Vec<Binding> = (self.applied.get(key).into_iter().flatten())
            .filter(|old| !bindings.contains(old))
            .cloned()
            .collect();
        for binding in stale {
            match self.topology.unbind(&queue, &binding).await {
                Ok(()) | Err(TopologyError::Refused(_)) => {}
                Err(lost) => return Err(lost),
            }
        }
        self.applied.insert(key.clone(), bindings);
        self.deps.status.set_binding_errors(key, errors);
        self.ensure_consumer(key, &queue).await
    }

    /// Declares the hook's queue, creating it only when this process has no consumer on it.
    ///
    /// While the hook's consumer runs, the queue is only looked up. Re-creating it then is what
    /// lost messages: when someone deletes a quorum queue on the broker, the consumer's channel
    /// learns of it (and cancels the consumer) a moment after the queue is gone. With a queue of
    /// the same name declared in that moment, RabbitMQ 3.10 kept the old consumer attached to
    /// the new queue (listed, counted, delivered to) but nothing reached hookd, and the consumer
    /// was never cancelled: the hook silently stopped firing. (What inside the broker does this
    /// was inferred from its behaviour, not read in its source.) So a queue that is gone while its
    /// consumer runs is re-created only after that consumer is cancelled: usually by the
    /// broker's cancel (`ended`, then `one`), else here, where the cancel is awaited first.
    async fn declare_queue(&mut self, key: &HookKey) -> Result<String, TopologyError> {
        if self
            .consumers
            .get(key)
            .is_some_and(HookConsumer::is_running)
        {
            match self.topology.existing_hook_queue(key).await {
                Ok(queue) => return Ok(queue),
                Err(TopologyError::Refused(_)) => {
                    tracing::debug!(hook = %key, "queue gone under a running consumer");
                    if let Some(consumer) = self.consumers.remove(key) {
                        consumer.stop(&mut self.channels).await;
                    }
                }
                Err(lost) => return Err(lost),
            }
        }
        self.topology.hook_queue(key).await
    }

    /// Stops the hook's consumer and deletes its queue.
    async fn remove(&mut self, key: &HookKey) -> Result<(), TopologyError> {
        if let Some(consumer) = self.consumers.remove(key) {
            consumer.stop(&mut self.channels).await;
        }
        match self.topology.delete_hook_queue(key).await {
            Ok(()) => {}
            Err(TopologyError::Refused(e)) => {
                tracing::warn!(hook = %key, error = %e, "queue not deleted");
            }
            Err(lost) => return Err(lost),
        }
        self.applied.remove(key);
        self.deps.status.set_binding_errors(key, Vec::new());
        Ok(())
    }

    async fn ensure_consumer(&mut self, key: &HookKey, queue: &str) -> Result<(), TopologyError> {
        if self
            .consumers
            .get(key)
            .is_some_and(HookConsumer::is_running)
        {
            return Ok(());
        }
        if let Some(old) = self.consumers.remove(key) {
            old.stop(&mut self.channels).await;
        }
        let lost = TopologyError::ConnectionLost;
        let lease = self.channels.lease().await.map_err(lost)?;
        let consumer = lease
            .channel
            .basic_consume(
                queue,
                queue,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await;
        let mut consumer = match consumer {
            Ok(consumer) => consumer,
            Err(e) if self.connection.status().connected() => {
                self.channels.release(&lease);
                tracing::warn!(hook = %key, error = %e, "cannot consume; left for the next pass");
                return Ok(());
            }
            Err(e) => return Err(lost(e)),
        };
        let settings = &self.deps.settings;
        let ctx = DeliveryContext {
            fire: self.deps.fire.clone(),
            clock: self.deps.clock.clone(),
            key: key.clone(),
            max_attempts: settings.max_attempts,
            retry_backoff: settings.retry_backoff,
        };
        tracing::debug!(hook = %key, channel = lease.channel.id(), "consumer started");
        let ended = self.ended.clone();
        let deliveries = TaskTracker::new();
        let tracker = deliveries.clone();
        let stopping = CancellationToken::new();
        let cancelled = stopping.clone();
        let stream_ended = CancellationToken::new();
        let ending = stream_ended.clone();
        let task = tokio::spawn(async move {
            // Each delivery runs on its own task; the prefetch bounds how many are in flight.
            // After a cancel, the stream still yields what the broker sent before it, then ends.
            while let Some(Ok(message)) = consumer.next().await {
                if cancelled.is_cancelled() {
                    delivery::requeue(message).await;
                    continue;
                }
                let ctx = ctx.clone();
                tracker.spawn(async move { delivery::handle(&ctx, message).await });
            }
            ending.cancel();
            tracing::debug!(hook = %ctx.key, by_us = cancelled.is_cancelled(), "consumer ended");
            if !cancelled.is_cancelled() {
                let _ = ended.send(ctx.key);
            }
        });
        let consumer = HookConsumer {
            lease,
            tag: queue.to_owned(),
            task,
            deliveries,
            stopping,
            stream_ended,
        };
        self.consumers.insert(key.clone(), consumer);
        Ok(())
    }
}
