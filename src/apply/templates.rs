//! "JSON-e compiles": an apply refuses a set in which any hook's task template has an error
//! no render could get past (see `domain::template`), naming the hook and the JSON pointer.
//! The server checks it before planning, and `hookd apply` before asking for a plan, with the
//! same message. createHook and updateHook do not check it: Taskcluster does not.

use serde_json::Value;

use crate::domain::template::{Template, TemplateError};

/// A hook of a set whose task template does not compile.
#[derive(Debug, thiserror::Error)]
#[error("hooks[{index}] ({hook}): the task template does not compile: at /task{}: {}", .error.pointer, .error.message)]
pub struct TemplateRefused {
    /// The hook's place in the set.
    pub index: usize,
    /// `group/id`.
    pub hook: String,
    /// The error, its pointer relative to the task template.
    pub error: TemplateError,
}

/// Checks the task template of each hook, given as `(group/id, task)` in the set's order.
///
/// # Errors
/// [`TemplateRefused`] for the first hook whose template does not compile.
pub fn check_templates<'a>(
    hooks: impl IntoIterator<Item = (String, &'a Value)>,
) -> Result<(), TemplateRefused> {
    for (index, (hook, task)) in hooks.into_iter().enumerate() {
        Template::check(task).map_err(|error| TemplateRefused { index, hook, error })?;
    }
    Ok(())
}
