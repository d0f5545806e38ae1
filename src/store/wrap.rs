//! A store around another store: [`AroundStore`] is all a wrapper says (what it does around
//! each call), and the one forwarding of every [`HookStore`] method below makes it a store.
//! The metrics wrapper (`metrics::store`) and the outage memory ([`super::OutageGuard`]) are
//! such wrappers; a new store method is forwarded here once, for all of them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    ApplyObserver, FireCursor, GroupCount, HookSchedule, HookSlots, HookStore, Made, StoreError,
};
use crate::domain::{
    ApplySetName, ApplySetRecord, ChatAliasId, ChatAliasRecord, Encoded, FireRecord, HookGroupId,
    HookId, HookKey, HookRecord, KeyFilter, Refusal, ReplayJob, SubmittedTask, TaskId,
};

/// One call of the wrapped store, as its method returns it.
pub type StoreCall<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A wrapper around a store: what it does around each call of the store it wraps.
#[async_trait]
pub trait AroundStore: Send + Sync {
    /// The wrapped store.
    fn inner(&self) -> &dyn HookStore;

    /// Runs `call`, the wrapped store's method `operation`, and answers what it answers (or
    /// fails instead).
    async fn around<'a, T: Send + 'a>(
        &'a self,
        operation: &'static str,
        call: StoreCall<'a, T>,
    ) -> Result<T, StoreError>;
}

#[async_trait]
impl<W: AroundStore + 'static> HookStore for W {
    async fn insert_hook(&self, record: &HookRecord) -> Result<(), StoreError> {
        self.around("insert_hook", self.inner().insert_hook(record))
            .await
    }

    async fn get_hook(&self, key: &HookKey) -> Result<Option<HookRecord>, StoreError> {
        self.around("get_hook", self.inner().get_hook(key)).await
    }

    async fn replace_hook(
        &self,
        record: &HookRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.around(
            "replace_hook",
            self.inner().replace_hook(record, expected_version),
        )
        .await
    }

    async fn delete_hook(&self, key: &HookKey) -> Result<bool, StoreError> {
        self.around("delete_hook", self.inner().delete_hook(key))
            .await
    }

    async fn list_hook_groups(&self) -> Result<Vec<HookGroupId>, StoreError> {
        self.around("list_hook_groups", self.inner().list_hook_groups())
            .await
    }

    async fn list_hooks(&self, group: &HookGroupId) -> Result<Vec<HookRecord>, StoreError> {
        self.around("list_hooks", self.inner().list_hooks(group))
            .await
    }

    async fn list_hooks_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookRecord>, StoreError> {
        self.around(
            "list_hooks_after",
            self.inner().list_hooks_after(group, after, limit),
        )
        .await
    }

    async fn count_hooks(
        &self,
        keys: &KeyFilter,
        search: &str,
    ) -> Result<Vec<GroupCount>, StoreError> {
        self.around("count_hooks", self.inner().count_hooks(keys, search))
            .await
    }

    async fn error_fires(
        &self,
        keys: &KeyFilter,
        limit: usize,
    ) -> Result<Vec<FireRecord>, StoreError> {
        self.around("error_fires", self.inner().error_fires(keys, limit))
            .await
    }

    async fn record_fire(&self, fire: &FireRecord) -> Result<(), StoreError> {
        self.around("record_fire", self.inner().record_fire(fire))
            .await
    }

    async fn get_fire(&self, fire_id: uuid::Uuid) -> Result<Option<FireRecord>, StoreError> {
        self.around("get_fire", self.inner().get_fire(fire_id))
            .await
    }

    async fn record_refusal(&self, refusal: &Refusal, keep: usize) -> Result<(), StoreError> {
        self.around("record_refusal", self.inner().record_refusal(refusal, keep))
            .await
    }

    async fn list_refusals(&self, key: &HookKey, limit: usize) -> Result<Vec<Refusal>, StoreError> {
        self.around("list_refusals", self.inner().list_refusals(key, limit))
            .await
    }

    async fn list_fires(
        &self,
        key: &HookKey,
        limit: usize,
        after: Option<&FireCursor>,
    ) -> Result<Vec<FireRecord>, StoreError> {
        self.around("list_fires", self.inner().list_fires(key, limit, after))
            .await
    }

    async fn insert_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError> {
        self.around("insert_replay_job", self.inner().insert_replay_job(job))
            .await
    }

    async fn get_replay_job(&self, job_id: uuid::Uuid) -> Result<Option<ReplayJob>, StoreError> {
        self.around("get_replay_job", self.inner().get_replay_job(job_id))
            .await
    }

    async fn list_replay_jobs(
        &self,
        key: &HookKey,
        limit: usize,
    ) -> Result<Vec<ReplayJob>, StoreError> {
        self.around(
            "list_replay_jobs",
            self.inner().list_replay_jobs(key, limit),
        )
        .await
    }

    async fn running_replay_jobs(&self) -> Result<Vec<ReplayJob>, StoreError> {
        self.around("running_replay_jobs", self.inner().running_replay_jobs())
            .await
    }

    async fn replace_replay_job(
        &self,
        job: &ReplayJob,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.around(
            "replace_replay_job",
            self.inner().replace_replay_job(job, expected_version),
        )
        .await
    }

    async fn insert_task(&self, task: &SubmittedTask) -> Result<(), StoreError> {
        self.around("insert_task", self.inner().insert_task(task))
            .await
    }

    async fn insert_task_and_record_fire(
        &self,
        task: &SubmittedTask,
        fire: &FireRecord,
    ) -> Result<(), StoreError> {
        self.around(
            "insert_task_and_record_fire",
            self.inner().insert_task_and_record_fire(task, fire),
        )
        .await
    }

    async fn insert_tasks_and_record_fires(
        &self,
        fired: &[(&Encoded<SubmittedTask>, &Encoded<FireRecord>)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.around(
            "insert_tasks_and_record_fires",
            self.inner().insert_tasks_and_record_fires(fired),
        )
        .await
    }

    async fn get_task(&self, task_id: &TaskId) -> Result<Option<SubmittedTask>, StoreError> {
        self.around("get_task", self.inner().get_task(task_id))
            .await
    }

    async fn insert_chat_alias(&self, record: &ChatAliasRecord) -> Result<(), StoreError> {
        self.around("insert_chat_alias", self.inner().insert_chat_alias(record))
            .await
    }

    async fn get_chat_alias(
        &self,
        id: &ChatAliasId,
    ) -> Result<Option<ChatAliasRecord>, StoreError> {
        self.around("get_chat_alias", self.inner().get_chat_alias(id))
            .await
    }

    async fn replace_chat_alias(
        &self,
        record: &ChatAliasRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.around(
            "replace_chat_alias",
            self.inner().replace_chat_alias(record, expected_version),
        )
        .await
    }

    async fn delete_chat_alias(&self, id: &ChatAliasId) -> Result<bool, StoreError> {
        self.around("delete_chat_alias", self.inner().delete_chat_alias(id))
            .await
    }

    async fn list_chat_aliases(&self) -> Result<Vec<ChatAliasRecord>, StoreError> {
        self.around("list_chat_aliases", self.inner().list_chat_aliases())
            .await
    }

    async fn get_chat_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.around("get_chat_cursor", self.inner().get_chat_cursor(name))
            .await
    }

    async fn set_chat_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.around("set_chat_cursor", self.inner().set_chat_cursor(name, value))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.around("ping", self.inner().ping()).await
    }

    async fn get_apply_set(
        &self,
        name: &ApplySetName,
    ) -> Result<Option<ApplySetRecord>, StoreError> {
        self.around("get_apply_set", self.inner().get_apply_set(name))
            .await
    }

    async fn list_pending_apply_sets(&self) -> Result<Vec<ApplySetName>, StoreError> {
        self.around(
            "list_pending_apply_sets",
            self.inner().list_pending_apply_sets(),
        )
        .await
    }

    async fn commit_apply_set(
        &self,
        record: &ApplySetRecord,
        expected_revision: u64,
        observer: Arc<dyn ApplyObserver>,
    ) -> Result<Vec<(HookKey, Made)>, StoreError> {
        self.around(
            "commit_apply_set",
            self.inner()
                .commit_apply_set(record, expected_revision, observer),
        )
        .await
    }

    async fn finish_apply_set(&self, record: &ApplySetRecord) -> Result<(), StoreError> {
        self.around("finish_apply_set", self.inner().finish_apply_set(record))
            .await
    }

    async fn claim_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
    ) -> Result<Option<u64>, StoreError> {
        self.around(
            "claim_apply_roll",
            self.inner().claim_apply_roll(name, revision),
        )
        .await
    }

    async fn holds_apply_roll(
        &self,
        name: &ApplySetName,
        revision: u64,
        claim: u64,
    ) -> Result<bool, StoreError> {
        self.around(
            "holds_apply_roll",
            self.inner().holds_apply_roll(name, revision, claim),
        )
        .await
    }

    async fn list_hook_schedules_after(
        &self,
        group: &HookGroupId,
        after: Option<&HookId>,
        limit: usize,
    ) -> Result<Vec<HookSchedule>, StoreError> {
        self.around(
            "list_hook_schedules_after",
            self.inner().list_hook_schedules_after(group, after, limit),
        )
        .await
    }

    async fn write_hook_slots(
        &self,
        writes: &[HookSlots],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.around("write_hook_slots", self.inner().write_hook_slots(writes))
            .await
    }
}
