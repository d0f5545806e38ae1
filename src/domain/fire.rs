//! The record of one fire: who fired which hook, which task id it chose and how it ended.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{HookKey, TaskId};

/// What fired a hook. The serialized names are Taskcluster's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FiredBy {
    /// The cron schedule.
    Schedule,
    /// An authenticated `triggerHook` call.
    TriggerHook,
    /// A `triggerHookWithToken` call.
    TriggerHookWithToken,
    /// A message on a bound exchange.
    PulseMessage,
    /// Extension: a signed webhook delivery (GitHub, GitLab, Standard Webhooks).
    Webhook,
}

impl FiredBy {
    /// The name used in the API and in the JSON-e context.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::TriggerHook => "triggerHook",
            Self::TriggerHookWithToken => "triggerHookWithToken",
            Self::PulseMessage => "pulseMessage",
            Self::Webhook => "webhook",
        }
    }
}

/// Why a fire failed, as shown in getHookStatus and listLastFires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FireFailure {
    /// A short machine-readable kind, e.g. `InputError` or `InsufficientScopes`.
    pub code: String,
    /// A sentence for the hook's owner.
    pub message: String,
}

/// One fire of a hook, successful or not. Declined fires (template rendered to `null`) are not
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FireRecord {
    /// Unique id of this fire; a time-ordered UUID, which breaks ties between equal times.
    pub fire_id: Uuid,
    /// The hook that fired.
    pub hook_group_id: super::HookGroupId,
    /// The hook that fired.
    pub hook_id: super::HookId,
    /// What fired it.
    pub fired_by: FiredBy,
    /// The task id chosen for the fire (also on failure).
    pub task_id: TaskId,
    /// When the fire happened, at millisecond precision so every backend stores it exactly.
    pub task_create_time: DateTime<Utc>,
    /// Present when the fire failed.
    pub failure: Option<FireFailure>,
}

impl FireRecord {
    /// A new record with a fresh id; `time` is truncated to milliseconds.
    pub fn new(
        key: &HookKey,
        fired_by: FiredBy,
        task_id: TaskId,
        time: DateTime<Utc>,
        failure: Option<FireFailure>,
    ) -> Self {
        Self {
            fire_id: Uuid::now_v7(),
            hook_group_id: key.group.clone(),
            hook_id: key.id.clone(),
            fired_by,
            task_id,
            task_create_time: time.trunc_subsecs(3),
            failure,
        }
    }

    /// The hook this fire belongs to.
    pub fn key(&self) -> HookKey {
        HookKey::new(self.hook_group_id.clone(), self.hook_id.clone())
    }
}
