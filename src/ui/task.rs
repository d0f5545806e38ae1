//! The submitted task page (`/ui/tasks/{taskId}`): a fire's task exactly as it was submitted,
//! read by the API's getTask operation and scope.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::hook::hook_path;
use super::page::{self, Nav, UiError};
use super::session::Signed;
use crate::api::error::ApiError;
use crate::api::extract::path_param;
use crate::api::{tasks, ApiState};
use crate::domain::{iso_time, HookKey, TaskId};

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    nav: Nav,
    task_id: String,
    hook: String,
    hook_href: String,
    fired_by: &'static str,
    submitted: String,
    task_json: String,
}

/// `GET /ui/tasks/{taskId}`
pub async fn task(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    req: HttpRequest,
) -> Result<HttpResponse, UiError> {
    let task_id = TaskId::parse(path_param(&req, "taskId")?).map_err(ApiError::from)?;
    let task = tasks::read(&state, &session.caller, &task_id).await?;
    let key = HookKey::new(task.hook_group_id.clone(), task.hook_id.clone());
    page::ok(&TaskPage {
        nav: session.nav(),
        task_id: task_id.to_string(),
        hook: key.to_string(),
        hook_href: hook_path(&key),
        fired_by: task.fired_by.as_str(),
        submitted: iso_time(task.submitted),
        task_json: serde_json::to_string_pretty(&task.task).unwrap_or_default(),
    })
}
