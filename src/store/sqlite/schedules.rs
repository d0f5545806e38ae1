//! The scheduler's lean read and write of hooks: each hook's schedule, next slot and claimed
//! slots extracted from its document by SQLite's JSON functions, and claims and releases
//! written into it the same way, so no whole record (task template, trigger schema, token) is
//! decoded or encoded in Rust.
//!
//! The fields come from `doc`, not from the indexed columns, as every read here does: the
//! document is the truth. SQLite parses each document once for the three extractions (it
//! keeps the last parsed documents of a statement), and neighbours that share a schedule share
//! one parse of it.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::error::{sql, to_i64};
use super::rows::{decode, encode, execute, hook_changed, key_params};
use crate::domain::{HookGroupId, HookId, HookKey, Schedule};
use crate::store::{HookSchedule, HookSlots, StoreError};

/// At most `limit` hooks of `group` with ids after `after`, in id order, as [`HookSchedule`]s.
pub(super) fn page(
    conn: &Connection,
    group: &HookGroupId,
    after: &str,
    limit: i64,
) -> Result<Vec<HookSchedule>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT hook_id, doc -> '$.hook.schedule', doc ->> '$.nextScheduledDate',
                    doc -> '$.claimedSlots'
             FROM hooks WHERE hook_group_id = ?1 AND hook_id > ?2
             ORDER BY hook_id LIMIT ?3",
        )
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![group.as_str(), after, limit])
        .map_err(sql)?;
    // Hooks in id order mostly share their neighbour's schedule: its stored JSON text is
    // compared, and parsed only when it differs (`Schedule` remembers the parses of others).
    let mut last: Option<(String, Schedule)> = None;
    let mut page = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        let id: String = row.get(0).map_err(sql)?;
        let schedule_json: String = row.get(1).map_err(sql)?;
        let next: Option<String> = row.get(2).map_err(sql)?;
        let claims: Option<String> = row.get(3).map_err(sql)?;
        let schedule = match &last {
            Some((text, schedule)) if *text == schedule_json => schedule.clone(),
            _ => {
                let schedule: Schedule = decode(&schedule_json)?;
                last = Some((schedule_json, schedule.clone()));
                schedule
            }
        };
        page.push(HookSchedule {
            key: HookKey::new(group.clone(), HookId::parse(id).map_err(corrupt)?),
            schedule,
            next_scheduled_date: next.as_deref().map(time).transpose()?,
            claimed_slots: claims
                .as_deref()
                .map(decode)
                .transpose()?
                .unwrap_or_default(),
        });
    }
    Ok(page)
}

/// One [`HookSlots`] write as statement parameters, encoded before the write is queued so the
/// writer thread only does SQL. Each field is the JSON its record's serde writes, so the
/// document reads back as the record with those fields changed.
pub(super) struct SlotsRow {
    group: String,
    id: String,
    expected: i64,
    version: i64,
    next_scheduled_ms: Option<i64>,
    next_scheduled_date: String,
    next_task_id: String,
    /// `None` when no slot is claimed: the record's serde then leaves the field out.
    claimed_slots: Option<String>,
}

impl SlotsRow {
    pub(super) fn new(write: &HookSlots) -> Result<Self, StoreError> {
        let (group, id) = key_params(&write.key);
        Ok(Self {
            group,
            id,
            expected: to_i64(write.expected_version)?,
            version: to_i64(write.expected_version + 1)?,
            next_scheduled_ms: write.next_scheduled_date.map(|d| d.timestamp_millis()),
            next_scheduled_date: encode(&write.next_scheduled_date)?,
            next_task_id: encode(&write.next_task_id)?,
            claimed_slots: (!write.claimed_slots.is_empty())
                .then(|| encode(&write.claimed_slots))
                .transpose()?,
        })
    }

    /// Writes the fields into the hook's document and columns if the hook is still at the
    /// expected version.
    pub(super) fn write(&self, conn: &Connection) -> Result<(), StoreError> {
        let changed = execute(
            conn,
            "UPDATE hooks SET version = ?3, next_scheduled_ms = ?4,
                 doc = CASE WHEN ?7 IS NULL
                     THEN json_remove(json_set(doc, '$.version', ?3,
                         '$.nextScheduledDate', json(?5), '$.nextTaskId', json(?6)),
                         '$.claimedSlots')
                     ELSE json_set(doc, '$.version', ?3, '$.nextScheduledDate', json(?5),
                         '$.nextTaskId', json(?6), '$.claimedSlots', json(?7))
                 END
             WHERE hook_group_id = ?1 AND hook_id = ?2 AND version = ?8",
            params![
                self.group,
                self.id,
                self.version,
                self.next_scheduled_ms,
                self.next_scheduled_date,
                self.next_task_id,
                self.claimed_slots,
                self.expected,
            ],
        )
        .map_err(sql)?;
        hook_changed(conn, changed, &self.group, &self.id)
    }
}

/// A stored time, read as the record's serde reads it.
fn time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    text.parse().map_err(corrupt)
}

fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Corrupt(Box::new(e))
}
