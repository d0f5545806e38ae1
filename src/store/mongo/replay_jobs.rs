//! The `replay_jobs` collection (extension): bulk replay jobs and their progress, one document
//! per job. A document copies what queries filter and sort on (hook, creation time, whether it
//! is running, version) and keeps the whole job as JSON text. MongoDB creates the collection on
//! the first insert; the few jobs a deployment holds need no index beyond `_id`.

use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDate, Document};
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codec::{date, fire_id, hook_filter};
use super::error::{driver, insert as insert_error, to_i64};
use crate::domain::{HookKey, JobState, ReplayJob};
use crate::store::StoreError;

/// One document of the `replay_jobs` collection.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JobDoc {
    #[serde(rename = "_id")]
    id: String,
    hook_group_id: String,
    hook_id: String,
    created: BsonDate,
    running: bool,
    version: i64,
    /// The job as JSON text.
    job: String,
}

impl JobDoc {
    fn new(job: &ReplayJob) -> Result<Self, StoreError> {
        Ok(Self {
            id: fire_id(job.job_id),
            hook_group_id: job.hook_group_id.to_string(),
            hook_id: job.hook_id.to_string(),
            created: date(job.created),
            running: job.state == JobState::Running,
            version: to_i64(job.version)?,
            job: serde_json::to_string(job).map_err(|e| StoreError::Backend(Box::new(e)))?,
        })
    }

    fn into_record(self) -> Result<ReplayJob, StoreError> {
        serde_json::from_str(&self.job).map_err(|e| StoreError::Corrupt(Box::new(e)))
    }
}

pub(super) async fn insert(jobs: &Collection<JobDoc>, job: &ReplayJob) -> Result<(), StoreError> {
    jobs.insert_one(JobDoc::new(job)?)
        .await
        .map_err(insert_error)?;
    Ok(())
}

pub(super) async fn get(
    jobs: &Collection<JobDoc>,
    job_id: Uuid,
) -> Result<Option<ReplayJob>, StoreError> {
    let found = jobs
        .find_one(doc! { "_id": fire_id(job_id) })
        .await
        .map_err(driver)?;
    found.map(JobDoc::into_record).transpose()
}

/// The jobs `filter` matches, in `order`, at most `limit` (0: all).
async fn find(
    jobs: &Collection<JobDoc>,
    filter: Document,
    order: Document,
    limit: i64,
) -> Result<Vec<ReplayJob>, StoreError> {
    let found: Vec<JobDoc> = jobs
        .find(filter)
        .sort(order)
        .limit(limit)
        .await
        .map_err(driver)?
        .try_collect()
        .await
        .map_err(driver)?;
    found.into_iter().map(JobDoc::into_record).collect()
}

pub(super) async fn list(
    jobs: &Collection<JobDoc>,
    key: &HookKey,
    limit: usize,
) -> Result<Vec<ReplayJob>, StoreError> {
    if limit == 0 {
        // MongoDB reads a limit of 0 as "no limit".
        return Ok(Vec::new());
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    find(
        jobs,
        hook_filter(key),
        doc! { "created": -1, "_id": -1 },
        limit,
    )
    .await
}

pub(super) async fn running(jobs: &Collection<JobDoc>) -> Result<Vec<ReplayJob>, StoreError> {
    find(
        jobs,
        doc! { "running": true },
        doc! { "created": 1, "_id": 1 },
        0,
    )
    .await
}

pub(super) async fn replace(
    jobs: &Collection<JobDoc>,
    job: &ReplayJob,
    expected_version: u64,
) -> Result<(), StoreError> {
    let id = fire_id(job.job_id);
    let filter = doc! { "_id": &id, "version": to_i64(expected_version)? };
    let outcome = jobs
        .replace_one(filter, JobDoc::new(job)?)
        .await
        .map_err(driver)?;
    if outcome.matched_count > 0 {
        return Ok(());
    }
    // Not atomic with the replace; either answer is one a moment's difference could give.
    match get(jobs, job.job_id).await? {
        Some(_) => Err(StoreError::VersionConflict),
        None => Err(StoreError::NotFound),
    }
}
