//! Firing hooks over HTTP, and the trigger tokens that allow it without credentials.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::{path_param, HookPath, JsonBody};
use super::metrics::Arrival;
use super::ApiState;
use crate::api::schemas::SchemaId;
use crate::domain::{HookKey, HookRecord, TaskId};
use crate::fire::{self, Fired, Trigger};

/// `POST /hooks/{hookGroupId}/{hookId}/trigger`
pub async fn trigger_hook(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    arrival: Arrival,
    JsonBody(payload): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let fired = trigger(&state, &caller, &key, payload, arrival).await?;
    Ok(answer(&fired))
}

/// triggerHook's scope check and fire, for every way in.
///
/// # Errors
/// `InsufficientScopes`, `ResourceNotFound`, `TooManyRequests`, payload and fire errors.
pub(crate) async fn trigger(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
    payload: Value,
    arrival: Arrival,
) -> Result<Fired, ApiError> {
    caller.require(&[format!("hooks:trigger-hook:{key}")])?;
    let record = state.registry.definition(key).await?;
    let trigger = Trigger::api_call(payload, &caller.client_id, state.clock.now());
    fire_checked(state, &record, trigger, arrival).await
}

/// `POST /hooks/{hookGroupId}/{hookId}/trigger/{token}`: the token is the credential. An
/// unknown hook and a wrong token get the same answer, so the endpoint does not reveal which
/// hooks exist.
pub async fn trigger_hook_with_token(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    req: HttpRequest,
    arrival: Arrival,
    JsonBody(payload): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let token = path_param(&req, "token")?;
    let record = state
        .registry
        .check_token(&key, &token)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AuthenticationFailed,
                "no hook with this name accepts this trigger token",
            )
        })?;
    let trigger = Trigger::token_call(payload, state.clock.now());
    fire_and_answer(&state, &record, trigger, arrival).await
}

/// The answer of a trigger endpoint to a fire: `{"taskId", "status": {"taskId"}}` for a
/// created task, `{}` for a declined fire. Typed, not a `json!` map: every fire answers, and a
/// map hashes each key as it is built.
pub(super) fn answer(fired: &Fired) -> HttpResponse {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Created<'a> {
        task_id: &'a TaskId,
        status: Status<'a>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Status<'a> {
        task_id: &'a TaskId,
    }
    match fired {
        Fired::Created(task_id) => HttpResponse::Ok().json(Created {
            task_id,
            status: Status { task_id },
        }),
        Fired::Declined => HttpResponse::Ok().json(Map::new()),
    }
}

/// Fires `record` for `trigger` (after the per-hook rate limit) and shapes the answer.
///
/// # Errors
/// As [`fire_checked`].
pub(super) async fn fire_and_answer(
    state: &ApiState,
    record: &HookRecord,
    trigger: Trigger,
    arrival: Arrival,
) -> Result<HttpResponse, ApiError> {
    Ok(answer(
        &fire_checked(state, record, trigger, arrival).await?,
    ))
}

/// Fires `record` for `trigger` after the per-hook rate limit and the payload's schema. A
/// created task's latency since the request's `arrival` goes to the trigger latency metric.
///
/// # Errors
/// `TooManyRequests`, payload validation and fire errors.
pub(super) async fn fire_checked(
    state: &ApiState,
    record: &HookRecord,
    trigger: Trigger,
    arrival: Arrival,
) -> Result<Fired, ApiError> {
    state.rate_limits.check_hook(&record.hook.key())?;
    if let Some(payload) = trigger.payload() {
        state.validate_body(SchemaId::TriggerHook, payload)?;
    }
    let fired_by = trigger.fired_by().as_str();
    let fired = fire::fire(&state.fire, record, trigger).await?;
    if let Fired::Created(_) = &fired {
        state
            .fire
            .metrics
            .trigger_accepted(fired_by, arrival.0.elapsed());
    }
    Ok(fired)
}

/// `GET /hooks/{hookGroupId}/{hookId}/token`
pub async fn get_token(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[format!("hooks:get-trigger-token:{key}")])?;
    let token = state.registry.token(&key).await?;
    Ok(token_response(token))
}

/// `POST /hooks/{hookGroupId}/{hookId}/token`: a new token; the old one stops working at once.
pub async fn reset_token(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    Ok(token_response(reset(&state, &caller, &key).await?))
}

/// resetTriggerToken's scope check and write, for every way in: the new token.
///
/// # Errors
/// `InsufficientScopes`, `ResourceNotFound` and store failures.
pub(crate) async fn reset(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
) -> Result<String, ApiError> {
    caller.require(&[format!("hooks:reset-trigger-token:{key}")])?;
    Ok(state.registry.reset_token(key).await?)
}

fn token_response(token: String) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "token": Value::String(token) }))
}
