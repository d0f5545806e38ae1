//! The `local` sink: a durable outbox in the hook store.
//!
//! It needs nothing outside hookd, so a fresh install works at once, and it makes every
//! submitted task readable through `GET /tasks/{taskId}`. Living in the same store as the fire
//! history, it writes a fire's task and record together: one durable commit per fire.

use std::sync::Arc;

use async_trait::async_trait;

use super::{SinkError, Submission, TaskSink};
use crate::domain::{Encoded, FireRecord, SubmittedTask};
use crate::store::{HookStore, StoreError};

/// Appends submitted tasks to the store's outbox.
#[derive(Clone)]
pub struct LocalSink {
    store: Arc<dyn HookStore>,
}

impl LocalSink {
    /// A sink writing to `store`.
    pub fn new(store: Arc<dyn HookStore>) -> Self {
        Self { store }
    }

    /// What the write of `task` with its fire means for the fire.
    async fn submission(
        &self,
        task: &SubmittedTask,
        written: Result<(), StoreError>,
    ) -> Result<Submission, SinkError> {
        match written {
            Ok(()) => Ok(Submission::Recorded),
            // The write stored neither; the repeat's fire is recorded by the fire path.
            Err(StoreError::AlreadyExists) => self
                .accept_repeat(task)
                .await
                .map(|()| Submission::Submitted),
            Err(e) => Err(SinkError::Unavailable(Box::new(e))),
        }
    }

    /// Accepts a task whose id the outbox already holds: a retry of the same fire is fine, a
    /// different task under the same id is not.
    async fn accept_repeat(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        let stored = self
            .store
            .get_task(&task.task_id)
            .await
            .map_err(|e| SinkError::Unavailable(Box::new(e)))?;
        match stored {
            Some(stored) if stored.task == task.task => Ok(()),
            _ => Err(SinkError::Conflict(task.task_id.clone())),
        }
    }
}

#[async_trait]
impl TaskSink for LocalSink {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        match self.store.insert_task(task).await {
            Ok(()) => Ok(()),
            Err(StoreError::AlreadyExists) => self.accept_repeat(task).await,
            Err(e) => Err(SinkError::Unavailable(Box::new(e))),
        }
    }

    async fn submit_fired(
        &self,
        task: &SubmittedTask,
        fire: &FireRecord,
    ) -> Result<Submission, SinkError> {
        let written = self.store.insert_task_and_record_fire(task, fire).await;
        self.submission(task, written).await
    }

    async fn submit_fired_many(
        &self,
        fired: &[(&Encoded<SubmittedTask>, &Encoded<FireRecord>)],
    ) -> Vec<Result<Submission, SinkError>> {
        let answers = match self.store.insert_tasks_and_record_fires(fired).await {
            Ok(answers) => answers,
            Err(e) => {
                // Nothing of the write is known to be stored: every fire in it failed alike.
                let e = Arc::new(e);
                let unavailable = || SinkError::Unavailable(Box::new(Arc::clone(&e)));
                return fired.iter().map(|_| Err(unavailable())).collect();
            }
        };
        let mut submissions = Vec::with_capacity(fired.len());
        for ((task, _), written) in fired.iter().zip(answers) {
            submissions.push(self.submission(task.get(), written).await);
        }
        submissions
    }
}
