//! Extension: signed webhook deliveries fire a hook, and the secrets that sign them.
//!
//! `POST …/webhook` accepts GitHub, GitLab and Standard Webhooks signatures (see
//! [`crate::webhook`]). Like the trigger-token endpoint it does not tell an unknown hook from
//! a bad signature; a store outage while looking either up answers 503. A refused delivery is logged and counted in
//! `hookd_webhook_signature_failures_total`, never recorded as a fire; a known hook keeps it
//! among its refusals (extension). The template sees
//! `firedBy: "webhook"`, the body as `payload`, and the allow-listed `headers`.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::{HookPath, JsonBody};
use super::metrics::Arrival;
use super::request_info::RawBody;
use super::triggers::fire_and_answer;
use super::ApiState;
use crate::domain::{FiredBy, HookKey, Refusal, RefusalReason, REFUSALS_KEPT_PER_HOOK};
use crate::fire::Trigger;
use crate::registry::RegistryError;
use crate::webhook::{self, Delivery, DeliveryIds, Scheme, WebhookError};

/// Headers offered to templates, lower-case: event types and delivery ids.
const CONTEXT_HEADERS: &[&str] = &[
    "x-github-event",
    "x-github-delivery",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "webhook-id",
];

/// State of the webhook endpoints.
pub struct WebhookState {
    /// Standard Webhooks ids already acted on.
    pub deliveries: DeliveryIds,
    /// How long a rotated-out secret stays valid.
    pub grace: Duration,
}

impl WebhookState {
    /// Empty state with `grace` for rotated secrets.
    pub fn new(grace: Duration) -> Self {
        Self {
            deliveries: DeliveryIds::default(),
            grace,
        }
    }
}

/// `POST /hooks/{hookGroupId}/{hookId}/webhook`
pub async fn receive(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    req: HttpRequest,
    arrival: Arrival,
    JsonBody(payload): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let refused = |why: &dyn std::fmt::Display| {
        state.fire.metrics.webhook_signature_failed();
        tracing::warn!(hook = %key, reason = %why, "webhook delivery refused");
        ApiError::new(ErrorCode::AuthenticationFailed, why.to_string())
    };
    let record = match state.registry.get(&key).await {
        Ok(record) => record,
        Err(RegistryError::NotFound(_)) => {
            return Err(refused(&"no hook with this name accepts this signature"))
        }
        // A store that cannot answer says nothing about the signature: 503, so the sender
        // retries, rather than a refusal it would take for a wrong secret.
        Err(e) => return Err(e.into()),
    };
    let secrets = state
        .registry
        .webhook_secrets(&record, now, state.webhooks.grace)?;
    let body = req
        .extensions()
        .get::<RawBody>()
        .map(|raw| raw.0.clone())
        .unwrap_or_default();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let delivery = Delivery {
        body: &body,
        header: &header,
    };
    let scheme = match webhook::verify(&delivery, &secrets, now) {
        Ok(scheme) => scheme,
        Err(e) => {
            keep_refusal(&state, &key, now, &e).await;
            return Err(refused(&e));
        }
    };
    if scheme == Scheme::StandardWebhooks {
        let id = header("webhook-id").unwrap_or_default();
        if !state
            .webhooks
            .deliveries
            .first_delivery(&key.to_string(), id, now)
        {
            // A redelivery of what was already acted on: acknowledge, do not fire again.
            return Ok(HttpResponse::Ok().json(json!({})));
        }
    }
    let headers: Map<String, Value> = CONTEXT_HEADERS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), Value::from(header(name)?))))
        .collect();
    let trigger = Trigger::webhook(payload, headers, now);
    fire_and_answer(&state, &record, trigger, arrival).await
}

/// Keeps a delivery whose signature did not verify among the hook's refusals (extension), so
/// its owner can see why it did not fire; without its body, which nobody vouches for. A
/// refusal that cannot be written is logged: the sender's answer is the same either way.
async fn keep_refusal(state: &ApiState, key: &HookKey, now: DateTime<Utc>, why: &WebhookError) {
    let refusal = Refusal::new(
        key,
        FiredBy::Webhook,
        now,
        RefusalReason::BadSignature,
        why.to_string(),
    );
    if let Err(e) = state
        .store
        .record_refusal(&refusal, REFUSALS_KEPT_PER_HOOK)
        .await
    {
        tracing::warn!(error = %e, "a refusal could not be recorded");
    }
}

/// `GET /hooks/{hookGroupId}/{hookId}/webhook-secret`: the current secret, made on first use.
pub async fn get_secret(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[format!("hooks:get-webhook-secret:{key}")])?;
    let secret = state.registry.webhook_secret(&key).await?;
    Ok(HttpResponse::Ok().json(json!({ "secret": secret })))
}

/// `POST /hooks/{hookGroupId}/{hookId}/webhook-secret`: a new secret; the old one keeps working
/// for the grace period.
pub async fn rotate_secret(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let secret = rotate(&state, &caller, &key).await?;
    Ok(HttpResponse::Ok().json(json!({ "secret": secret })))
}

/// The webhook secret rotation's scope check and write, for every way in: the new secret.
///
/// # Errors
/// `InsufficientScopes`, `ResourceNotFound` and store failures.
pub(crate) async fn rotate(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
) -> Result<String, ApiError> {
    caller.require(&[format!("hooks:reset-webhook-secret:{key}")])?;
    Ok(state
        .registry
        .rotate_webhook_secret(key, state.clock.now())
        .await?)
}
