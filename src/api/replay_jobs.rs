//! Extension: bulk replay. `POST .../replays` plans replaying a hook's fires in a time range
//! and answers the plan (`dryRun`) or the job that carries it out in the background;
//! `GET .../replays` lists the hook's jobs, `GET .../replays/{jobId}` reads one and
//! `DELETE .../replays/{jobId}` cancels it. Every one takes the scope of triggering the hook.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use uuid::Uuid;

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::{path_param, HookPath, JsonBody};
use super::fires::bad_argument;
use super::schemas::SchemaId;
use super::ApiState;
use crate::domain::{HookKey, ReplayJob};
use crate::fire::bulk_replay::{cancel, create_job, plan, BulkReplayRequest};

/// The most jobs `GET .../replays` lists: the newest.
const JOBS_LISTED: usize = 100;

/// The scope of bulk replay: that of triggering the hook `key`.
fn replay_scope(key: &HookKey) -> [String; 1] {
    [format!("hooks:trigger-hook:{key}")]
}

/// `POST /hooks/{hookGroupId}/{hookId}/replays`
pub async fn create_replay(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require(&replay_scope(&key))?;
    state.validate_body(SchemaId::BulkReplayRequest, &body)?;
    let request: BulkReplayRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::new(ErrorCode::InputValidationError, e.to_string()))?;
    state.registry.get(&key).await?;
    let store = state.store.as_ref();
    if request.dry_run {
        let plan = plan(store, &key, &request).await?;
        return Ok(HttpResponse::Ok().json(plan));
    }
    let job = create_job(store, &key, &request, &caller.client_id, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(job))
}

/// `GET /hooks/{hookGroupId}/{hookId}/replays`: the hook's newest jobs, newest first.
pub async fn list_replays(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&replay_scope(&key))?;
    state.registry.get(&key).await?;
    let jobs = state.store.list_replay_jobs(&key, JOBS_LISTED).await?;
    Ok(HttpResponse::Ok().json(json!({ "replays": jobs })))
}

/// `GET /hooks/{hookGroupId}/{hookId}/replays/{jobId}`
pub async fn get_replay(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(stored_job(&state, &key, &caller, &req).await?))
}

/// `DELETE /hooks/{hookGroupId}/{hookId}/replays/{jobId}`: cancels the job, unless it ended;
/// answers it as it is then.
pub async fn cancel_replay(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let job = stored_job(&state, &key, &caller, &req).await?;
    Ok(HttpResponse::Ok().json(cancel(state.store.as_ref(), job).await?))
}

/// The job the request's `jobId` names, when it is one of the hook `key`'s and `caller` may
/// replay the hook.
///
/// # Errors
/// `InsufficientScopes` without the scope, `InvalidRequestArguments` for an id that is not a
/// UUID, `ResourceNotFound` for an unknown hook or a job it does not have.
async fn stored_job(
    state: &ApiState,
    key: &HookKey,
    caller: &Caller,
    req: &HttpRequest,
) -> Result<ReplayJob, ApiError> {
    caller.require(&replay_scope(key))?;
    let raw = path_param(req, "jobId")?;
    let job_id = Uuid::parse_str(&raw)
        .map_err(|_| bad_argument(format!("jobId {raw:?} is not a replay job id (a UUID)")))?;
    state.registry.get(key).await?;
    state
        .store
        .get_replay_job(job_id)
        .await?
        .filter(|job| job.key() == *key)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ResourceNotFound,
                format!("hook {key} has no replay job {job_id}"),
            )
        })
}
