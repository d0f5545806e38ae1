//! "JSON-e compiles": an apply refuses a set in which any template (a hook's task, a chat
//! alias's payload, acknowledgement or result) has an error no render could get past (see
//! `domain::template`), naming the hook or alias and the JSON pointer.
//! The server checks it before planning, and `hookd apply` before asking for a plan, with the
//! same message. createHook and updateHook do not check it: Taskcluster does not.

use serde_json::Value;

use crate::domain::template::{Template, TemplateError};
use crate::domain::ChatAlias;

/// A template of a set (a hook's task, a chat alias's payload, acknowledgement or result) that
/// does not compile.
#[derive(Debug, thiserror::Error)]
#[error("{place}: the {field} template does not compile: at /{field}{}: {}", .error.pointer, .error.message)]
pub struct TemplateRefused {
    /// Where in the set: `hooks[index] (group/id)` or `chatAliases[index] (aliasId)`.
    pub place: String,
    /// The field holding the template.
    pub field: &'static str,
    /// The error, its pointer relative to the template.
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
        check(|| format!("hooks[{index}] ({hook})"), "task", task)?;
    }
    Ok(())
}

/// Checks the templates of each chat alias, in the set's order.
///
/// # Errors
/// [`TemplateRefused`] for the first template that does not compile.
pub fn check_alias_templates<'a>(
    aliases: impl IntoIterator<Item = &'a ChatAlias>,
) -> Result<(), TemplateRefused> {
    for (index, alias) in aliases.into_iter().enumerate() {
        let place = || format!("chatAliases[{index}] ({})", alias.alias_id);
        for (field, template) in [
            ("payload", &alias.payload),
            ("ack", &alias.ack),
            ("result", &alias.result),
        ] {
            if let Some(template) = template {
                check(place, field, template)?;
            }
        }
    }
    Ok(())
}

fn check(
    place: impl FnOnce() -> String,
    field: &'static str,
    template: &Value,
) -> Result<(), TemplateRefused> {
    Template::check(template).map_err(|error| TemplateRefused {
        place: place(),
        field,
        error,
    })?;
    Ok(())
}
