//! The steps a fire and a preview share: everything before a task leaves the process.
//!
//! [`super::fire`] submits what [`prepare`] makes; [`super::preview`] only shows it. One copy of
//! the steps is what makes a preview's task the very task a fire submits.

use serde_json::Value;

use super::outcome::FireError;
use super::render::{self, pool::RenderPool};
use super::trigger::Trigger;
use crate::domain::{Hook, Roles, ScopeSet, TaskId};

/// Every step of a fire before anything leaves the process: checks the input, renders the
/// task `task_id` through `renderer` (in-process when provably bounded, else in a worker with
/// its deadline, memory and size bounds) and
/// checks its scopes against what `hook` holds under `roles`. Nothing is submitted, recorded,
/// counted or notified.
///
/// # Errors
/// [`FireError`] for input that is refused, a template that does not render, and a render
/// pool that cannot work. Missing scopes are not an error here but part of [`Prepared`].
pub(super) async fn prepare(
    renderer: &RenderPool,
    roles: &Roles,
    hook: &Hook,
    trigger: &Trigger,
    task_id: &TaskId,
) -> Result<Prepared, FireError> {
    trigger.check_readable()?;
    if let Some(payload) = trigger.payload() {
        hook.trigger_schema.validate(payload)?;
    }
    trigger.check_task_id()?;
    let context = trigger.context(task_id);
    let rendered = renderer
        .task(&hook.task, &context, task_id, trigger.time())
        .await?;
    let required = match &rendered {
        Some(task) => render::task_scopes(task)?,
        None => Vec::new(),
    };
    // A task that asks for nothing lacks nothing: the hook's roles need not be expanded.
    let missing_scopes = if required.is_empty() {
        Vec::new()
    } else {
        hook_scopes(roles, hook).missing(required)
    };
    Ok(Prepared {
        task: rendered,
        missing_scopes,
    })
}

/// What [`prepare`] made of a trigger: the task (`None` when the template declined) and the
/// scopes it asks for that the hook does not hold.
pub(super) struct Prepared {
    pub(super) task: Option<Value>,
    pub(super) missing_scopes: Vec<String>,
}

impl Prepared {
    /// The task a fire may submit, `None` when declined.
    ///
    /// # Errors
    /// [`FireError::InsufficientScopes`] when the task asks for more than `hook` holds.
    pub(super) fn into_task(self, hook: &Hook) -> Result<Option<Value>, FireError> {
        if !self.missing_scopes.is_empty() {
            return Err(FireError::InsufficientScopes {
                hook: hook.key().to_string(),
                missing: self.missing_scopes,
            });
        }
        Ok(self.task)
    }
}

/// What a hook's tasks may ask for: its own `scopes` when it has them, else its role's.
fn hook_scopes(roles: &Roles, hook: &Hook) -> ScopeSet {
    match &hook.scopes {
        Some(scopes) => roles.expand(scopes),
        None => roles.expand(&[format!("assume:{}", hook.role_id())]),
    }
}
