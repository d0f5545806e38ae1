//! Extension: the fire history with what each fire was fired with. `GET .../fires` pages
//! through a hook's fire records as stored (their ids, kept contexts and replays),
//! `GET .../fires/{fireId}` reads one, and `GET .../refusals` lists the latest attempts that
//! did not fire, with why; listLastFires keeps Taskcluster's shape.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use uuid::Uuid;

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::{path_param, HookPath};
use super::fires::{bad_argument, history_scope, page};
use super::ApiState;
use crate::domain::{FireRecord, HookKey, REFUSALS_KEPT_PER_HOOK};

/// `GET /hooks/{hookGroupId}/{hookId}/fires?limit=&continuationToken=`, newest first; the
/// scope of listLastFires.
pub async fn list_fires(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(&history_scope(&key))?;
    let (fires, continuation_token) = page(&state, &key, &req).await?;
    let mut body = json!({ "fires": fires });
    if let Some(token) = continuation_token {
        body["continuationToken"] = token.into();
    }
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /hooks/{hookGroupId}/{hookId}/fires/{fireId}`; the scope of listLastFires.
pub async fn get_fire(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(&history_scope(&key))?;
    let fire = recorded_fire(&state, &key, &req).await?;
    Ok(HttpResponse::Ok().json(fire))
}

/// `GET /hooks/{hookGroupId}/{hookId}/refusals`: the hook's latest refused attempts (all it
/// keeps), newest first; the scope of listLastFires.
pub async fn list_refusals(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&history_scope(&key))?;
    state.registry.get(&key).await?;
    let refusals = state
        .store
        .list_refusals(&key, REFUSALS_KEPT_PER_HOOK)
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "refusals": refusals })))
}

/// The fire the request's `fireId` names, when it is one of the hook `key`'s.
///
/// # Errors
/// As [`fire_id_of`] and [`hook_fire`].
async fn recorded_fire(
    state: &ApiState,
    key: &HookKey,
    req: &HttpRequest,
) -> Result<FireRecord, ApiError> {
    hook_fire(state, key, fire_id_of(req)?).await
}

/// The request's `fireId`.
///
/// # Errors
/// `InvalidRequestArguments` for an id that is not a UUID.
pub(crate) fn fire_id_of(req: &HttpRequest) -> Result<Uuid, ApiError> {
    let raw = path_param(req, "fireId")?;
    Uuid::parse_str(&raw)
        .map_err(|_| bad_argument(format!("fireId {raw:?} is not a fire id (a UUID)")))
}

/// Fire `fire_id`, when it is one of the hook `key`'s.
///
/// # Errors
/// `ResourceNotFound` for an unknown hook or a fire it does not have.
pub(super) async fn hook_fire(
    state: &ApiState,
    key: &HookKey,
    fire_id: Uuid,
) -> Result<FireRecord, ApiError> {
    state.registry.get(key).await?;
    state
        .store
        .get_fire(fire_id)
        .await?
        .filter(|fire| fire.key() == *key)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ResourceNotFound,
                format!("hook {key} has no fire {fire_id}"),
            )
        })
}
