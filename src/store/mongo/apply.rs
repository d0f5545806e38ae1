//! Apply sets in MongoDB: one document per set in `applySets`, the commit point of an apply.
//!
//! MongoDB without multi-document transactions cannot write a set's hooks atomically, so an
//! apply commits by writing the set's one document, holding the new revision and every hook
//! write still to make (`pending`). That single-document compare-and-set on `revision` decides
//! between concurrent applies; the writes follow through `store::roll_forward`, which clears
//! `pending` when they are all made. The record is kept as JSON text for the reason the hook
//! codec gives (hook templates may hold `$`-keys); `revision`, `pending` and `rollClaims` are
//! plain fields so the filters and updates can use them. `rollClaims` counts the takeovers of a
//! pending revision's roll-forward: the newest claim is the only roller allowed to write.

use mongodb::bson::doc;
use mongodb::options::ReturnDocument;
use mongodb::Collection;
use serde::{Deserialize, Serialize};

use super::error::{driver, insert, to_i64};
use crate::domain::{ApplySetName, ApplySetRecord};
use crate::store::StoreError;

/// One document of the `applySets` collection.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SetDoc {
    #[serde(rename = "_id")]
    name: String,
    revision: i64,
    pending: bool,
    /// Claims on rolling this revision forward so far; every commit and finish starts over.
    #[serde(default)]
    roll_claims: i64,
    /// The [`ApplySetRecord`] as JSON text.
    record: String,
}

impl SetDoc {
    fn new(record: &ApplySetRecord) -> Result<Self, StoreError> {
        Ok(Self {
            name: record.name.to_string(),
            revision: to_i64(record.revision)?,
            pending: !record.pending.is_empty(),
            roll_claims: 0,
            record: serde_json::to_string(record).map_err(|e| StoreError::Backend(Box::new(e)))?,
        })
    }

    fn into_record(self) -> Result<ApplySetRecord, StoreError> {
        serde_json::from_str(&self.record).map_err(|e| StoreError::Corrupt(Box::new(e)))
    }
}

/// The set's record, if it has one.
pub(super) async fn get(
    sets: &Collection<SetDoc>,
    name: &ApplySetName,
) -> Result<Option<ApplySetRecord>, StoreError> {
    let found = sets
        .find_one(doc! { "_id": name.as_str() })
        .await
        .map_err(driver)?;
    found.map(SetDoc::into_record).transpose()
}

/// The sets with pending writes.
pub(super) async fn pending(sets: &Collection<SetDoc>) -> Result<Vec<ApplySetName>, StoreError> {
    let names = sets
        .distinct("_id", doc! { "pending": true })
        .await
        .map_err(driver)?;
    let mut names = names
        .into_iter()
        .map(|v| mongodb::bson::from_bson(v).map_err(|e| StoreError::Corrupt(Box::new(e))))
        .collect::<Result<Vec<ApplySetName>, _>>()?;
    names.sort();
    Ok(names)
}

/// The commit point: the set's document at the new revision, if it is still at `expected`.
pub(super) async fn commit(
    sets: &Collection<SetDoc>,
    record: &ApplySetRecord,
    expected: u64,
) -> Result<(), StoreError> {
    let doc = SetDoc::new(record)?;
    if expected == 0 {
        return match sets.insert_one(doc).await.map_err(insert) {
            Err(StoreError::AlreadyExists) => Err(StoreError::VersionConflict),
            other => other.map(|_| ()),
        };
    }
    // A set still pending is not replaced: its writes are rolled forward before any apply
    // plans the next revision, so finding one here means another apply got in between.
    let replaced = sets
        .replace_one(
            doc! { "_id": record.name.as_str(), "revision": to_i64(expected)?, "pending": false },
            doc,
        )
        .await
        .map_err(driver)?;
    if replaced.matched_count == 0 {
        return Err(StoreError::VersionConflict);
    }
    Ok(())
}

/// Takes over the roll-forward of `name`'s pending `revision`: one atomic increment, so every
/// claim gets its own number and the latest wins.
pub(super) async fn claim_roll(
    sets: &Collection<SetDoc>,
    name: &ApplySetName,
    revision: u64,
) -> Result<Option<u64>, StoreError> {
    let claimed = sets
        .find_one_and_update(
            doc! { "_id": name.as_str(), "revision": to_i64(revision)?, "pending": true },
            doc! { "$inc": { "rollClaims": 1_i64 } },
        )
        .return_document(ReturnDocument::After)
        .await
        .map_err(driver)?;
    claimed
        .map(|set| u64::try_from(set.roll_claims).map_err(|e| StoreError::Corrupt(Box::new(e))))
        .transpose()
}

/// Whether `claim` is still the newest claim on `name`'s pending `revision`.
pub(super) async fn holds_roll(
    sets: &Collection<SetDoc>,
    name: &ApplySetName,
    revision: u64,
    claim: u64,
) -> Result<bool, StoreError> {
    let filter = doc! {
        "_id": name.as_str(),
        "revision": to_i64(revision)?,
        "pending": true,
        "rollClaims": to_i64(claim)?,
    };
    let held = sets.count_documents(filter).await.map_err(driver)?;
    Ok(held == 1)
}

/// Replaces the pending document of the record's revision with the finished record.
pub(super) async fn finish(
    sets: &Collection<SetDoc>,
    record: &ApplySetRecord,
) -> Result<(), StoreError> {
    let doc = SetDoc::new(record)?;
    sets.replace_one(
        doc! { "_id": record.name.as_str(), "revision": to_i64(record.revision)? },
        doc,
    )
    .await
    .map_err(driver)?;
    Ok(())
}
