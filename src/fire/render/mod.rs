//! Rendering a hook's JSON-e template into a task definition, with Taskcluster's defaults.
//!
//! Owns: the render itself (this file: `now` pinned, Taskcluster's task defaults, the task's
//! scopes), the pool of worker processes that run it under a deadline and a memory limit
//! ([`pool`]), the worker's side ([`worker`], run by `hookd render-worker`) and the pipe format
//! between them ([`protocol`]). Leaves to others: which context a fire renders with
//! (`fire::trigger`) and what a failed render means (`fire::outcome`).

pub mod pool;
pub mod protocol;
pub mod worker;

use std::sync::Once;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{iso_time, TaskId};

/// Why a template did not render into a task. It crosses the pipe from a render worker, hence
/// serde.
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
pub enum RenderError {
    /// JSON-e reported an error.
    #[error("JSON-e error: {0}")]
    Template(String),
    /// The template rendered to something other than an object or `null`.
    #[error("the task template must render to an object or null, not {0}")]
    NotAnObject(String),
    /// The rendered task's `scopes` is not an array of strings.
    #[error("the rendered task's scopes must be an array of strings")]
    BadScopes,
    /// Rendering took longer than the limit (see `super::render_pool`).
    #[error("rendering the task template took longer than {0:?}")]
    TimedOut(std::time::Duration),
    /// The rendered task is larger than the limit.
    #[error("the rendered task is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its size as JSON.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Rendering needed more memory than a render worker may use.
    #[error("rendering the task template needed more than the limit of {limit_mib} MiB of memory")]
    OutOfMemory {
        /// The limit, in MiB.
        limit_mib: u64,
    },
    /// The renderer panicked inside JSON-e.
    #[error("the JSON-e renderer failed on this template")]
    Crashed,
}

/// Renders `template` with `context` at time `now`.
///
/// Returns `Ok(None)` when the template renders to `null`, which declines the fire. Otherwise
/// the task gets `created`, `deadline` (+1 day), `expires` (+30 days, Taskcluster's "1 month")
/// and `taskGroupId` (the task id) unless the template set them.
///
/// # Errors
/// [`RenderError`] when JSON-e fails or the result is not an object.
pub fn task(
    template: &Value,
    context: &Value,
    task_id: &TaskId,
    now: DateTime<Utc>,
) -> Result<Option<Value>, RenderError> {
    // json_e::render inserts its own wall-clock `now` into the context, which would win over
    // ours; an outer $let binds the fire's time, so $fromNow and ${now} use it and a re-fire of
    // the same slot renders the identical task.
    // Built by hand: `json!` would serialize `template` into a new value, node by node.
    let binding = Map::from_iter([("now".to_owned(), Value::String(iso_time(now)))]);
    let pinned = Value::Object(Map::from_iter([
        ("$let".to_owned(), Value::Object(binding)),
        ("in".to_owned(), template.clone()),
    ]));
    // Since the $let always shadows json-e's own `now`, json-e need not read and format the
    // clock on every render (a fifth of a small template's render): its fixed test time, never
    // seen by a template, costs nothing.
    static SKIP_JSON_E_CLOCK: Once = Once::new();
    SKIP_JSON_E_CLOCK.call_once(json_e::use_test_now);
    let rendered =
        json_e::render(&pinned, context).map_err(|e| RenderError::Template(format!("{e:#}")))?;
    let mut task = match rendered {
        Value::Null => return Ok(None),
        Value::Object(task) => task,
        other => return Err(RenderError::NotAnObject(json_type(&other).to_owned())),
    };
    let mut default = |field: &str, value: String| {
        if task.get(field).is_none_or(Value::is_null) {
            task.insert(field.to_owned(), Value::String(value));
        }
    };
    default("created", iso_time(now));
    default("deadline", iso_time(now + Duration::days(1)));
    default("expires", iso_time(now + Duration::days(30)));
    default("taskGroupId", task_id.as_str().to_owned());
    Ok(Some(Value::Object(task)))
}

/// The scopes a rendered task asks for (`[]` when it names none).
///
/// # Errors
/// [`RenderError::BadScopes`] when `scopes` is not an array of strings.
pub fn task_scopes(task: &Value) -> Result<Vec<&str>, RenderError> {
    match task.get("scopes") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().ok_or(RenderError::BadScopes))
            .collect(),
        Some(_) => Err(RenderError::BadScopes),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    fn id() -> TaskId {
        TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").unwrap()
    }

    #[test]
    fn now_and_from_now_use_the_fire_time_not_the_wall_clock() {
        let template = json!({"a": "${now}", "b": {"$fromNow": "2 hours"}});
        let task = task(&template, &json!({}), &id(), now()).unwrap().unwrap();
        assert_eq!(task["a"], "2026-03-01T12:00:00.000Z");
        assert_eq!(task["b"], "2026-03-01T14:00:00.000Z");
    }

    #[test]
    fn missing_times_and_group_get_defaults() {
        let task = task(&json!({"x": 1}), &json!({}), &id(), now())
            .unwrap()
            .unwrap();
        assert_eq!(task["created"], "2026-03-01T12:00:00.000Z");
        assert_eq!(task["deadline"], "2026-03-02T12:00:00.000Z");
        assert_eq!(task["expires"], "2026-03-31T12:00:00.000Z");
        assert_eq!(task["taskGroupId"], "fN1SbArXTPSVFNUvaOlinQ");
    }

    #[test]
    fn template_values_win_over_defaults() {
        let template = json!({"created": "c", "deadline": "d", "expires": "e", "taskGroupId": "g"});
        let task = task(&template, &json!({}), &id(), now()).unwrap().unwrap();
        assert_eq!(task, template);
    }

    #[test]
    fn a_null_render_declines() {
        let template = json!({"$if": "false", "then": {"a": 1}});
        assert_eq!(task(&template, &json!({}), &id(), now()).unwrap(), None);
    }

    #[test]
    fn errors_name_the_json_e_problem() {
        let err = task(&json!({"a": {"$eval": "nosuch"}}), &json!({}), &id(), now()).unwrap_err();
        assert!(err.to_string().contains("nosuch"), "{err}");
        let err = task(&json!({"$eval": "'text'"}), &json!({}), &id(), now()).unwrap_err();
        assert!(
            matches!(err, RenderError::NotAnObject(ref t) if t == "a string"),
            "{err}"
        );
    }

    #[test]
    fn scopes_must_be_strings() {
        assert_eq!(
            task_scopes(&json!({"scopes": ["a", "b"]})).unwrap(),
            ["a", "b"]
        );
        assert!(task_scopes(&json!({})).unwrap().is_empty());
        assert!(task_scopes(&json!({"scopes": [1]})).is_err());
        assert!(task_scopes(&json!({"scopes": "a"})).is_err());
    }
}
