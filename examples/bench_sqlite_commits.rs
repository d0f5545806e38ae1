//! The disk ceiling for `scripts/bench.sh`: bare SQLite in the same mode as hookd's store (WAL,
//! `synchronous=FULL`), committing rows of about a fire record's size in a loop, with no hookd
//! code in the way. One row per commit is the fsync rate, what a lone durable write can reach;
//! 256 rows per commit is what group commit (hookd's writer batches up to 256 writes) can reach.
//! hookd's durable figures divided by these say how much of the disk hookd's own work leaves.
//!
//! Usage: `cargo run --release --example bench_sqlite_commits -- <dir> <seconds>`; prints one
//! line per batch size: `rows_per_commit <n> commits_per_sec <x> rows_per_sec <y>`.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

/// A row about as large as a stored fire record.
const ROW: &str = r#"{"hookGroupId":"bench","hookId":"trigger","firedBy":"triggerHookWithToken","taskId":"fN1SbonDQMiLzhTE4bLmyQ","taskCreateTime":"2026-11-30T08:00:00.000Z","result":"success","fireId":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}"#;

fn main() -> rusqlite::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seconds)) = (args.next(), args.next()) else {
        eprintln!("usage: bench_sqlite_commits <dir> <seconds>");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().expect("seconds is a number");
    let mut conn = Connection::open(Path::new(&dir).join("commits.sqlite3"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute(
        "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
        [],
    )?;
    for rows_per_commit in [1, 256] {
        let (commits, elapsed) =
            commit_for(&mut conn, rows_per_commit, Duration::from_secs_f64(seconds))?;
        let commits_per_sec = commits as f64 / elapsed.as_secs_f64();
        println!(
            "rows_per_commit {rows_per_commit} commits_per_sec {commits_per_sec:.0} rows_per_sec {:.0}",
            commits_per_sec * rows_per_commit as f64
        );
    }
    Ok(())
}

/// Commits batches of `rows` rows until `duration` has passed; returns the commits and the
/// time they took.
fn commit_for(
    conn: &mut Connection,
    rows: usize,
    duration: Duration,
) -> rusqlite::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut commits = 0;
    while started.elapsed() < duration {
        let tx = conn.transaction()?;
        for _ in 0..rows {
            tx.prepare_cached("INSERT INTO rows (doc) VALUES (?1)")?
                .execute(params![ROW])?;
        }
        tx.commit()?;
        commits += 1;
    }
    Ok((commits, started.elapsed()))
}
