//! A crash of the real `hookd serve` between durable fires and their batched ack: stopped by
//! the `listener-before-batch-ack` failpoint and started again on the same data, it loses no message
//! and fires none twice.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use hookd_testkit::app::hookd_binary;
use hookd_testkit::services::amqp_url;
use hookd_testkit::wait::eventually;
use serde_json::{json, Value};

use crate::broker::{self, bound_hook, unique, Client};

const ROOT_TOKEN: &str = "relay-crash-root-token";
/// Messages waiting in the hook's queue when the crashing process starts: more than arrive
/// one by one, so its deliveries are settled in batches.
const BACKLOG: usize = 40;

/// Where one process of the test listens and what it talks to; the data directory and the
/// broker names are shared by every process, as replicas restarted in place.
struct Relay<'a> {
    data: &'a Path,
    url: &'a str,
    prefix: &'a str,
    tasks: &'a str,
}

/// A `hookd serve` child, killed when dropped.
struct Process {
    child: Child,
    api: String,
    http: reqwest::Client,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Relay<'_> {
    fn spawn(&self, failpoint: Option<&str>) -> Process {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let exchange_prefix = format!("{}/exchange/", self.prefix);
        let mut command = Command::new(hookd_binary());
        command
            .env_clear()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(self.data)
            .args(["--root-access-token", ROOT_TOKEN])
            .args(["--amqp-url", self.url, "--amqp-queue-prefix", self.prefix])
            .args(["--amqp-exchange-prefix", &exchange_prefix])
            .args(["--task-queue", self.url, "--task-exchange", self.tasks])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(name) = failpoint {
            command.env("HOOKD_FAILPOINT", name);
        }
        Process {
            child: command.spawn().expect("hookd starts"),
            api: format!("http://127.0.0.1:{port}/api/hooks/v1"),
            http: reqwest::Client::new(),
        }
    }
}

impl Process {
    async fn put_hook(&self, hook: &str, body: &Value) {
        let url = format!("{}/hooks/{hook}", self.api);
        eventually("hookd takes the hook", || async {
            let reply = self.http.put(&url).bearer_auth(root()).json(body);
            let reply = reply.send().await.ok()?;
            reply.status().is_success().then_some(())
        })
        .await;
    }

    /// The hook's fires, once it answers.
    async fn fires(&self, hook: &str) -> Vec<Value> {
        let url = format!("{}/hooks/{hook}/last-fires", self.api);
        eventually("hookd lists the fires", || async {
            let reply = self.http.get(&url).bearer_auth(root()).send().await.ok()?;
            let body: Value = reply.json().await.ok()?;
            body["lastFires"].as_array().cloned()
        })
        .await
    }

    /// Waits until the process has stopped by itself, and says whether it failed (an abort).
    async fn failed(&mut self) -> bool {
        let child = &mut self.child;
        let status = eventually("hookd stops at its failpoint", || {
            let status = child.try_wait().ok().flatten();
            async move { status }
        })
        .await;
        !status.success()
    }
}

fn root() -> String {
    format!("root:{ROOT_TOKEN}")
}

#[tokio::test]
async fn a_crash_before_the_acks_of_durable_fires_loses_nothing_and_fires_each_message_once() {
    let Some(url) = amqp_url() else { return };
    let _broker = broker::shared().await;
    let (prefix, exchange, tasks) = (unique("crash"), unique("exchange"), unique("tasks"));
    let client = Client::connect(&url).await;
    client.exchange(&exchange).await;
    client.exchange(&tasks).await;
    let task_queue = unique("crash-tasks");
    client.bound_queue(&task_queue, &tasks, "#").await;
    let data = tempfile::tempdir().unwrap();
    let relay = Relay {
        data: data.path(),
        url: &url,
        prefix: &prefix,
        tasks: &tasks,
    };

    // The hook and its queue, from a process that stops before the backlog is published.
    let setup = relay.spawn(None);
    setup
        .put_hook("g/relay", &bound_hook(&[(&exchange, "relay")]))
        .await;
    client
        .publish_routed(&exchange, "relay", &json!({"n": "probe"}))
        .await;
    eventually("the probe fired", || async {
        (!setup.fires("g/relay").await.is_empty()).then_some(())
    })
    .await;
    drop(setup);
    for n in 0..BACKLOG {
        let body = serde_json::to_vec(&json!({ "n": n })).unwrap();
        let id = format!("message-{n}");
        assert!(client.publish(&exchange, "relay", &body, Some(&id)).await);
    }

    let mut crashing = relay.spawn(Some("listener-before-batch-ack"));
    assert!(crashing.failed().await, "the failpoint aborted the process");
    let restarted = relay.spawn(None);
    let fires = eventually("every message fired after the restart", || async {
        let fires = restarted.fires("g/relay").await;
        (fires.len() > BACKLOG).then_some(fires)
    })
    .await;

    let mut fires_per_task = BTreeMap::<String, usize>::new();
    for fire in &fires {
        assert_eq!(fire["result"], "success", "{fire}");
        let task_id = fire["taskId"].as_str().unwrap().to_owned();
        *fires_per_task.entry(task_id).or_default() += 1;
    }
    assert!(
        fires_per_task.values().all(|&n| n == 1),
        "one fire per message: {fires_per_task:?}"
    );
    assert_eq!(
        fires_per_task.len(),
        BACKLOG + 1,
        "the backlog and the probe"
    );
    let published = published_messages(&client, &task_queue).await;
    let fired: BTreeSet<String> = fires_per_task.into_keys().collect();
    assert_eq!(
        published.keys().cloned().collect::<BTreeSet<_>>(),
        fired,
        "every fire's task was published"
    );
    let made: BTreeSet<String> = published.into_values().collect();
    let sent = (0..BACKLOG).map(|n| n.to_string());
    let sent: BTreeSet<String> = sent.chain(["\"probe\"".to_owned()]).collect();
    assert_eq!(made, sent, "each message made its task");
}

/// The tasks in `queue` by message id (the task id), with the `n` of the message each came
/// from, as JSON text. A task published again for a fire the crash cut short has the same id.
async fn published_messages(client: &Client, queue: &str) -> BTreeMap<String, String> {
    let mut published = BTreeMap::new();
    while let Some(message) = client.take(queue).await {
        let id = message
            .properties
            .message_id()
            .as_ref()
            .unwrap()
            .to_string();
        let task: Value = serde_json::from_slice(&message.data).unwrap();
        published.insert(id, task["task"]["payload"]["message"]["n"].to_string());
    }
    published
}
