//! The queries behind listings for people (the web UI): hooks counted per group under a key
//! filter and a search, and the newest failed fires across hooks.
//!
//! A [`KeyFilter`] becomes an `$or` of conditions on `hookGroupId` and `hookId`; a prefix is a
//! range (`$gte` the prefix, `$lt` the prefix followed by the largest code point), which an
//! index can serve and which is exact because ids are ASCII. Counting is one aggregation that
//! returns a count per group, not the hooks. Failed fires are read through the partial index
//! `failedNewestFirst` (migration 0003).

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Collection;

use super::codec::{FireDoc, HookDoc};
use super::error::driver;
use crate::domain::{FireRecord, HookGroupId, KeyFilter, KeyPattern};
use crate::store::{GroupCount, StoreError};

/// Strings that start with `prefix`, as a range.
fn starting_with(prefix: &str) -> Document {
    doc! { "$gte": prefix, "$lt": format!("{prefix}{}", char::MAX) }
}

/// `keys` as a filter on `hookGroupId` and `hookId`.
fn key_condition(keys: &KeyFilter) -> Document {
    if keys.is_all() {
        return Document::new();
    }
    if keys.is_empty() {
        // `$or` needs at least one term; this one matches nothing.
        return doc! { "_id": { "$in": [] } };
    }
    let terms: Vec<Document> = keys
        .patterns()
        .iter()
        .map(|pattern| match pattern {
            KeyPattern::GroupPrefix(prefix) => doc! { "hookGroupId": starting_with(prefix) },
            KeyPattern::IdPrefix { group, id_prefix } => {
                doc! { "hookGroupId": group, "hookId": starting_with(id_prefix) }
            }
            KeyPattern::Key { group, id } => doc! { "hookGroupId": group, "hookId": id },
        })
        .collect();
    doc! { "$or": terms }
}

/// `search` as a regular expression that matches it literally, ignoring case.
fn contains(search: &str) -> Document {
    let mut pattern = String::with_capacity(search.len() * 2);
    for c in search.chars() {
        if c.is_ascii_punctuation() {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    doc! { "$regex": pattern, "$options": "i" }
}

/// Hooks per group admitted by `keys`, whose group, id or name holds `search`.
pub(super) async fn count_hooks(
    hooks: &Collection<HookDoc>,
    keys: &KeyFilter,
    search: &str,
) -> Result<Vec<GroupCount>, StoreError> {
    let mut conditions = vec![key_condition(keys)];
    if !search.is_empty() {
        let needle = contains(search);
        conditions.push(doc! { "$or": [
            { "hookGroupId": needle.clone() },
            { "hookId": needle.clone() },
            { "metadata.name": needle },
        ] });
    }
    let pipeline = [
        doc! { "$match": { "$and": conditions } },
        doc! { "$group": { "_id": "$hookGroupId", "hooks": { "$sum": 1 } } },
        // Without a collation strings sort bytewise, the order the trait promises.
        doc! { "$sort": { "_id": 1 } },
    ];
    let counted: Vec<Document> = hooks
        .aggregate(pipeline)
        .await
        .map_err(driver)?
        .try_collect()
        .await
        .map_err(driver)?;
    counted
        .into_iter()
        .map(|row| {
            let group = row.get_str("_id").unwrap_or_default();
            let hooks = match row.get("hooks") {
                Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or_default(),
                Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or_default(),
                _ => 0,
            };
            Ok(GroupCount {
                group: HookGroupId::parse(group).map_err(|e| StoreError::Corrupt(Box::new(e)))?,
                hooks,
            })
        })
        .collect()
}

/// The newest `limit` failed fires of hooks admitted by `keys`.
pub(super) async fn error_fires(
    fires: &Collection<FireDoc>,
    keys: &KeyFilter,
    limit: usize,
) -> Result<Vec<FireRecord>, StoreError> {
    if limit == 0 {
        // MongoDB reads a limit of 0 as "no limit".
        return Ok(Vec::new());
    }
    // The partial index's own condition, so the planner may use it.
    let filter = doc! { "$and": [ { "failure": { "$type": "object" } }, key_condition(keys) ] };
    let docs: Vec<FireDoc> = fires
        .find(filter)
        .sort(doc! { "taskCreateTime": -1, "_id": -1 })
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(driver)?
        .try_collect()
        .await
        .map_err(driver)?;
    docs.into_iter().map(FireDoc::into_record).collect()
}
