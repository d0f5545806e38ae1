//! Failing fast while the store is gone: a trigger answers `503 ServiceUnavailable` after at most
//! one wait for the outage, writes nothing half-way, and works again once the store is back,
//! without a restart. SQLite with its disk full and with its files read-only; MongoDB killed.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use hookd::config::MongoArgs;
use hookd::store::MongoOptions;
use reqwest::Method;
use serde_json::json;
use tempfile::TempDir;

use hookd_testkit::app::{hook_body, metric_value, spawn_app_on, Auth, TestApp};
use hookd_testkit::mongodb::{skipping, PrivateServer};

/// The SQLite file and its write-ahead log in the data dir.
const STORE_FILES: &[&str] = &["hookd.sqlite3", "hookd.sqlite3-wal"];

/// A small ext4 file system on a loop device, mounted for one test as the data dir, that can
/// fill up or turn read-only under a running hookd.
///
/// Why not simpler: the tests run as root, whom permission bits do not stop; a read-only
/// remount is refused while SQLite holds its files open for writing; and tmpfs, unlike ext4,
/// lets descriptors opened earlier write to a file made immutable (`chattr +i`).
struct SmallDisk {
    /// Holds the image file and the mount point.
    scratch: TempDir,
}

impl SmallDisk {
    /// Mounts a fresh 16 MiB file system; `None` when this process may not (not root, no loop
    /// devices), in which case the test is skipped.
    fn mount() -> Option<Self> {
        let scratch = tempfile::tempdir().expect("temp dir");
        let disk = Self { scratch };
        std::fs::create_dir(disk.dir()).unwrap();
        let image = disk.scratch.path().join("image");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(16 * 1024 * 1024))
            .unwrap();
        // No blocks reserved for root, or root would write on past "full".
        let made = run("mkfs.ext4", &["-q", "-F", "-m", "0"], &[&image]);
        let mounted = made && run("mount", &["-o", "loop"], &[&image, &disk.dir()]);
        if !mounted {
            eprintln!("skipping: cannot mount a loop file system here (not root?)");
            return None;
        }
        Some(disk)
    }

    /// The mount point, hookd's data dir.
    fn dir(&self) -> PathBuf {
        self.scratch.path().join("data")
    }

    fn filler(&self) -> PathBuf {
        self.dir().join("filler")
    }

    /// Writes a file until no byte more fits.
    fn fill(&self) {
        let mut filler = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .unwrap();
        // Ever smaller writes, so that not even one SQLite page fits afterwards.
        for size in [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1] {
            let block = vec![0u8; size];
            loop {
                match filler.write(&block) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::StorageFull => break,
                    Err(e) => panic!("filling the disk: {e}"),
                }
            }
        }
        filler.sync_all().unwrap();
    }

    /// Removes what [`SmallDisk::fill`] wrote.
    fn make_room(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }

    /// Makes the data dir and the store's files immutable (or writable again). SQLite's
    /// shared-memory index stays writable: it is mapped into memory, and a write to an
    /// immutable mapping kills the process rather than failing.
    fn set_read_only(&self, read_only: bool) {
        let flag = if read_only { "+i" } else { "-i" };
        let dir = self.dir();
        let mut paths: Vec<PathBuf> = STORE_FILES.iter().map(|f| dir.join(f)).collect();
        paths.push(dir);
        let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        assert!(run("chattr", &[flag], &paths), "chattr {flag}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the app may still hold files open while the test unwinds.
        run("umount", &["--lazy"], &[&self.dir()]);
    }
}

/// Runs `program` with `flags` and `paths`; returns whether it succeeded.
fn run(program: &str, flags: &[&str], paths: &[&Path]) -> bool {
    Command::new(program)
        .args(flags)
        .args(paths)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// How many calls of `operation` reached the store backend so far.
async fn store_calls(app: &TestApp, operation: &str) -> f64 {
    let series =
        format!(r#"hookd_store_operation_duration_seconds_count{{operation="{operation}"}}"#);
    metric_value(&app.metrics().await, &series).unwrap_or(0.0)
}

/// Breaks the store with `break_store`, triggers, repairs it with `repair`, triggers again.
async fn trigger_through(disk: SmallDisk, break_store: fn(&SmallDisk), repair: fn(&SmallDisk)) {
    let data_dir = disk.dir();
    let app = spawn_app_on(None, move |s| s.data_dir = data_dir.clone()).await;
    app.create_hook("g/h", hook_body()).await;
    app.trigger("g/h", json!({})).await.expect(200);
    let (tasks, fires) = (
        store_calls(&app, "insert_task_and_record_fire").await,
        store_calls(&app, "record_fire").await,
    );

    break_store(&disk);
    let message = app
        .trigger("g/h", json!({}))
        .await
        .expect_error(503, "ServiceUnavailable");

    assert!(!message.is_empty());
    assert_eq!(
        store_calls(&app, "insert_task_and_record_fire").await,
        tasks + 1.0
    );
    assert_eq!(
        store_calls(&app, "record_fire").await,
        fires,
        "recording the error fire asked the store again within the same request"
    );
    repair(&disk);
    let recovered = app.trigger("g/h", json!({})).await.expect(200);
    let history = app.last_fires("g/h", "").await;
    let history = history["lastFires"].as_array().unwrap();
    assert_eq!(
        history.len(),
        2,
        "only the two successful fires: {history:?}"
    );
    assert!(
        history.iter().all(|f| f["result"] == "success"),
        "{history:?}"
    );
    assert_eq!(history[0]["taskId"], recovered["taskId"]);
    app.stop().await;
}

#[tokio::test]
async fn a_full_disk_answers_503_writes_nothing_and_recovers_without_restart() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    trigger_through(disk, SmallDisk::fill, SmallDisk::make_room).await;
}

#[tokio::test]
async fn a_read_only_data_dir_answers_503_writes_nothing_and_recovers_without_restart() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    trigger_through(
        disk,
        |disk| disk.set_read_only(true),
        |disk| disk.set_read_only(false),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_mongodb_is_away_requests_and_the_heartbeat_answer_503_within_its_timeout() {
    let Some(mut server) = PrivateServer::start().await else {
        return skipping(module_path!());
    };
    let options = MongoOptions {
        fire_retention: chrono::Duration::days(365 * 200),
        ..MongoArgs::options_for(&format!("{}/fastfail", server.uri())).unwrap()
    };
    // One wait for the outage is the timeout; before, a trigger waited 5 s once per store call.
    // Generous, so that a loaded machine does not fail it; it only has to tell one wait of
    // the default timeout from several waits of the old one.
    let bound = options.timeout * 3;
    let app = spawn_app_on(Some(options), |_| {}).await;
    app.create_hook("g/h", hook_body()).await;
    app.trigger("g/h", json!({})).await.expect(200);

    server.crash();
    for (what, path) in [("trigger", None), ("heartbeat", Some("/__heartbeat__"))] {
        let started = Instant::now();
        let reply = match path {
            None => app.trigger("g/h", json!({})).await,
            Some(path) => app.call(Method::GET, path, Auth::Anonymous, None).await,
        };
        let waited = started.elapsed();
        reply.expect_error(503, "ServiceUnavailable");
        assert!(waited < bound, "the {what} took {waited:?} to fail");
    }

    server.resume().await;
    let mut attempts = 0;
    while !app.trigger("g/h", json!({})).await.status.is_success() {
        attempts += 1;
        assert!(attempts < 30, "no success since the database came back");
    }
    app.call(Method::GET, "/__heartbeat__", Auth::Anonymous, None)
        .await
        .expect(200);
}
