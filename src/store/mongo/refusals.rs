//! The `refusals` collection (extension): refused attempts to fire a hook, a few per hook.
//!
//! A document copies what the queries filter and sort on (hook, time, id) and keeps the whole
//! refusal as JSON text, which may hold a payload with keys MongoDB restricts. A TTL index on
//! `expireAt` gives refusals the retention of fires (migration `0002_refusals`).

use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDate, Document};
use mongodb::Collection;
use serde::{Deserialize, Serialize};

use super::codec::{date, fire_id, hook_filter};
use super::error::driver;
use crate::domain::{HookKey, Refusal};
use crate::store::StoreError;

/// One document of the `refusals` collection.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RefusalDoc {
    #[serde(rename = "_id")]
    id: String,
    hook_group_id: String,
    hook_id: String,
    time: BsonDate,
    /// The refusal as JSON text.
    refusal: String,
    /// When the TTL index deletes the document.
    expire_at: BsonDate,
}

impl RefusalDoc {
    fn new(r: &Refusal, retention: chrono::Duration) -> Result<Self, StoreError> {
        Ok(Self {
            id: fire_id(r.refusal_id),
            hook_group_id: r.hook_group_id.to_string(),
            hook_id: r.hook_id.to_string(),
            time: date(r.time),
            refusal: serde_json::to_string(r).map_err(|e| StoreError::Backend(Box::new(e)))?,
            expire_at: date(
                r.time
                    .checked_add_signed(retention)
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            ),
        })
    }

    fn into_record(self) -> Result<Refusal, StoreError> {
        serde_json::from_str(&self.refusal).map_err(|e| StoreError::Corrupt(Box::new(e)))
    }
}

/// The order of a hook's refusals: newest first, ties broken by id descending.
fn newest_first() -> Document {
    doc! { "time": -1, "_id": -1 }
}

/// Inserts `refusal`, then deletes the hook's refusals past the newest `keep`.
pub(super) async fn record(
    refusals: &Collection<RefusalDoc>,
    refusal: &Refusal,
    keep: usize,
    retention: chrono::Duration,
) -> Result<(), StoreError> {
    refusals
        .insert_one(RefusalDoc::new(refusal, retention)?)
        .await
        .map_err(driver)?;
    let key = refusal.key();
    let first_dropped = refusals
        .find_one(hook_filter(&key))
        .sort(newest_first())
        .skip(u64::try_from(keep).unwrap_or(u64::MAX))
        .await
        .map_err(driver)?;
    let Some(first_dropped) = first_dropped else {
        return Ok(());
    };
    let mut filter = hook_filter(&key);
    filter.extend(doc! {
        "time": { "$lte": first_dropped.time },
        "$or": [ { "time": { "$lt": first_dropped.time } }, { "_id": { "$lte": &first_dropped.id } } ],
    });
    refusals.delete_many(filter).await.map_err(driver)?;
    Ok(())
}

/// Up to `limit` of the hook `key`'s refusals, newest first.
pub(super) async fn list(
    refusals: &Collection<RefusalDoc>,
    key: &HookKey,
    limit: usize,
) -> Result<Vec<Refusal>, StoreError> {
    if limit == 0 {
        // MongoDB reads a limit of 0 as "no limit".
        return Ok(Vec::new());
    }
    let cursor = refusals
        .find(hook_filter(key))
        .sort(newest_first())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(driver)?;
    let docs: Vec<RefusalDoc> = cursor.try_collect().await.map_err(driver)?;
    docs.into_iter().map(RefusalDoc::into_record).collect()
}
