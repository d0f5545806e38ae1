//! The database file's shape: connection pragmas, the tables, and their migrations.
//!
//! The schema version lives in `PRAGMA user_version`, which SQLite keeps in the file header and
//! changes inside transactions. Migrations are an append-only list; the version is the number of
//! migrations applied, so a later hookd adds one entry and older files catch up on open.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::error::{sql, SqliteError};
use crate::store::StoreError;

/// How long a connection waits for another connection (or another hookd replica) to release
/// the database lock before the operation fails as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer's page cache, in KiB: 64 MiB, not SQLite's 2 MiB. Every write goes down the
/// index trees of the fires and tasks (and a burst's down the fires' index by hook at 100,000
/// places), and a page that fell out of the cache is read again from the WAL or the file: a
/// seventh of the writer thread's time in a burst of 100,000 fires (BENCHMARKS.md, issue 15).
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// Every migration, in order. Never edit an entry that has shipped; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: hooks, their fire history and the task outbox. Indexed columns copy what queries
    // filter and sort on; `doc` holds the JSON document and is the only thing read back.
    "CREATE TABLE hooks (
        hook_group_id     TEXT    NOT NULL,
        hook_id           TEXT    NOT NULL,
        version           INTEGER NOT NULL,
        next_scheduled_ms INTEGER,
        doc               TEXT    NOT NULL,
        PRIMARY KEY (hook_group_id, hook_id)
    ) STRICT;
    CREATE INDEX hooks_by_next_scheduled ON hooks (next_scheduled_ms)
        WHERE next_scheduled_ms IS NOT NULL;

    CREATE TABLE fires (
        fire_id       TEXT    NOT NULL PRIMARY KEY,
        hook_group_id TEXT    NOT NULL,
        hook_id       TEXT    NOT NULL,
        time_ms       INTEGER NOT NULL,
        doc           TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX fires_by_hook_newest_first
        ON fires (hook_group_id, hook_id, time_ms DESC, fire_id DESC);

    CREATE TABLE tasks (
        task_id       TEXT NOT NULL PRIMARY KEY,
        hook_group_id TEXT NOT NULL,
        hook_id       TEXT NOT NULL,
        doc           TEXT NOT NULL
    ) STRICT;",
    // 2: apply sets (`hookd apply`): one row per set, its record as the JSON document. An
    // apply commits in one transaction here, so `pending` stays 0; it is kept for the trait's
    // shape, which a backend without transactions needs.
    "CREATE TABLE apply_sets (
        name     TEXT    NOT NULL PRIMARY KEY,
        revision INTEGER NOT NULL,
        pending  INTEGER NOT NULL,
        doc      TEXT    NOT NULL
    ) STRICT;",
    // 3: refused attempts to fire a hook (extension), a few per hook, newest first.
    "CREATE TABLE refusals (
        refusal_id    TEXT    NOT NULL PRIMARY KEY,
        hook_group_id TEXT    NOT NULL,
        hook_id       TEXT    NOT NULL,
        time_ms       INTEGER NOT NULL,
        doc           TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX refusals_by_hook_newest_first
        ON refusals (hook_group_id, hook_id, time_ms DESC, refusal_id DESC);",
    // 4: chat aliases, and how far each chat platform has read its event stream.
    "CREATE TABLE chat_aliases (
        alias_id TEXT    NOT NULL PRIMARY KEY,
        version  INTEGER NOT NULL,
        doc      TEXT    NOT NULL
    ) STRICT;

    CREATE TABLE chat_cursors (
        name  TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;",
    // 5: bulk replay jobs (extension) and their progress; `running` finds the unfinished.
    "CREATE TABLE replay_jobs (
        job_id        TEXT    NOT NULL PRIMARY KEY,
        hook_group_id TEXT    NOT NULL,
        hook_id       TEXT    NOT NULL,
        created_ms    INTEGER NOT NULL,
        running       INTEGER NOT NULL,
        version       INTEGER NOT NULL,
        doc           TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX replay_jobs_by_hook_newest_first
        ON replay_jobs (hook_group_id, hook_id, created_ms DESC, job_id DESC);
    CREATE INDEX replay_jobs_running ON replay_jobs (created_ms, job_id) WHERE running = 1;",
    // 6: failed fires across hooks, newest first (the web UI's service and groups pages). A
    // partial index on the document's own field, so recording a fire writes no new column.
    "CREATE INDEX fires_failed_newest_first ON fires (time_ms DESC, fire_id DESC)
        WHERE json_type(doc, '$.failure') = 'object';",
];

/// The schema version this build writes: the number of migrations it knows.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating if needed) the connection that does all writing, and brings the schema up
/// to date.
pub(super) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path).map_err(sql)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    // WAL lets readers (ours and other replicas') run while the writer commits; it is a
    // property of the file, so this only does work the first time.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(Box::new(SqliteError::NotWal(mode))));
    }
    // A caller is told "ok" only after the commit; FULL makes that commit survive power loss.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql)?;
    // A negative size is in KiB. SQLite allocates cache pages as it reads them, so an idle
    // store does not pay for it.
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
        .map_err(sql)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Opens a connection for the read pool. It never creates the file and refuses to write.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql)?;
    conn.pragma_update(None, "query_only", "ON").map_err(sql)?;
    Ok(conn)
}

/// Applies every migration the file has not seen yet, in one immediate transaction so that
/// replicas starting together take turns instead of racing the DDL.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql)?;
    let applied = match usize::try_from(found) {
        Ok(applied) if found <= SCHEMA_VERSION => applied,
        _ => {
            return Err(StoreError::Backend(Box::new(SqliteError::UnknownSchema {
                found,
                known: SCHEMA_VERSION,
            })))
        }
    };
    for (index, ddl) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(ddl).map_err(sql)?;
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        tx.pragma_update(None, "user_version", version)
            .map_err(sql)?;
        tracing::info!(version, "migrated the SQLite store schema");
    }
    tx.commit().map_err(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_caches_more_pages_than_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        let writer = open_writer(&path).unwrap();
        let reader = open_reader(&path).unwrap();
        let cache_size = |conn: &Connection| -> i64 {
            conn.pragma_query_value(None, "cache_size", |row| row.get(0))
                .unwrap()
        };
        assert_eq!(cache_size(&writer), -WRITER_CACHE_KIB);
        assert_eq!(cache_size(&reader), -2000, "SQLite's default, 2 MiB");
    }
}
