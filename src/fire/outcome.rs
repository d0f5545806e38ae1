//! How a fire ends: [`Fired`] when it did not fail; otherwise why it failed ([`FireError`]) and
//! what that failure means for everyone downstream ([`Disposition`]).
//!
//! Whether a failure is written into the hook's history, retried, counted, notified and what
//! an HTTP caller is told is decided here, once per error, in [`FireError::disposition`]. The
//! fire path, its report, the scheduler, the listener and the API's error mapping read the
//! disposition instead of matching on the error themselves, so they cannot drift apart.

use std::sync::Arc;

use super::render::pool::{PoolError, RenderWorkerUnavailable};
use super::render::RenderError;
use super::sink::SinkError;
use crate::domain::{DomainError, PayloadError, TaskId};
use crate::metrics::FireResult;
use crate::notify::Audience;
use crate::store::StoreError;

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
    /// A message body is not JSON; refused.
    #[error("the message body is not JSON: {0}")]
    NotJson(#[source] Arc<serde_json::Error>),
    /// The payload or the hook's trigger schema was refused.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// `payload.taskId` is not a slugid; refused.
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

impl From<PoolError> for FireError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Render(e) => Self::Render(e),
            PoolError::Unavailable(e) => Self::RenderWorker(e),
        }
    }
}

/// What one failed fire means: whether it is written down, whether a retry may help, and what
/// kind of answer a caller gets. Everything else (the metric, who is notified) follows from
/// these in the methods below.
#[derive(Debug, Clone, Copy)]
pub struct Disposition<'e> {
    /// What goes into the hook's fire history.
    pub record: Record<'e>,
    /// Whether firing again with the same task id may succeed: the scheduler keeps the slot
    /// claimed, the listener hands the message back, and the owner is not mailed.
    pub transient: bool,
    /// What kind of failure an HTTP caller is told about (`api/error.rs` picks the status).
    pub class: FailureClass<'e>,
}

/// What a failed fire leaves in the hook's fire history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'e> {
    /// Nothing: the fire could not be written down, or never got to the point of trying.
    Nothing,
    /// The input was refused before a task was made. A caller hears why in its answer; a
    /// trigger without a caller (a message) is recorded as an error fire with code
    /// [`Record::REFUSAL_CODE`], so the hook's owner can find it.
    Refusal,
    /// An error fire with this code, and a notice to whoever the failure concerns.
    ErrorFire(&'e str),
}

impl Record<'_> {
    /// The code a recorded refusal carries.
    pub const REFUSAL_CODE: &'static str = "InputError";
}

/// The kinds of failure a caller can be told about, one per kind of answer.
#[derive(Debug, Clone, Copy)]
pub enum FailureClass<'e> {
    /// The body is not JSON.
    Malformed,
    /// The input cannot be acted on: a payload the hook's trigger schema refuses, a bad task
    /// id, a template that does not render, a task the queue rejects.
    BadInput,
    /// The task needs scopes that the hook, or the queue, does not grant.
    MissingScopes,
    /// Another task already holds the task id.
    Conflict,
    /// A backend (render workers, the task queue) is out of reach; try again later.
    Unavailable,
    /// The store failed while recording the fire; the store's own classification applies.
    Store(&'e StoreError),
}

impl FireError {
    /// What this failure means for the fire's record, retries, notices, metric and answer.
    pub fn disposition(&self) -> Disposition<'_> {
        use FailureClass as Class;
        let (record, transient, class) = match self {
            Self::NotJson(_) => (Record::Refusal, false, Class::Malformed),
            Self::Payload(_) => (Record::Refusal, false, Class::BadInput),
            Self::TaskId(_) => (Record::Refusal, false, Class::BadInput),
            Self::Render(_) => (Record::ErrorFire("InputError"), false, Class::BadInput),
            Self::InsufficientScopes { .. } | Self::Sink(SinkError::InsufficientScopes(_)) => (
                Record::ErrorFire("InsufficientScopes"),
                false,
                Class::MissingScopes,
            ),
            Self::Sink(SinkError::Rejected { code, .. }) => {
                (Record::ErrorFire(code), false, Class::BadInput)
            }
            Self::Sink(SinkError::Conflict(_)) => {
                (Record::ErrorFire("RequestConflict"), false, Class::Conflict)
            }
            // Recorded, so the history shows the outage, and yet worth another attempt.
            Self::Sink(SinkError::Unavailable(_)) => (
                Record::ErrorFire("ServiceUnavailable"),
                true,
                Class::Unavailable,
            ),
            Self::RenderWorker(_) => (Record::Nothing, true, Class::Unavailable),
            Self::Store(e) => (Record::Nothing, true, Class::Store(e)),
        };
        Disposition {
            record,
            transient,
            class,
        }
    }
}

impl Disposition<'_> {
    /// The `result` of the fire in its log line and in `hookd_fires_total`.
    pub fn result(&self) -> FireResult {
        match self.record {
            Record::Nothing => FireResult::Unrecorded,
            Record::Refusal => FireResult::Refused,
            Record::ErrorFire(_) => FireResult::Error,
        }
    }

    /// Who hears about the failure; `None` for failures that are not error fires.
    pub fn audience(&self) -> Option<Audience> {
        match (self.record, self.transient) {
            (Record::ErrorFire(_), false) => Some(Audience::Everyone),
            (Record::ErrorFire(_), true) => Some(Audience::ChatOnly),
            (Record::Nothing | Record::Refusal, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TaskId;

    fn unavailable() -> Box<dyn std::error::Error + Send + Sync> {
        "down".into()
    }

    #[test]
    fn only_outages_are_transient_and_only_what_reached_the_render_step_is_an_error_fire() {
        let cases: Vec<(FireError, FireResult, bool, Option<Audience>)> = vec![
            (
                crate::domain::TriggerSchema::parse(serde_json::json!({"type": "string"}))
                    .expect("a valid schema")
                    .validate(&serde_json::json!(1))
                    .expect_err("1 is not a string")
                    .into(),
                FireResult::Refused,
                false,
                None,
            ),
            (
                DomainError::InvalidTaskId("x".into()).into(),
                FireResult::Refused,
                false,
                None,
            ),
            (
                FireError::InsufficientScopes {
                    hook: "g/h".into(),
                    missing: vec!["s".into()],
                },
                FireResult::Error,
                false,
                Some(Audience::Everyone),
            ),
            (
                SinkError::Conflict(TaskId::generate()).into(),
                FireResult::Error,
                false,
                Some(Audience::Everyone),
            ),
            (
                SinkError::Unavailable(unavailable()).into(),
                FireResult::Error,
                true,
                Some(Audience::ChatOnly),
            ),
            (
                StoreError::Unavailable(unavailable()).into(),
                FireResult::Unrecorded,
                true,
                None,
            ),
        ];
        for (error, result, transient, audience) in cases {
            let d = error.disposition();
            assert_eq!(d.result(), result, "result of {error:?}");
            assert_eq!(d.transient, transient, "transient of {error:?}");
            assert_eq!(d.audience(), audience, "audience of {error:?}");
        }
    }

    #[test]
    fn a_rejected_task_is_recorded_with_the_queue_s_own_code() {
        let error = FireError::from(SinkError::Rejected {
            code: "MalformedPayload".into(),
            message: "no".into(),
        });
        assert_eq!(
            error.disposition().record,
            Record::ErrorFire("MalformedPayload")
        );
    }
}
