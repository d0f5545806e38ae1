//! [`ApiState`]: what every handler reads, built once by `startup` and handed to actix as app
//! data. What each handler does with it is that handler's file's business.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::error::ApiError;
use super::schemas::{SchemaId, SchemaSet};
use super::{chat_commands, openapi, rate_limit, webhooks};
use crate::apply::ApplyService;
use crate::clock::Clock;
use crate::fire::FireDeps;
use crate::listener::ListenerStatus;
use crate::registry::HookRegistry;
use crate::store::HookStore;

/// Everything the handlers share.
pub struct ApiState {
    /// Declarative applies of hook sets (extension).
    pub apply: ApplyService,
    /// Hook writes and tokens.
    pub registry: HookRegistry,
    /// Reads of fires and tasks.
    pub store: Arc<dyn HookStore>,
    /// The fire path.
    pub fire: FireDeps,
    /// Request and response schemas.
    pub schemas: Arc<SchemaSet>,
    /// The time source for fires.
    pub clock: Arc<dyn Clock>,
    /// When the service started, for `ping`'s uptime.
    pub started: Instant,
    /// What the AMQP listener is doing, for getHookStatus and the heartbeat.
    pub listener: Arc<ListenerStatus>,
    /// Per-client and per-hook rate limits.
    pub rate_limits: rate_limit::RateLimits,
    /// Webhook delivery ids and the secret rotation grace period.
    pub webhooks: webhooks::WebhookState,
    /// The bundled OpenAPI reference.
    pub openapi: openapi::OpenApiDocument,
    /// Slack and Mattermost slash commands.
    pub slash: chat_commands::SlashCommands,
}

impl ApiState {
    /// Checks a request body against its schema.
    ///
    /// # Errors
    /// `InputValidationError` listing every violation.
    pub(super) fn validate_body(&self, id: SchemaId, body: &Value) -> Result<(), ApiError> {
        self.schemas
            .validate(id, body)
            .map_err(|violations| ApiError::invalid_body(id, &violations))
    }
}
