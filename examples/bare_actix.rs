//! The ceilings of the token trigger for `scripts/bench.sh`: an actix-web server (the same
//! actix-web as hookd, the same worker count) whose only handler answers every request with a
//! fixed JSON body about as large as a trigger's answer.
//!
//! With a data directory it is the *durable* ceiling: before answering, each request has the
//! disk work of a durable fire done for it: a task row under a random task id and a fire row
//! under a time-ordered fire id, with the indexes hookd's SQLite store keeps on them, committed
//! by one writer thread that commits whatever is queued as one transaction (`synchronous=FULL`,
//! WAL), and the answer waits for that commit. hookd's figures divided by this server's say how
//! much of the framework and the disk hookd's own work (checks, render, records) leaves.
//!
//! Usage: `cargo run --release --example bare_actix -- <listen address> <workers> [<data dir>]`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use actix_web::{web, App, HttpResponse, HttpServer};
use rusqlite::{params, Connection};
use tokio::sync::oneshot;
use uuid::Uuid;

/// The answer of every request: shaped like `triggerHookWithToken`'s, with a fixed task id.
const ANSWER: &str =
    r#"{"taskId":"fN1SbonDQMiLzhTE4bLmyQ","status":{"taskId":"fN1SbonDQMiLzhTE4bLmyQ"}}"#;

/// About the size of the task row hookd's local task queue stores for the bench's hook.
const TASK_DOC: &str = r#"{"hookGroupId":"bench","hookId":"trigger","firedBy":"triggerHookWithToken","submitted":"2026-11-30T15:56:02.109Z","task":{"payload":{"n":"2026-11-30T15:56:02.109Z"},"created":"2026-11-30T15:56:02.109Z","deadline":"2026-12-01T15:56:02.109Z","expires":"2026-12-30T15:56:02.109Z","taskGroupId":"Oyj5peGYSICnKJYWuYEGVQ"},"taskId":"Oyj5peGYSICnKJYWuYEGVQ","fireId":"01a22d2b-9abe-70e4-a996-57d2eadf620f"}"#;

/// About the size of the bench hook's fire record.
const FIRE_DOC: &str = r#"{"hookGroupId":"bench","hookId":"trigger","firedBy":"triggerHookWithToken","taskId":"Oyj5peGYSICnKJYWuYEGVQ","taskCreateTime":"2026-11-30T15:56:02.109Z","failure":null,"context":{"payloadKept":"whole","payload":{"k":1},"payloadBytes":7,"template":{"payload":{"n":"${now}"}}},"fireId":"01a22d2b-9abe-70e4-a996-57d2eadf620f"}"#;

/// The tables and indexes a durable fire writes into in hookd's SQLite store, in their shape.
const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE IF NOT EXISTS tasks (
        task_id TEXT NOT NULL PRIMARY KEY, hook_group_id TEXT NOT NULL,
        hook_id TEXT NOT NULL, doc TEXT NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS fires (
        fire_id TEXT NOT NULL PRIMARY KEY, hook_group_id TEXT NOT NULL,
        hook_id TEXT NOT NULL, time_ms INTEGER NOT NULL, doc TEXT NOT NULL) STRICT;
    CREATE INDEX IF NOT EXISTS fires_by_hook ON fires
        (hook_group_id, hook_id, time_ms DESC, fire_id DESC);
    CREATE INDEX IF NOT EXISTS fires_failed ON fires (time_ms DESC, fire_id DESC)
        WHERE json_type(doc, '$.failure') = 'object';";

/// Most requests committed by one transaction, as hookd's writer.
const MAX_BATCH: usize = 256;

/// A request waiting for its commit.
type Durable = mpsc::Sender<oneshot::Sender<()>>;

async fn answer(body: web::Bytes, durable: Option<web::Data<Durable>>) -> HttpResponse {
    // The body is read (as hookd reads a trigger payload) and dropped.
    drop(body);
    if let Some(writer) = durable {
        let (done, committed) = oneshot::channel();
        if writer.send(done).is_err() || committed.await.is_err() {
            return HttpResponse::ServiceUnavailable().finish();
        }
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ANSWER)
}

/// Starts the writer thread on `dir`; requests queue on the returned sender.
fn start_writer(dir: &Path) -> rusqlite::Result<Durable> {
    let mut conn = Connection::open(dir.join("durable.sqlite3"))?;
    conn.execute_batch(SCHEMA)?;
    let (queue, waiting) = mpsc::channel::<oneshot::Sender<()>>();
    thread::spawn(move || {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Ok(first) = waiting.recv() {
            batch.push(first);
            batch.extend(waiting.try_iter().take(MAX_BATCH - 1));
            // A failed commit leaves its requests unanswered: they see a 503.
            if commit(&mut conn, batch.len()).is_err() {
                batch.clear();
            }
            for done in batch.drain(..) {
                let _answered = done.send(());
            }
        }
    });
    Ok(queue)
}

/// Commits `requests` fires (a task row and a fire row each) as one transaction.
fn commit(conn: &mut Connection, requests: usize) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for _ in 0..requests {
        // Task ids and fire ids begin with their time, as hookd's.
        let task_id = Uuid::now_v7().simple().to_string();
        let fire_id = Uuid::now_v7().to_string();
        tx.prepare_cached("INSERT INTO tasks VALUES (?1, 'bench', 'trigger', ?2)")?
            .execute(params![task_id, TASK_DOC])?;
        tx.prepare_cached("INSERT INTO fires VALUES (?1, 'bench', 'trigger', ?2, ?3)")?
            .execute(params![fire_id, 1_764_518_162_109_i64, FIRE_DOC])?;
    }
    tx.commit()
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(workers)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_actix <listen address> <workers> [<data dir>]");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let workers: usize = workers
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let durable = match args.next() {
        Some(dir) => Some(web::Data::new(
            start_writer(Path::new(&dir)).map_err(std::io::Error::other)?,
        )),
        None => None,
    };
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            let app = App::new();
            let app = match &durable {
                Some(writer) => app.app_data(writer.clone()),
                None => app,
            };
            app.default_service(web::to(answer))
        })
        .workers(workers)
        .bind(listen)?
        .run(),
    )
}
