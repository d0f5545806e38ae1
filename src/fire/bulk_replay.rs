//! Bulk replay (extension): the plan of replaying a hook's fires in a time range, the job that
//! does it, and one turn of that job.
//!
//! Everything walks the hook's fire history by keyset, one page at a time, newest first, so a
//! range of any size is planned and run without holding it in memory. A job fires each fire
//! through the single-fire replay ([`super::replay::replay`], asked as [`Asker::Job`]), so its
//! replays have fixed task and record ids; it writes its cursor after each one, and a replay
//! whose record is already stored (a job resumed after a crash) is not fired again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::replay::{replay, Asker, ReplayRequest};
use super::{fire, settled, FireDeps, FireError, Record};
use crate::clock::Clock;
use crate::domain::{
    FireRecord, FireResult, HookKey, HookRecord, JobCursor, JobState, ReplayJob, TaskIdChoice,
    TemplateChoice,
};
use crate::store::{FireCursor, HookStore, StoreError};

/// Fires read from the store at once while walking a range.
const PAGE: usize = 500;

/// Fires a plan lists; the rest it only counts.
pub const PLAN_LISTED: usize = 100;

/// What a caller asks of a bulk replay.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkReplayRequest {
    /// The oldest fire time to replay, inclusive.
    pub since: DateTime<Utc>,
    /// The newest fire time to replay, inclusive.
    pub until: DateTime<Utc>,
    /// Which fires to replay; failed ones unless told.
    #[serde(default = "errors")]
    pub result: FireResult,
    /// The template each replay renders; the recorded one unless told.
    #[serde(default = "recorded")]
    pub template: TemplateChoice,
    /// The task id each replay submits under; new ones unless told.
    #[serde(default = "new_task")]
    pub task_id: TaskIdChoice,
    /// Only answer the plan.
    #[serde(default)]
    pub dry_run: bool,
}

fn errors() -> FireResult {
    FireResult::Error
}

fn recorded() -> TemplateChoice {
    TemplateChoice::Recorded
}

fn new_task() -> TaskIdChoice {
    TaskIdChoice::New
}

/// Why a bulk replay cannot be planned as asked.
#[derive(Debug, thiserror::Error)]
pub enum BulkReplayError {
    /// The range ends before it starts.
    #[error("since ({since}) is after until ({until})")]
    EmptyRange {
        /// The start asked for.
        since: DateTime<Utc>,
        /// The end asked for.
        until: DateTime<Utc>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which fires a bulk replay replays: how many, and the first [`PLAN_LISTED`] of them (newest
/// first, the order they are replayed in).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// How many fires it replays.
    pub count: u64,
    /// The first of them.
    pub fires: Vec<FireRecord>,
}

/// The fires of one page of a walk that the walk takes, and where the next page starts
/// (`None` when the range ends in this page).
struct Page {
    taken: Vec<FireRecord>,
    next: Option<JobCursor>,
}

/// The range and choice a walk follows.
#[derive(Clone, Copy)]
struct Range {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    result: FireResult,
}

impl Range {
    fn of(job: &ReplayJob) -> Self {
        Self {
            since: job.since,
            until: job.until,
            result: job.result,
        }
    }
}

/// One page of the walk over `range` of the hook `key`'s fires, after `after` (from `until`
/// when `None`).
async fn page(
    store: &dyn HookStore,
    key: &HookKey,
    range: Range,
    after: Option<JobCursor>,
) -> Result<Page, StoreError> {
    // Strictly before the greatest id at `until` is every fire at `until` or earlier.
    let cursor = after.map_or(
        FireCursor {
            time: range.until,
            fire_id: Uuid::max(),
        },
        |c| FireCursor {
            time: c.time,
            fire_id: c.fire_id,
        },
    );
    let fires = store.list_fires(key, PAGE, Some(&cursor)).await?;
    let full = fires.len() == PAGE;
    let last = fires.last().map(cursor_of);
    let read = fires.len();
    let in_range: Vec<FireRecord> = fires
        .into_iter()
        .take_while(|f| f.task_create_time >= range.since)
        .collect();
    // A short page is the end of the history; a fire before `since`, the end of the range.
    let ended = !full || in_range.len() < read;
    Ok(Page {
        taken: in_range
            .into_iter()
            .filter(|f| range.result.takes(f))
            .collect(),
        next: if ended { None } else { last },
    })
}

fn cursor_of(fire: &FireRecord) -> JobCursor {
    JobCursor {
        time: fire.task_create_time,
        fire_id: fire.fire_id,
    }
}

fn checked(request: &BulkReplayRequest) -> Result<Range, BulkReplayError> {
    if request.since > request.until {
        return Err(BulkReplayError::EmptyRange {
            since: request.since,
            until: request.until,
        });
    }
    Ok(Range {
        since: request.since,
        until: request.until,
        result: request.result,
    })
}

/// The plan of `request` over the hook `key`'s fires. It walks the whole range (counting
/// only), page by page.
///
/// # Errors
/// [`BulkReplayError`] for a range that ends before it starts, or the store's failure.
pub async fn plan(
    store: &dyn HookStore,
    key: &HookKey,
    request: &BulkReplayRequest,
) -> Result<Plan, BulkReplayError> {
    let range = checked(request)?;
    let mut plan = Plan {
        count: 0,
        fires: Vec::new(),
    };
    let mut after = None;
    loop {
        let page = page(store, key, range, after).await?;
        plan.count += page.taken.len() as u64;
        let room = PLAN_LISTED.saturating_sub(plan.fires.len());
        plan.fires.extend(page.taken.into_iter().take(room));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(plan),
        }
    }
}

/// Plans `request` and stores it as a running job of the hook `key` for `client_id`, created
/// `now` (or as done, when it plans nothing).
///
/// # Errors
/// As [`plan`], and the store's failure to keep the job.
pub async fn create_job(
    store: &dyn HookStore,
    key: &HookKey,
    request: &BulkReplayRequest,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<ReplayJob, BulkReplayError> {
    let plan = plan(store, key, request).await?;
    let job = ReplayJob {
        job_id: Uuid::now_v7(),
        hook_group_id: key.group.clone(),
        hook_id: key.id.clone(),
        since: request.since,
        until: request.until,
        result: request.result,
        template: request.template,
        task_id: request.task_id,
        client_id: client_id.to_owned(),
        created: now,
        state: if plan.count == 0 {
            JobState::Done
        } else {
            JobState::Running
        },
        planned: plan.count,
        replayed: 0,
        failed: 0,
        cursor: None,
        next_at: now,
        version: 1,
    };
    store.insert_replay_job(&job).await?;
    Ok(job)
}

/// Cancels the job `job` unless it already ended; answers it as it is now.
///
/// # Errors
/// The store's failure; [`StoreError::VersionConflict`] when it kept changing under the
/// cancel (a runner writes it after each replay, so a retry soon succeeds).
pub async fn cancel(store: &dyn HookStore, job: ReplayJob) -> Result<ReplayJob, StoreError> {
    let mut job = job;
    for _ in 0..CANCEL_ATTEMPTS {
        if job.state != JobState::Running {
            return Ok(job);
        }
        let mut cancelled = job.clone();
        cancelled.state = JobState::Cancelled;
        cancelled.version += 1;
        match store.replace_replay_job(&cancelled, job.version).await {
            Ok(()) => return Ok(cancelled),
            Err(StoreError::VersionConflict) => {
                job = store
                    .get_replay_job(job.job_id)
                    .await?
                    .ok_or(StoreError::NotFound)?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::VersionConflict)
}

/// How often a cancel reads the job again when a runner wrote it in between.
const CANCEL_ATTEMPTS: usize = 5;

/// One turn of `job`: replays its next fires while `clock` says their time has come (one
/// each `interval`), writing its progress after each, and marks it done at the end of its
/// range. It stops early, leaving the rest for a later turn, when the job was written by
/// someone else (cancelled, or taken by another replica) or a fire failed in a way a retry may
/// mend.
///
/// # Errors
/// The store's failures, and transient fire failures; the job stays where it was written last.
pub async fn run_turn(
    deps: &FireDeps,
    clock: &dyn Clock,
    interval: chrono::Duration,
    mut job: ReplayJob,
) -> Result<(), FireError> {
    let store = deps.store.as_ref();
    let Some(record) = store.get_hook(&job.key()).await? else {
        // The hook is gone, and its history with it: nothing is left to replay.
        job.state = JobState::Done;
        save(store, &mut job).await?;
        return Ok(());
    };
    let range = Range::of(&job);
    loop {
        let page = page(store, &job.key(), range, job.cursor).await?;
        for past in page.taken {
            let now = clock.now();
            if now < job.next_at || !still_ours(store, &job).await? {
                return Ok(());
            }
            replay_one(deps, &record, &mut job, &past).await?;
            job.cursor = Some(cursor_of(&past));
            job.next_at = now + interval;
            if !save(store, &mut job).await? {
                return Ok(());
            }
        }
        match page.next {
            Some(next) => job.cursor = Some(next),
            None => job.state = JobState::Done,
        }
        if !save(store, &mut job).await? || job.state == JobState::Done {
            return Ok(());
        }
    }
}

/// Whether `job` is still stored as this turn last wrote it.
async fn still_ours(store: &dyn HookStore, job: &ReplayJob) -> Result<bool, StoreError> {
    let stored = store.get_replay_job(job.job_id).await?;
    Ok(stored.is_some_and(|s| s.version == job.version))
}

/// Writes `job` as its next version; `false` when someone else wrote it first.
async fn save(store: &dyn HookStore, job: &mut ReplayJob) -> Result<bool, StoreError> {
    let expected = job.version;
    job.version += 1;
    match store.replace_replay_job(job, expected).await {
        Ok(()) => Ok(true),
        Err(StoreError::VersionConflict | StoreError::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Replays `past` for `job` and counts the outcome; a transient failure is the caller's, to
/// try again later.
async fn replay_one(
    deps: &FireDeps,
    record: &HookRecord,
    job: &mut ReplayJob,
    past: &FireRecord,
) -> Result<(), FireError> {
    let request = ReplayRequest {
        template: job.template,
        payload_override: None,
        task_id: job.task_id,
        dry_run: false,
    };
    let (hook, trigger) = match replay(record, past, &request, Asker::Job(job)) {
        Ok(replaying) => replaying,
        Err(e) => {
            tracing::info!(job = %job.job_id, fire = %past.fire_id, error = %e, "fire not replayed");
            job.failed += 1;
            return Ok(());
        }
    };
    // Replayed before the job could write its cursor (it was stopped in between).
    if settled(deps, &trigger).await?.is_some() {
        job.replayed += 1;
        return Ok(());
    }
    match fire(deps, &hook, trigger).await {
        Ok(_) => job.replayed += 1,
        Err(e) if e.disposition().transient => return Err(e),
        Err(e) => match e.disposition().record {
            Record::ErrorFire(_) => job.replayed += 1,
            Record::Refusal | Record::Nothing => job.failed += 1,
        },
    }
    Ok(())
}
