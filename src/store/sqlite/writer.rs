//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time per file, and every commit in `synchronous=FULL` mode
//! costs an fsync. Funnelling all of this process's writes through one thread and one
//! connection removes lock contention between our own writes, and committing whatever is queued
//! as one transaction pays the fsync once per batch instead of once per write.
//!
//! Each write runs inside its own SAVEPOINT within the batch transaction, so a write that fails
//! (a duplicate key, a version conflict) is rolled back alone and the rest of the batch still
//! commits. Callers are answered only after the COMMIT has returned: nobody hears "ok" about
//! data that is not yet durable, and if the commit fails every caller in the batch hears so.

use std::sync::Arc;
use std::thread;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::error::{backend, batch as batch_error, SqliteError};
use crate::store::StoreError;

/// The most writes committed in one transaction. Bounds how long one batch holds the file's
/// write lock, which other replicas are waiting for.
const MAX_BATCH: usize = 256;

/// How many writes may wait for the writer before callers wait to enqueue (backpressure).
const QUEUE_DEPTH: usize = 1024;

/// One queued write, with its type erased so writes of any result type share the queue.
trait QueuedWrite: Send {
    /// Runs the write inside its savepoint; true when it succeeded and should be kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known: `Some` when the batch failed.
    fn answer(self: Box<Self>, batch_failure: Option<&Arc<rusqlite::Error>>);
}

/// A write closure, its outcome once run, and where to send that outcome.
struct Pending<T, F> {
    op: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> QueuedWrite for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        let outcome = op(conn);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn answer(self: Box<Self>, batch_failure: Option<&Arc<rusqlite::Error>>) {
        let result = match (batch_failure, self.outcome) {
            (Some(e), _) => Err(batch_error(e)),
            (None, Some(outcome)) => outcome,
            // Unreachable when the batch committed, but an answer is owed either way.
            (None, None) => Err(backend(SqliteError::WriterStopped)),
        };
        // The caller may have stopped waiting; the write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// Handle to the writer thread. Cloning it shares the thread; the thread ends, closing its
/// connection, once every handle is dropped.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Box<dyn QueuedWrite>>,
}

impl Writer {
    /// Starts the writer thread, which owns `conn` from now on.
    pub(super) fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        thread::Builder::new()
            .name("hookd-sqlite-writer".into())
            .spawn(move || run(conn, queue))
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Self { jobs })
    }

    /// Runs `op` in the next batch and returns its result once the batch is durable.
    ///
    /// `op` runs on the writer thread inside a savepoint: returning an error rolls back
    /// exactly what `op` did. If the caller stops waiting, the write still happens.
    pub(super) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn QueuedWrite> = Box::new(Pending {
            op: Some(op),
            outcome: None,
            reply,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| backend(SqliteError::WriterStopped))?;
        answer
            .await
            .map_err(|_| backend(SqliteError::WriterStopped))?
    }
}

/// The writer thread's loop: wait for one write, take whatever else is already queued,
/// commit them together, answer everyone, repeat until every sender is gone.
fn run(mut conn: Connection, mut queue: mpsc::Receiver<Box<dyn QueuedWrite>>) {
    let mut batch: Vec<Box<dyn QueuedWrite>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let failure = commit(&mut conn, &mut batch).err().map(Arc::new);
        match &failure {
            Some(e) => {
                tracing::warn!(error = %e, writes = batch.len(), "an SQLite write batch failed")
            }
            None => tracing::trace!(writes = batch.len(), "committed an SQLite write batch"),
        }
        for job in batch.drain(..) {
            job.answer(failure.as_ref());
        }
    }
    tracing::debug!("the SQLite writer thread is stopping");
}

/// Runs every job of the batch in one transaction, each in its own savepoint, and commits.
///
/// An error here means nothing of the batch was committed: returning early drops the
/// transaction, which rolls it back.
fn commit(conn: &mut Connection, batch: &mut [Box<dyn QueuedWrite>]) -> rusqlite::Result<()> {
    // IMMEDIATE takes the write lock up front, so contention with other replicas surfaces
    // here (after the busy timeout) rather than halfway through the batch.
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for job in batch.iter_mut() {
        let mut savepoint = tx.savepoint()?;
        if job.run(&savepoint) {
            savepoint.commit()?;
        } else {
            savepoint.rollback()?;
            savepoint.commit()?;
        }
    }
    tx.commit()
}
