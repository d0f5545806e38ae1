//! The Taskcluster queue sink, against a receiver that checks requests as the queue does; and
//! the sink contract, with a receiver that keeps tasks as the queue does.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hawk::{Header, Key, RequestBuilder, SHA256};
use hookd::config::TaskQueue;
use hookd::fire::sink::TaskclusterSink;
use hookd::fire::TaskSink;
use hookd_testkit::app::{hook_body, spawn_app_with, Auth, TestApp};
use hookd_testkit::receiver::{answer, Received, Receiver};
use reqwest::Method;
use serde_json::{json, Value};

use crate::quick_retries;
use crate::sink_contract::{sink_contract, Peer};

const CLIENT_ID: &str = "static/hookd";
const ACCESS_TOKEN: &str = "queue-access-token";

/// A Taskcluster sink and a queue on loopback. The real queue keeps one task per task id (the
/// one in the URL) and accepts an identical `createTask` again.
struct Queue {
    sink: TaskclusterSink,
    receiver: Receiver,
}

async fn queue() -> Option<Queue> {
    let receiver = Receiver::start().await;
    let sink = TaskclusterSink::new(
        reqwest::Client::new(),
        &receiver.url,
        CLIENT_ID,
        ACCESS_TOKEN,
        quick_retries(4),
    )
    .expect("the receiver's URL is a root URL");
    Some(Queue { sink, receiver })
}

impl Peer for Queue {
    fn sink(&self) -> &dyn TaskSink {
        &self.sink
    }

    async fn deliveries(&self) -> Vec<(String, Value)> {
        let task_id = |r: &Received| r.path.trim_start_matches("/api/queue/v1/task/").to_owned();
        let created = puts(&self.receiver);
        created.iter().map(|r| (task_id(r), r.json())).collect()
    }
}

sink_contract!(taskcluster, queue());

async fn app_using_queue(receiver: &Receiver) -> TestApp {
    let root_url = receiver.url.clone();
    let app = spawn_app_with(move |s| {
        s.task_queue = TaskQueue::Taskcluster {
            root_url: root_url.clone(),
            client_id: CLIENT_ID.into(),
            access_token: ACCESS_TOKEN.into(),
        };
        s.sink_retry = quick_retries(4);
    })
    .await;
    let mut body = hook_body();
    body["task"] = json!({"payload": {"at": "${now}"}, "scopes": []});
    app.create_hook("proj/nightly", body).await;
    app
}

/// Checks the Hawk header the way the queue does, and returns the `ext` it carried.
fn hawk_ext(request: &Received, port: u16) -> Value {
    let authorization = request
        .header("Authorization")
        .expect("an Authorization header");
    let header: Header = authorization
        .strip_prefix("Hawk ")
        .expect("a Hawk header")
        .parse()
        .expect("a well-formed Hawk header");
    assert_eq!(header.id.as_deref(), Some(CLIENT_ID));
    let ext = header.ext.clone().expect("an ext");
    let key = Key::new(ACCESS_TOKEN, SHA256).unwrap();
    let valid = RequestBuilder::new(&request.method, "127.0.0.1", port, &request.path)
        .ext(ext.as_str())
        .request()
        .validate_header(&header, &key, Duration::from_secs(60));
    assert!(
        valid,
        "the Hawk MAC validates with the configured credentials"
    );
    serde_json::from_slice(&STANDARD.decode(ext).expect("base64 ext")).expect("JSON ext")
}

fn port(receiver: &Receiver) -> u16 {
    receiver.url.rsplit(':').next().unwrap().parse().unwrap()
}

fn puts(receiver: &Receiver) -> Vec<Received> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect()
}

#[tokio::test]
async fn tasks_are_created_with_hawk_and_the_hooks_role_as_authorized_scopes() {
    let receiver = Receiver::start().await;
    let app = app_using_queue(&receiver).await;
    let task_id = app.trigger("proj/nightly", json!({})).await.expect(200)["taskId"]
        .as_str()
        .unwrap()
        .to_owned();

    let requests = puts(&receiver);
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, format!("/api/queue/v1/task/{task_id}"));
    let ext = hawk_ext(request, port(&receiver));
    assert_eq!(
        ext,
        json!({"authorizedScopes": ["assume:hook-id:proj/nightly"]})
    );
    assert_eq!(request.json()["payload"]["at"], "2026-05-01T10:00:00.000Z");
}

#[tokio::test]
async fn a_retry_sends_the_identical_definition() {
    let receiver = Receiver::start().await;
    receiver.script([answer(500, json!({"code": "InternalServerError"}))]);
    let app = app_using_queue(&receiver).await;
    app.trigger("proj/nightly", json!({})).await.expect(200);
    let requests = puts(&receiver);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, requests[1].path);
    assert_eq!(requests[0].body, requests[1].body);
    for request in &requests {
        hawk_ext(request, port(&receiver));
    }
}

#[tokio::test]
async fn insufficient_scopes_from_the_queue_are_a_403_and_an_error_fire() {
    let receiver = Receiver::start().await;
    receiver.script([answer(
        403,
        json!({"code": "InsufficientScopes", "message": "role lacks queue:create-task:highest"}),
    )]);
    let app = app_using_queue(&receiver).await;
    let message = app
        .trigger("proj/nightly", json!({}))
        .await
        .expect_error(403, "InsufficientScopes");
    assert!(message.contains("queue:create-task:highest"), "{message}");
    let status = app.status("proj/nightly").await;
    assert_eq!(status["lastFire"]["error"]["code"], "InsufficientScopes");
}

#[tokio::test]
async fn other_queue_refusals_carry_the_queues_code_and_message() {
    let receiver = Receiver::start().await;
    receiver.script([answer(
        400,
        json!({"code": "InputError", "message": "deadline is too far"}),
    )]);
    let app = app_using_queue(&receiver).await;
    let message = app
        .trigger("proj/nightly", json!({}))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("deadline is too far"), "{message}");
    let fire = &app.last_fires("proj/nightly", "").await["lastFires"][0];
    assert_eq!(fire["result"], "error");
    assert!(fire["error"]
        .as_str()
        .unwrap()
        .contains("deadline is too far"));
    assert_eq!(puts(&receiver).len(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn last_fires_show_the_task_state_the_queue_reports() {
    let receiver = Receiver::start().await;
    let app = app_using_queue(&receiver).await;
    let task_id = app.trigger("proj/nightly", json!({})).await.expect(200)["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.serve(
        &format!("/api/queue/v1/task/{task_id}/status"),
        answer(
            200,
            json!({"status": {"taskId": task_id, "state": "running"}}),
        ),
    );
    let fires = app.last_fires("proj/nightly", "").await;
    assert_eq!(fires["lastFires"][0]["taskState"], "running");

    // When the queue cannot say, the state is unknown rather than an error.
    app.call(
        Method::POST,
        "/hooks/proj/nightly/trigger",
        Auth::Root,
        Some(json!({})),
    )
    .await
    .expect(200);
    let fires = app.last_fires("proj/nightly", "").await;
    assert_eq!(fires["lastFires"][0]["taskState"], "unknown");
}
