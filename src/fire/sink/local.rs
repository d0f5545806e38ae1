//! The `local` sink: a durable outbox in the hook store.
//!
//! It needs nothing outside hookd, so a fresh install works at once, and it makes every
//! submitted task readable through `GET /tasks/{taskId}`.

use std::sync::Arc;

use async_trait::async_trait;

use super::{SinkError, TaskSink};
use crate::domain::SubmittedTask;
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
}

#[async_trait]
impl TaskSink for LocalSink {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        match self.store.insert_task(task).await {
            Ok(()) => Ok(()),
            Err(StoreError::AlreadyExists) => {
                // A retry of the same fire is fine; a different task under the same id is not.
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
            Err(e) => Err(SinkError::Unavailable(Box::new(e))),
        }
    }
}
