//! Creating and editing a hook: one editor per field (JSON for the task, trigger schema and
//! bindings), checked on the server with each error shown at its field, then written by the
//! API's createHook or updateHook operation.
//!
//! The edit form carries a fingerprint of the definition it was loaded from; the update refuses
//! (`RequestConflict`) when the stored definition no longer has it, so an edit made meanwhile by
//! someone else is answered with a conflict instead of being overwritten. The form keeps what
//! was typed, so nothing is lost either way.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::hook::{hook_path, urlencode};
use super::page::{self, Nav, UiError};
use super::session::{Posted, Signed};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::HookPath;
use crate::api::schemas::SchemaId;
use crate::api::{hooks, ApiState};
use crate::domain::{Hook, HookGroupId, HookId, HookKey, Schedule, TriggerSchema};
use crate::registry::Drift;

/// The form's fields as typed.
#[derive(Default)]
struct Fields {
    group: String,
    id: String,
    name: String,
    description: String,
    owner: String,
    email_on_error: bool,
    schedule: String,
    task: String,
    trigger_schema: String,
    bindings: String,
    fingerprint: String,
}

#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    nav: Nav,
    creating: bool,
    action: String,
    fields: Fields,
    errors: BTreeMap<&'static str, String>,
    general: String,
}

impl EditPage {
    fn error(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    fn csrf(&self) -> &str {
        &self.nav.csrf
    }
}

/// A fingerprint of a stored definition, to notice that it changed under an edit.
fn fingerprint(hook: &Hook) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(hook).unwrap_or_default()))
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

impl Fields {
    fn of(hook: &Hook) -> Self {
        Self {
            group: hook.hook_group_id.to_string(),
            id: hook.hook_id.to_string(),
            name: hook.metadata.name.clone(),
            description: hook.metadata.description.clone(),
            owner: hook.metadata.owner.clone(),
            email_on_error: hook.metadata.email_on_error,
            schedule: hook.schedule.entries().join("\n"),
            task: pretty(&hook.task),
            trigger_schema: pretty(hook.trigger_schema.as_json()),
            bindings: pretty(&hook.bindings),
            fingerprint: fingerprint(hook),
        }
    }

    fn blank() -> Self {
        Self {
            email_on_error: true,
            task: pretty(&json!({
                "provisionerId": "builders",
                "workerType": "linux",
                "payload": {},
                "metadata": {"name": "", "description": "", "owner": "", "source": ""}
            })),
            trigger_schema: pretty(&json!({"type": "object", "properties": {}})),
            bindings: "[]".to_owned(),
            ..Self::default()
        }
    }

    fn posted(posted: &Posted) -> Self {
        Self {
            group: posted.field("hookGroupId").trim().to_owned(),
            id: posted.field("hookId").trim().to_owned(),
            name: posted.field("name").to_owned(),
            description: posted.field("description").to_owned(),
            owner: posted.field("owner").to_owned(),
            email_on_error: posted.field("emailOnError") == "on",
            schedule: posted.field("schedule").to_owned(),
            task: posted.field("task").to_owned(),
            trigger_schema: posted.field("triggerSchema").to_owned(),
            bindings: posted.field("bindings").to_owned(),
            fingerprint: posted.field("fingerprint").to_owned(),
        }
    }

    /// The createHook body these fields make, or the error of each field that is wrong.
    fn body(&self, state: &ApiState) -> Result<Value, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let mut json_field =
            |name: &'static str, text: &str| match serde_json::from_str::<Value>(text) {
                Ok(value) => value,
                Err(e) => {
                    errors.insert(name, format!("not valid JSON: {e}"));
                    Value::Null
                }
            };
        let task = json_field("task", &self.task);
        let trigger_schema = json_field("triggerSchema", &self.trigger_schema);
        let bindings = json_field(
            "bindings",
            if self.bindings.trim().is_empty() {
                "[]"
            } else {
                &self.bindings
            },
        );
        let schedule: Vec<&str> = self
            .schedule
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if let Err(e) = HookGroupId::parse(self.group.clone()) {
            errors.insert("hookGroupId", e.to_string());
        }
        if let Err(e) = HookId::parse(self.id.clone()) {
            errors.insert("hookId", e.to_string());
        }
        if let Err(e) = Schedule::parse(&schedule) {
            errors.insert("schedule", e.to_string());
        }
        if !errors.contains_key("triggerSchema") {
            if let Err(e) = TriggerSchema::parse(trigger_schema.clone()) {
                errors.insert("triggerSchema", e.to_string());
            }
        }
        let body = json!({
            "metadata": {
                "name": self.name,
                "description": self.description,
                "owner": self.owner,
                "emailOnError": self.email_on_error,
            },
            "schedule": schedule,
            "task": task,
            "triggerSchema": trigger_schema,
            "bindings": bindings,
        });
        if errors.is_empty() {
            if let Err(violations) = state.schemas.validate(SchemaId::CreateHookRequest, &body) {
                for message in violations.messages() {
                    errors
                        .entry(field_of(message))
                        .or_insert_with(|| message.clone());
                }
            }
        }
        if errors.is_empty() {
            Ok(body)
        } else {
            Err(errors)
        }
    }
}

/// The form field a schema violation (`<JSON pointer>: <problem>`) is about.
fn field_of(violation: &str) -> &'static str {
    let pointer = violation.split(':').next().unwrap_or_default();
    let mut segments = pointer.trim_start_matches('/').split('/');
    match (segments.next(), segments.next()) {
        (Some("metadata"), Some("name")) => "name",
        (Some("metadata"), Some("description")) => "description",
        (Some("metadata"), Some("owner")) => "owner",
        (Some("metadata"), _) => "metadata",
        (Some("schedule"), _) => "schedule",
        (Some("task"), _) => "task",
        (Some("triggerSchema"), _) => "triggerSchema",
        (Some("bindings"), _) => "bindings",
        _ => "general",
    }
}

fn edit_page(
    session_nav: Nav,
    creating: bool,
    fields: Fields,
    errors: BTreeMap<&'static str, String>,
    general: String,
) -> EditPage {
    let action = if creating {
        "/ui/new".to_owned()
    } else {
        format!(
            "/ui/hooks/{}/{}/edit",
            urlencode(&fields.group),
            urlencode(&fields.id)
        )
    };
    EditPage {
        nav: session_nav,
        creating,
        action,
        fields,
        errors,
        general,
    }
}

/// `GET /ui/new`
pub async fn new_form(Signed(session): Signed) -> Result<HttpResponse, UiError> {
    page::ok(&edit_page(
        session.nav(),
        true,
        Fields::blank(),
        BTreeMap::new(),
        String::new(),
    ))
}

/// `GET /ui/hooks/{g}/{h}/edit`
pub async fn edit_form(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    HookPath(key): HookPath,
) -> Result<HttpResponse, UiError> {
    let record = hooks::read(&state, &session.caller, &key).await?;
    page::ok(&edit_page(
        session.nav(),
        false,
        Fields::of(&record.hook),
        BTreeMap::new(),
        String::new(),
    ))
}

/// Answers a refused form: the same form, as typed, with the errors at their fields.
fn refused(
    posted: &Posted,
    creating: bool,
    fields: Fields,
    errors: BTreeMap<&'static str, String>,
    general: String,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    page::html(
        status,
        &edit_page(posted.session.nav(), creating, fields, errors, general),
    )
}

fn general_error(e: &ApiError) -> String {
    format!("{}: {}", e.code.as_str(), e.message)
}

/// `POST /ui/new`: the API's createHook.
pub async fn create(state: web::Data<ApiState>, posted: Posted) -> Result<HttpResponse, UiError> {
    let fields = Fields::posted(&posted);
    let body = match fields.body(&state) {
        Ok(body) => body,
        Err(errors) => {
            return refused(
                &posted,
                true,
                fields,
                errors,
                String::new(),
                StatusCode::BAD_REQUEST,
            )
        }
    };
    let key = HookKey::new(
        HookGroupId::parse(fields.group.clone()).map_err(ApiError::from)?,
        HookId::parse(fields.id.clone()).map_err(ApiError::from)?,
    );
    match hooks::create(&state, &posted.session.caller, &key, body).await {
        Ok(record) => Ok(page::see_other(&hook_path(&record.hook.key()))),
        Err(e) => {
            let status = e.code.status();
            refused(
                &posted,
                true,
                fields,
                BTreeMap::new(),
                general_error(&e),
                status,
            )
        }
    }
}

/// `POST /ui/hooks/{g}/{h}/edit`: the API's updateHook, refused when the hook changed since
/// the form was loaded.
pub async fn update(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    posted: Posted,
) -> Result<HttpResponse, UiError> {
    let mut fields = Fields::posted(&posted);
    // The path names the hook; the form's ids are only shown.
    fields.group = key.group.to_string();
    fields.id = key.id.to_string();
    let body = match fields.body(&state) {
        Ok(body) => body,
        Err(errors) => {
            return refused(
                &posted,
                false,
                fields,
                errors,
                String::new(),
                StatusCode::BAD_REQUEST,
            )
        }
    };
    let loaded = fields.fingerprint.clone();
    let unchanged = |stored: &Hook| {
        if fingerprint(stored) == loaded {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::RequestConflict,
                "the hook was changed by someone else since this form was loaded; your edit \
                 was not saved (it is still below): open the hook again to see the new \
                 definition, then reapply your change",
            ))
        }
    };
    match hooks::update(
        &state,
        &posted.session.caller,
        &key,
        body,
        Drift::Refuse,
        unchanged,
    )
    .await
    {
        Ok(record) => Ok(page::see_other(&hook_path(&record.hook.key()))),
        Err(e) => {
            let status = e.code.status();
            refused(
                &posted,
                false,
                fields,
                BTreeMap::new(),
                general_error(&e),
                status,
            )
        }
    }
}
