//! Extension: a bulk replay job, as stored. It names a hook, a time range and which fires in it
//! to replay (and how), and carries its own progress: a keyset cursor into the hook's fire
//! history, the counts so far, and the earliest time of its next replay (the rate bound), so
//! that whichever process resumes it continues where the last one stopped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{FireRecord, HookGroupId, HookId, HookKey, TaskId};

/// Which template a replay renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TemplateChoice {
    /// The template the recorded fire rendered.
    Recorded,
    /// The hook's template now.
    Current,
}

/// Which task id a replay submits under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TaskIdChoice {
    /// A fresh one, at the time of the replay: a new task.
    New,
    /// The recorded fire's, at its time: the very task again, which the task queue accepts
    /// once (so a second replay answers the task that exists), or refuses when it differs.
    Same,
}

/// Which recorded fires a bulk replay takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FireResult {
    /// Fires that failed.
    Error,
    /// Fires that succeeded.
    Success,
    /// Every fire.
    All,
}

impl FireResult {
    /// Whether `fire` is one this choice takes. Replays are never replayed again by a job:
    /// a job's own replays land in (or near) its range and would otherwise feed it.
    pub fn takes(self, fire: &FireRecord) -> bool {
        fire.replay.is_none()
            && match self {
                Self::Error => fire.failure.is_some(),
                Self::Success => fire.failure.is_none(),
                Self::All => true,
            }
    }
}

/// Where a bulk replay job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobState {
    /// Replaying, or waiting for its next turn.
    Running,
    /// Every fire of the plan was replayed (or failed to).
    Done,
    /// Stopped by a caller before the end.
    Cancelled,
}

/// The position of a job in its hook's fire history (newest first): the last fire it passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCursor {
    /// Time of the last fire passed.
    pub time: DateTime<Utc>,
    /// Id of the last fire passed.
    pub fire_id: Uuid,
}

/// One bulk replay job of one hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayJob {
    /// The job's id.
    pub job_id: Uuid,
    /// The hook whose fires it replays.
    pub hook_group_id: HookGroupId,
    /// The hook whose fires it replays.
    pub hook_id: HookId,
    /// The oldest fire time it takes, inclusive.
    pub since: DateTime<Utc>,
    /// The newest fire time it takes, inclusive.
    pub until: DateTime<Utc>,
    /// Which fires it takes.
    pub result: FireResult,
    /// The template each replay renders.
    pub template: TemplateChoice,
    /// The task id each replay submits under.
    pub task_id: TaskIdChoice,
    /// Who created the job, recorded as the caller of each replay.
    pub client_id: String,
    /// When the job was created; its replays with new task ids are fired at this time.
    pub created: DateTime<Utc>,
    /// Where it stands.
    pub state: JobState,
    /// How many fires it planned to replay when created.
    pub planned: u64,
    /// How many it replayed so far (a replay that fired and failed counts too).
    pub replayed: u64,
    /// How many it could not replay (the record kept no payload, the hook refused it).
    pub failed: u64,
    /// The last fire it passed, `None` before the first.
    pub cursor: Option<JobCursor>,
    /// The earliest time of its next replay.
    pub next_at: DateTime<Utc>,
    /// Bumped by every write, for compare-and-set.
    pub version: u64,
}

impl ReplayJob {
    /// The hook whose fires it replays.
    pub fn key(&self) -> HookKey {
        HookKey::new(self.hook_group_id.clone(), self.hook_id.clone())
    }

    /// The task id of this job's replay of `fire_id` when it fires new tasks: the same
    /// however often the replay is attempted, so a job resumed after a crash submits nothing
    /// twice.
    pub fn task_id_for(&self, fire_id: Uuid) -> TaskId {
        TaskId::derived_from(format!("replay-job:{}:{fire_id}", self.job_id).as_bytes())
    }
}
