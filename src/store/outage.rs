//! [`OutageGuard`]: within one request, a store that has answered "unavailable" is not asked
//! again.
//!
//! While the database is away, each store call waits out the backend's timeout before it fails.
//! A trigger makes several calls (the task into the outbox, then the error fire recording that
//! failure), so it used to wait once per call for the same outage. Work run inside
//! [`one_outage`] (each HTTP request) remembers the first [`StoreError::Unavailable`] it met,
//! and its later calls fail at once. Nothing is shared between requests: the next request, and
//! `/__heartbeat__`, asks the store afresh, so the heartbeat reports what the store says now and
//! recovery needs no restart. The scheduler and the listener run each fire in such a scope too
//! (their retries are their own); outside one, every call goes through.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    ApplySetName, ApplySetRecord, ChatAliasId, ChatAliasRecord, FireRecord, HookGroupId, HookId,
    HookKey, HookRecord, KeyFilter, Refusal, ReplayJob, SubmittedTask, TaskId,
};
use crate::store::{ApplyObserver, FireCursor, GroupCount, HookStore, Made, StoreError};

tokio::task_local! {
    /// Whether the store answered "unavailable" earlier in the current unit of work.
    static OUTAGE_SEEN: Cell<bool>;
}

/// Runs `work` as one unit: once a store call in it fails as unavailable, later calls in it
/// fail at once instead of waiting for the same outage again.
pub async fn one_outage<F: Future>(work: F) -> F::Output {
    OUTAGE_SEEN.scope(Cell::new(false), work).await
}

/// Why a call failed without reaching the store.
#[derive(Debug, thiserror::Error)]
#[error("the store was unavailable earlier in this request; not waiting for it again")]
pub struct OutageSeen;

/// A [`HookStore`] that, inside [`one_outage`], stops calling a backend that has already
/// failed as unavailable; everything else passes through unchanged.
pub struct OutageGuard {
    inner: Arc<dyn HookStore>,
}

impl OutageGuard {
    /// Guards `inner`.
    pub fn new(inner: Arc<dyn HookStore>) -> Self {
        Self { inner }
    }

    async fn guarded<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if OUTAGE_SEEN.try_with(Cell::get).unwrap_or(false) {
            return Err(StoreError::Unavailable(Box::new(OutageSeen)));
        }
        let result = call.await;
        if matches!(result, Err(StoreError::Unavailable(_))) {
            // Outside a unit of work there is nothing to remember it in, which is fine.
            let _ = OUTAGE_SEEN.try_with(|seen| seen.set(true));
        }
        result
    }
}

#[async_trait]
impl HookStore for OutageGuard {
    async fn insert_hook(&self, record: &HookRecord) -> Result<(), StoreError> {
        self.guarded(self.inner.insert_hook(record)).await
    }

    async fn get_hook(&self, key: &HookKey) -> Result<Option<HookRecord>, StoreError> {
        self.guarded(self.inner.get_hook(key)).await
    }

    async fn replace_hook(
        &self,
        record: &HookRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.guarded(self.inner.replace_hook(record, expected_version))
            .await
    }

    async fn delete_hook(&self, key: &HookKey) -> Result<bool, StoreError> {
        self.guarded(self.inner.delete_hook(key)).await
    }

    async fn list_hook_groups(&self) -> Result<Vec<HookGroupId>, StoreError> {
        self.guarded(self.inner.list_hook_groups()).await
    }

    async fn list_hooks(&self, group: &HookGroupId) -> Result<Vec<HookRecord>, StoreError> {
        self.guarded(self.inner.list_hooks(group)).await
    }

    async fn list_hooks_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookRecord>, StoreError> {
        let page = self.inner.list_hooks_after(group, after, limit);
        self.guarded(page).await
    }

    async fn count_hooks(
        &self,
        keys: &KeyFilter,
        search: &str,
    ) -> Result<Vec<GroupCount>, StoreError> {
        self.guarded(self.inner.count_hooks(keys, search)).await
    }

    async fn error_fires(
        &self,
        keys: &KeyFilter,
        limit: usize,
    ) -> Result<Vec<FireRecord>, StoreError> {
        self.guarded(self.inner.error_fires(keys, limit)).await
    }

    async fn record_fire(&self, fire: &FireRecord) -> Result<(), StoreError> {
        self.guarded(self.inner.record_fire(fire)).await
    }

    async fn get_fire(&self, fire_id: uuid::Uuid) -> Result<Option<FireRecord>, StoreError> {
        self.guarded(self.inner.get_fire(fire_id)).await
    }

    async fn record_refusal(&self, refusal: &Refusal, keep: usize) -> Result<(), StoreError> {
        self.guarded(self.inner.record_refusal(refusal, keep)).await
    }

    async fn list_refusals(&self, key: &HookKey, limit: usize) -> Result<Vec<Refusal>, StoreError> {
        self.guarded(self.inner.list_refusals(key, limit)).await
    }

    async fn list_fires(
        &self,
        key: &HookKey,
        limit: usize,
        after: Option<&FireCursor>,
    ) -> Result<Vec<FireRecord>, StoreError> {
        self.guarded(self.inner.list_fires(key, limit, after)).await
    }

    async fn insert_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError> {
        self.guarded(self.inner.insert_replay_job(job)).await
    }

    async fn get_replay_job(&self, job_id: uuid::Uuid) -> Result<Option<ReplayJob>, StoreError> {
        self.guarded(self.inner.get_replay_job(job_id)).await
    }

    async fn list_replay_jobs(
        &self,
        key: &HookKey,
        limit: usize,
    ) -> Result<Vec<ReplayJob>, StoreError> {
        self.guarded(self.inner.list_replay_jobs(key, limit)).await
    }

    async fn running_replay_jobs(&self) -> Result<Vec<ReplayJob>, StoreError> {
        self.guarded(self.inner.running_replay_jobs()).await
    }

    async fn replace_replay_job(
        &self,
        job: &ReplayJob,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.guarded(self.inner.replace_replay_job(job, expected_version))
            .await
    }

    async fn insert_task(&self, task: &SubmittedTask) -> Result<(), StoreError> {
        self.guarded(self.inner.insert_task(task)).await
    }

    async fn insert_task_and_record_fire(
        &self,
        task: &SubmittedTask,
        fire: &FireRecord,
    ) -> Result<(), StoreError> {
        self.guarded(self.inner.insert_task_and_record_fire(task, fire))
            .await
    }

    async fn get_task(&self, task_id: &TaskId) -> Result<Option<SubmittedTask>, StoreError> {
        self.guarded(self.inner.get_task(task_id)).await
    }

    async fn insert_chat_alias(&self, record: &ChatAliasRecord) -> Result<(), StoreError> {
        self.guarded(self.inner.insert_chat_alias(record)).await
    }

    async fn get_chat_alias(
        &self,
        id: &ChatAliasId,
    ) -> Result<Option<ChatAliasRecord>, StoreError> {
        self.guarded(self.inner.get_chat_alias(id)).await
    }

    async fn replace_chat_alias(
        &self,
        record: &ChatAliasRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.guarded(self.inner.replace_chat_alias(record, expected_version))
            .await
    }

    async fn delete_chat_alias(&self, id: &ChatAliasId) -> Result<bool, StoreError> {
        self.guarded(self.inner.delete_chat_alias(id)).await
    }

    async fn list_chat_aliases(&self) -> Result<Vec<ChatAliasRecord>, StoreError> {
        self.guarded(self.inner.list_chat_aliases()).await
    }

    async fn get_chat_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.guarded(self.inner.get_chat_cursor(name)).await
    }

    async fn set_chat_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.guarded(self.inner.set_chat_cursor(name, value)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.guarded(self.inner.ping()).await
    }

    async fn get_apply_set(
        &self,
        name: &ApplySetName,
    ) -> Result<Option<ApplySetRecord>, StoreError> {
        self.guarded(self.inner.get_apply_set(name)).await
    }

    async fn list_pending_apply_sets(&self) -> Result<Vec<ApplySetName>, StoreError> {
        self.guarded(self.inner.list_pending_apply_sets()).await
    }

    async fn commit_apply_set(
        &self,
        record: &ApplySetRecord,
        expected_revision: u64,
        observer: Arc<dyn ApplyObserver>,
    ) -> Result<Vec<(HookKey, Made)>, StoreError> {
        let call = self
            .inner
            .commit_apply_set(record, expected_revision, observer);
        self.guarded(call).await
    }

    async fn finish_apply_set(&self, record: &ApplySetRecord) -> Result<(), StoreError> {
        self.guarded(self.inner.finish_apply_set(record)).await
    }

    async fn claim_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
    ) -> Result<Option<u64>, StoreError> {
        self.guarded(self.inner.claim_apply_roll(name, revision))
            .await
    }

    async fn holds_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
        claim: u64,
    ) -> Result<bool, StoreError> {
        self.guarded(self.inner.holds_apply_roll(name, revision, claim))
            .await
    }
}
