//! Extension: signed webhook deliveries (GitHub, GitLab, Standard Webhooks) and the secret
//! endpoints with rotation.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Duration;
use hookd::api::schemas::SchemaId;
use hookd::crypto::hmac_sha256;
use hookd_testkit::app::{assert_matches_schemas, hook_body, spawn_app, Auth, Reply, TestApp};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

const BODY: &str = r#"{"ref":"refs/heads/main"}"#;

/// A hook `g/h` (also used by the metrics tests) whose task records what the webhook context held; returns its secret.
pub(crate) async fn webhook_hook(app: &TestApp) -> String {
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object"});
    body["task"]["payload"] = json!({
        "firedBy": "${firedBy}",
        "ref": {"$eval": "payload.ref"},
        "event": {"$if": "'x-github-event' in headers", "then": {"$eval": "headers['x-github-event']"}, "else": "none"},
    });
    app.create_hook("g/h", body).await;
    app.root_string("/hooks/g/h/webhook-secret", "secret").await
}

pub(crate) async fn deliver(app: &TestApp, headers: &[(&str, String)]) -> Reply {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/hooks/v1/hooks/g/h/webhook", app.address))
        .header(CONTENT_TYPE, "application/json")
        .body(BODY);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    app.send(request).await
}

pub(crate) fn github(secret: &str) -> Vec<(&'static str, String)> {
    let mac = hex::encode(hmac_sha256(secret.as_bytes(), BODY.as_bytes()));
    vec![
        ("X-Hub-Signature-256", format!("sha256={mac}")),
        ("X-GitHub-Event", "push".to_owned()),
        ("X-GitHub-Delivery", "d-1".to_owned()),
    ]
}

fn standard(
    app: &TestApp,
    secret: &str,
    id: &str,
    offset: Duration,
) -> Vec<(&'static str, String)> {
    let ts = (app.now() + offset).timestamp().to_string();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mac = hmac_sha256(&key, format!("{id}.{ts}.{BODY}").as_bytes());
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", ts),
        ("webhook-signature", format!("v1,{}", STANDARD.encode(mac))),
    ]
}

async fn fires(app: &TestApp) -> Vec<Value> {
    let body = app
        .call(Method::GET, "/hooks/g/h/last-fires", Auth::Root, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ListLastFiresResponse, &body, true);
    body["lastFires"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_github_delivery_fires_with_webhook_context_and_headers() {
    let app = spawn_app().await;
    let secret = webhook_hook(&app).await;

    let reply = deliver(&app, &github(&secret)).await.expect(200);

    let task = app.submitted_task(reply["taskId"].as_str().unwrap()).await;
    assert_eq!(
        task["task"]["payload"],
        json!({"firedBy": "webhook", "ref": "refs/heads/main", "event": "push"})
    );
    assert_eq!(fires(&app).await[0]["firedBy"], "webhook");
}

#[tokio::test]
async fn bad_signatures_are_401_and_not_recorded_as_fires() {
    let app = spawn_app().await;
    let secret = webhook_hook(&app).await;
    for (what, headers) in [
        ("GitHub with another secret", github("whsec_other")),
        (
            "GitLab with a wrong token",
            vec![("X-Gitlab-Token", "nope".to_owned())],
        ),
        ("no signature at all", vec![]),
        (
            "Standard Webhooks 6 minutes late",
            standard(&app, &secret, "m", Duration::minutes(-6)),
        ),
    ] {
        let reply = deliver(&app, &headers).await;
        assert_eq!(reply.status.as_u16(), 401, "{what}: {}", reply.body);
        assert!(!reply.body.to_string().contains(&secret), "{what}");
    }
    assert!(fires(&app).await.is_empty());
}

#[tokio::test]
async fn gitlab_tokens_and_standard_webhooks_fire_and_redeliveries_fire_once() {
    let app = spawn_app().await;
    let secret = webhook_hook(&app).await;

    deliver(&app, &[("X-Gitlab-Token", secret.clone())])
        .await
        .expect(200);
    let first = deliver(&app, &standard(&app, &secret, "msg-1", Duration::zero())).await;
    let again = deliver(&app, &standard(&app, &secret, "msg-1", Duration::zero())).await;

    assert!(first.expect(200)["taskId"].is_string());
    assert_eq!(again.expect(200), json!({}));
    assert_eq!(fires(&app).await.len(), 2);
}

#[tokio::test]
async fn a_rotated_secret_keeps_working_for_the_grace_period_only() {
    let app = spawn_app().await;
    let old = webhook_hook(&app).await;
    let again = app.root_string("/hooks/g/h/webhook-secret", "secret").await;
    assert_eq!(again, old, "GET does not rotate");
    app.call(
        Method::GET,
        "/hooks/g/h/webhook-secret",
        Auth::Anonymous,
        None,
    )
    .await
    .expect_error(403, "InsufficientScopes");

    let new = app
        .call(Method::POST, "/hooks/g/h/webhook-secret", Auth::Root, None)
        .await
        .expect(200)["secret"]
        .clone();
    let new = new.as_str().unwrap();

    assert_ne!(new, old);
    deliver(&app, &github(&old)).await.expect(200);
    deliver(&app, &github(new)).await.expect(200);
    app.clock.advance(Duration::days(1));
    deliver(&app, &github(&old))
        .await
        .expect_error(401, "AuthenticationFailed");
    deliver(&app, &github(new)).await.expect(200);
}

#[tokio::test]
async fn an_unknown_hook_looks_like_a_bad_signature() {
    let app = spawn_app().await;
    deliver(&app, &github("whsec_x"))
        .await
        .expect_error(401, "AuthenticationFailed");
}
