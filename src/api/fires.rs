//! Reading what fired: getHookStatus and listLastFires.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::HookPath;
use super::ApiState;
use crate::domain::iso_time;
use crate::domain::{FireRecord, HookKey, HookRecord, KeyFilter, TaskState};
use crate::listener::ListenerState;
use crate::store::FireCursor;

/// The most fires one page may hold, and the default page size.
const MAX_LIMIT: usize = 1000;

/// `GET /hooks/{hookGroupId}/{hookId}/status`
pub async fn hook_status(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let last = last_fire(&state, &caller, &key).await?;
    let record = state.registry.get(&key).await?;
    let last_fire = match &last {
        None => json!({ "result": "no-fire" }),
        Some(fire) => match &fire.failure {
            None => json!({
                "result": "success",
                "taskId": fire.task_id,
                "time": iso_time(fire.task_create_time),
            }),
            Some(failure) => json!({
                "result": "error",
                "error": failure,
                "time": iso_time(fire.task_create_time),
            }),
        },
    };
    let mut status = json!({ "lastFire": last_fire });
    if let Some(next) = next_scheduled_date(&state, &record) {
        status["nextScheduledDate"] = Value::String(iso_time(next));
    }
    if !record.hook.bindings.is_empty() {
        status["bindingStatus"] = binding_status(&state, &record);
    }
    Ok(HttpResponse::Ok().json(status))
}

/// getHookStatus' scope check and read of the hook's newest fire, for every way in.
///
/// # Errors
/// `InsufficientScopes` and store failures.
pub(crate) async fn last_fire(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
) -> Result<Option<FireRecord>, ApiError> {
    caller.require(&[format!("{STATUS_ACTION}{key}")])?;
    Ok(state.store.list_fires(key, 1, None).await?.pop())
}

/// getHookStatus' scope before its key (`group/id`).
const STATUS_ACTION: &str = "hooks:status:";

/// The newest `limit` failed fires, across the hooks whose status the caller may read
/// (getHookStatus' scope, which shows a hook's last error), newest first: read by the store
/// through its index of failed fires with the caller's scopes as a key filter.
///
/// # Errors
/// Store failures.
pub(crate) async fn error_fires(
    state: &ApiState,
    caller: &Caller,
    limit: usize,
) -> Result<Vec<FireRecord>, ApiError> {
    let keys = KeyFilter::granted(&caller.scopes, STATUS_ACTION, '/');
    Ok(state.store.error_fires(&keys, limit).await?)
}

/// Extension: whether the hook's bindings are live, and which ones the broker refused. Only
/// hooks with bindings carry it, so others still match Taskcluster's schema.
pub(crate) fn binding_status(state: &ApiState, record: &HookRecord) -> Value {
    let listener = state.listener.state();
    let active = match listener {
        ListenerState::Disabled => "inactive",
        ListenerState::Connecting => "connecting",
        ListenerState::Connected => "active",
    };
    json!({
        "state": active,
        "errors": state.listener.binding_errors(&record.hook.key()),
    })
}

/// The slot the scheduler fires next: the stored one while it is still a slot of the hook's
/// schedule, else (the schedule just changed, or no scheduler has armed the hook yet) the
/// schedule's next time from now, which is what the scheduler will store.
pub(crate) fn next_scheduled_date(state: &ApiState, record: &HookRecord) -> Option<DateTime<Utc>> {
    record
        .hook
        .schedule
        .resume(record.next_scheduled_date, state.clock.now())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FiresQuery {
    limit: Option<String>,
    continuation_token: Option<String>,
}

/// The cursor as it travels inside a continuation token.
#[derive(Serialize, Deserialize)]
struct TokenCursor {
    t: DateTime<Utc>,
    id: Uuid,
}

/// `GET /hooks/{hookGroupId}/{hookId}/last-fires?limit=&continuationToken=`, newest first.
pub async fn list_last_fires(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (limit, after) = page_query(&req)?;
    let page = fire_page(&state, &caller, &key, limit, after.as_ref()).await?;
    let items: Vec<Value> = page
        .fires
        .iter()
        .zip(&page.task_states)
        .map(|(f, s)| fire_item(f, *s))
        .collect();
    let mut body = json!({ "lastFires": items });
    if let Some(next) = &page.next {
        body["continuationToken"] = Value::String(encode_cursor(next));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The scope of reading the hook `key`'s fire history, and what it keeps besides (extension).
pub(super) fn history_scope(key: &HookKey) -> [String; 1] {
    [format!("hooks:list-last-fires:{key}")]
}

/// The page a request's `limit` and `continuationToken` ask for.
///
/// # Errors
/// `InvalidRequestArguments` for a bad query.
fn page_query(req: &HttpRequest) -> Result<(usize, Option<FireCursor>), ApiError> {
    let query = web::Query::<FiresQuery>::from_query(req.query_string())
        .map_err(|e| bad_argument(format!("bad query: {e}")))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let after = query
        .continuation_token
        .as_deref()
        .map(decode_cursor)
        .transpose()?;
    Ok((limit, after))
}

/// One page of the fire history of the hook `key`, as the request's `limit` and
/// `continuationToken` ask, and the token of the next page when there is one. The caller
/// checks the scope.
///
/// # Errors
/// `InvalidRequestArguments` for a bad query, `ResourceNotFound` for an unknown hook.
pub(super) async fn page(
    state: &ApiState,
    key: &HookKey,
    req: &HttpRequest,
) -> Result<(Vec<FireRecord>, Option<String>), ApiError> {
    let (limit, after) = page_query(req)?;
    let (fires, next) = fires_after(state, key, limit, after.as_ref()).await?;
    Ok((fires, next.as_ref().map(encode_cursor)))
}

/// Up to `limit` fires of the hook `key` after `after`, newest first, and where the next page
/// starts when there is one.
async fn fires_after(
    state: &ApiState,
    key: &HookKey,
    limit: usize,
    after: Option<&FireCursor>,
) -> Result<(Vec<FireRecord>, Option<FireCursor>), ApiError> {
    state.registry.get(key).await?;
    // One extra row tells whether another page exists, so the last page carries no token.
    let mut fires = state.store.list_fires(key, limit + 1, after).await?;
    let more = fires.len() > limit;
    fires.truncate(limit);
    let next = fires.last().filter(|_| more).map(|last| FireCursor {
        time: last.task_create_time,
        fire_id: last.fire_id,
    });
    Ok((fires, next))
}

/// One page of a hook's fires, newest first, with their tasks' states.
pub(crate) struct FirePage {
    /// The fires.
    pub fires: Vec<FireRecord>,
    /// Each fire's task state, as the sink knows it.
    pub task_states: Vec<Option<TaskState>>,
    /// Where the next page starts, when there is one.
    pub next: Option<FireCursor>,
}

/// listLastFires' scope check and read, for every way in: up to `limit` fires after `after`.
///
/// # Errors
/// `InsufficientScopes`, `ResourceNotFound` and store failures.
pub(crate) async fn fire_page(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
    limit: usize,
    after: Option<&FireCursor>,
) -> Result<FirePage, ApiError> {
    caller.require(&history_scope(key))?;
    let (fires, next) = fires_after(state, key, limit, after).await?;
    let task_states = task_states(state, &fires).await;
    Ok(FirePage {
        fires,
        task_states,
        next,
    })
}

/// How many task states are asked of the queue at once for one page.
const STATE_LOOKUPS_IN_FLIGHT: usize = 16;

/// Each successful fire's task state, as the sink knows it; `None` (unknown) otherwise.
async fn task_states(state: &ApiState, fires: &[FireRecord]) -> Vec<Option<TaskState>> {
    let sink = &state.fire.sink;
    stream::iter(fires)
        .map(|fire| async move {
            match fire.failure {
                None => sink.task_state(&fire.task_id).await,
                Some(_) => None,
            }
        })
        .buffered(STATE_LOOKUPS_IN_FLIGHT)
        .collect()
        .await
}

fn fire_item(fire: &FireRecord, task_state: Option<TaskState>) -> Value {
    let (result, error) = match &fire.failure {
        None => ("success", ""),
        Some(failure) => ("error", failure.message.as_str()),
    };
    json!({
        "hookGroupId": fire.hook_group_id,
        "hookId": fire.hook_id,
        "firedBy": fire.fired_by,
        "taskId": fire.task_id,
        "taskCreateTime": iso_time(fire.task_create_time),
        "result": result,
        "error": error,
        "taskState": task_state.map_or(json!("unknown"), |s| json!(s)),
    })
}

pub(super) fn bad_argument(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequestArguments, message)
}

fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(MAX_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(bad_argument(format!(
            "limit must be an integer from 1 to {MAX_LIMIT}, not {raw:?}"
        ))),
    }
}

/// The continuation token of a cursor, as listLastFires hands it out.
pub(crate) fn encode_cursor(cursor: &FireCursor) -> String {
    let cursor = TokenCursor {
        t: cursor.time,
        id: cursor.fire_id,
    };
    // Serializing two plain fields cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

/// The cursor of a continuation token this service handed out.
///
/// # Errors
/// `InvalidRequestArguments` for any other string.
pub(crate) fn decode_cursor(token: &str) -> Result<FireCursor, ApiError> {
    let cursor: TokenCursor = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| bad_argument("continuationToken is not one this service issued".into()))?;
    Ok(FireCursor {
        time: cursor.t,
        fire_id: cursor.id,
    })
}
