//! `kill -9` in the middle of a burst of token triggers: every fire answered 200 is in the
//! store with both its outbox task and its fire record, and no success is recorded without its
//! task. On SQLite, where the two are one write, no task is stored without its record either.
//!
//! A burst of concurrent triggers keeps many fires inside the group commit at any moment, so
//! the kill lands between a commit and its answers, and (before task and record became one
//! write) between the two commits of a fire, without a failpoint.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hookd::config::MongoArgs;
use hookd::data_dir::DataDir;
use hookd::domain::{FireRecord, HookGroupId, HookId, HookKey, TaskId};
use hookd::store::{HookStore, MongoOptions, MongoStore, SqliteStore};
use hookd_testkit::mongodb::{fresh_database_uri, skipping};
use hookd_testkit::wait::eventually;
use serde_json::{json, Value};

use crate::hookd;

const ROOT_TOKEN: &str = "fire-crash-root-token";
/// Concurrent callers in the burst.
const CALLERS: usize = 32;
/// Answered fires to wait for before the kill.
const ANSWERED_BEFORE_KILL: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_during_a_burst_of_token_triggers_loses_no_answered_fire_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let answered = burst_then_kill(dir.path(), &[]).await;

    let path = DataDir::open(dir.path()).expect("data dir").store_path();
    let store = SqliteStore::open(&path).expect("the store opens after the crash");
    let recorded = check_answered_fires(&store, &answered).await;
    // The outbox has no listing in the store's API; its table is read directly.
    let conn = rusqlite::Connection::open(&path).expect("the database file opens");
    let mut stmt = conn.prepare("SELECT task_id FROM tasks").unwrap();
    let stored: BTreeSet<String> = stmt
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let orphans: Vec<_> = stored.difference(&recorded).collect();
    assert!(
        orphans.is_empty(),
        "{} of {} stored tasks have no fire record: {orphans:?}",
        orphans.len(),
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_during_a_burst_of_token_triggers_loses_no_answered_fire_on_mongodb() {
    let Some(uri) = fresh_database_uri() else {
        skipping("a_kill_during_a_burst_of_token_triggers_loses_no_answered_fire_on_mongodb");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let answered = burst_then_kill(dir.path(), &["--mongodb-uri", &uri, "--migrate"]).await;

    let options = MongoOptions {
        // The fires are dated today; the default retention would keep them anyway, but the
        // check must not depend on it.
        fire_retention: chrono::Duration::days(365 * 200),
        ..MongoArgs::options_for(&uri).expect("the test URI parses")
    };
    let store = MongoStore::connect(&options).await.expect("MongoDB store");
    // Task first, then record: a task may be left without its record, never the reverse,
    // which check_answered_fires asserts.
    check_answered_fires(&store, &answered).await;
}

/// Starts `hookd serve` on `data` with `store_flags`, fires a hook's token from many callers
/// at once, kills the process with SIGKILL once enough fires were answered, and returns the
/// task ids of every fire answered 200.
async fn burst_then_kill(data: &Path, store_flags: &[&str]) -> BTreeSet<String> {
    let mut serve = Serve::start(data, store_flags);
    serve.await_ready().await;
    let trigger_url = serve.hook_with_token().await;

    let answered = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (answered, stop) = (Arc::clone(&answered), Arc::clone(&stop));
            let (http, url) = (serve.http.clone(), trigger_url.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(reply) = http.post(&url).json(&json!({"k": 1})).send().await else {
                        continue;
                    };
                    if reply.status() == 200 {
                        let body: Value = reply.json().await.expect("a JSON answer");
                        let task_id = body["status"]["taskId"].as_str().map(str::to_owned);
                        answered
                            .lock()
                            .unwrap()
                            .insert(task_id.expect("the answer names its task"));
                    }
                }
            })
        })
        .collect();
    eventually("enough fires are answered", || {
        let count = answered.lock().unwrap().len();
        async move { (count >= ANSWERED_BEFORE_KILL).then_some(()) }
    })
    .await;
    serve.kill();
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.expect("a caller");
    }
    let answered = answered.lock().unwrap().clone();
    answered
}

/// Checks that every answered fire has its task and its success record, and that every
/// recorded success has its task; returns the task ids of the recorded successes.
async fn check_answered_fires(
    store: &dyn HookStore,
    answered: &BTreeSet<String>,
) -> BTreeSet<String> {
    let fires: Vec<FireRecord> = store
        .list_fires(&hook_key(), usize::MAX, None)
        .await
        .expect("the fire history");
    let recorded: BTreeSet<String> = fires
        .iter()
        .filter(|f| f.failure.is_none())
        .map(|f| f.task_id.to_string())
        .collect();
    let unrecorded: Vec<_> = answered.difference(&recorded).collect();
    assert!(
        unrecorded.is_empty(),
        "fires answered 200 without a record: {unrecorded:?}"
    );
    for task_id in &recorded {
        let id = TaskId::parse(task_id).expect("a task id");
        assert!(
            store.get_task(&id).await.expect("a task read").is_some(),
            "recorded fire {task_id} has its task"
        );
    }
    recorded
}

fn hook_key() -> HookKey {
    HookKey::new(
        HookGroupId::parse("crash").expect("a group id"),
        HookId::parse("burst").expect("a hook id"),
    )
}

/// A `hookd serve` process, killed when dropped.
struct Serve {
    child: Child,
    api: String,
    http: reqwest::Client,
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Serve {
    fn start(data: &Path, store_flags: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = hookd()
            .env_clear()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data)
            .args(["--root-access-token", ROOT_TOKEN, "--task-queue", "local"])
            .args(["--client-rate-limit", "0", "--hook-rate-limit", "0"])
            .args(store_flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hookd starts");
        Self {
            child,
            api: format!("http://127.0.0.1:{port}/api/hooks/v1"),
            http: reqwest::Client::new(),
        }
    }

    /// SIGKILL, as `kill -9`; nothing of the process runs after it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the API answers; fails at once if the process has exited instead.
    async fn await_ready(&mut self) {
        let ping = format!("{}/ping", self.api);
        let (http, child) = (&self.http, &mut self.child);
        eventually("hookd answers its ping", || {
            let exited = child.try_wait().expect("hookd's status");
            assert!(exited.is_none(), "hookd exited before serving: {exited:?}");
            let request = http.get(&ping).send();
            async move {
                let reply = request.await.ok()?;
                reply.status().is_success().then_some(())
            }
        })
        .await;
    }

    /// Creates the hook and returns the URL that fires it with its trigger token.
    async fn hook_with_token(&self) -> String {
        let hook = format!("{}/hooks/crash/burst", self.api);
        let auth = format!("Bearer root:{ROOT_TOKEN}");
        let body = json!({
            "metadata": {"name": "n", "description": "d", "owner": "o@example.com"},
            "task": {"provisionerId": "p", "workerType": "w", "payload": {"k": "${payload.k}"},
                     "metadata": {"name": "t"}},
            "triggerSchema": {"type": "object"},
        });
        let created = self
            .http
            .put(&hook)
            .header("Authorization", &auth)
            .json(&body);
        let reply = created.send().await.expect("createHook");
        assert!(
            reply.status().is_success(),
            "createHook: {}",
            reply.status()
        );
        let reply = self
            .http
            .get(format!("{hook}/token"))
            .header("Authorization", &auth)
            .send()
            .await
            .expect("getTriggerToken");
        let token: Value = reply.json().await.expect("a token");
        let token = token["token"].as_str().expect("a token string");
        format!("{hook}/trigger/{token}")
    }
}
