//! A crash in the one window where a slot could fire twice: after its fire is recorded, before
//! its claim is released. The in-process test leaves the claim behind by hand; the others stop
//! the real `hookd serve` exactly there with the `scheduler-after-record` failpoint, restart it
//! on the same data, and count what the HTTP task queue and the history saw, on both backends.
//! A burst prepared ahead is stopped the same way in its two windows: after a page of claims
//! ahead (`scheduler-after-claim-ahead`) and after a write of its fires, before their releases.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use chrono::{Timelike, Utc};
use hookd::clock::ManualClock;
use hookd::domain::TaskId;
use hookd::fire::TaskSink;
use hookd::store::{compare_and_set, Change, SqliteStore};
use hookd_testkit::app::hookd_binary;
use hookd_testkit::mongodb::{fresh_database_uri, skipping};
use hookd_testkit::receiver::Receiver;
use hookd_testkit::wait::eventually;
use serde_json::{json, Value};

use crate::harness::{
    at, fires, fresh_store, hook, key, node, node_with_quarter_hourly_hook, record, CountingSink,
};

const ROOT_TOKEN: &str = "crash-root-token";
/// `whsec_` and the base64 of "crash-signing-key".
const SINK_SECRET: &str = "whsec_Y3Jhc2gtc2lnbmluZy1rZXk=";

#[tokio::test]
async fn a_claim_left_behind_after_the_fire_was_recorded_is_released_without_a_second_fire() {
    let (_dir, db, clock) = fresh_store();
    let sink = Arc::new(CountingSink::default());
    let first = node_with_quarter_hourly_hook(&db, &clock, Arc::clone(&sink) as _).await;
    let slot = at("2026-05-01T10:15:00Z");
    clock.set(slot);
    first.scheduler.tick().await;
    // What a crash between recording the fire and releasing the claim leaves in the store.
    compare_and_set(&*first.store, &key("h"), None, |record| {
        record.claimed_slots.push(slot);
        Change::Write(())
    })
    .await
    .unwrap();

    let second = node(&db, &clock, Some(Arc::clone(&sink) as Arc<dyn TaskSink>)).await;
    second.scheduler.tick().await;

    let task_id = TaskId::for_slot(&key("h"), slot);
    assert_eq!(
        *sink.submitted.lock().unwrap(),
        std::slice::from_ref(&task_id)
    );
    let fires = fires(&*second.store, &key("h")).await;
    assert_eq!(fires.len(), 1, "{fires:?}");
    assert_eq!(fires[0].task_id, task_id);
    assert!(record(&*second.store, &key("h"))
        .await
        .claimed_slots
        .is_empty());
}

#[tokio::test]
async fn a_crash_after_recording_a_fire_does_not_fire_the_slot_again_on_sqlite() {
    crash_after_record_then_restart(&[]).await;
}

#[tokio::test]
async fn a_crash_after_recording_a_fire_does_not_fire_the_slot_again_on_mongodb() {
    let Some(uri) = fresh_database_uri() else {
        skipping("a_crash_after_recording_a_fire_does_not_fire_the_slot_again_on_mongodb");
        return;
    };
    crash_after_record_then_restart(&["--mongodb-uri", &uri, "--migrate"]).await;
}

/// Runs `hookd serve` with `store_flags` until the failpoint stops it after its first
/// recorded fire, then again without it, and checks that the slot went out and was recorded
/// exactly once.
async fn crash_after_record_then_restart(store_flags: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start().await;

    let mut crashing = Serve::start(
        dir.path(),
        &receiver,
        store_flags,
        Some("scheduler-after-record"),
    );
    crashing.await_ready().await;
    crashing.put_every_second_hook().await;
    let status = eventually("the failpoint stops hookd", || {
        let status = crashing.child.try_wait().expect("hookd's status");
        async move { status }
    })
    .await;
    assert!(!status.success(), "hookd aborts at the failpoint: {status}");
    let sent = task_ids(&receiver);
    assert_eq!(sent.len(), 1, "one slot fired before the failpoint");
    let crashed = &sent[0];

    let restarted = Serve::start(dir.path(), &receiver, store_flags, None);
    restarted.await_ready().await;
    // Three later slots prove the restarted scheduler has been through its claims.
    let history = eventually("three fires after the restart", || async {
        let fires = restarted.last_fires().await;
        (fires.len() >= 4).then_some(fires)
    })
    .await;

    let received = task_ids(&receiver);
    let sent_again = received.iter().filter(|id| *id == crashed).count();
    assert_eq!(
        sent_again, 1,
        "the crashed slot's task reached the queue once"
    );
    let recorded = history.iter().filter(|f| f["taskId"] == **crashed).count();
    assert_eq!(
        recorded, 1,
        "the crashed slot is in the history once: {history:?}"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_crash_after_claiming_a_burst_ahead_loses_and_doubles_no_slot() {
    burst_crash_then_restart("scheduler-after-claim-ahead").await;
}

#[tokio::test]
async fn a_crash_after_writing_a_bursts_fires_loses_and_doubles_no_slot() {
    burst_crash_then_restart("scheduler-after-record").await;
}

/// Hooks due together: as many as make a burst for `hookd serve`, one page of claims.
const BURST: usize = 256;

/// Stores [`BURST`] hooks due together a few seconds from now, runs `hookd serve` on them with
/// `failpoint` armed until it stops itself inside the burst, then again without it, and checks
/// that every slot the crash left claimed reached the task queue and the history exactly once.
async fn burst_crash_then_restart(failpoint: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hookd.sqlite3");
    // Due at one second of the minute, far enough ahead that the crashing process has armed
    // them all before, so the slot is fired as a burst prepared ahead, not by visits.
    let second = (Utc::now().second() + 10) % 60;
    let schedule = format!("{second} * * * * *");
    let ids: Vec<String> = (0..BURST).map(|i| format!("b{i}")).collect();
    {
        let writer = node(&db, &ManualClock::new(Utc::now()), None).await;
        for id in &ids {
            (writer.registry.create(hook(id, &[&schedule])).await).expect("created");
        }
    }
    let receiver = Receiver::start().await;

    let mut crashing = Serve::start(dir.path(), &receiver, &[], Some(failpoint));
    let status = eventually("the failpoint stops hookd", || {
        let status = crashing.child.try_wait().expect("hookd's status");
        async move { status }
    })
    .await;
    assert!(!status.success(), "hookd aborts at the failpoint: {status}");
    let store = SqliteStore::open(&db).expect("the store opens");
    let mut crashed = Vec::new();
    for id in &ids {
        for slot in record(&store, &key(id)).await.claimed_slots {
            crashed.push((key(id), slot));
        }
    }
    assert_eq!(crashed.len(), BURST, "the crash left the burst's claims");

    let restarted = Serve::start(dir.path(), &receiver, &[], None);
    restarted.await_ready().await;
    eventually(
        "the restart finished every claim the crash left",
        || async {
            let mut open = 0;
            for (key, slot) in &crashed {
                open += usize::from(record(&store, key).await.claimed_slots.contains(slot));
            }
            (open == 0).then_some(())
        },
    )
    .await;
    drop(restarted);

    let received = task_ids(&receiver);
    for (key, slot) in &crashed {
        let task_id = &TaskId::for_slot(key, *slot);
        let sent = received.iter().filter(|id| *id == task_id.as_str()).count();
        assert_eq!(sent, 1, "{key}'s slot reached the queue once");
        let recorded = (fires(&store, key).await.iter())
            .filter(|fire| fire.task_id == *task_id)
            .count();
        assert_eq!(recorded, 1, "{key}'s slot is in the history once");
    }
    receiver.stop().await;
}

/// The task ids the receiver got, in order.
fn task_ids(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|r| r.header("idempotency-key").expect("a task id").to_owned())
        .collect()
}

/// A `hookd serve` process, killed when dropped.
struct Serve {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(
        data: &Path,
        receiver: &Receiver,
        store_flags: &[&str],
        failpoint: Option<&str>,
    ) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new(hookd_binary());
        command
            .env_clear()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data)
            .args(["--root-access-token", ROOT_TOKEN])
            .args(["--task-queue", &format!("{}/tasks", receiver.url)])
            .args(["--sink-secret", SINK_SECRET])
            .args(store_flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(failpoint) = failpoint {
            command.env("HOOKD_FAILPOINT", failpoint);
        }
        Self {
            child: command.spawn().expect("hookd starts"),
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    async fn await_ready(&self) {
        let url = format!("{}/__heartbeat__", self.base);
        eventually("hookd answers", || async {
            let reply = self.http.get(&url).send().await.ok()?;
            reply.status().is_success().then_some(())
        })
        .await;
    }

    async fn put_every_second_hook(&self) {
        let body = json!({
            "metadata": {"name": "n", "description": "d", "owner": "o@example.com"},
            "schedule": ["* * * * * *"],
            "task": {"provisionerId": "p", "workerType": "w", "payload": {},
                     "metadata": {"name": "t"}},
        });
        let reply = self
            .http
            .put(format!("{}/api/hooks/v1/hooks/g/crash", self.base))
            .bearer_auth(format!("root:{ROOT_TOKEN}"))
            .json(&body)
            .send()
            .await
            .expect("hookd answers");
        assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
    }

    async fn last_fires(&self) -> Vec<Value> {
        let reply = self
            .http
            .get(format!(
                "{}/api/hooks/v1/hooks/g/crash/last-fires",
                self.base
            ))
            .bearer_auth(format!("root:{ROOT_TOKEN}"))
            .send()
            .await
            .expect("hookd answers");
        let body: Value = reply.json().await.expect("a JSON body");
        body["lastFires"].as_array().cloned().unwrap_or_default()
    }
}
