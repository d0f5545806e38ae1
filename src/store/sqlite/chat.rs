//! The SQL of chat aliases and chat cursors, the SQLite side of the chat part of [`HookStore`].
//!
//! [`HookStore`]: crate::store::HookStore

use std::sync::Arc;

use rusqlite::{params, Connection};

use super::error::{insert, sql, to_i64};
use super::reader::ReadPool;
use super::rows::{conflict_or_missing, encode, execute, query_doc, query_docs};
use super::writer::Writer;
use crate::domain::{ChatAliasId, ChatAliasRecord};
use crate::store::StoreError;

/// An alias encoded for its row, on the caller's task.
pub(super) struct AliasRow {
    id: String,
    version: i64,
    doc: String,
}

impl AliasRow {
    pub(super) fn new(record: &ChatAliasRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: record.alias.alias_id.to_string(),
            version: to_i64(record.version)?,
            doc: encode(record)?,
        })
    }

    pub(super) fn insert(&self, conn: &Connection) -> Result<(), StoreError> {
        execute(
            conn,
            "INSERT INTO chat_aliases (alias_id, version, doc) VALUES (?1, ?2, ?3)",
            params![self.id, self.version, self.doc],
        )
        .map_err(insert)?;
        Ok(())
    }

    pub(super) fn replace(&self, conn: &Connection, expected: i64) -> Result<(), StoreError> {
        let changed = execute(
            conn,
            "UPDATE chat_aliases SET version = ?2, doc = ?3 WHERE alias_id = ?1 AND version = ?4",
            params![self.id, self.version, self.doc, expected],
        )
        .map_err(sql)?;
        if changed > 0 {
            return Ok(());
        }
        Err(conflict_or_missing(
            conn,
            "SELECT 1 FROM chat_aliases WHERE alias_id = ?1",
            params![self.id],
        ))
    }
}

/// The stored alias `id`, on a connection.
pub(super) fn alias_row(
    conn: &Connection,
    id: &str,
) -> Result<Option<ChatAliasRecord>, StoreError> {
    query_doc(
        conn,
        "SELECT doc FROM chat_aliases WHERE alias_id = ?1",
        params![id],
    )
}

/// Deletes alias `id` on a connection; whether it existed.
pub(super) fn delete_alias_row(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let deleted = execute(
        conn,
        "DELETE FROM chat_aliases WHERE alias_id = ?1",
        params![id],
    )
    .map_err(sql)?;
    Ok(deleted > 0)
}

pub(super) async fn insert_alias(
    writer: &Writer,
    record: &ChatAliasRecord,
) -> Result<(), StoreError> {
    let row = AliasRow::new(record)?;
    writer.write_rows(row, |conn, row| row.insert(conn)).await
}

pub(super) async fn get_alias(
    readers: &Arc<ReadPool>,
    id: &ChatAliasId,
) -> Result<Option<ChatAliasRecord>, StoreError> {
    let id = id.to_string();
    readers.read(move |conn| alias_row(conn, &id)).await
}

pub(super) async fn replace_alias(
    writer: &Writer,
    record: &ChatAliasRecord,
    expected_version: u64,
) -> Result<(), StoreError> {
    let row = AliasRow::new(record)?;
    let expected = to_i64(expected_version)?;
    writer
        .write_rows(row, move |conn, row| row.replace(conn, expected))
        .await
}

pub(super) async fn delete_alias(writer: &Writer, id: &ChatAliasId) -> Result<bool, StoreError> {
    let id = id.to_string();
    writer.write(move |conn| delete_alias_row(conn, &id)).await
}

pub(super) async fn list_aliases(
    readers: &Arc<ReadPool>,
) -> Result<Vec<ChatAliasRecord>, StoreError> {
    readers
        .read(|conn| {
            query_docs(
                conn,
                "SELECT doc FROM chat_aliases ORDER BY alias_id",
                params![],
            )
        })
        .await
}

pub(super) async fn get_cursor(
    readers: &Arc<ReadPool>,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let name = name.to_owned();
    readers
        .read(move |conn| {
            use rusqlite::OptionalExtension;
            conn.prepare_cached("SELECT value FROM chat_cursors WHERE name = ?1")
                .and_then(|mut stmt| stmt.query_row(params![name], |row| row.get(0)))
                .optional()
                .map_err(sql)
        })
        .await
}

pub(super) async fn set_cursor(writer: &Writer, name: &str, value: &str) -> Result<(), StoreError> {
    let (name, value) = (name.to_owned(), value.to_owned());
    writer
        .write(move |conn| {
            execute(
                conn,
                "INSERT INTO chat_cursors (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
}
