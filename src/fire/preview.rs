//! Previewing a fire (`render`): what a fire of a hook would validate, render and check, in the
//! same render workers, without submitting, recording, counting or notifying anything.
//!
//! The steps are [`prepare`]'s, the very ones [`super::fire`] takes, so a preview's task
//! is byte for byte the task a fire with the same payload, time and task id submits.

use serde::Serialize;
use serde_json::Value;

use super::outcome::FireError;
use super::prepare::prepare;
use super::render::pool::RenderPool;
use super::trigger::Trigger;
use crate::domain::{Hook, Roles};

/// What a fire would do, as the `render` endpoints and `hookd render` answer it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// The task a fire would submit; `null` when declined or refused by the trigger schema.
    pub task: Option<Value>,
    /// Whether the template rendered to `null`, so a fire would do nothing.
    pub declined: bool,
    /// Every way the payload breaks the hook's `triggerSchema`; a fire would be refused.
    pub schema_errors: Vec<String>,
    /// Scopes the task asks for that the hook does not hold; a fire would be an error fire.
    pub missing_scopes: Vec<String>,
    /// The size of `task` in bytes of compact JSON, the measure of the render size bound.
    pub task_bytes: usize,
}

impl Preview {
    /// Whether a fire would submit the task.
    pub fn would_fire(&self) -> bool {
        self.task.is_some() && self.schema_errors.is_empty() && self.missing_scopes.is_empty()
    }
}

/// Previews firing `hook` for `trigger`, rendering in `renderer` and checking scopes under
/// `roles`.
///
/// # Errors
/// [`FireError`] for what a preview cannot answer with a task: a bad `taskId`, a template that
/// does not render (within the render bounds) and render workers out of reach.
pub async fn preview(
    renderer: &RenderPool,
    roles: &Roles,
    hook: &Hook,
    trigger: Trigger,
) -> Result<Preview, FireError> {
    let task_id = trigger.recorded_task_id();
    match prepare(renderer, roles, hook, &trigger, &task_id).await {
        Ok(prepared) => {
            let task_bytes = prepared.task.as_ref().map_or(0, |task| {
                serde_json::to_vec(task).map_or(0, |json| json.len())
            });
            Ok(Preview {
                declined: prepared.task.is_none(),
                task: prepared.task,
                schema_errors: Vec::new(),
                missing_scopes: prepared.missing_scopes,
                task_bytes,
            })
        }
        Err(FireError::Payload(e)) => Ok(Preview {
            task: None,
            declined: false,
            schema_errors: e.violations().to_vec(),
            missing_scopes: Vec::new(),
            task_bytes: 0,
        }),
        Err(e) => Err(e),
    }
}
