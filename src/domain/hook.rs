//! Hook definitions and the stored record around them.
//!
//! A [`Hook`] is valid by construction: its schedule and trigger schema are domain types that
//! only parsing makes, and deserializing a hook (a stored one included) parses them. The parsed
//! parts serialize back to exactly what was given, so the API echoes a definition unchanged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Capture, HookGroupId, HookId, HookKey, MissedFires, Ownership, Schedule, TaskId, TaskTemplate,
    TriggerSchema,
};

/// Human-facing facts about a hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// A short name for people.
    pub name: String,
    /// What the hook is for, in Markdown.
    pub description: String,
    /// Email address of the owner.
    pub owner: String,
    /// Whether the owner hears about failed scheduled fires.
    #[serde(default = "email_on_error_default")]
    pub email_on_error: bool,
}

fn email_on_error_default() -> bool {
    true
}

/// One AMQP binding: messages on `exchange` whose routing key matches the pattern fire the hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// Exchange name.
    pub exchange: String,
    /// AMQP topic pattern (`*` one word, `#` any number of words).
    pub routing_key_pattern: String,
}

/// A hook definition, in the JSON shape the API returns.
///
/// Equality is structural, which is what idempotent creation compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    /// The hook's group.
    pub hook_group_id: HookGroupId,
    /// The hook's id within the group.
    pub hook_id: HookId,
    /// Who owns it and what it is.
    pub metadata: Metadata,
    /// Cron patterns, parsed; empty when the hook never fires on time.
    pub schedule: Schedule,
    /// JSON-e template of the task to create.
    pub task: TaskTemplate,
    /// JSON Schema that trigger payloads must satisfy, compiled.
    pub trigger_schema: TriggerSchema,
    /// AMQP bindings that fire the hook.
    pub bindings: Vec<Binding>,
    /// Extension: the scopes tasks of this hook may carry. When absent, the role
    /// `hook-id:<group>/<id>` decides, as in Taskcluster, and the field is not serialized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Extension: this hook's missed-fire policy; the service's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_fires: Option<MissedFires>,
    /// Extension: what of a fire's payload its record keeps; all of it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<Capture>,
}

impl Hook {
    /// The hook's full name.
    pub fn key(&self) -> HookKey {
        HookKey::new(self.hook_group_id.clone(), self.hook_id.clone())
    }

    /// The role a hook's tasks act as when the hook carries no `scopes` of its own.
    pub fn role_id(&self) -> String {
        format!("hook-id:{}/{}", self.hook_group_id, self.hook_id)
    }
}

/// A trigger token encrypted at rest. Only the token cipher can open it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedToken(pub String);

/// What the store keeps for one hook: the definition plus the service's own state about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRecord {
    /// The definition as the API shows it.
    pub hook: Hook,
    /// The encrypted trigger token.
    pub trigger_token: SealedToken,
    /// Bumped on every write; compare-and-set updates name the version they read.
    pub version: u64,
    /// When the scheduler fires next, if the hook has a schedule.
    pub next_scheduled_date: Option<DateTime<Utc>>,
    /// The task id reserved for the next scheduled slot, so a re-fire reuses it.
    pub next_task_id: Option<TaskId>,
    /// Slots a scheduler has claimed but not yet finished firing, oldest first, at millisecond
    /// precision. A claim adds its slot in the same compare-and-set that advances
    /// `next_scheduled_date`; finishing the fire removes it. A slot left here by a crash is
    /// fired again, with the same task id, when a scheduler starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claimed_slots: Vec<DateTime<Utc>>,
    /// Extension: the secrets that sign webhook deliveries, once one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secrets: Option<WebhookSecrets>,
    /// Extension: the apply set that owns the hook, when `hookd apply` wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Ownership>,
}

/// A hook's webhook secrets, encrypted like the trigger token. After a rotation the previous
/// secret stays valid for a grace period, so senders can be switched over without lost
/// deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSecrets {
    /// The secret handed out now.
    pub current: SealedToken,
    /// The secret before the last rotation.
    pub previous: Option<SealedToken>,
    /// When the last rotation happened.
    pub rotated: Option<DateTime<Utc>>,
}

impl HookRecord {
    /// A record for a hook that has never been written: version 1, nothing scheduled yet.
    pub fn new(hook: Hook, trigger_token: SealedToken) -> Self {
        Self {
            hook,
            trigger_token,
            version: 1,
            next_scheduled_date: None,
            next_task_id: None,
            claimed_slots: Vec::new(),
            webhook_secrets: None,
            applied: None,
        }
    }

    /// Sets the next slot to the schedule's first fire time after `now`, the moment its
    /// definition was accepted, with that slot's task id. Without it the first slot would be
    /// whichever follows the moment a scheduler first looked at the hook.
    pub fn schedule_from(&mut self, now: DateTime<Utc>) {
        let next = self.hook.schedule.resume(None, now);
        self.next_task_id = next.map(|slot| TaskId::for_slot(&self.hook.key(), slot));
        self.next_scheduled_date = next;
    }
}

/// Test data shared by the unit tests of several layers.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Hook, Metadata};
    use crate::domain::{HookGroupId, HookId, Schedule, TriggerSchema};

    /// A minimal valid hook `g/<id>` whose metadata name is `name`.
    pub(crate) fn hook(id: &str, name: &str) -> Hook {
        Hook {
            hook_group_id: HookGroupId::parse("g").unwrap(),
            hook_id: HookId::parse(id).unwrap(),
            metadata: Metadata {
                name: name.into(),
                description: "d".into(),
                owner: "o@example.com".into(),
                email_on_error: true,
            },
            schedule: Schedule::default(),
            task: serde_json::json!({}).into(),
            trigger_schema: TriggerSchema::parse(serde_json::json!({"type": "object"})).unwrap(),
            bindings: vec![],
            scopes: None,
            missed_fires: None,
            capture: None,
        }
    }
}
