//! Running an alias: the payload from the parameters, the fire as the chat user, and the ack
//! and result messages from the alias's templates.
//!
//! Templates (payload, ack, result) are JSON-e written by whoever manages aliases; they render
//! in the same worker processes as task templates, under the same deadline, memory and size
//! bounds, never in this process.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::clock::Clock;
use crate::domain::chat_alias::AckVisibility;
use crate::domain::{ChatAlias, HookRecord, TaskId, TaskTemplate};
use crate::fire::{self, FireDeps, Fired, PoolError, Trigger};

/// A matched alias, ready to run for one user in one room.
pub struct Command {
    /// The alias.
    pub alias: ChatAlias,
    /// Who asked: `chat:<platform>:<user id>`.
    pub principal: String,
    /// The platform's name.
    pub platform: &'static str,
    /// Where they asked.
    pub room: String,
    /// What they said.
    pub text: String,
    /// The parameters, typed by the hook's trigger schema.
    pub parameters: Value,
}

/// A command whose payload is made and checked, waiting to fire.
pub struct Run {
    deps: FireDeps,
    clock: Arc<dyn Clock>,
    record: HookRecord,
    command: Command,
    payload: Value,
    approved_by: Option<String>,
}

/// What stops a command before it fires; said to the user.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The alias names a hook that does not exist.
    #[error("hook {0} does not exist")]
    NoHook(String),
    /// A template did not render.
    #[error("the alias's {0} template failed: {1}")]
    Template(&'static str, #[source] PoolError),
    /// The payload breaks the hook's trigger schema.
    #[error(transparent)]
    Payload(#[from] crate::domain::PayloadError),
    /// The store failed.
    #[error("hookd's store is unavailable; try again later")]
    Store(#[from] crate::store::StoreError),
}

impl Run {
    /// Reads the alias's hook, makes the payload and checks it against the hook's trigger
    /// schema, so a bad command is refused before anything is acknowledged.
    ///
    /// # Errors
    /// [`RunError`].
    pub async fn prepare(
        deps: &FireDeps,
        clock: &Arc<dyn Clock>,
        command: Command,
        approved_by: Option<String>,
    ) -> Result<Self, RunError> {
        let key = command.alias.hook_key();
        let record = deps
            .store
            .get_hook(&key)
            .await?
            .ok_or_else(|| RunError::NoHook(key.to_string()))?;
        let payload = match &command.alias.payload {
            None => command.parameters.clone(),
            Some(template) => {
                let context = json!({
                    "parameters": command.parameters,
                    "user": command.principal,
                    "room": command.room,
                });
                render(deps, clock, template, &context)
                    .await
                    .map_err(|e| RunError::Template("payload", e))?
            }
        };
        record.hook.trigger_schema.validate(&payload)?;
        Ok(Self {
            deps: deps.clone(),
            clock: Arc::clone(clock),
            record,
            command,
            payload,
            approved_by,
        })
    }

    /// Where slash-command platforms show the acknowledgement.
    pub fn ack_visibility(&self) -> AckVisibility {
        self.command.alias.ack_visibility
    }

    /// The acknowledgement, from the alias's `ack` template.
    pub async fn ack(&self) -> String {
        let default = json!("${user} runs ${alias}: firing hook ${hook}");
        self.message(
            "ack",
            self.command.alias.ack.as_ref(),
            &default,
            Value::Null,
        )
        .await
    }

    /// Fires the hook as the chat user and says how it went, from the alias's `result`
    /// template. The command and its outcome are audited.
    pub async fn result(self) -> String {
        let mut chat = Map::new();
        chat.insert("platform".into(), self.command.platform.into());
        chat.insert("room".into(), self.command.room.clone().into());
        chat.insert("alias".into(), self.command.alias.alias_id.as_str().into());
        if let Some(approver) = &self.approved_by {
            chat.insert("approvedBy".into(), approver.clone().into());
        }
        let trigger = Trigger::chat(
            self.payload.clone(),
            &self.command.principal,
            chat,
            self.clock.now(),
        );
        let outcome = fire::fire(&self.deps, &self.record, trigger).await;
        let fired = match &outcome {
            Ok(Fired::Created(task_id)) => json!({
                "taskId": task_id,
                "error": null,
                "links": links(&self.record, Some(task_id)),
            }),
            Ok(Fired::Declined) => json!({
                "taskId": null,
                "error": {"code": "Declined", "message": "the hook's template declined to fire"},
                "links": links(&self.record, None),
            }),
            Err(e) => json!({
                "taskId": null,
                "error": {"code": e.disposition().result().as_str(), "message": e.to_string()},
                "links": links(&self.record, None),
            }),
        };
        let default = json!({
            "$if": "error",
            "then": "hook ${hook} did not fire: ${error.message}",
            "else": "hook ${hook} fired: task ${taskId}",
        });
        let text = self
            .message(
                "result",
                self.command.alias.result.as_ref(),
                &default,
                fired,
            )
            .await;
        tracing::info!(
            target: "hookd::chat::audit",
            platform = self.command.platform,
            user = %self.command.principal,
            room = %self.command.room,
            text = %self.command.text,
            alias = %self.command.alias.alias_id,
            approved_by = self.approved_by.as_deref().unwrap_or(""),
            result = %text,
            "chat command fired"
        );
        text
    }

    /// Renders a message template over the command and `fired`, falling back to `default`
    /// when the alias's own template fails (the failure is said, not swallowed).
    async fn message(
        &self,
        what: &'static str,
        template: Option<&Value>,
        default: &Value,
        fired: Value,
    ) -> String {
        let mut context = json!({
            "alias": self.command.alias.alias_id.as_str(),
            "hook": self.record.hook.key().to_string(),
            "user": self.command.principal,
            "room": self.command.room,
            "text": self.command.text,
            "parameters": self.command.parameters,
            "payload": self.payload,
        });
        if let (Value::Object(context), Value::Object(fired)) = (&mut context, fired) {
            context.extend(fired);
        }
        let rendered = render(
            &self.deps,
            &self.clock,
            template.unwrap_or(default),
            &context,
        )
        .await;
        match rendered {
            Ok(Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(e) => format!("(the alias's {what} template failed: {e})"),
        }
    }
}

/// API paths of what a fire made, for messages.
fn links(record: &HookRecord, task_id: Option<&TaskId>) -> Value {
    let key = record.hook.key();
    let hook = format!(
        "/api/hooks/v1/hooks/{}/{}",
        key.group,
        key.id.as_str().replace('/', "%2F")
    );
    let mut links = json!({ "hook": hook, "lastFires": format!("{hook}/last-fires") });
    if let Some(task_id) = task_id {
        links["task"] = format!("/api/hooks/v1/tasks/{task_id}").into();
    }
    links
}

/// Renders a JSON-e `template` over `context` in the render workers. They render tasks, so the
/// template travels as the one field of an object and comes back out of it (the task defaults
/// the workers add beside it are dropped).
async fn render(
    deps: &FireDeps,
    clock: &Arc<dyn Clock>,
    template: &Value,
    context: &Value,
) -> Result<Value, PoolError> {
    let wrapped = TaskTemplate::from(json!({ "value": template }));
    let rendered = deps
        .renderer
        .task(&wrapped, context, &TaskId::generate(), clock.now())
        .await?;
    Ok(rendered
        .and_then(|mut task| task.get_mut("value").map(Value::take))
        .unwrap_or(Value::Null))
}
