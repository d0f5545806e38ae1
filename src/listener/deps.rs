//! [`ListenerDeps`]: what the AMQP listener works with, handed over by start-up.

use std::sync::Arc;

use super::settings::AmqpSettings;
use super::status::ListenerStatus;
use crate::clock::Clock;
use crate::fire::FireDeps;

/// What the listener works with.
pub struct ListenerDeps {
    /// Its settings.
    pub settings: AmqpSettings,
    /// The fire path; its store is also where hooks are read.
    pub fire: FireDeps,
    /// The time of message fires.
    pub clock: Arc<dyn Clock>,
    /// Where it reports its state.
    pub status: Arc<ListenerStatus>,
}
