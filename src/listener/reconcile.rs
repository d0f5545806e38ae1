//! Keeping the broker in line with the stored hooks: one durable queue per hook with bindings,
//! bound to exactly its bindings, with a consumer on it.
//!
//! Nothing here trusts what it did before to still be there: each pass re-declares every queue
//! and binding (both idempotent), so a queue the broker lost comes back with its bindings. What
//! was applied is remembered only to find what must go: bindings a hook no longer has, queues of
//! hooks that are gone.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use super::delivery::{self, DeliveryContext};
use super::deps::ListenerDeps;
use super::topology::{Topology, TopologyError};
use crate::domain::{Binding, HookKey};
use crate::store::{every_hook, StoreError};

/// A running consumer of one hook's queue.
struct HookConsumer {
    channel: Channel,
    /// The consumer tag (the queue name), to cancel it.
    tag: String,
    task: JoinHandle<()>,
    /// The deliveries being handled.
    deliveries: TaskTracker,
}

impl HookConsumer {
    fn is_running(&self) -> bool {
        !self.task.is_finished() && self.channel.status().connected()
    }

    async fn stop(self) {
        // Unacked messages go back to the queue when the channel closes.
        let _ = self.channel.close(200, "hook changed").await;
        self.task.abort();
    }

    /// Stops for good without cutting fires short: cancels the consumer so no delivery
    /// arrives, lets those in flight finish (and be acknowledged), then closes the channel.
    /// The caller bounds how long this may take.
    async fn drain(self) {
        let _ = (self.channel)
            .basic_cancel(&self.tag, BasicCancelOptions::default())
            .await;
        self.task.abort();
        self.deliveries.close();
        self.deliveries.wait().await;
        let _ = self.channel.close(200, "hookd stopping").await;
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
        Self {
            deps,
            connection,
            topology,
            applied,
            consumers: HashMap::new(),
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
            consumer.stop().await;
        }
    }

    /// Stops every consumer once its deliveries in flight are handled: the listener's stop
    /// on request, while the connection is still up.
    pub(super) async fn drain_consumers(&mut self) {
        let draining = self.consumers.drain().map(|(_, consumer)| consumer.drain());
        futures_util::future::join_all(draining).await;
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
        let queue = match self.topology.hook_queue(key).await {
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

    /// Stops the hook's consumer and deletes its queue.
    async fn remove(&mut self, key: &HookKey) -> Result<(), TopologyError> {
        if let Some(consumer) = self.consumers.remove(key) {
            consumer.stop().await;
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
            old.stop().await;
        }
        let lost = TopologyError::ConnectionLost;
        let channel = self.connection.create_channel().await.map_err(lost)?;
        let settings = &self.deps.settings;
        channel
            .basic_qos(settings.prefetch, BasicQosOptions::default())
            .await
            .map_err(lost)?;
        let consumer = channel
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
                tracing::warn!(hook = %key, error = %e, "cannot consume; left for the next pass");
                return Ok(());
            }
            Err(e) => return Err(lost(e)),
        };
        let ctx = DeliveryContext {
            fire: self.deps.fire.clone(),
            clock: self.deps.clock.clone(),
            key: key.clone(),
            max_attempts: settings.max_attempts,
            retry_backoff: settings.retry_backoff,
        };
        let ended = self.ended.clone();
        let deliveries = TaskTracker::new();
        let tracker = deliveries.clone();
        let task = tokio::spawn(async move {
            // Each delivery runs on its own task; the prefetch bounds how many are in flight.
            while let Some(Ok(message)) = consumer.next().await {
                let ctx = ctx.clone();
                tracker.spawn(async move { delivery::handle(&ctx, message).await });
            }
            let _ = ended.send(ctx.key);
        });
        let consumer = HookConsumer {
            channel,
            tag: queue.to_owned(),
            task,
            deliveries,
        };
        self.consumers.insert(key.clone(), consumer);
        Ok(())
    }
}
