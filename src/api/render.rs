//! Extension: render without firing. `POST /hooks/{g}/{h}/render` previews a fire of a stored
//! hook, `POST /render` one of a definition that is not stored; both answer what a fire would
//! validate, render and check ([`fire::Preview`]), in the same render workers and bounds, and neither
//! submits, records, counts or notifies anything.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::auth::{Caller, ANONYMOUS};
use super::error::{ApiError, ErrorCode};
use super::extract::{HookPath, JsonBody};
use super::hooks;
use super::schemas::{SchemaId, SchemaSet};
use super::ApiState;
use crate::domain::{FiredBy, Hook, HookKey, TaskId};
use crate::fire::{self, Preview, Trigger};

/// What a render request says about the fire to preview, after schema validation. `hook` is
/// only in `POST /render` bodies.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderRequest {
    /// The definition to render, for `POST /render`.
    #[serde(default)]
    pub hook: Option<Value>,
    /// The payload a trigger would carry.
    pub payload: Value,
    /// What would fire the hook; `triggerHook` by default.
    pub fired_by: Option<FiredBy>,
    /// The time of the fire; now by default.
    pub now: Option<DateTime<Utc>>,
    /// The task id, unless `payload.taskId` gives one (which wins, as in a fire); a fresh one
    /// by default.
    pub task_id: Option<String>,
}

impl RenderRequest {
    /// Checks `body` against `schema` and reads it.
    ///
    /// # Errors
    /// `InputValidationError` listing what is wrong.
    pub fn parse(schemas: &SchemaSet, schema: SchemaId, body: Value) -> Result<Self, ApiError> {
        schemas
            .validate(schema, &body)
            .map_err(|violations| ApiError::invalid_body(schema, &violations))?;
        serde_json::from_value(body)
            .map_err(|e| ApiError::new(ErrorCode::InputValidationError, e.to_string()))
    }

    /// The definition in a `POST /render` request (whose schema checked it as createHook's),
    /// as a hook.
    ///
    /// # Errors
    /// `InputValidationError` or `InputError` for what createHook would refuse.
    pub fn candidate(&mut self) -> Result<Hook, ApiError> {
        hooks::candidate(self.hook.take().unwrap_or_default())
    }

    /// The trigger this request stands in for, by `client_id`, at `now` unless it says when.
    ///
    /// # Errors
    /// `InputError` for a `taskId` that is not a slugid.
    pub fn trigger(self, client_id: &str, now: DateTime<Utc>) -> Result<Trigger, ApiError> {
        let task_id = self.task_id.map(TaskId::parse).transpose()?;
        Ok(Trigger::preview(
            self.fired_by.unwrap_or(FiredBy::TriggerHook),
            self.payload,
            client_id,
            self.now.unwrap_or(now),
            task_id,
        ))
    }
}

/// `POST /hooks/{hookGroupId}/{hookId}/render`: reading the hook's definition is enough.
pub async fn render_hook(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let preview = preview_stored(&state, &caller, &key, body).await?;
    Ok(HttpResponse::Ok().json(preview))
}

/// renderHook's scope check and preview, for every way in; `body` is a render request.
///
/// # Errors
/// `InsufficientScopes`, what the body breaks, `ResourceNotFound` and render failures.
pub(crate) async fn preview_stored(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
    body: Value,
) -> Result<Preview, ApiError> {
    caller.require(&hooks::read_scope(key))?;
    let request = RenderRequest::parse(&state.schemas, SchemaId::RenderHookRequest, body)?;
    let record = state.registry.get(key).await?;
    let trigger = request.trigger(&caller.client_id, state.clock.now())?;
    Ok(fire::preview(
        &state.fire.renderer,
        &state.fire.roles,
        &record.hook,
        trigger,
    )
    .await?)
}

/// `POST /render`: any authenticated client may preview a definition of its own.
pub async fn render_candidate(
    state: web::Data<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    if caller.client_id == ANONYMOUS {
        return Err(ApiError::new(
            ErrorCode::AuthenticationFailed,
            "rendering a hook definition needs credentials",
        ));
    }
    let mut request = RenderRequest::parse(&state.schemas, SchemaId::RenderRequest, body)?;
    let hook = request.candidate()?;
    let trigger = request.trigger(&caller.client_id, state.clock.now())?;
    answer(&state, &hook, trigger).await
}

/// Previews firing `hook` for `trigger` with the service's render workers and roles.
async fn answer(state: &ApiState, hook: &Hook, trigger: Trigger) -> Result<HttpResponse, ApiError> {
    let preview = fire::preview(&state.fire.renderer, &state.fire.roles, hook, trigger).await?;
    Ok(HttpResponse::Ok().json(preview))
}
