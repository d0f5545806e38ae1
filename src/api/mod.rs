//! The HTTP API: routes, extractors, authentication and the error mapping.
//!
//! Handlers are thin: they parse and check the request, call the registry, the store or the
//! fire path, and shape the answer. Paths follow Taskcluster's hooks v1 API under
//! `/api/hooks/v1`.

use std::sync::Arc;
use std::time::Instant;

use actix_web::web::{self, ServiceConfig};
use serde_json::Value;

use crate::clock::Clock;
use crate::fire::FireDeps;
use crate::listener::ListenerStatus;
use crate::registry::HookRegistry;
use crate::store::HookStore;

pub mod auth;
pub mod endpoints;
pub mod error;
pub mod extract;
mod fires;
mod health;
mod hooks;
pub mod json_depth;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod request_info;
pub mod schemas;
mod tasks;
mod triggers;
pub mod unread_body;
pub mod webhooks;

use error::{ApiError, ErrorCode};
use schemas::{SchemaId, SchemaSet};

/// Everything the handlers share.
pub struct ApiState {
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
}

impl ApiState {
    /// Checks a request body against its schema.
    ///
    /// # Errors
    /// `InputValidationError` listing every violation.
    fn validate_body(&self, id: SchemaId, body: &Value) -> Result<(), ApiError> {
        self.schemas.validate(id, body).map_err(|violations| {
            ApiError::new(
                ErrorCode::InputValidationError,
                format!(
                    "the request body does not match {}: {violations}",
                    id.file_name()
                ),
            )
        })
    }
}

/// Registers every route of [`endpoints::ENDPOINTS`].
pub fn routes(cfg: &mut ServiceConfig) {
    endpoints::register(cfg, true);
    cfg.default_service(web::to(not_found));
}

/// Only the health endpoints, for a process that does not run the API role.
pub fn health_routes(cfg: &mut ServiceConfig) {
    endpoints::register(cfg, false);
    cfg.default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::ResourceNotFound,
        "no such endpoint",
    ))
}
