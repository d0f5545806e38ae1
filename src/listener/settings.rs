//! What the listener is told at start-up: the broker, its names and its limits.
//!
//! Built from the command line by the configuration module, which also holds every default;
//! the listener only reads these values.

use std::time::Duration;

/// Validated settings of the AMQP listener.
#[derive(Debug, Clone)]
pub struct AmqpSettings {
    /// Broker URL.
    pub url: String,
    /// Prefix of hookd's queue names.
    pub queue_prefix: String,
    /// Prefix of the hook-change exchange names.
    pub exchange_prefix: String,
    /// Prefetch per hook consumer.
    pub prefetch: u16,
    /// Longest queue length, if limited.
    pub max_length: Option<u32>,
    /// Deliveries before a message is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles per attempt.
    pub retry_backoff: Duration,
    /// Time between full reconciliations.
    pub reconcile_interval: Duration,
    /// Cap of the reconnection backoff.
    pub reconnect_max: Duration,
}
