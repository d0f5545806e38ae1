//! Extension: `POST /hooks/{g}/{h}/fires/{fireId}/replay` fires a recorded fire again, from
//! what its record kept, or shows (`dryRun`) what it would submit against what was submitted.
//! Replaying takes the scope of triggering the hook, and goes through the same rate limit,
//! payload bounds and fire path as a trigger.

use actix_web::{web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::{HookPath, JsonBody};
use super::fire_records::{fire_id_of, hook_fire};
use super::metrics::Arrival;
use super::schemas::SchemaId;
use super::triggers::{answer, fire_checked};
use super::ApiState;
use crate::domain::HookKey;
use crate::fire::replay::{dry_run, replay, Asker, DryRun, ReplayRequest};
use crate::fire::Fired;

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
    let fire_id = fire_id_of(&req)?;
    Ok(
        match replay_checked(&state, &caller, &key, fire_id, &request, arrival).await? {
            Replayed::Fired(fired) => answer(&fired),
            Replayed::DryRun(dry_run) => HttpResponse::Ok().json(dry_run),
        },
    )
}

/// What a replay did: fired again, or (a dry run) showed what it would submit.
pub(crate) enum Replayed {
    /// The replay went through the fire path.
    Fired(Fired),
    /// What the replay would submit, against what was submitted.
    DryRun(Box<DryRun>),
}

/// The replay operation's scope check, replay or dry run, for every way in.
///
/// # Errors
/// `InsufficientScopes`, `ResourceNotFound` (hook or fire), a record that did not keep what
/// the replay needs, `TooManyRequests`, payload and fire errors.
pub(crate) async fn replay_checked(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
    fire_id: Uuid,
    request: &ReplayRequest,
    arrival: Arrival,
) -> Result<Replayed, ApiError> {
    caller.require(&[format!("hooks:trigger-hook:{key}")])?;
    let fire = hook_fire(state, key, fire_id).await?;
    let record = state.registry.get(key).await?;
    let (hook, trigger) = replay(
        &record,
        &fire,
        request,
        Asker::Caller {
            client_id: &caller.client_id,
            now: state.clock.now(),
        },
    )?;
    if !request.dry_run {
        let fired = fire_checked(state, &hook, trigger, arrival).await?;
        return Ok(Replayed::Fired(fired));
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
    Ok(Replayed::DryRun(Box::new(answer)))
}
