//! The record of one fire: who fired which hook, which task id it chose and how it ended.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{FireContext, HookKey, TaskId};

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
    /// Extension: a chat command, by a chat user (see `crate::chat`).
    Chat,
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
            Self::Chat => "chat",
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
    /// Unique id of this fire, which also breaks ties between equal times: a time-ordered UUID,
    /// or for the final fire of a slot or message the id [`FireRecord::settled_id`] derives
    /// from its task id, so a second attempt at it finds it recorded.
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
    /// Written as chrono writes it, by a faster hand: every fire records one.
    #[serde(serialize_with = "super::time::serialize_rfc3339")]
    pub task_create_time: DateTime<Utc>,
    /// Present when the fire failed.
    pub failure: Option<FireFailure>,
    /// Extension: what the fire was fired with, as the hook's capture option let it be kept.
    /// Absent from fires recorded before contexts were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<FireContext>,
    /// Extension: the fire this one replayed, and who asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayOf>,
}

/// Extension: which fire a replay fired again, and who asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayOf {
    /// The fire replayed.
    pub fire_id: Uuid,
    /// The client that asked for the replay.
    pub client_id: String,
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
            context: None,
            replay: None,
        }
    }

    /// The fire id under which the final fire (a success, or a failure that no retry can fix)
    /// of the slot or message reserving `task_id` is recorded. Derived from the task id
    /// alone, so whoever fires the slot or message again, after a crash, on another replica or
    /// after a lost acknowledgement, can ask the store whether it was already fired to the end.
    ///
    /// It is the task id's own bits with the first one set (and the version field saying
    /// "custom", as for every id made here from bytes of its own). Every task id leaves that bit
    /// clear (slugid's "nice" form) and so does every time-ordered id (its milliseconds fit in
    /// 47 bits for millennia), so it sorts after every time-ordered id: among fires at one time
    /// (a slot's attempts all carry the slot time) the final one is listed as the newest. And
    /// as task ids begin with their time, so do settled ids: a slot's final fires sit together
    /// in the store's fire-id index.
    pub fn settled_id(task_id: &TaskId) -> Uuid {
        let mut bytes = task_id.to_bytes();
        bytes[0] |= 0x80;
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }

    /// The settled id builds before time-first task ids gave `task_id`: 48 one bits, then
    /// bits of the task id's hash. Kept so that final fires those builds recorded are still
    /// found (see `fire::settled`); it can go with [`TaskId::for_slot_by_hash`].
    pub fn settled_id_by_hash(task_id: &TaskId) -> Uuid {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(task_id.as_str().as_bytes());
        let mut bytes = [0xff; 16];
        bytes[6..].copy_from_slice(&digest[..10]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }

    /// The hook this fire belongs to.
    pub fn key(&self) -> HookKey {
        HookKey::new(self.hook_group_id.clone(), self.hook_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settled_id_depends_on_the_task_id_alone_and_sorts_after_time_ordered_ids() {
        let (a, b) = (TaskId::generate(), TaskId::generate());
        assert_eq!(FireRecord::settled_id(&a), FireRecord::settled_id(&a));
        assert_ne!(FireRecord::settled_id(&a), FireRecord::settled_id(&b));
        let earlier_attempt = Uuid::now_v7();
        assert!(FireRecord::settled_id(&a) > earlier_attempt);
        assert!(
            fire_id_text(FireRecord::settled_id(&a)) > fire_id_text(earlier_attempt),
            "the stores order fire ids by their hyphenated text"
        );
    }

    #[test]
    fn a_settled_id_begins_with_its_task_ids_time() {
        let slot = "2026-05-01T10:00:00Z".parse().unwrap();
        let key = |id: &str| {
            HookKey::new(
                crate::domain::HookGroupId::parse("g").unwrap(),
                crate::domain::HookId::parse(id).unwrap(),
            )
        };
        let (a, b) = (
            FireRecord::settled_id(&TaskId::for_slot(&key("a"), slot)),
            FireRecord::settled_id(&TaskId::for_slot(&key("b"), slot)),
        );
        assert_ne!(a, b);
        assert_eq!(
            a.as_bytes()[..6],
            b.as_bytes()[..6],
            "a slot's settled ids sit together"
        );
        let task = TaskId::for_slot(&key("a"), slot).to_bytes();
        let own_bits = |bytes: &[u8]| [&bytes[1..6], &bytes[7..]].concat();
        assert_eq!(
            own_bits(a.as_bytes()),
            own_bits(&task),
            "the task id's own bits, not a hash"
        );
    }

    #[test]
    fn a_settled_id_by_hash_is_the_one_earlier_builds_gave() {
        let task_id = TaskId::parse("PjqLhrTqRaqlST4SrRMm3A").unwrap();
        assert_eq!(
            FireRecord::settled_id_by_hash(&task_id).to_string(),
            "ffffffff-ffff-8fba-b697-0b41535aee00"
        );
    }

    fn fire_id_text(id: Uuid) -> String {
        id.hyphenated().to_string()
    }
}
