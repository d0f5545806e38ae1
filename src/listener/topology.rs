//! Queue and exchange declarations on the broker: names, arguments, bind and unbind.
//!
//! Every declaration here is idempotent, so reconciliation simply repeats them instead of
//! trusting a cache of what it declared before: a queue the broker lost comes back with its
//! bindings on the next pass. A refused declaration closes the AMQP channel it was made on; the
//! next operation opens a fresh channel, so one bad binding cannot stop the others.

use lapin::options::{
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use std::sync::Arc;

use lapin::{Channel, Connection, ExchangeKind};

use super::settings::AmqpSettings;
use crate::domain::{Binding, HookKey};

/// Why a declaration failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum TopologyError {
    /// The connection is gone; the session must reconnect.
    #[error("the connection to the broker was lost")]
    ConnectionLost(#[source] lapin::Error),
    /// The broker refused this one operation (e.g. the exchange does not exist).
    #[error("{0}")]
    Refused(#[source] lapin::Error),
}

/// Names and arguments of hookd's queues.
#[derive(Debug, Clone)]
pub(super) struct Names {
    queue_prefix: String,
    max_length: Option<u32>,
    max_attempts: u32,
}

impl Names {
    pub(super) fn new(settings: &AmqpSettings) -> Self {
        Self {
            queue_prefix: settings.queue_prefix.clone(),
            max_length: settings.max_length,
            max_attempts: settings.max_attempts,
        }
    }

    /// `<prefix>/<hookGroupId>/<hookId>`.
    pub(super) fn hook_queue(&self, key: &HookKey) -> String {
        format!("{}/{}/{}", self.queue_prefix, key.group, key.id)
    }

    /// `<prefix>/dead-letter`, the name of both the dead-letter exchange and its queue.
    pub(super) fn dead_letter(&self) -> String {
        format!("{}/dead-letter", self.queue_prefix)
    }

    /// Arguments of a hook queue. Quorum queues count deliveries (`x-delivery-count`), which
    /// the listener reads to decide when to give up; the broker's own delivery limit is a
    /// safety net for messages that never get an answer at all (e.g. they crash the process).
    /// On overflow the oldest message is dead-lettered, never silently dropped.
    fn hook_queue_arguments(&self) -> FieldTable {
        let mut args = FieldTable::default();
        let text = |s: &str| AMQPValue::LongString(LongString::from(s.to_owned()));
        args.insert("x-queue-type".into(), text("quorum"));
        args.insert("x-dead-letter-exchange".into(), text(&self.dead_letter()));
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(i64::from(self.max_attempts)),
        );
        if let Some(max) = self.max_length {
            args.insert(
                "x-max-length".into(),
                AMQPValue::LongLongInt(i64::from(max)),
            );
            args.insert("x-overflow".into(), text("drop-head"));
        }
        args
    }
}

/// Declarations over one connection.
pub(super) struct Topology {
    connection: Arc<Connection>,
    channel: Option<Channel>,
    names: Names,
}

impl Topology {
    pub(super) fn new(connection: Arc<Connection>, names: Names) -> Self {
        Self {
            connection,
            channel: None,
            names,
        }
    }

    pub(super) fn names(&self) -> &Names {
        &self.names
    }

    /// An open channel for declarations; a fresh one when the last was closed by a refusal.
    async fn channel(&mut self) -> Result<Channel, TopologyError> {
        if let Some(channel) = self.channel.as_ref().filter(|c| c.status().connected()) {
            return Ok(channel.clone());
        }
        let channel = self
            .connection
            .create_channel()
            .await
            .map_err(TopologyError::ConnectionLost)?;
        self.channel = Some(channel.clone());
        Ok(channel)
    }

    /// Sorts a failure into "the connection is gone" and "this operation was refused".
    fn classify(&self, e: lapin::Error) -> TopologyError {
        if self.connection.status().connected() {
            TopologyError::Refused(e)
        } else {
            TopologyError::ConnectionLost(e)
        }
    }

    /// Declares a durable exchange of `kind`.
    pub(super) async fn exchange(
        &mut self,
        name: &str,
        kind: ExchangeKind,
    ) -> Result<(), TopologyError> {
        let options = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let channel = self.channel().await?;
        let declared = channel
            .exchange_declare(name, kind, options, FieldTable::default())
            .await;
        declared.map_err(|e| self.classify(e))
    }

    /// Declares the dead-letter exchange and its queue, and binds them.
    pub(super) async fn dead_letter(&mut self) -> Result<(), TopologyError> {
        let name = self.names.dead_letter();
        self.exchange(&name, ExchangeKind::Fanout).await?;
        self.queue(&name, FieldTable::default()).await?;
        self.bind(
            &name,
            &Binding {
                exchange: name.clone(),
                routing_key_pattern: String::new(),
            },
        )
        .await
    }

    /// Declares the queue of hook `key`.
    pub(super) async fn hook_queue(&mut self, key: &HookKey) -> Result<String, TopologyError> {
        let name = self.names.hook_queue(key);
        let args = self.names.hook_queue_arguments();
        self.queue(&name, args).await?;
        Ok(name)
    }

    /// The name of hook `key`'s queue if the queue exists; never creates it. A missing queue
    /// is a refusal (it closes the declaration channel, like any refusal).
    pub(super) async fn existing_hook_queue(
        &mut self,
        key: &HookKey,
    ) -> Result<String, TopologyError> {
        let name = self.names.hook_queue(key);
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        self.declare_queue(&name, options, FieldTable::default())
            .await?;
        Ok(name)
    }

    async fn queue(&mut self, name: &str, args: FieldTable) -> Result<(), TopologyError> {
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        self.declare_queue(name, options, args).await
    }

    /// Sends one queue declaration on the declaration channel.
    async fn declare_queue(
        &mut self,
        name: &str,
        options: QueueDeclareOptions,
        args: FieldTable,
    ) -> Result<(), TopologyError> {
        let channel = self.channel().await?;
        let declared = channel.queue_declare(name, options, args).await;
        declared.map(drop).map_err(|e| self.classify(e))
    }

    /// Binds `queue` to one exchange and pattern.
    pub(super) async fn bind(&mut self, queue: &str, b: &Binding) -> Result<(), TopologyError> {
        let channel = self.channel().await?;
        let bound = channel
            .queue_bind(
                queue,
                b.exchange.as_str(),
                b.routing_key_pattern.as_str(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await;
        bound.map_err(|e| self.classify(e))
    }

    /// Removes one binding of `queue`.
    pub(super) async fn unbind(&mut self, queue: &str, b: &Binding) -> Result<(), TopologyError> {
        let channel = self.channel().await?;
        let unbound = channel
            .queue_unbind(
                queue,
                b.exchange.as_str(),
                b.routing_key_pattern.as_str(),
                FieldTable::default(),
            )
            .await;
        unbound.map_err(|e| self.classify(e))
    }

    /// Deletes the queue of hook `key`, with whatever it still holds.
    pub(super) async fn delete_hook_queue(&mut self, key: &HookKey) -> Result<(), TopologyError> {
        let name = self.names.hook_queue(key);
        let channel = self.channel().await?;
        let deleted = channel
            .queue_delete(name.as_str(), QueueDeleteOptions::default())
            .await;
        deleted.map(drop).map_err(|e| self.classify(e))
    }
}
