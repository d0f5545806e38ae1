//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time per file, and every commit in `synchronous=FULL` mode
//! costs an fsync. Funnelling all of this process's writes through one thread and one
//! connection removes lock contention between our own writes, and committing whatever is queued
//! as one transaction pays the fsync once per batch instead of once per write. A batch stops
//! growing at 256 writes or, for writes of many rows each (a burst's fires), at 8,192 rows.
//!
//! A write that fails (a duplicate key, a version conflict) is rolled back alone and the rest of
//! its batch still commits. Writes rarely fail, so a batch first runs every write straight in
//! its transaction; only when one fails is the transaction rolled back and the batch run again
//! with each write inside its own SAVEPOINT. (A savepoint copies every page a write is about to
//! change, first; with one around every write, opening, copying and releasing took an eighth
//! of the writer's time under a stream of token triggers: BENCHMARKS.md.)
//! Callers are answered only after the COMMIT has returned: nobody hears "ok" about data that
//! is not yet durable, and if the commit fails every caller in the batch hears so. The rows a
//! caller encoded come back with the answer, to be freed on the caller's thread.

use std::sync::Arc;
use std::thread;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::error::{backend, batch as batch_error, SqliteError};
use crate::store::StoreError;

/// The most writes committed in one transaction. Bounds how long one batch holds the file's
/// write lock, which other replicas are waiting for.
const MAX_BATCH: usize = 256;

/// The rows past which a batch takes no more jobs ([`Writer::write_many`] counts a job's rows;
/// any other job counts one). A burst's writes are all queued at its slot: taken together in
/// one transaction, every fire of it would be answered only at the end, and the scheduler's
/// own work after each answer would wait for it too. Smaller transactions rewrite more pages,
/// because a slot's task ids fall at random places among the slot's earlier ones in the
/// task-id index: at 2,048 fires a commit the burst's p99 was 1.9 s, at 8,192 1.5 s, the
/// whole burst at once 1.7 s (BENCHMARKS.md, issue 15's twelfth round).
const MAX_BATCH_ROWS: usize = 8192;

/// How many writes may wait for the writer before callers wait to enqueue (backpressure).
const QUEUE_DEPTH: usize = 1024;

/// One queued write, with its type erased so writes of any result type share the queue.
trait QueuedWrite: Send {
    /// Runs the write; true when it succeeded. A batch may run a write twice (see the module
    /// documentation): the outcome of the run that was committed is the one answered.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known: `Some` when the batch failed.
    fn answer(self: Box<Self>, batch_failure: Option<&Arc<rusqlite::Error>>);
    /// How many rows the write writes, as its caller counted them.
    fn row_count(&self) -> usize;
}

/// A write closure, the rows it writes, its outcome once run, and where to send both.
struct Pending<R, T, F> {
    op: F,
    rows: R,
    /// How many rows `rows` holds.
    count: usize,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<(Result<T, StoreError>, R)>,
}

impl<R, T, F> QueuedWrite for Pending<R, T, F>
where
    R: Send + 'static,
    T: Send + 'static,
    F: Fn(&Connection, &R) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let outcome = (self.op)(conn, &self.rows);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn answer(self: Box<Self>, batch_failure: Option<&Arc<rusqlite::Error>>) {
        let Self {
            rows,
            outcome,
            reply,
            ..
        } = *self;
        let result = match (batch_failure, outcome) {
            (Some(e), _) => Err(batch_error(e)),
            (None, Some(outcome)) => outcome,
            // Unreachable when the batch committed, but an answer is owed either way.
            (None, None) => Err(backend(SqliteError::WriterStopped)),
        };
        // The caller may have stopped waiting; the write stands regardless.
        let _ = reply.send((result, rows));
    }

    fn row_count(&self) -> usize {
        self.count
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
    /// `op` runs on the writer thread: returning an error rolls back exactly what `op` did.
    /// It may run twice, the first run rolled back (when another write of its batch failed),
    /// so it must do the same given the same database. If the caller stops waiting, the write
    /// still happens.
    pub(super) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_rows((), move |conn, ()| op(conn)).await
    }

    /// [`Writer::write`] of `op` on `rows`, which come back to be freed on the caller's thread.
    ///
    /// glibc's allocator locks the arena a block came from to free it, so a writer thread that
    /// frees what a busy caller thread allocated makes both wait on that lock: in a burst of
    /// 100,000 fires both threads spent more time asleep on it than working (`perf` sched
    /// switches, BENCHMARKS.md). Rows encoded by the caller are handed back instead.
    pub(super) async fn write_rows<R, T, F>(&self, rows: R, op: F) -> Result<T, StoreError>
    where
        R: Send + 'static,
        T: Send + 'static,
        F: Fn(&Connection, &R) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_counted(rows, 1, op).await
    }

    /// [`Writer::write_rows`] of many rows: a batch takes fewer other jobs with it the more
    /// rows it already has (see [`MAX_BATCH_ROWS`]).
    pub(super) async fn write_many<R, T, F>(&self, rows: Vec<R>, op: F) -> Result<T, StoreError>
    where
        R: Send + 'static,
        T: Send + 'static,
        F: Fn(&Connection, &Vec<R>) -> Result<T, StoreError> + Send + 'static,
    {
        let count = rows.len();
        self.write_counted(rows, count, op).await
    }

    /// Queues `op` on `rows`, which hold `count` rows, and waits for its answer.
    async fn write_counted<R, T, F>(&self, rows: R, count: usize, op: F) -> Result<T, StoreError>
    where
        R: Send + 'static,
        T: Send + 'static,
        F: Fn(&Connection, &R) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn QueuedWrite> = Box::new(Pending {
            op,
            rows,
            count,
            outcome: None,
            reply,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| backend(SqliteError::WriterStopped))?;
        let (result, rows) = answer
            .await
            .map_err(|_| backend(SqliteError::WriterStopped))?;
        drop(rows);
        result
    }
}

/// The writer thread's loop: wait for one write, take whatever else is already queued,
/// commit them together, answer everyone, repeat until every sender is gone.
fn run(mut conn: Connection, mut queue: mpsc::Receiver<Box<dyn QueuedWrite>>) {
    let mut batch: Vec<Box<dyn QueuedWrite>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        let mut rows = first.row_count();
        batch.push(first);
        while batch.len() < MAX_BATCH && rows < MAX_BATCH_ROWS {
            match queue.try_recv() {
                Ok(job) => {
                    rows += job.row_count();
                    batch.push(job);
                }
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

/// Commits every job of the batch in one transaction, all but the failed ones.
///
/// An error here means nothing of the batch was committed: returning early drops the
/// transaction, which rolls it back.
fn commit(conn: &mut Connection, batch: &mut [Box<dyn QueuedWrite>]) -> rusqlite::Result<()> {
    if !commit_if_none_fails(conn, batch)? {
        commit_each_in_savepoint(conn, batch)?;
    }
    Ok(())
}

/// Runs every job straight in one transaction and commits it; false, with nothing committed,
/// as soon as one job fails.
fn commit_if_none_fails(
    conn: &mut Connection,
    batch: &mut [Box<dyn QueuedWrite>],
) -> rusqlite::Result<bool> {
    let tx = begin(conn)?;
    for job in batch.iter_mut() {
        if !job.run(&tx) {
            // Dropping the transaction rolls back what the jobs before did, and this one.
            return Ok(false);
        }
    }
    tx.commit()?;
    Ok(true)
}

/// Runs every job in one transaction, each in its own savepoint so that a failed one is
/// rolled back alone, and commits.
fn commit_each_in_savepoint(
    conn: &mut Connection,
    batch: &mut [Box<dyn QueuedWrite>],
) -> rusqlite::Result<()> {
    let mut tx = begin(conn)?;
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

/// A write transaction. IMMEDIATE takes the write lock up front, so contention with other
/// replicas surfaces here (after the busy timeout) rather than halfway through the batch.
fn begin(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use super::*;
    use crate::store::sqlite::error::sql;

    /// A row that notes which thread dropped it.
    struct Row(Arc<Mutex<Option<ThreadId>>>);

    impl Drop for Row {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(thread::current().id());
        }
    }

    fn writer() -> Writer {
        Writer::spawn(Connection::open_in_memory().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn rows_written_come_back_to_be_freed_on_the_callers_thread() {
        let dropped_on = Arc::new(Mutex::new(None));
        let row = Row(Arc::clone(&dropped_on));
        let answer = writer()
            .write_rows(row, |conn, _row| {
                conn.execute_batch("CREATE TABLE t (x INTEGER)")
                    .map_err(sql)
            })
            .await;
        assert!(answer.is_ok());
        assert_eq!(*dropped_on.lock().unwrap(), Some(thread::current().id()));
    }

    #[tokio::test]
    async fn a_failed_write_of_rows_is_rolled_back_alone() {
        let writer = writer();
        writer
            .write(|conn| {
                conn.execute_batch("CREATE TABLE t (x INTEGER)")
                    .map_err(sql)
            })
            .await
            .unwrap();
        let failed = writer
            .write_rows(7, |conn, x| {
                conn.execute("INSERT INTO t VALUES (?1)", [x])
                    .map_err(sql)?;
                Err::<(), _>(StoreError::VersionConflict)
            })
            .await;
        assert!(matches!(failed, Err(StoreError::VersionConflict)));
        let count: i64 = writer
            .write(|conn| {
                conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0))
                    .map_err(sql)
            })
            .await
            .unwrap();
        assert_eq!(count, 0, "the failed write's insert was kept");
    }

    /// What the caller of a queued write of an `i64` hears.
    type Answer = oneshot::Receiver<(Result<(), StoreError>, i64)>;

    /// A queued write of `x` into `t` that fails, after inserting, when `x` is 2.
    fn insert_failing_on_2(x: i64) -> (Box<dyn QueuedWrite>, Answer) {
        let (reply, answer) = oneshot::channel();
        let op = |conn: &Connection, x: &i64| {
            conn.execute("INSERT INTO t VALUES (?1)", [x])
                .map_err(sql)?;
            if *x == 2 {
                return Err(StoreError::VersionConflict);
            }
            Ok(())
        };
        let job = Box::new(Pending {
            op,
            rows: x,
            count: 1,
            outcome: None,
            reply,
        });
        (job, answer)
    }

    /// A batch holding [`MAX_BATCH_ROWS`] rows takes no more jobs: a failing job queued after
    /// it is committed in a batch of its own, so the full one runs once. (Taken into the same
    /// batch, the failure would have run the full one a second time, in its savepoint.)
    #[test]
    fn a_batch_of_many_rows_takes_no_more_jobs() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let runs = Arc::new(Mutex::new(0));
        let (reply, full_answer) = oneshot::channel();
        let full = Box::new(Pending {
            op: {
                let runs = Arc::clone(&runs);
                move |_: &Connection, _: &Vec<()>| -> Result<(), StoreError> {
                    *runs.lock().unwrap() += 1;
                    Ok(())
                }
            },
            rows: vec![(); MAX_BATCH_ROWS],
            count: MAX_BATCH_ROWS,
            outcome: None,
            reply,
        });
        let (failing, failing_answer) = insert_failing_on_2(2);
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        for job in [full as Box<dyn QueuedWrite>, failing] {
            assert!(queue.try_send(job).is_ok());
        }
        drop(queue);

        run(conn, jobs);

        assert_eq!(*runs.lock().unwrap(), 1, "the full batch took the next job");
        assert!(full_answer.blocking_recv().unwrap().0.is_ok());
        assert!(failing_answer.blocking_recv().unwrap().0.is_err());
    }

    #[test]
    fn a_batch_keeps_every_write_but_the_failed_one() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let (mut batch, answers): (Vec<_>, Vec<_>) = (1..=3).map(insert_failing_on_2).unzip();

        commit(&mut conn, &mut batch).unwrap();
        for job in batch {
            job.answer(None);
        }

        let answered: Vec<bool> = (answers.into_iter())
            .map(|mut answer| answer.try_recv().unwrap().0.is_ok())
            .collect();
        assert_eq!(answered, [true, false, true]);
        let kept: Vec<i64> = (conn.prepare("SELECT x FROM t ORDER BY x").unwrap())
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            kept,
            [1, 3],
            "the failed write's insert was kept, or another lost"
        );
    }
}
