//! Hook-change events: `{hookGroupId, hookId}` on `<prefix>hook-created`, `-updated` and
//! `-deleted`, so every replica reconciles a changed hook at once instead of at its next
//! periodic pass. Each process tags its own events and ignores them when they come back.

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, Consumer, ExchangeKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::topology::{Topology, TopologyError};
use crate::domain::{HookGroupId, HookId, HookKey};
use crate::registry::ChangeKind;

/// The body of a hook-change event.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookChangeMessage {
    hook_group_id: HookGroupId,
    hook_id: HookId,
}

/// Publishes this process's hook changes and receives other processes'.
pub(super) struct Events {
    exchange_prefix: String,
    /// Tags this process's events (`app_id`).
    origin: String,
    channel: Channel,
    incoming: Consumer,
}

impl Events {
    /// Declares the three exchanges and a private queue bound to them.
    pub(super) async fn open(
        connection: &Connection,
        topology: &mut Topology,
        exchange_prefix: &str,
    ) -> Result<Self, TopologyError> {
        let exchanges: Vec<String> = [
            ChangeKind::Created,
            ChangeKind::Updated,
            ChangeKind::Removed,
        ]
        .into_iter()
        .map(|kind| exchange(exchange_prefix, kind))
        .collect();
        for name in &exchanges {
            topology.exchange(name, ExchangeKind::Topic).await?;
        }
        let lost = TopologyError::ConnectionLost;
        let channel = connection.create_channel().await.map_err(lost)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(lost)?;
        // Server-named, exclusive: it lives exactly as long as this connection.
        let queue = channel
            .queue_declare(
                "",
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(lost)?;
        for name in &exchanges {
            channel
                .queue_bind(
                    queue.name().as_str(),
                    name,
                    "#",
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(lost)?;
        }
        let incoming = channel
            .basic_consume(
                queue.name().as_str(),
                "hookd-hook-changes",
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(lost)?;
        Ok(Self {
            exchange_prefix: exchange_prefix.to_owned(),
            origin: Uuid::new_v4().to_string(),
            channel,
            incoming,
        })
    }

    /// Announces a change of `key`, waiting for the broker's confirmation. A lost event only
    /// delays other replicas until their periodic pass, so failures are logged, not returned.
    pub(super) async fn publish(&self, key: &HookKey, kind: ChangeKind) {
        let body = HookChangeMessage {
            hook_group_id: key.group.clone(),
            hook_id: key.id.clone(),
        };
        // Two validated ids always serialize.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let routing_key = format!("{}.{}", key.group, key.id);
        let properties = BasicProperties::default()
            .with_app_id(self.origin.as_str().into())
            .with_content_type("application/json".into());
        let published = self
            .channel
            .basic_publish(
                &exchange(&self.exchange_prefix, kind),
                &routing_key,
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await;
        let confirmed = match published {
            Ok(confirm) => confirm.await.map(|c| c.is_ack()),
            Err(e) => Err(e),
        };
        if !matches!(confirmed, Ok(true)) {
            tracing::warn!(hook = %key, ?kind, "hook-change event not confirmed by the broker");
        }
    }

    /// The next hook changed by another process; `None` when the connection is gone.
    pub(super) async fn next_foreign(&mut self) -> Option<HookKey> {
        loop {
            let delivery = self.incoming.next().await?.ok()?;
            let own = delivery.properties.app_id().as_ref().map(|a| a.as_str())
                == Some(self.origin.as_str());
            if own {
                continue;
            }
            match serde_json::from_slice::<HookChangeMessage>(&delivery.data) {
                Ok(m) => return Some(HookKey::new(m.hook_group_id, m.hook_id)),
                Err(e) => tracing::warn!(error = %e, "ignoring a malformed hook-change event"),
            }
        }
    }
}

/// The exchange of one kind of change.
fn exchange(prefix: &str, kind: ChangeKind) -> String {
    let name = match kind {
        ChangeKind::Created => "hook-created",
        ChangeKind::Updated => "hook-updated",
        ChangeKind::Removed => "hook-deleted",
    };
    format!("{prefix}{name}")
}
