//! A refused attempt to fire a hook (extension): a payload its trigger schema refused, a
//! webhook delivery with a bad signature, a template that declined. None of these is a fire,
//! so none is in the fire history Taskcluster's clients read; each is kept, with its reason,
//! among the hook's latest refusals, so an owner can see why their hook did not fire.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{FireContext, FiredBy, HookGroupId, HookId, HookKey};

/// How many refusals a hook keeps, the newest; older ones are dropped as new ones come, so a
/// flood of bad deliveries cannot fill the store.
pub const REFUSALS_KEPT_PER_HOOK: usize = 100;

/// Why an attempt did not fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RefusalReason {
    /// The payload broke the hook's trigger schema, or carried a bad `taskId`.
    PayloadRefused,
    /// A webhook delivery's signature did not verify.
    BadSignature,
    /// The template rendered to `null`.
    Declined,
}

/// One refused attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// A time-ordered id, which also breaks ties between equal times.
    pub refusal_id: Uuid,
    /// The hook it was for.
    pub hook_group_id: HookGroupId,
    /// The hook it was for.
    pub hook_id: HookId,
    /// What tried to fire it.
    pub fired_by: FiredBy,
    /// When, at millisecond precision.
    pub time: DateTime<Utc>,
    /// Why it did not fire.
    pub reason: RefusalReason,
    /// The reason in a sentence for the hook's owner.
    pub message: String,
    /// What it was attempted with, as the hook's capture option keeps a fire's; absent for a
    /// bad signature, whose body nobody vouches for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<FireContext>,
}

impl Refusal {
    /// A refusal of `key`'s hook at `time` (truncated to milliseconds), with a fresh id.
    pub fn new(
        key: &HookKey,
        fired_by: FiredBy,
        time: DateTime<Utc>,
        reason: RefusalReason,
        message: String,
    ) -> Self {
        Self {
            refusal_id: Uuid::now_v7(),
            hook_group_id: key.group.clone(),
            hook_id: key.id.clone(),
            fired_by,
            time: time.trunc_subsecs(3),
            reason,
            message,
            context: None,
        }
    }

    /// The hook it was for.
    pub fn key(&self) -> HookKey {
        HookKey::new(self.hook_group_id.clone(), self.hook_id.clone())
    }
}
