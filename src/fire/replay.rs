//! Replaying a recorded fire (extension): the trigger a replay fires with, made from what the
//! fire's record kept, and the dry run that shows the task it would submit against the task
//! that was submitted.
//!
//! A replay is one more way into [`super::fire`]: [`replay`] turns a recorded fire and the
//! caller's choices into a hook (with the recorded or current template) and a [`Trigger`], and
//! the fire path does not learn that it is a replay, except to note it in the new record.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::outcome::FireError;
use super::preview::{preview, Preview};
use super::render::pool::RenderPool;
use super::trigger::Trigger;
use crate::domain::{
    json_diff, FireRecord, HookRecord, JsonChange, ReplayJob, ReplayOf, Roles, SubmittedTask,
    TaskId,
};
pub use crate::domain::{TaskIdChoice, TemplateChoice};

/// What a caller asks of a replay.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayRequest {
    /// The template to render.
    pub template: TemplateChoice,
    /// A payload instead of the recorded one.
    #[serde(default)]
    pub payload_override: Option<Value>,
    /// The task id to submit under.
    pub task_id: TaskIdChoice,
    /// Only show what would be submitted.
    #[serde(default)]
    pub dry_run: bool,
}

/// Why a fire cannot be replayed as asked.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The record kept no whole payload, and none was given instead.
    #[error("fire {fire} cannot be replayed from its record: {why}; give a payloadOverride to replay it with another payload")]
    PayloadNotKept {
        /// The recorded fire.
        fire: Uuid,
        /// What happened to its payload.
        why: &'static str,
    },
    /// The record kept no template, and the recorded one was asked for.
    #[error("fire {fire} cannot be replayed with its recorded template: {why}; replay it with the current template")]
    TemplateNotKept {
        /// The recorded fire.
        fire: Uuid,
        /// What happened to its template.
        why: &'static str,
    },
}

/// Why a record without a context cannot be replayed.
const NO_CONTEXT: &str = "it was recorded before hookd kept what fires were fired with";

/// Who asks for a replay, and what a new task is made of.
#[derive(Debug, Clone, Copy)]
pub enum Asker<'a> {
    /// A caller, for one fire: a new task is a fresh one at `now`.
    Caller {
        /// The caller's client id.
        client_id: &'a str,
        /// The time of the replay.
        now: chrono::DateTime<chrono::Utc>,
    },
    /// A bulk replay job: a new task has the id [`ReplayJob::task_id_for`] and the job's
    /// creation time, and is recorded under an id derived from it, so a job resumed after a
    /// crash submits and records each replay once.
    Job(&'a ReplayJob),
}

/// The hook (with the template chosen) and the trigger that replay `fire` of `record` as
/// `request` asks, for `asker`.
///
/// # Errors
/// [`ReplayError`] when the record did not keep what the replay needs.
pub fn replay(
    record: &HookRecord,
    fire: &FireRecord,
    request: &ReplayRequest,
    asker: Asker<'_>,
) -> Result<(HookRecord, Trigger), ReplayError> {
    let Some(context) = &fire.context else {
        return Err(ReplayError::PayloadNotKept {
            fire: fire.fire_id,
            why: NO_CONTEXT,
        });
    };
    let payload = match (
        &request.payload_override,
        context.payload_kept.why_not_replayable(),
    ) {
        (Some(payload), _) => Some(payload.clone()),
        (None, None) => context.payload.clone(),
        (None, Some(why)) => {
            return Err(ReplayError::PayloadNotKept {
                fire: fire.fire_id,
                why,
            })
        }
    };
    let mut hook = record.clone();
    if request.template == TemplateChoice::Recorded {
        let recorded = context
            .template
            .clone()
            .ok_or(ReplayError::TemplateNotKept {
                fire: fire.fire_id,
                why: "it was larger than the size kept per fire",
            })?;
        hook.hook.task = recorded.into();
    }
    let client_id = match asker {
        Asker::Caller { client_id, .. } => client_id,
        Asker::Job(job) => &job.client_id,
    };
    let of = ReplayOf {
        fire_id: fire.fire_id,
        client_id: client_id.to_owned(),
    };
    let (time, task_id, settles_as) = match (request.task_id, asker) {
        (TaskIdChoice::New, Asker::Caller { now, .. }) => (now, None, None),
        (TaskIdChoice::New, Asker::Job(job)) => {
            let task_id = job.task_id_for(fire.fire_id);
            (job.created, Some(task_id.clone()), Some(task_id))
        }
        // Recorded once however often it is asked for: the id derives from the fire replayed.
        (TaskIdChoice::Same, _) => (
            fire.task_create_time,
            Some(fire.task_id.clone()),
            Some(TaskId::derived_from(
                format!("replay-same:{}", fire.fire_id).as_bytes(),
            )),
        ),
    };
    let trigger = Trigger::replay(
        fire.fired_by,
        payload,
        context.trigger.clone(),
        time,
        task_id,
        (of, settles_as),
    );
    Ok((hook, trigger))
}

/// What a dry run of a replay answers: the preview of the fire, the task the recorded fire
/// submitted (when this service knows it) and how the two differ.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// What the replay would validate, render and check.
    #[serde(flatten)]
    pub preview: Preview,
    /// The task the recorded fire submitted; `null` when it submitted none, or went to a task
    /// queue whose tasks this service does not keep.
    pub submitted: Option<Value>,
    /// Every difference from `submitted` to `task`, or `null` without both.
    pub diff: Option<Vec<JsonChange>>,
}

/// Previews the replay of `hook` for `trigger`, against `submitted`, the recorded fire's task.
///
/// # Errors
/// What [`preview`] refuses.
pub async fn dry_run(
    renderer: &RenderPool,
    roles: &Roles,
    hook: &HookRecord,
    trigger: Trigger,
    submitted: Option<SubmittedTask>,
) -> Result<DryRun, FireError> {
    let preview = preview(renderer, roles, &hook.hook, trigger).await?;
    let submitted = submitted.map(|s| s.task);
    let diff = match (&submitted, &preview.task) {
        (Some(before), Some(after)) => Some(json_diff(before, after)),
        _ => None,
    };
    Ok(DryRun {
        preview,
        submitted,
        diff,
    })
}
