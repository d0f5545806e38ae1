//! Extension: `POST /hooks/{g}/{h}/fires/{fireId}/replay` fires a recorded fire again, from
//! what its record kept, or shows (`dryRun`) what it would submit against what was submitted.
//! Replaying takes the scope of triggering the hook, and goes through the same rate limit,
//! payload bounds and fire path as a trigger.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::{HookPath, JsonBody};
use super::fire_records::recorded_fire;
use super::metrics::Arrival;
use super::schemas::SchemaId;
use super::triggers::fire_and_answer;
use super::ApiState;
use crate::fire::replay::{dry_run, replay, Asker, ReplayRequest};

/// `POST /hooks/{hookGroupId}/{hookId}/fires/{fireId}/replay`
pub async fn replay_fire(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    req: HttpRequest,
    arrival: Arrival,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[format!("hooks:trigger-hook:{key}")])?;
    state.validate_body(SchemaId::ReplayRequest, &body)?;
    let request: ReplayRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::new(ErrorCode::InputValidationError, e.to_string()))?;
    let fire = recorded_fire(&state, &key, &req).await?;
    let record = state.registry.get(&key).await?;
    let (hook, trigger) = replay(
        &record,
        &fire,
        &request,
        Asker::Caller {
            client_id: &caller.client_id,
            now: state.clock.now(),
        },
    )?;
    if !request.dry_run {
        return fire_and_answer(&state, &hook, trigger, arrival).await;
    }
    let submitted = state.store.get_task(&fire.task_id).await?;
    let answer = dry_run(
        &state.fire.renderer,
        &state.fire.roles,
        &hook,
        trigger,
        submitted,
    )
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}
