//! The pool of read connections.
//!
//! In WAL mode readers never wait for the writer, so reads use their own connections instead of
//! queueing behind writes. SQLite calls block, so each read runs on tokio's blocking pool and
//! borrows an idle connection, opening a new one when none is free.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;

use super::error::{backend, SqliteError};
use super::schema;
use crate::store::StoreError;

/// Idle connections kept beyond this many are closed instead of returned to the pool.
const MAX_IDLE: usize = 8;

/// Read connections to one database file.
pub(super) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// A pool for `path`, starting with `first` as its one idle connection.
    pub(super) fn new(path: PathBuf, first: Connection) -> Self {
        Self {
            path,
            idle: Mutex::new(vec![first]),
        }
    }

    /// Runs `op` on a read connection on the blocking pool.
    pub(super) async fn read<T, F>(self: &Arc<Self>, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = pool.checkout()?;
            let result = op(&conn);
            pool.checkin(conn);
            result
        })
        .await
        .map_err(|e| backend(SqliteError::ReadTask(e)))?
    }

    /// An idle connection, or a new one when all are busy.
    fn checkout(&self) -> Result<Connection, StoreError> {
        // A poisoned lock only means another read panicked while holding it; the Vec itself
        // is still a valid list of connections.
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => schema::open_reader(&self.path),
        }
    }

    /// Returns a connection to the pool, or closes it when enough are idle.
    fn checkin(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}
