//! The scheduler's lean read of a page of hooks: a projection of each hook document onto its
//! id, schedule, next slot and claimed slots, so no whole record (task template, trigger
//! schema, token) crosses the wire or is decoded.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDate};
use mongodb::Collection;
use serde::Deserialize;

use super::codec::{corrupt, from_date, page_filter, HookDoc};
use super::error::driver;
use crate::domain::{HookGroupId, HookId, HookKey, Schedule};
use crate::store::{HookSchedule, StoreError};

/// The projected fields of one hook document.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleDoc {
    hook_id: HookId,
    schedule: Vec<String>,
    next_scheduled_date: Option<BsonDate>,
    #[serde(default)]
    claimed_slots: Vec<BsonDate>,
}

/// At most `limit` hooks of `group` with ids after `after`, in id order, as [`HookSchedule`]s.
pub(super) async fn page(
    hooks: &Collection<HookDoc>,
    group: &HookGroupId,
    after: Option<&HookId>,
    limit: usize,
) -> Result<Vec<HookSchedule>, StoreError> {
    let docs: Vec<ScheduleDoc> = hooks
        .clone_with_type::<ScheduleDoc>()
        .find(page_filter(group, after))
        .projection(doc! {
            "_id": 0, "hookId": 1, "schedule": 1, "nextScheduledDate": 1, "claimedSlots": 1,
        })
        .sort(doc! { "hookId": 1 })
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(driver)?
        .try_collect()
        .await
        .map_err(driver)?;
    // Hooks of a page that share a schedule share one parse of it.
    let mut schedules: HashMap<Vec<String>, Schedule> = HashMap::new();
    docs.into_iter()
        .map(|doc| {
            let schedule = match schedules.get(doc.schedule.as_slice()) {
                Some(schedule) => schedule.clone(),
                None => {
                    // Parsed like any definition that enters; see `StoreError::Corrupt`.
                    let schedule = Schedule::try_from(doc.schedule).map_err(corrupt)?;
                    schedules.insert(schedule.entries().to_vec(), schedule.clone());
                    schedule
                }
            };
            Ok(HookSchedule {
                key: HookKey::new(group.clone(), doc.hook_id),
                schedule,
                next_scheduled_date: doc.next_scheduled_date.map(from_date).transpose()?,
                claimed_slots: (doc.claimed_slots.into_iter().map(from_date))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}
