//! Firing a hook: validate the payload, render the task, check its scopes, submit it, record it.
//!
//! Every trigger (API call, token, schedule, message) ends in [`fire`]. Triggers convert their
//! input into a [`Trigger`] at the edge, so this path has no per-trigger branches. Retries are
//! not made here: a sink retries what is transient, a scheduler or listener re-fires a slot or
//! message with the same task id.

use std::sync::Arc;

use crate::domain::{
    DomainError, FireFailure, FireRecord, Hook, HookRecord, PayloadError, Roles, ScopeSet,
    SubmittedTask, TaskId,
};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::store::{HookStore, StoreError};

pub mod render;
mod report;
pub mod sink;
mod trigger;

pub use render::pool::{PoolError, RenderLimits, RenderPool, RenderWorkerUnavailable};
pub use render::RenderError;
pub use sink::{SinkError, TaskSink};
pub use trigger::{iso_time, Trigger};

use report::Report;

/// What the fire path needs from the rest of the service.
#[derive(Clone)]
pub struct FireDeps {
    /// Where fires are recorded.
    pub store: Arc<dyn HookStore>,
    /// Where tasks go.
    pub sink: Arc<dyn TaskSink>,
    /// Roles, for hooks that act as `hook-id:<group>/<id>`.
    pub roles: Arc<Roles>,
    /// Who hears about error fires.
    pub notifier: Arc<Notifier>,
    /// The render workers, with their deadline, memory and size bounds.
    pub renderer: Arc<RenderPool>,
    /// This service's metrics; the scheduler and listener reach them through here too.
    pub metrics: Arc<Metrics>,
}

/// How a fire ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// A task was submitted under this id.
    Created(TaskId),
    /// The template rendered to `null`; nothing was submitted or recorded.
    Declined,
}

/// Why a fire failed.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    /// The payload breaks the hook's trigger schema; not recorded as a fire.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// `payload.taskId` is not a slugid; not recorded as a fire.
    #[error(transparent)]
    TaskId(#[from] DomainError),
    /// The template did not render into a task; recorded as an error fire.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The task asks for scopes the hook does not hold; recorded as an error fire.
    #[error("the task requires scopes that hook {hook} does not hold: {}", missing.join(", "))]
    InsufficientScopes {
        /// `group/id` of the hook.
        hook: String,
        /// The scopes not granted.
        missing: Vec<String>,
    },
    /// No render worker could render the task; not recorded, the caller may retry.
    #[error(transparent)]
    RenderWorker(#[from] RenderWorkerUnavailable),
    /// The sink did not accept the task; recorded as an error fire.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The fire could not be recorded.
    #[error("the fire could not be recorded")]
    Store(#[from] StoreError),
}

impl FireError {
    /// The failure stored in the fire record, for errors that are recorded.
    fn failure(&self) -> Option<FireFailure> {
        let code = match self {
            Self::Payload(_) | Self::TaskId(_) | Self::RenderWorker(_) | Self::Store(_) => {
                return None
            }
            Self::Render(_) => "InputError",
            Self::InsufficientScopes { .. } => "InsufficientScopes",
            Self::Sink(SinkError::Rejected { code, .. }) => code.as_str(),
            Self::Sink(SinkError::InsufficientScopes(_)) => "InsufficientScopes",
            Self::Sink(SinkError::Conflict(_)) => "RequestConflict",
            Self::Sink(SinkError::Unavailable(_)) => "ServiceUnavailable",
        };
        Some(FireFailure {
            code: code.to_owned(),
            message: self.to_string(),
        })
    }
}

/// Fires the hook in `record` for `trigger`.
///
/// # Errors
/// [`FireError`]; render, scope and sink failures are recorded as error fires first.
#[tracing::instrument(skip_all, fields(hook = %record.hook.key(), fired_by = trigger.fired_by().as_str()))]
pub async fn fire(
    deps: &FireDeps,
    record: &HookRecord,
    trigger: Trigger,
) -> Result<Fired, FireError> {
    let report = Report::start(deps, record.hook.key(), &trigger);
    if let Some(payload) = trigger.payload() {
        if let Err(e) = record.hook.trigger_schema.validate(payload) {
            return report.finish(None, Err(e.into()));
        }
    }
    let task_id = match trigger.task_id() {
        Ok(task_id) => task_id,
        Err(e) => return report.finish(None, Err(e.into())),
    };
    let mut fire = FireRecord::new(
        &record.hook.key(),
        trigger.fired_by(),
        task_id,
        trigger.time(),
        None,
    );
    let outcome = create_task(deps, record, &trigger, &fire).await;
    // `None`: it worked; `Some(None)`: it failed in a way that is not recorded (see
    // `FireError::failure`), and the caller retries or answers 503.
    let failure = outcome.as_ref().err().map(FireError::failure);
    // A declined fire is not a fire.
    if matches!(outcome, Ok(Fired::Declined)) || matches!(failure, Some(None)) {
        return report.finish(Some(&fire.task_id), outcome);
    }
    fire.failure = failure.flatten();
    if let Err(e) = deps.store.record_fire(&fire).await {
        return report.finish(Some(&fire.task_id), Err(e.into()));
    }
    if fire.failure.is_some() {
        notify_in_background(deps, &record.hook, &fire);
    }
    report.finish(Some(&fire.task_id), outcome)
}

/// Sends failure notices without making the fire wait for them, or fail with them.
fn notify_in_background(deps: &FireDeps, hook: &Hook, fire: &FireRecord) {
    let (notifier, hook, fire) = (Arc::clone(&deps.notifier), hook.clone(), fire.clone());
    tokio::spawn(async move { notifier.error_fire(&hook, &fire).await });
}

/// Records a fire that was refused before a task could be made (a message body that is not
/// JSON, or a payload the trigger schema rejects), so the hook's owner sees it in
/// listLastFires. [`fire`] does not record such refusals: an API caller hears about them in the
/// response instead.
///
/// # Errors
/// [`FireError::Store`] when the record could not be written.
pub async fn record_refused(
    deps: &FireDeps,
    record: &HookRecord,
    trigger: &Trigger,
    failure: FireFailure,
) -> Result<(), FireError> {
    let task_id = trigger
        .task_id()
        .unwrap_or_else(|_| trigger.fallback_task_id());
    let fire = FireRecord::new(
        &record.hook.key(),
        trigger.fired_by(),
        task_id,
        trigger.time(),
        Some(failure),
    );
    deps.store.record_fire(&fire).await?;
    tracing::info!(task_id = %fire.task_id, hook = %record.hook.key(), "refused fire recorded");
    Ok(())
}

/// Renders, checks and submits the task of one fire.
async fn create_task(
    deps: &FireDeps,
    record: &HookRecord,
    trigger: &Trigger,
    fire: &FireRecord,
) -> Result<Fired, FireError> {
    let hook = &record.hook;
    let context = trigger.context(&fire.task_id);
    let rendered = deps
        .renderer
        .task(&hook.task, &context, &fire.task_id, trigger.time())
        .await;
    let Some(task) = rendered? else {
        return Ok(Fired::Declined);
    };
    let missing = hook_scopes(deps, record).missing(render::task_scopes(&task)?);
    if !missing.is_empty() {
        return Err(FireError::InsufficientScopes {
            hook: hook.key().to_string(),
            missing,
        });
    }
    let submitted = SubmittedTask {
        task_id: fire.task_id.clone(),
        hook_group_id: fire.hook_group_id.clone(),
        hook_id: fire.hook_id.clone(),
        fire_id: fire.fire_id,
        fired_by: fire.fired_by,
        submitted: fire.task_create_time,
        task,
    };
    deps.sink.submit(&submitted).await?;
    Ok(Fired::Created(submitted.task_id))
}

impl From<PoolError> for FireError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Render(e) => Self::Render(e),
            PoolError::Unavailable(e) => Self::RenderWorker(e),
        }
    }
}

/// What a hook's tasks may ask for: its own `scopes` when it has them, else its role's.
fn hook_scopes(deps: &FireDeps, record: &HookRecord) -> ScopeSet {
    let hook = &record.hook;
    match &hook.scopes {
        Some(scopes) => deps.roles.expand(scopes),
        None => deps.roles.expand(&[format!("assume:{}", hook.role_id())]),
    }
}
