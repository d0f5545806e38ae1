//! The scheduler's lean read and write of hooks: a projection of each hook document onto its
//! id, schedule, next slot and claimed slots, and claims and releases written as a `$set` of
//! those fields, so no whole record (task template, trigger schema, token) crosses the wire or
//! is decoded or encoded.

use std::collections::HashMap;

use futures_util::future::join_all;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDate};
use mongodb::Collection;
use serde::Deserialize;

use super::codec::{conflict_or_missing, corrupt, date, from_date, hook_id, page_filter, HookDoc};
use super::error::{driver, to_i64};
use crate::domain::{HookGroupId, HookId, HookKey, Schedule};
use crate::store::{lost_race_is_an_answer, HookSchedule, HookSlots, StoreError};

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

/// Writes each [`HookSlots`] by a conditional update on the hook's version, all under way at
/// once (no transactions, and a lost race of one must not touch the others); answers in order.
pub(super) async fn write(
    hooks: &Collection<HookDoc>,
    writes: &[HookSlots],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let answers = join_all(writes.iter().map(|write| write_one(hooks, write))).await;
    // A failure of the backend fails the call, as the other backend's does; lost races are
    // answers.
    answers.into_iter().map(lost_race_is_an_answer).collect()
}

async fn write_one(hooks: &Collection<HookDoc>, write: &HookSlots) -> Result<(), StoreError> {
    let id = hook_id(&write.key);
    let mut set = doc! {
        "version": to_i64(write.expected_version + 1)?,
        "nextScheduledDate": write.next_scheduled_date.map_or(Bson::Null, |d| date(d).into()),
        "nextTaskId": write.next_task_id.as_ref().map_or(Bson::Null, |t| t.as_str().into()),
    };
    // As the codec writes a record: no field when no slot is claimed.
    let update = if write.claimed_slots.is_empty() {
        doc! { "$set": set, "$unset": { "claimedSlots": "" } }
    } else {
        let slots: Vec<Bson> = write
            .claimed_slots
            .iter()
            .map(|d| date(*d).into())
            .collect();
        set.insert("claimedSlots", slots);
        doc! { "$set": set }
    };
    let updated = hooks
        .update_one(
            doc! { "_id": &id, "version": to_i64(write.expected_version)? },
            update,
        )
        .await
        .map_err(driver)?;
    if updated.matched_count > 0 {
        return Ok(());
    }
    Err(conflict_or_missing(hooks, &id).await)
}
