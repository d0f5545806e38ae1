//! A task as it was handed to the task sink, with where it came from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{FireRecord, FiredBy, HookGroupId, HookId, TaskId};

/// A task's state in the queue, with Taskcluster's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting for its dependencies.
    Unscheduled,
    /// Waiting for a worker.
    Pending,
    /// A worker is on it.
    Running,
    /// Done, successfully.
    Completed,
    /// Done, unsuccessfully.
    Failed,
    /// Stopped by something other than its own result.
    Exception,
}

/// A rendered task definition plus its provenance: the hook and the fire that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedTask {
    /// The task id, also the sink's idempotency key.
    pub task_id: TaskId,
    /// The hook that made it.
    pub hook_group_id: HookGroupId,
    /// The hook that made it.
    pub hook_id: HookId,
    /// The fire that made it.
    pub fire_id: Uuid,
    /// What fired the hook.
    pub fired_by: FiredBy,
    /// When it was submitted (the fire time). Written as chrono writes it, by a faster hand:
    /// every fire submits one.
    #[serde(serialize_with = "super::time::serialize_rfc3339")]
    pub submitted: DateTime<Utc>,
    /// The task definition exactly as submitted.
    pub task: Value,
}

impl SubmittedTask {
    /// `task` as `fire` submits it: under the fire's task id, with the fire's provenance.
    pub fn of_fire(fire: &FireRecord, task: Value) -> Self {
        Self {
            task_id: fire.task_id.clone(),
            hook_group_id: fire.hook_group_id.clone(),
            hook_id: fire.hook_id.clone(),
            fire_id: fire.fire_id,
            fired_by: fire.fired_by,
            submitted: fire.task_create_time,
            task,
        }
    }
}
