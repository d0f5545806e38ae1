//! The `replay_jobs` table (extension): bulk replay jobs and their progress, one row per job.
//! `running` copies the job's state so the runner finds what is left without reading the rest.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::error::{insert, sql, to_i64};
use super::rows::{encode, execute, key_params, query_doc, query_docs};
use crate::domain::{HookKey, JobState, ReplayJob};
use crate::store::StoreError;

/// The columns of a `replay_jobs` row, computed on the caller's task.
pub(super) struct JobRow {
    job_id: String,
    group: String,
    id: String,
    created_ms: i64,
    running: bool,
    version: i64,
    doc: String,
}

impl JobRow {
    pub(super) fn new(job: &ReplayJob) -> Result<Self, StoreError> {
        let (group, id) = key_params(&job.key());
        Ok(Self {
            job_id: job.job_id.to_string(),
            group,
            id,
            created_ms: job.created.timestamp_millis(),
            running: job.state == JobState::Running,
            version: to_i64(job.version)?,
            doc: encode(job)?,
        })
    }
}

pub(super) fn insert_job(conn: &Connection, r: &JobRow) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO replay_jobs (job_id, hook_group_id, hook_id, created_ms, running, version, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![r.job_id, r.group, r.id, r.created_ms, r.running, r.version, r.doc],
    )
    .map_err(insert)?;
    Ok(())
}

pub(super) fn replace_job(conn: &Connection, r: &JobRow, expected: i64) -> Result<(), StoreError> {
    let changed = execute(
        conn,
        "UPDATE replay_jobs SET running = ?2, version = ?3, doc = ?4
         WHERE job_id = ?1 AND version = ?5",
        params![r.job_id, r.running, r.version, r.doc, expected],
    )
    .map_err(sql)?;
    if changed > 0 {
        return Ok(());
    }
    // In the UPDATE's transaction: tells a job written since from one that is gone.
    let found: Option<i64> = conn
        .prepare_cached("SELECT version FROM replay_jobs WHERE job_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![r.job_id], |row| row.get(0))
                .optional()
        })
        .map_err(sql)?;
    Err(found.map_or(StoreError::NotFound, |_| StoreError::VersionConflict))
}

pub(super) fn get_job(conn: &Connection, job_id: Uuid) -> Result<Option<ReplayJob>, StoreError> {
    query_doc(
        conn,
        "SELECT doc FROM replay_jobs WHERE job_id = ?1",
        params![job_id.to_string()],
    )
}

pub(super) fn list_jobs(
    conn: &Connection,
    key: &HookKey,
    limit: usize,
) -> Result<Vec<ReplayJob>, StoreError> {
    let (group, id) = key_params(key);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    query_docs(
        conn,
        "SELECT doc FROM replay_jobs WHERE hook_group_id = ?1 AND hook_id = ?2
         ORDER BY created_ms DESC, job_id DESC LIMIT ?3",
        params![group, id, limit],
    )
}

pub(super) fn running_jobs(conn: &Connection) -> Result<Vec<ReplayJob>, StoreError> {
    query_docs(
        conn,
        "SELECT doc FROM replay_jobs WHERE running = 1 ORDER BY created_ms, job_id",
        [],
    )
}
