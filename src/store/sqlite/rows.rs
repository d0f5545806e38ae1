//! Records to rows and back: the JSON document, the indexed columns copied out of it, the
//! small statement helpers every operation uses, and the hook row writes that both the trait's
//! operations and an apply's transaction make.

use rusqlite::{params, Connection, OptionalExtension, Params};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{backend, insert, sql, to_i64, SqliteError};
use crate::domain::{HookKey, HookRecord};
use crate::store::StoreError;

/// Serializes a record as its stored document.
pub(super) fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| backend(SqliteError::Encode(e)))
}

/// Parses a stored document; a document that does not parse is corruption, not a bug here.
pub(super) fn decode<T: DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(Box::new(e)))
}

/// Runs one statement through the connection's statement cache; returns the changed rows.
pub(super) fn execute(
    conn: &Connection,
    statement: &str,
    params: impl Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(statement)?.execute(params)
}

/// Decodes the `doc` of the one row the query returns, if any.
pub(super) fn query_doc<T: DeserializeOwned>(
    conn: &Connection,
    query: &str,
    params: impl Params,
) -> Result<Option<T>, StoreError> {
    let doc: Option<String> = conn
        .prepare_cached(query)
        .and_then(|mut stmt| stmt.query_row(params, |row| row.get(0)))
        .optional()
        .map_err(sql)?;
    doc.as_deref().map(decode).transpose()
}

/// Decodes every `doc` the query returns, in order.
pub(super) fn query_docs<T: DeserializeOwned>(
    conn: &Connection,
    query: &str,
    params: impl Params,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(query).map_err(sql)?;
    let rows = stmt
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(sql)?;
    rows.map(|doc| decode(&doc.map_err(sql)?)).collect()
}

/// What a compare-and-set `UPDATE` that changed no row means: the row was written since it was
/// read, or it is gone. Run it in the same write job as the `UPDATE`, so it sees the row the
/// `UPDATE` saw.
pub(super) fn conflict_or_missing(
    conn: &Connection,
    exists: &str,
    params: impl Params,
) -> StoreError {
    match conn
        .prepare_cached(exists)
        .and_then(|mut stmt| stmt.exists(params))
    {
        Ok(true) => StoreError::VersionConflict,
        Ok(false) => StoreError::NotFound,
        Err(e) => sql(e),
    }
}

/// The columns of a `hooks` row, computed before the write is queued so that encoding runs on
/// the caller's task and the writer thread only does SQL.
pub(super) struct HookRow {
    pub(super) group: String,
    pub(super) id: String,
    pub(super) version: i64,
    pub(super) next_scheduled_ms: Option<i64>,
    pub(super) doc: String,
}

impl HookRow {
    pub(super) fn new(record: &HookRecord) -> Result<Self, StoreError> {
        Ok(Self {
            group: record.hook.hook_group_id.to_string(),
            id: record.hook.hook_id.to_string(),
            version: to_i64(record.version)?,
            next_scheduled_ms: record.next_scheduled_date.map(|d| d.timestamp_millis()),
            doc: encode(record)?,
        })
    }
}

/// A hook key as the two text columns that hold it.
pub(super) fn key_params(key: &HookKey) -> (String, String) {
    (key.group.to_string(), key.id.to_string())
}

/// Inserts a hook row; a taken key is [`StoreError::AlreadyExists`].
pub(super) fn insert_row(conn: &Connection, r: &HookRow) -> Result<(), StoreError> {
    // The primary key picks the winner between concurrent inserts, in this process or
    // another; reading first would leave a gap between check and write.
    execute(
        conn,
        "INSERT INTO hooks (hook_group_id, hook_id, version, next_scheduled_ms, doc)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![r.group, r.id, r.version, r.next_scheduled_ms, r.doc],
    )
    .map_err(insert)?;
    Ok(())
}

/// Replaces a hook row still at version `expected` (compare-and-set).
pub(super) fn replace_row(conn: &Connection, r: &HookRow, expected: i64) -> Result<(), StoreError> {
    let changed = execute(
        conn,
        "UPDATE hooks SET version = ?3, next_scheduled_ms = ?4, doc = ?5
         WHERE hook_group_id = ?1 AND hook_id = ?2 AND version = ?6",
        params![
            r.group,
            r.id,
            r.version,
            r.next_scheduled_ms,
            r.doc,
            expected
        ],
    )
    .map_err(sql)?;
    hook_changed(conn, changed, &r.group, &r.id)
}

/// What a compare-and-set `UPDATE` of the hook `group`/`id` that changed `changed` rows means
/// ([`conflict_or_missing`] when none).
pub(super) fn hook_changed(
    conn: &Connection,
    changed: usize,
    group: &str,
    id: &str,
) -> Result<(), StoreError> {
    if changed > 0 {
        return Ok(());
    }
    Err(conflict_or_missing(
        conn,
        "SELECT 1 FROM hooks WHERE hook_group_id = ?1 AND hook_id = ?2",
        params![group, id],
    ))
}

/// Deletes a hook row and its fire history; returns whether the hook existed.
pub(super) fn delete_row(conn: &Connection, group: &str, id: &str) -> Result<bool, StoreError> {
    // One write job is undone as a whole, so the hook and all that is kept of it go together.
    execute(
        conn,
        "DELETE FROM fires WHERE hook_group_id = ?1 AND hook_id = ?2",
        params![group, id],
    )
    .map_err(sql)?;
    execute(
        conn,
        "DELETE FROM refusals WHERE hook_group_id = ?1 AND hook_id = ?2",
        params![group, id],
    )
    .map_err(sql)?;
    execute(
        conn,
        "DELETE FROM replay_jobs WHERE hook_group_id = ?1 AND hook_id = ?2",
        params![group, id],
    )
    .map_err(sql)?;
    let deleted = execute(
        conn,
        "DELETE FROM hooks WHERE hook_group_id = ?1 AND hook_id = ?2",
        params![group, id],
    )
    .map_err(sql)?;
    Ok(deleted > 0)
}
