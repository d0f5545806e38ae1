//! The hook page's actions: render preview, trigger (from the form generated from the
//! `triggerSchema`, or raw JSON), replay or dry-run a past fire, reset the trigger token or rotate the webhook secret (each
//! shown once) and delete (by typing the hook id). Each calls the API's operation with the session's caller.
//!
//! Without the script, an action answers the whole hook page with its result at the top; with
//! it (the fragment header), only the result, which the script puts in place and after which it
//! reloads the timeline.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::hook::{self, TimelineQuery};
use super::page::{self, ActionResult, UiError};
use super::session::Posted;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::HookPath;
use crate::api::fire_records::fire_id_of;
use crate::api::metrics::Arrival;
use crate::api::replays::{replay_checked, Replayed};
use crate::api::{hooks, render, triggers, webhooks, ApiState};
use crate::domain::HookKey;
use crate::fire::replay::{DryRun, ReplayRequest, TaskIdChoice, TemplateChoice};
use crate::fire::Fired;
use crate::registry::Drift;

/// One POSTed action on one hook: the API's state, the hook, the CSRF-checked form and the
/// request (which says whether the script wants a fragment).
pub struct Action {
    state: web::Data<ApiState>,
    key: HookKey,
    posted: Posted,
    req: HttpRequest,
}

impl FromRequest for Action {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, UiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let key = HookPath::extract(&req).into_inner();
        let state = req.app_data::<web::Data<ApiState>>().cloned();
        let posted = Posted::from_request(&req, payload);
        Box::pin(async move {
            let HookPath(key) = key?;
            let state = state.ok_or_else(|| {
                ApiError::new(ErrorCode::InternalServerError, "the API is not configured")
            })?;
            Ok(Self {
                state,
                key,
                posted: posted.await?,
                req,
            })
        })
    }
}

impl Action {
    /// Answers the action's `result`: the fragment for the script, else the hook page around
    /// it.
    async fn answer(&self, result: ActionResult) -> Result<HttpResponse, UiError> {
        let status = if result.ok {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        if page::wants_fragment(&self.req) {
            return page::html(status, &result);
        }
        let view = hook::view(
            &self.state,
            &self.posted.session,
            &self.key,
            TimelineQuery::default(),
        )
        .await?;
        page::html(status, &view.with(result))
    }
}

fn parse_json(field: &str, text: &str) -> Result<Value, ApiError> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedPayload,
            format!("{field} is not valid JSON: {e}"),
        )
    })
}

/// `POST /ui/hooks/{g}/{h}/preview`: the API's renderHook for the form's sample payload.
pub async fn preview(action: Action) -> Result<HttpResponse, UiError> {
    let Action {
        state, key, posted, ..
    } = &action;
    let outcome = match parse_json("the payload", posted.field("payload")) {
        Ok(payload) => {
            let body = json!({ "payload": payload });
            render::preview_stored(state, &posted.session.caller, key, body).await
        }
        Err(e) => Err(e),
    };
    let result = match outcome {
        Ok(preview) if preview.would_fire() => ActionResult::ok(
            format!(
                "A fire would submit this task ({} bytes)",
                preview.task_bytes
            ),
            serde_json::to_string_pretty(&preview.task).unwrap_or_default(),
        ),
        Ok(preview) => ActionResult {
            title: "A fire would not submit a task".to_owned(),
            ok: false,
            detail: serde_json::to_string_pretty(&preview).unwrap_or_default(),
            link: (String::new(), String::new()),
        },
        Err(e) => ActionResult::failed("The preview failed", &e),
    };
    action.answer(result).await
}

/// The trigger payload of a form: the raw JSON one, or the generated fields typed by the
/// hook's `triggerSchema`.
fn payload_of(posted: &Posted, schema: &Value) -> Result<Value, ApiError> {
    if posted.field("mode") == "raw" {
        return parse_json("the payload", posted.field("payload"));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let mut payload = Map::new();
    for (name, property) in properties.into_iter().flatten() {
        let raw = posted.field(&format!("field.{name}"));
        let kind = property.get("type").and_then(Value::as_str).unwrap_or("");
        let value = match kind {
            "boolean" => Value::Bool(raw == "on"),
            _ if raw.is_empty() => continue,
            "string" => Value::String(raw.to_owned()),
            _ => parse_json(name, raw)?,
        };
        payload.insert(name.clone(), value);
    }
    Ok(Value::Object(payload))
}

/// `POST /ui/hooks/{g}/{h}/trigger`: the API's triggerHook with the form's payload.
pub async fn trigger(action: Action, arrival: Arrival) -> Result<HttpResponse, UiError> {
    let Action {
        state, key, posted, ..
    } = &action;
    let caller = &posted.session.caller;
    let outcome = async {
        let record = hooks::read(state, caller, key).await?;
        let payload = payload_of(posted, record.hook.trigger_schema.as_json())?;
        triggers::trigger(state, caller, key, payload, arrival).await
    }
    .await;
    let result = match outcome {
        Ok(outcome) => fired("Fired", outcome),
        Err(e) => ActionResult::failed("The trigger failed", &e),
    };
    action.answer(result).await
}

/// The answer to a fire that `Fired`: the task submitted, or nothing for a declined one.
fn fired(title: &str, fired: Fired) -> ActionResult {
    match fired {
        Fired::Created(task_id) => {
            ActionResult::ok(title, format!("Task {task_id} was submitted."))
                .linking(format!("/ui/tasks/{task_id}"), "Open the submitted task")
        }
        Fired::Declined => ActionResult::ok(
            "Declined",
            "The task template rendered to null: nothing was submitted.",
        ),
    }
}

/// Replays (or, `dry_run`, previews the replay of) the fire the path names, by the API's
/// replay operation: the template the form chose, a new task id; shows what it did.
async fn replay_fire(
    action: Action,
    dry_run: bool,
    arrival: Arrival,
) -> Result<HttpResponse, UiError> {
    let template = match action.posted.field("template") {
        "current" => TemplateChoice::Current,
        _ => TemplateChoice::Recorded,
    };
    let request = ReplayRequest {
        template,
        payload_override: None,
        task_id: TaskIdChoice::New,
        dry_run,
    };
    let outcome = match fire_id_of(&action.req) {
        Ok(fire_id) => {
            let caller = &action.posted.session.caller;
            replay_checked(
                &action.state,
                caller,
                &action.key,
                fire_id,
                &request,
                arrival,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let result = match outcome {
        Ok(Replayed::Fired(outcome)) => fired("Replayed", outcome),
        Ok(Replayed::DryRun(run)) => dry_run_result(&run),
        Err(e) if dry_run => ActionResult::failed("The dry run failed", &e),
        Err(e) => ActionResult::failed("The replay failed", &e),
    };
    action.answer(result).await
}

/// A dry run shown as the differences from the submitted task, then the replay's preview.
fn dry_run_result(run: &DryRun) -> ActionResult {
    let diff = match &run.diff {
        Some(changes) if changes.is_empty() => "No differences.".to_owned(),
        Some(changes) => serde_json::to_string_pretty(changes).unwrap_or_default(),
        None => "No submitted task to compare with.".to_owned(),
    };
    let preview = serde_json::to_string_pretty(&run.preview).unwrap_or_default();
    let title = if run.preview.would_fire() {
        "A replay would submit this task"
    } else {
        "A replay would not submit a task"
    };
    ActionResult {
        title: title.to_owned(),
        ok: run.preview.would_fire(),
        detail: format!(
            "Differences from the submitted task:\n{diff}\n\nWhat the replay would submit:\n{preview}"
        ),
        link: (String::new(), String::new()),
    }
}

/// `POST /ui/hooks/{g}/{h}/fires/{fireId}/replay`: the API's replay of the fire.
pub async fn replay(action: Action, arrival: Arrival) -> Result<HttpResponse, UiError> {
    replay_fire(action, false, arrival).await
}

/// `POST /ui/hooks/{g}/{h}/fires/{fireId}/dry-run`: the API's dry run of the fire's replay.
pub async fn dry_run(action: Action, arrival: Arrival) -> Result<HttpResponse, UiError> {
    replay_fire(action, true, arrival).await
}

/// Answers a new secret, shown in this answer only (pages are `no-store`), or why none was
/// made; `made` and `refused` title either case.
async fn show_once(
    action: &Action,
    secret: Result<String, ApiError>,
    made: &str,
    refused: &str,
) -> Result<HttpResponse, UiError> {
    let result = match secret {
        Ok(secret) => ActionResult::ok(made, secret),
        Err(e) => ActionResult::failed(refused, &e),
    };
    action.answer(result).await
}

/// `POST /ui/hooks/{g}/{h}/token`: the API's resetTriggerToken.
pub async fn reset_token(action: Action) -> Result<HttpResponse, UiError> {
    let Action {
        state, key, posted, ..
    } = &action;
    let token = triggers::reset(state, &posted.session.caller, key).await;
    let made = "New trigger token (shown once; the old one no longer works)";
    show_once(&action, token, made, "The token was not reset").await
}

/// `POST /ui/hooks/{g}/{h}/webhook-secret`: the API's webhook secret rotation.
pub async fn rotate_webhook_secret(action: Action) -> Result<HttpResponse, UiError> {
    let Action {
        state, key, posted, ..
    } = &action;
    let secret = webhooks::rotate(state, &posted.session.caller, key).await;
    let made = "New webhook secret (shown once; the old one works for the grace period)";
    show_once(&action, secret, made, "The webhook secret was not rotated").await
}

/// `POST /ui/hooks/{g}/{h}/delete`: the API's removeHook, once the hook id was typed.
pub async fn delete(action: Action) -> Result<HttpResponse, UiError> {
    let Action {
        state,
        key,
        posted,
        req,
    } = &action;
    if posted.field("confirm") != key.id.as_str() {
        let e = ApiError::new(
            ErrorCode::InputError,
            format!("type the hook id {:?} to delete it", key.id.as_str()),
        );
        return action.answer(ActionResult::failed("Not deleted", &e)).await;
    }
    hooks::remove(state, &posted.session.caller, key, Drift::Refuse).await?;
    let to = format!("/ui/groups/{}", hook::urlencode(key.group.as_str()));
    if page::wants_fragment(req) {
        return page::ok(
            &ActionResult::ok(
                "Deleted",
                format!("Hook {key} and its fire history are gone."),
            )
            .linking(to, "Back to the group"),
        );
    }
    Ok(page::see_other(&to))
}
