//! [`MeteredStore`]: times every operation of any [`HookStore`] backend.
//!
//! A decorator rather than code in each backend: the backends stay unaware of metrics, and a
//! new backend is timed the moment start-up wraps it.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::Metrics;
use crate::domain::{
    ApplySetName, ApplySetRecord, ChatAliasId, ChatAliasRecord, FireRecord, HookGroupId, HookId,
    HookKey, HookRecord, KeyFilter, Refusal, ReplayJob, SubmittedTask, TaskId,
};
use crate::store::{ApplyObserver, FireCursor, GroupCount, HookStore, Made, StoreError};

/// A [`HookStore`] that records each call's duration under the trait method's name, whether
/// it succeeded or not, and otherwise passes everything through unchanged.
pub struct MeteredStore {
    inner: Arc<dyn HookStore>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// Wraps `inner`, reporting to `metrics`.
    pub fn new(inner: Arc<dyn HookStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(&self, operation: &'static str, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.metrics.store_operation(operation, started.elapsed());
        result
    }
}

#[async_trait]
impl HookStore for MeteredStore {
    async fn insert_hook(&self, record: &HookRecord) -> Result<(), StoreError> {
        self.timed("insert_hook", self.inner.insert_hook(record))
            .await
    }

    async fn get_hook(&self, key: &HookKey) -> Result<Option<HookRecord>, StoreError> {
        self.timed("get_hook", self.inner.get_hook(key)).await
    }

    async fn replace_hook(
        &self,
        record: &HookRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let call = self.inner.replace_hook(record, expected_version);
        self.timed("replace_hook", call).await
    }

    async fn delete_hook(&self, key: &HookKey) -> Result<bool, StoreError> {
        self.timed("delete_hook", self.inner.delete_hook(key)).await
    }

    async fn list_hook_groups(&self) -> Result<Vec<HookGroupId>, StoreError> {
        self.timed("list_hook_groups", self.inner.list_hook_groups())
            .await
    }

    async fn list_hooks(&self, group: &HookGroupId) -> Result<Vec<HookRecord>, StoreError> {
        self.timed("list_hooks", self.inner.list_hooks(group)).await
    }

    async fn list_hooks_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookRecord>, StoreError> {
        let page = self.inner.list_hooks_after(group, after, limit);
        self.timed("list_hooks_after", page).await
    }

    async fn count_hooks(
        &self,
        keys: &KeyFilter,
        search: &str,
    ) -> Result<Vec<GroupCount>, StoreError> {
        self.timed("count_hooks", self.inner.count_hooks(keys, search))
            .await
    }

    async fn error_fires(
        &self,
        keys: &KeyFilter,
        limit: usize,
    ) -> Result<Vec<FireRecord>, StoreError> {
        self.timed("error_fires", self.inner.error_fires(keys, limit))
            .await
    }

    async fn record_fire(&self, fire: &FireRecord) -> Result<(), StoreError> {
        self.timed("record_fire", self.inner.record_fire(fire))
            .await
    }

    async fn get_fire(&self, fire_id: uuid::Uuid) -> Result<Option<FireRecord>, StoreError> {
        self.timed("get_fire", self.inner.get_fire(fire_id)).await
    }

    async fn record_refusal(&self, refusal: &Refusal, keep: usize) -> Result<(), StoreError> {
        let call = self.inner.record_refusal(refusal, keep);
        self.timed("record_refusal", call).await
    }

    async fn list_refusals(&self, key: &HookKey, limit: usize) -> Result<Vec<Refusal>, StoreError> {
        let call = self.inner.list_refusals(key, limit);
        self.timed("list_refusals", call).await
    }

    async fn list_fires(
        &self,
        key: &HookKey,
        limit: usize,
        after: Option<&FireCursor>,
    ) -> Result<Vec<FireRecord>, StoreError> {
        let call = self.inner.list_fires(key, limit, after);
        self.timed("list_fires", call).await
    }

    async fn insert_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError> {
        let call = self.inner.insert_replay_job(job);
        self.timed("insert_replay_job", call).await
    }

    async fn get_replay_job(&self, job_id: uuid::Uuid) -> Result<Option<ReplayJob>, StoreError> {
        let call = self.inner.get_replay_job(job_id);
        self.timed("get_replay_job", call).await
    }

    async fn list_replay_jobs(
        &self,
        key: &HookKey,
        limit: usize,
    ) -> Result<Vec<ReplayJob>, StoreError> {
        let call = self.inner.list_replay_jobs(key, limit);
        self.timed("list_replay_jobs", call).await
    }

    async fn running_replay_jobs(&self) -> Result<Vec<ReplayJob>, StoreError> {
        let call = self.inner.running_replay_jobs();
        self.timed("running_replay_jobs", call).await
    }

    async fn replace_replay_job(
        &self,
        job: &ReplayJob,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let call = self.inner.replace_replay_job(job, expected_version);
        self.timed("replace_replay_job", call).await
    }

    async fn insert_task(&self, task: &SubmittedTask) -> Result<(), StoreError> {
        self.timed("insert_task", self.inner.insert_task(task))
            .await
    }

    async fn insert_task_and_record_fire(
        &self,
        task: &SubmittedTask,
        fire: &FireRecord,
    ) -> Result<(), StoreError> {
        let call = self.inner.insert_task_and_record_fire(task, fire);
        self.timed("insert_task_and_record_fire", call).await
    }

    async fn get_task(&self, task_id: &TaskId) -> Result<Option<SubmittedTask>, StoreError> {
        self.timed("get_task", self.inner.get_task(task_id)).await
    }

    async fn insert_chat_alias(&self, record: &ChatAliasRecord) -> Result<(), StoreError> {
        self.timed("insert_chat_alias", self.inner.insert_chat_alias(record))
            .await
    }

    async fn get_chat_alias(
        &self,
        id: &ChatAliasId,
    ) -> Result<Option<ChatAliasRecord>, StoreError> {
        self.timed("get_chat_alias", self.inner.get_chat_alias(id))
            .await
    }

    async fn replace_chat_alias(
        &self,
        record: &ChatAliasRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.timed(
            "replace_chat_alias",
            self.inner.replace_chat_alias(record, expected_version),
        )
        .await
    }

    async fn delete_chat_alias(&self, id: &ChatAliasId) -> Result<bool, StoreError> {
        self.timed("delete_chat_alias", self.inner.delete_chat_alias(id))
            .await
    }

    async fn list_chat_aliases(&self) -> Result<Vec<ChatAliasRecord>, StoreError> {
        self.timed("list_chat_aliases", self.inner.list_chat_aliases())
            .await
    }

    async fn get_chat_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.timed("get_chat_cursor", self.inner.get_chat_cursor(name))
            .await
    }

    async fn set_chat_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.timed("set_chat_cursor", self.inner.set_chat_cursor(name, value))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn get_apply_set(
        &self,
        name: &ApplySetName,
    ) -> Result<Option<ApplySetRecord>, StoreError> {
        self.timed("get_apply_set", self.inner.get_apply_set(name))
            .await
    }

    async fn list_pending_apply_sets(&self) -> Result<Vec<ApplySetName>, StoreError> {
        let call = self.inner.list_pending_apply_sets();
        self.timed("list_pending_apply_sets", call).await
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
        self.timed("commit_apply_set", call).await
    }

    async fn finish_apply_set(&self, record: &ApplySetRecord) -> Result<(), StoreError> {
        self.timed("finish_apply_set", self.inner.finish_apply_set(record))
            .await
    }

    async fn claim_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
    ) -> Result<Option<u64>, StoreError> {
        let call = self.inner.claim_apply_roll(name, revision);
        self.timed("claim_apply_roll", call).await
    }

    async fn holds_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
        claim: u64,
    ) -> Result<bool, StoreError> {
        let call = self.inner.holds_apply_roll(name, revision, claim);
        self.timed("holds_apply_roll", call).await
    }
}
