//! The plain HTTP sink: the sink contract, signed POSTs, retries, and refusals as error fires.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use hookd::clock::SystemClock;
use hookd::config::TaskQueue;
use hookd::fire::sink::HttpSink;
use hookd::fire::TaskSink;
use hookd::webhook::WebhookSecret;
use hookd_testkit::app::{hook_body, spawn_app_with, TestApp};
use hookd_testkit::receiver::{answer, Answer, Received, Receiver};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::quick_retries;
use crate::sink_contract::{sink_contract, Peer};

const SECRET_KEY: &[u8] = b"receiver-shared-secret";

/// The secret hookd signs with, shared with the receiver.
fn secret() -> WebhookSecret {
    WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode(SECRET_KEY))).unwrap()
}

/// An HTTP sink posting to a receiver on loopback, which deduplicates by `Idempotency-Key`.
struct HttpReceiver {
    sink: HttpSink,
    receiver: Receiver,
}

async fn http_receiver() -> Option<HttpReceiver> {
    let receiver = Receiver::start().await;
    let sink = HttpSink::new(
        reqwest::Client::new(),
        format!("{}/tasks", receiver.url),
        secret(),
        quick_retries(3),
        Arc::new(SystemClock),
    );
    Some(HttpReceiver { sink, receiver })
}

impl Peer for HttpReceiver {
    fn sink(&self) -> &dyn TaskSink {
        &self.sink
    }

    async fn deliveries(&self) -> Vec<(String, Value)> {
        let key = |r: &Received| r.header("Idempotency-Key").unwrap_or_default().to_owned();
        let received = self.receiver.received();
        received.iter().map(|r| (key(r), r.json())).collect()
    }
}

sink_contract!(http, http_receiver());

async fn app_posting_to(receiver: &Receiver, attempts: u32) -> TestApp {
    let url = format!("{}/tasks", receiver.url);
    let app = spawn_app_with(move |s| {
        s.task_queue = TaskQueue::Http {
            url: url.clone(),
            secret: secret(),
        };
        s.sink_retry = quick_retries(attempts);
    })
    .await;
    let mut body = hook_body();
    body["task"] = json!({"payload": {"fired": "${firedBy}"}});
    app.create_hook("g/h", body).await;
    app
}

/// Verifies a Standard Webhooks signature from first principles, independently of hookd.
fn signature_verifies(request: &Received) -> bool {
    let id = request.header("webhook-id").unwrap();
    let timestamp = request.header("webhook-timestamp").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET_KEY).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    request
        .header("webhook-signature")
        .unwrap()
        .split(' ')
        .any(|signature| signature == expected)
}

#[tokio::test]
async fn each_task_is_posted_once_with_identifying_headers_and_a_valid_signature() {
    let receiver = Receiver::start().await;
    let app = app_posting_to(&receiver, 3).await;
    let task_id = app.trigger("g/h", json!({})).await.expect(200)["taskId"].clone();

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/tasks");
    assert_eq!(request.header("Idempotency-Key"), task_id.as_str());
    assert_eq!(request.header("webhook-id"), task_id.as_str());
    assert_eq!(request.header("Hookd-Hook-Group-Id"), Some("g"));
    assert_eq!(request.header("Hookd-Hook-Id"), Some("h"));
    assert_eq!(request.header("Hookd-Fired-By"), Some("triggerHook"));
    assert_eq!(
        request.header("webhook-timestamp"),
        Some(app.now().timestamp().to_string().as_str())
    );
    assert!(signature_verifies(request), "{request:?}");
    assert_eq!(request.json()["payload"]["fired"], "triggerHook");
    assert_eq!(request.json()["taskGroupId"], task_id);
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_one_task_under_one_id() {
    let receiver = Receiver::start().await;
    receiver.script([answer(503, json!({})), answer(502, json!({}))]);
    let app = app_posting_to(&receiver, 5).await;
    let task_id = app.trigger("g/h", json!({})).await.expect(200)["taskId"].clone();

    let received = receiver.received();
    assert_eq!(received.len(), 3, "two failures, then the accepted attempt");
    for request in &received {
        assert_eq!(request.header("webhook-id"), task_id.as_str());
        assert_eq!(
            request.body, received[0].body,
            "every attempt sends the same task"
        );
        assert!(signature_verifies(request));
    }
    let fires = app.last_fires("g/h", "").await;
    assert_eq!(fires["lastFires"].as_array().unwrap().len(), 1);
    assert_eq!(fires["lastFires"][0]["result"], "success");
}

#[tokio::test]
async fn too_many_requests_is_retried() {
    let receiver = Receiver::start().await;
    receiver.script([Answer {
        status: 429,
        headers: vec![("Retry-After", "0".into())],
        body: "{}".into(),
    }]);
    let app = app_posting_to(&receiver, 3).await;
    app.trigger("g/h", json!({})).await.expect(200);
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_client_error_from_the_receiver_becomes_an_error_fire_with_its_message() {
    let receiver = Receiver::start().await;
    receiver.script([answer(
        400,
        json!({"code": "BadTask", "message": "workerType is unknown"}),
    )]);
    let app = app_posting_to(&receiver, 5).await;
    let message = app
        .trigger("g/h", json!({}))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("workerType is unknown"), "{message}");
    assert_eq!(receiver.received().len(), 1, "a refusal is not retried");

    let fire = &app.last_fires("g/h", "").await["lastFires"][0];
    assert_eq!(fire["result"], "error");
    assert!(fire["error"]
        .as_str()
        .unwrap()
        .contains("workerType is unknown"));
    let status = app.status("g/h").await;
    assert_eq!(status["lastFire"]["error"]["code"], "BadTask");
}

#[tokio::test]
async fn a_receiver_that_never_recovers_makes_an_unavailable_error_fire() {
    let receiver = Receiver::start().await;
    receiver.script((0..3).map(|_| answer(500, json!({}))));
    let app = app_posting_to(&receiver, 3).await;
    app.trigger("g/h", json!({}))
        .await
        .expect_error(503, "ServiceUnavailable");
    assert_eq!(
        receiver.received().len(),
        3,
        "exactly the configured attempts"
    );
    let status = app.status("g/h").await;
    assert_eq!(status["lastFire"]["error"]["code"], "ServiceUnavailable");
}

#[tokio::test]
async fn an_unreachable_receiver_is_retried_then_unavailable() {
    let receiver = Receiver::start().await;
    let app = app_posting_to(&receiver, 2).await;
    receiver.stop().await;
    app.trigger("g/h", json!({}))
        .await
        .expect_error(503, "ServiceUnavailable");
    assert_eq!(app.status("g/h").await["lastFire"]["result"], "error");
}
