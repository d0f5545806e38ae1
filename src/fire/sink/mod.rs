//! Where rendered tasks go: the [`TaskSink`] trait and its implementations.
//!
//! A sink accepts a task under its task id. Submitting the same id twice with the same
//! definition must succeed without creating a second task, so callers can retry freely. A sink
//! may also record the fire with its task in one write ([`TaskSink::submit_fired`], what the
//! local outbox does); the others leave that to the fire path, after the task is accepted.
//!
//! Owns: the trait, [`SinkError`], [`Submission`] and one file per sink: the local outbox (`local`), AMQP
//! (`amqp`), HTTP with Standard Webhooks signatures (`http`) and a Taskcluster queue
//! (`taskcluster`), plus the retry policy the HTTP sinks share ([`retry`]). Leaves to others: which
//! sink runs (`startup` from `config::task_queue`), what a failed submit means for the fire
//! (`fire::outcome`). The promise above is checked against every sink by the contract suite in
//! `tests/peers/sink_contract.rs`.

use async_trait::async_trait;
use futures_util::future::join_all;

use crate::domain::{Encoded, FireRecord, SubmittedTask, TaskId, TaskState};

mod amqp;
mod http;
mod local;
pub mod retry;
mod taskcluster;

pub use amqp::{AmqpSink, AmqpTaskQueue};
pub use http::HttpSink;
pub use local::LocalSink;
pub use retry::RetryPolicy;
pub use taskcluster::{TaskclusterSink, TaskclusterSinkError};

/// Why a sink did not accept a task.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The queue refused the task; retrying the same task will not help.
    #[error("the task queue rejected the task: {message}")]
    Rejected {
        /// The queue's error code.
        code: String,
        /// The queue's explanation.
        message: String,
    },
    /// The queue refused the task's scopes; the caller hears 403, as from Taskcluster.
    #[error("the task queue refused the task's scopes: {0}")]
    InsufficientScopes(String),
    /// A different task was already submitted under this id.
    #[error("task {0} was already submitted with a different definition")]
    Conflict(TaskId),
    /// The queue could not be reached; retrying later may succeed.
    #[error("the task queue is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Whether [`TaskSink::submit_fired`] recorded the fire along with its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    /// The task was accepted; the fire is still to be recorded.
    Submitted,
    /// The task was accepted and the fire recorded with it, in one durable write.
    Recorded,
}

/// Accepts rendered tasks.
#[async_trait]
pub trait TaskSink: Send + Sync + 'static {
    /// Submits `task`; the task id is the idempotency key.
    ///
    /// # Errors
    /// [`SinkError`] describing why the task was not accepted.
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError>;

    /// Submits `task` for `fire`, its successful fire. A sink that keeps its tasks in the hook
    /// store records `fire` in the same write, so the fire costs one durable commit instead of
    /// two; a sink whose tasks leave hookd only submits, and the fire path records the fire
    /// once the task is accepted.
    ///
    /// # Errors
    /// As [`TaskSink::submit`]; when it fails, `fire` is not recorded either.
    async fn submit_fired(
        &self,
        task: &SubmittedTask,
        _fire: &FireRecord,
    ) -> Result<Submission, SinkError> {
        self.submit(task).await.map(|()| Submission::Submitted)
    }

    /// [`TaskSink::submit_fired`] for many tasks at once (a burst of scheduled fires, encoded
    /// when they were made ready), answering for each in order. The local outbox writes all of
    /// them in one durable write, as encoded; other sinks submit them side by side, each as
    /// [`TaskSink::submit_fired`].
    async fn submit_fired_many(
        &self,
        fired: &[(&Encoded<SubmittedTask>, &Encoded<FireRecord>)],
    ) -> Vec<Result<Submission, SinkError>> {
        join_all(
            fired
                .iter()
                .map(|(task, fire)| self.submit_fired(task.get(), fire.get())),
        )
        .await
    }

    /// The task's state in the queue, when this sink can ask; `None` means unknown.
    async fn task_state(&self, _task_id: &TaskId) -> Option<TaskState> {
        None
    }
}
