//! `kill -9` while the listener relays a stream of messages for hooks that share a channel:
//! after a restart every message has its task, each message's tasks carry one task id (the
//! redelivered ones are recognisable duplicates), and each message has exactly one recorded
//! fire.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use hookd_testkit::app::hookd_binary;
use hookd_testkit::services::amqp_url;
use hookd_testkit::wait::eventually;
use lapin::Consumer;
use serde_json::{json, Value};

use crate::broker::{self, bound_hook, next_message, unique};

const ROOT_TOKEN: &str = "relay-crash-root-token";
const HOOKS: usize = 8;
const MESSAGES: usize = 240;
/// Tasks to see before the kill: the rest are in the queues, in flight or not yet published.
const TASKS_BEFORE_KILL: usize = 60;

/// A `hookd serve` process listening and publishing on the test broker, killed when dropped.
struct Relay {
    child: Child,
    api: String,
    http: reqwest::Client,
}

impl Relay {
    async fn start(data: &Path, url: &str, prefix: &str, tasks: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(hookd_binary())
            .env_clear()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data)
            .args(["--root-access-token", ROOT_TOKEN, "--amqp-url", url])
            .args(["--amqp-queue-prefix", prefix])
            .args(["--amqp-exchange-prefix", &format!("{prefix}/exchange/")])
            .args(["--task-queue", url, "--task-exchange", tasks])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hookd starts");
        let api = format!("http://127.0.0.1:{port}/api/hooks/v1");
        let http = reqwest::Client::new();
        eventually("hookd answers its ping", || {
            let request = http.get(format!("{api}/ping")).send();
            async move { request.await.ok()?.status().is_success().then_some(()) }
        })
        .await;
        let relay = Self { child, api, http };
        for n in 0..HOOKS {
            let created = (relay.http)
                .put(format!("{}/hooks/g/h{n}", relay.api))
                .bearer_auth(format!("root:{ROOT_TOKEN}"))
                .json(&bound_hook(&[(
                    &format!("{prefix}-events"),
                    &format!("k{n}"),
                )]))
                .send()
                .await
                .expect("createHook");
            assert!(created.status().is_success(), "{}", created.status());
        }
        relay
    }

    /// How many fires each task id has, over every hook's history; `None` while the API does
    /// not answer.
    async fn fires(&self) -> Option<BTreeMap<String, usize>> {
        let mut recorded = BTreeMap::new();
        for n in 0..HOOKS {
            let url = format!("{}/hooks/g/h{n}/last-fires?limit=1000", self.api);
            let request = self.http.get(url).bearer_auth(format!("root:{ROOT_TOKEN}"));
            let body: Value = request.send().await.ok()?.json().await.ok()?;
            for fire in body["lastFires"].as_array()? {
                assert_eq!(fire["result"], "success", "{fire}");
                let id = fire["taskId"].as_str()?.to_owned();
                *recorded.entry(id).or_default() += 1;
            }
        }
        Some(recorded)
    }

    /// SIGKILL, as `kill -9`.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Takes tasks from `worker` into `seen` (message number -> task ids) until `enough` holds.
async fn take_tasks(
    worker: &mut Consumer,
    seen: &mut BTreeMap<u64, BTreeSet<String>>,
    enough: impl Fn(&BTreeMap<u64, BTreeSet<String>>) -> bool,
) {
    while !enough(seen) {
        let task = next_message(worker).await;
        let body: Value = serde_json::from_slice(&task.data).expect("a JSON task");
        if let Some(n) = body["task"]["payload"]["message"]["n"].as_u64() {
            let id = body["taskId"].as_str().expect("a task id").to_owned();
            seen.entry(n).or_default().insert(id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_mid_stream_loses_no_message_and_records_each_fire_once() {
    let Some(url) = amqp_url() else { return };
    let _broker = broker::shared().await;
    let (prefix, tasks) = (unique("crash"), unique("tasks"));
    let events = format!("{prefix}-events");
    let (client, mut worker) = broker::relay_ends(&url, &events, &tasks).await;
    let data = tempfile::tempdir().expect("temp dir");
    let mut relay = Relay::start(data.path(), &url, &prefix, &tasks).await;
    for n in 0..HOOKS {
        let probe = json!({"probe": n});
        client
            .publish_routed(&events, &format!("k{n}"), &probe)
            .await;
    }

    for n in 0..MESSAGES {
        let body = serde_json::to_vec(&json!({ "n": n })).unwrap();
        let (key, id) = (format!("k{}", n % HOOKS), format!("message-{n}"));
        assert!(client.publish(&events, &key, &body, Some(&id)).await);
    }
    let mut seen = BTreeMap::new();
    take_tasks(&mut worker, &mut seen, |s| s.len() >= TASKS_BEFORE_KILL).await;
    relay.kill();
    let relay = Relay::start(data.path(), &url, &prefix, &tasks).await;
    take_tasks(&mut worker, &mut seen, |s| s.len() == MESSAGES).await;

    let doubled: Vec<_> = seen.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(doubled.is_empty(), "one task id per message: {doubled:?}");
    // A message whose task went out just before the kill, but whose fire was not recorded yet,
    // is fired again after the restart (under the same task id): wait for those records.
    let task_ids: BTreeSet<&String> = seen.values().flatten().collect();
    let recorded = eventually("every message's fire is recorded", || async {
        let recorded = relay.fires().await?;
        task_ids
            .iter()
            .all(|id| recorded.contains_key(*id))
            .then_some(recorded)
    })
    .await;
    let doubled: Vec<_> = recorded.iter().filter(|(_, fires)| **fires > 1).collect();
    assert!(doubled.is_empty(), "one fire per message: {doubled:?}");
}
