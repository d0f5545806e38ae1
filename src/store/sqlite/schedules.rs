//! The scheduler's lean read of a page of hooks: each hook's schedule, next slot and claimed
//! slots extracted from its document by SQLite's JSON functions, so no whole record (task
//! template, trigger schema, token) is decoded in Rust.
//!
//! The fields come from `doc`, not from the indexed columns, as every read here does: the
//! document is the truth. SQLite parses each document once for the three extractions (it
//! keeps the last parsed documents of a statement), and neighbours that share a schedule share
//! one parse of it.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::error::sql;
use super::rows::decode;
use crate::domain::{HookGroupId, HookId, HookKey, Schedule};
use crate::store::{HookSchedule, StoreError};

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

/// A stored time, read as the record's serde reads it.
fn time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    text.parse().map_err(corrupt)
}

fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Corrupt(Box::new(e))
}
