//! The channels hook consumers run on: a few shared channels instead of one per hook.
//!
//! lapin looks at every channel of a connection for each frame it sends, so with one channel
//! per hook the listener's cost per ack grew with the number of hooks. Here up to
//! [`CONSUMERS_PER_CHANNEL`] hooks' consumers share a channel, and channels are opened as more
//! hooks need one. Prefetch stays per hook: `basic.qos` without `global` limits each consumer
//! started on the channel afterwards, not the channel as a whole. Acks and nacks name one
//! delivery each (never `multiple`), so one hook's settlements cannot touch another's.
//!
//! A channel error (a refused `basic.consume`, say) closes the channel with every consumer on
//! it; those consumers end, report it, and are started again on another channel, and their
//! unacknowledged messages come back from the broker marked redelivered, which the delivery
//! path already handles without firing twice.

use std::sync::Arc;

use lapin::options::BasicQosOptions;
use lapin::{Channel, Connection};

/// How many hooks' consumers share one channel: enough that a thousand hooks need only a few
/// channels, few enough that one channel's broker process is not the bottleneck.
const CONSUMERS_PER_CHANNEL: usize = 64;

/// A consumer's place on a shared channel; give it back with [`ConsumerChannels::release`].
pub(super) struct Lease {
    slot: u64,
    pub(super) channel: Channel,
}

struct Shared {
    /// Unique for the pool's lifetime, unlike channel ids, which lapin reuses.
    slot: u64,
    channel: Channel,
    consumers: usize,
}

/// The shared consumer channels of one connection.
pub(super) struct ConsumerChannels {
    connection: Arc<Connection>,
    prefetch: u16,
    open: Vec<Shared>,
    next_slot: u64,
}

impl ConsumerChannels {
    pub(super) fn new(connection: Arc<Connection>, prefetch: u16) -> Self {
        Self {
            connection,
            prefetch,
            open: Vec::new(),
            next_slot: 0,
        }
    }

    /// A place for one more consumer: on an open channel with room, else on a new channel.
    ///
    /// # Errors
    /// The connection's, when a new channel cannot be opened or set up.
    pub(super) async fn lease(&mut self) -> Result<Lease, lapin::Error> {
        self.open
            .retain(|shared| shared.channel.status().connected());
        if let Some(shared) = (self.open.iter_mut()).find(|s| s.consumers < CONSUMERS_PER_CHANNEL) {
            shared.consumers += 1;
            return Ok(Lease {
                slot: shared.slot,
                channel: shared.channel.clone(),
            });
        }
        let channel = self.connection.create_channel().await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions { global: false })
            .await?;
        let slot = self.next_slot;
        self.next_slot += 1;
        self.open.push(Shared {
            slot,
            channel: channel.clone(),
            consumers: 1,
        });
        Ok(Lease { slot, channel })
    }

    /// Gives a consumer's place back. The channel stays open even when no consumer is left on
    /// it: the stopped consumer's fires still in flight acknowledge their messages on it.
    pub(super) fn release(&mut self, lease: &Lease) {
        if let Some(shared) = self.open.iter_mut().find(|s| s.slot == lease.slot) {
            shared.consumers = shared.consumers.saturating_sub(1);
        }
    }

    /// Closes every channel; the broker hands their unacknowledged messages back to the queues.
    pub(super) async fn close_all(&mut self, reason: &str) {
        for shared in self.open.drain(..) {
            let _ = shared.channel.close(200, reason).await;
        }
    }
}
