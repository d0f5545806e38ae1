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
use crate::schemas::{SchemaId, SchemaSet};
use crate::store::HookStore;

pub mod auth;
pub mod error;
pub mod extract;
mod fires;
pub mod hawk;
mod health;
mod hooks;
pub mod json_depth;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod request_info;
mod tasks;
mod triggers;
pub mod webhooks;

use error::{ApiError, ErrorCode};

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

/// Registers every route. `/__heartbeat__` and friends answer both at the root, where load
/// balancers look, and under the API prefix, where Taskcluster's reference puts them.
pub fn routes(cfg: &mut ServiceConfig) {
    let hook = "/hooks/{hookGroupId}/{hookId}";
    cfg.service(
        web::scope("/api/hooks/v1")
            .route("/ping", web::get().to(health::ping))
            .configure(health::dockerflow)
            .route("/hooks", web::get().to(hooks::list_groups))
            .route("/hooks/{hookGroupId}", web::get().to(hooks::list_hooks))
            .route(hook, web::get().to(hooks::get_hook))
            .route(hook, web::put().to(hooks::create_hook))
            .route(hook, web::post().to(hooks::update_hook))
            .route(hook, web::delete().to(hooks::remove_hook))
            .route(&format!("{hook}/status"), web::get().to(fires::hook_status))
            .route(
                &format!("{hook}/last-fires"),
                web::get().to(fires::list_last_fires),
            )
            .route(
                &format!("{hook}/trigger"),
                web::post().to(triggers::trigger_hook),
            )
            .route(
                &format!("{hook}/trigger/{{token}}"),
                web::post().to(triggers::trigger_hook_with_token),
            )
            .route(&format!("{hook}/token"), web::get().to(triggers::get_token))
            .route(
                &format!("{hook}/token"),
                web::post().to(triggers::reset_token),
            )
            .route(
                &format!("{hook}/webhook"),
                web::post().to(webhooks::receive),
            )
            .route(
                &format!("{hook}/webhook-secret"),
                web::get().to(webhooks::get_secret),
            )
            .route(
                &format!("{hook}/webhook-secret"),
                web::post().to(webhooks::rotate_secret),
            )
            .route("/tasks/{taskId}", web::get().to(tasks::get_task)),
    )
    .configure(health::dockerflow)
    .route("/metrics", web::get().to(metrics::scrape))
    .default_service(web::to(not_found));
}

/// Only the health endpoints, for a process that does not run the API role.
pub fn health_routes(cfg: &mut ServiceConfig) {
    cfg.service(
        web::scope("/api/hooks/v1")
            .route("/ping", web::get().to(health::ping))
            .configure(health::dockerflow),
    )
    .configure(health::dockerflow)
    .route("/metrics", web::get().to(metrics::scrape))
    .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::ResourceNotFound,
        "no such endpoint",
    ))
}
