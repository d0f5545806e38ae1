//! Extension: `GET /tasks/{taskId}` answers "what did that fire submit?".

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::path_param;
use super::ApiState;
use crate::domain::{SubmittedTask, TaskId};

/// The task exactly as submitted, with the hook and fire that made it. Reading it takes the
/// same scope as reading the hook's fire history, `hooks:list-last-fires:<group>/<id>`.
pub async fn get_task(
    state: web::Data<ApiState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let task_id = TaskId::parse(path_param(&req, "taskId")?)?;
    let task = read(&state, &caller, &task_id).await?;
    Ok(HttpResponse::Ok().json(&task))
}

/// getTask's read and scope check, for every way in.
///
/// # Errors
/// `ResourceNotFound`, `InsufficientScopes` and store failures.
pub(crate) async fn read(
    state: &ApiState,
    caller: &Caller,
    task_id: &TaskId,
) -> Result<SubmittedTask, ApiError> {
    let task = state.store.get_task(task_id).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("no task {task_id} was submitted by this service"),
        )
    })?;
    caller.require(&[format!(
        "hooks:list-last-fires:{}/{}",
        task.hook_group_id, task.hook_id
    )])?;
    Ok(task)
}
