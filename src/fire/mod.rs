//! Firing a hook: validate the payload, render the task, check its scopes, submit it, record it;
//! and previewing a fire, which shares every step up to the submission (see [`preview`]).
//!
//! Every trigger (API call, token, schedule, message) ends in [`fire`]. Triggers convert their
//! input into a [`Trigger`] at the edge, so this path has no per-trigger branches. Retries are
//! not made here: a sink retries what is transient, a scheduler or listener re-fires a slot or
//! message with the same task id.
//!
//! Owns: [`fire`] and what it needs ([`FireDeps`], `deps`), how a fire ends and what that means
//! downstream ([`Fired`], [`FireError`], `outcome`), the trigger context ([`Trigger`]), the log
//! line and metric of each fire (`report`), rendering in worker processes ([`render`]) and the task
//! sinks ([`sink`]). Leaves to others: when to fire (`scheduler`, `listener`, `api`), storing
//! (`store`), what a notice says and where it goes (`notify`).

use std::sync::Arc;

use futures_util::future::join_all;
use uuid::Uuid;

use crate::domain::{
    Encoded, FireFailure, FireRecord, Hook, HookRecord, Refusal, RefusalReason, SubmittedTask,
    REFUSALS_KEPT_PER_HOOK,
};
use crate::notify::Audience;
use crate::store::StoreError;

pub mod bulk_replay;
mod deps;
mod outcome;
mod prepare;
mod preview;
pub mod render;
pub mod replay;
mod report;
pub mod sink;
mod trigger;

pub use deps::FireDeps;
pub use outcome::{Disposition, FailureClass, FireError, Fired, Record};
pub use preview::{preview, Preview};
pub use render::pool::{PoolError, RenderLimits, RenderPool, RenderWorkerUnavailable};
pub use render::RenderError;
pub use sink::{SinkError, Submission, TaskSink};
pub use trigger::Trigger;

use prepare::prepare;
use report::Report;

/// Fires the hook in `record` for `trigger`.
///
/// # Errors
/// [`FireError`]; its [`FireError::disposition`] says whether it was recorded, and whether
/// firing again may help.
#[tracing::instrument(skip_all, fields(hook = %record.hook.key(), fired_by = trigger.fired_by().as_str()))]
pub async fn fire(
    deps: &FireDeps,
    record: &HookRecord,
    trigger: Trigger,
) -> Result<Fired, FireError> {
    let report = Report::start(deps, record.hook.key(), &trigger);
    let Rendered {
        trigger,
        fire,
        task,
    } = rendered(deps, record, trigger).await;
    let created = match task {
        Ok(Some(task)) => (deps.sink.submit_fired(&task, &fire).await)
            .map(Created::Task)
            .map_err(Into::into),
        Ok(None) => Ok(Created::Declined),
        Err(e) => Err(e),
    };
    let task_id = fire.task_id.clone();
    let outcome = write_down(deps, &record.hook, &trigger, fire, created).await;
    report.finish(&task_id, outcome)
}

/// A fire's record and its rendered task, or why it has none. Nothing of it has left the
/// process yet.
struct Rendered {
    trigger: Trigger,
    fire: FireRecord,
    /// The task to submit; `None` when the template declined.
    task: Result<Option<SubmittedTask>, FireError>,
}

/// Every step of [`fire`] before its task leaves the process: the fire's record, the checks
/// of its input, the rendered task and the check of its scopes.
async fn rendered(deps: &FireDeps, record: &HookRecord, trigger: Trigger) -> Rendered {
    let mut fire = FireRecord::new(
        &record.hook.key(),
        trigger.fired_by(),
        trigger.recorded_task_id(),
        trigger.time(),
        None,
    );
    if let Some(settled) = trigger.settled_fire_id() {
        fire.fire_id = settled;
    }
    trigger.annotate(&mut fire, &record.hook, deps.context_limit);
    let task = render_task(deps, &record.hook, &trigger, &fire).await;
    Rendered {
        trigger,
        fire,
        task,
    }
}

/// A fire made ready ahead of its time by [`ready`]: as [`Rendered`], with the task and the
/// record already encoded for their write.
pub struct Ready {
    trigger: Trigger,
    fire: Encoded<FireRecord>,
    task: Result<Option<Encoded<SubmittedTask>>, FireError>,
}

/// Every step of [`fire`] before its task leaves the process, and the encoding of what is
/// written at its time, for a trigger whose context is known ahead (a scheduled slot: `now` is
/// the slot time): this runs before its time, and [`fire_ready`] does the rest at its time.
pub async fn ready(deps: &FireDeps, record: &HookRecord, trigger: Trigger) -> Ready {
    let Rendered {
        trigger,
        fire,
        task,
    } = rendered(deps, record, trigger).await;
    Ready {
        trigger,
        fire: Encoded::new(fire),
        task: task.map(|task| task.map(Encoded::new)),
    }
}

/// Fires what [`ready`] made ready, each for the hook in its record, as [`fire`] would each:
/// the tasks go to the sink together ([`TaskSink::submit_fired_many`]: one durable write with
/// the local outbox), and each fire ends as one of [`fire`] (its record, its log line, its
/// count). Answers for each in order.
pub async fn fire_ready(
    deps: &FireDeps,
    fires: Vec<(&HookRecord, Box<Ready>)>,
) -> Vec<Result<Fired, FireError>> {
    let reports: Vec<Report> = (fires.iter())
        .map(|(record, ready)| Report::start(deps, record.hook.key(), &ready.trigger))
        .collect();
    let tasks: Vec<(&Encoded<SubmittedTask>, &Encoded<FireRecord>)> = (fires.iter())
        .filter_map(|(_, ready)| match &ready.task {
            Ok(Some(task)) => Some((task, &ready.fire)),
            _ => None,
        })
        .collect();
    let mut submitted = deps.sink.submit_fired_many(&tasks).await.into_iter();
    let written = fires.into_iter().map(|(record, ready)| {
        let Ready {
            trigger,
            fire,
            task,
        } = *ready;
        let created = match task {
            Ok(Some(_)) => match submitted.next() {
                Some(answer) => answer.map(Created::Task).map_err(Into::into),
                None => {
                    Err(SinkError::Unavailable("the sink left a task unanswered".into()).into())
                }
            },
            Ok(None) => Ok(Created::Declined),
            Err(e) => Err(e),
        };
        async move {
            let fire = fire.into_inner();
            let task_id = fire.task_id.clone();
            let outcome = write_down(deps, &record.hook, &trigger, fire, created).await;
            (task_id, outcome)
        }
    });
    let outcomes = join_all(written).await;
    (reports.into_iter().zip(outcomes))
        .map(|(report, (task_id, outcome))| report.finish(&task_id, outcome))
        .collect()
}

/// How far a fire that did not fail got before it is written down.
enum Created {
    /// The template rendered to `null`: nothing was submitted.
    Declined,
    /// The task went to the sink, which may have recorded the fire with it.
    Task(Submission),
}

/// Checks the input, then renders and checks the task of one fire.
async fn render_task(
    deps: &FireDeps,
    hook: &Hook,
    trigger: &Trigger,
    fire: &FireRecord,
) -> Result<Option<SubmittedTask>, FireError> {
    let prepared = prepare(&deps.renderer, &deps.roles, hook, trigger, &fire.task_id).await?;
    Ok((prepared.into_task(hook)?).map(|task| SubmittedTask::of_fire(fire, task)))
}

/// Writes `fire` into the hook's history as `outcome`'s disposition says (unless the sink
/// already recorded it with its task), and has a failure announced to whoever it concerns.
/// When the write fails, so does the fire, whatever happened before: the caller retries it or
/// answers 503.
async fn write_down(
    deps: &FireDeps,
    hook: &Hook,
    trigger: &Trigger,
    mut fire: FireRecord,
    outcome: Result<Created, FireError>,
) -> Result<Fired, FireError> {
    let outcome = match outcome {
        // A declined fire is not a fire; the hook's refusals show it.
        Ok(Created::Declined) => {
            let why = "the template rendered to null".to_owned();
            refused(deps, &fire, RefusalReason::Declined, why).await;
            return Ok(Fired::Declined);
        }
        Ok(Created::Task(Submission::Recorded)) => return Ok(Fired::Created(fire.task_id)),
        Ok(Created::Task(Submission::Submitted)) => Ok(Fired::Created(fire.task_id.clone())),
        Err(e) => match failure_to_record(&e, trigger) {
            Some(failure) => {
                fire.failure = Some(failure);
                Err(e)
            }
            None => {
                if e.disposition().record == Record::Refusal {
                    refused(deps, &fire, RefusalReason::PayloadRefused, e.to_string()).await;
                }
                return Err(e);
            }
        },
    };
    if outcome.as_ref().is_err_and(|e| e.disposition().transient) {
        // Not the final fire: the slot or message is fired again, and that fire's record must
        // not be taken for a repeat of this one.
        fire.fire_id = Uuid::now_v7();
    }
    deps.store.record_fire(&fire).await?;
    if let Err(e) = &outcome {
        match e.disposition().audience() {
            Some(audience) => notify_in_background(deps, hook, &fire, audience),
            // The fire's log line leaves out the task id of a refusal; this one has it.
            None => tracing::info!(task_id = %fire.task_id, "refused fire recorded"),
        }
    }
    outcome
}

/// Keeps an attempt that did not fire among its hook's refusals, with the context `fire` kept.
/// A refusal that cannot be written is logged, not failed: it changes nothing for the caller.
async fn refused(deps: &FireDeps, fire: &FireRecord, reason: RefusalReason, message: String) {
    let mut refusal = Refusal::new(
        &fire.key(),
        fire.fired_by,
        fire.task_create_time,
        reason,
        message,
    );
    refusal.context = fire.context.clone();
    if let Err(e) = deps
        .store
        .record_refusal(&refusal, REFUSALS_KEPT_PER_HOOK)
        .await
    {
        tracing::warn!(error = %e, "a refusal could not be recorded");
    }
}

/// The final fire already recorded for `trigger`, when it is a slot, message or replay that
/// was fired to the end before (by a process that crashed before it could say so, or whose
/// message acknowledgement was lost). Firing it again would submit its task again. A fire
/// recorded by a build before time-first task ids is found under the id that build gave it.
///
/// # Errors
/// The store's failure to answer.
pub async fn settled(deps: &FireDeps, trigger: &Trigger) -> Result<Option<FireRecord>, StoreError> {
    for fire_id in [trigger.settled_fire_id(), trigger.earlier_settled_fire_id()]
        .into_iter()
        .flatten()
    {
        if let Some(fire) = deps.store.get_fire(fire_id).await? {
            return Ok(Some(fire));
        }
    }
    Ok(None)
}

/// The failure `error` leaves in the hook's history, if any.
fn failure_to_record(error: &FireError, trigger: &Trigger) -> Option<FireFailure> {
    let code = match error.disposition().record {
        Record::ErrorFire(code) => code,
        Record::Refusal if !trigger.has_caller() => Record::REFUSAL_CODE,
        Record::Refusal | Record::Nothing => return None,
    };
    Some(FireFailure {
        code: code.to_owned(),
        message: error.to_string(),
    })
}

/// Sends failure notices without making the fire wait for them, or fail with them.
fn notify_in_background(deps: &FireDeps, hook: &Hook, fire: &FireRecord, audience: Audience) {
    let (notifier, hook, fire) = (Arc::clone(&deps.notifier), hook.clone(), fire.clone());
    tokio::spawn(async move { notifier.error_fire(&hook, &fire, audience).await });
}
