//! Extension: attempts that did not fire (a payload the trigger schema refused, a bad webhook
//! signature, a declined render) in the hook's refusals (`GET .../refusals`), never in its
//! fire history, and capped per hook.

use hookd::api::schemas::SchemaId;
use hookd_testkit::app::{assert_matches_schemas, hook_body, spawn_app, Auth, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

use crate::webhooks::{deliver, github, webhook_hook};

async fn refusals(app: &TestApp, hook: &str) -> Vec<Value> {
    let body = app
        .call(
            Method::GET,
            &format!("/hooks/{hook}/refusals"),
            Auth::Root,
            None,
        )
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ListRefusalsResponse, &body, true);
    body["refusals"].as_array().unwrap().clone()
}

/// A hook that wants an integer `n`, declines when `n` is 0, and redacts `/secret`.
fn strict_hook() -> Value {
    let mut body = hook_body();
    body["triggerSchema"] = json!({
        "type": "object",
        "properties": {"n": {"type": "integer"}, "secret": {"type": "string"}},
        "required": ["n"],
    });
    body["task"] = json!({"$if": "payload.n == 0", "then": null, "else": hook_body()["task"]});
    body["capture"] = json!({"redact": ["/secret"]});
    body
}

#[tokio::test]
async fn a_refused_payload_and_a_declined_render_are_refusals_with_their_reason() {
    let app = spawn_app().await;
    app.create_hook("g/h", strict_hook()).await;
    app.trigger("g/h", json!({"n": "one", "secret": "hunter2"}))
        .await
        .expect_error(400, "InputError");
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        app.trigger("g/h", json!({"n": 0})).await.expect(200),
        json!({})
    );

    let listed = refusals(&app, "g/h").await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["reason"], "declined");
    assert_eq!(listed[0]["firedBy"], "triggerHook");
    assert_eq!(listed[1]["reason"], "payloadRefused");
    assert!(
        listed[1]["message"].as_str().unwrap().contains("/n"),
        "{}",
        listed[1]
    );
    assert_eq!(
        listed[1]["context"]["payload"],
        json!({"n": "one"}),
        "redacted first"
    );
    assert!(app.last_fires("g/h", "").await["lastFires"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_bad_webhook_signature_is_a_refusal_without_its_body() {
    let app = spawn_app().await;
    webhook_hook(&app).await;
    let reply = deliver(&app, &github("whsec_not-the-secret")).await;
    assert_eq!(reply.status.as_u16(), 401, "{}", reply.body);

    let listed = refusals(&app, "g/h").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["reason"], "badSignature");
    assert_eq!(listed[0]["firedBy"], "webhook");
    assert!(listed[0].get("context").is_none());
}

#[tokio::test]
async fn a_flood_of_refusals_keeps_only_the_newest_hundred() {
    let app = spawn_app().await;
    app.create_hook("g/h", strict_hook()).await;
    for i in 0..105 {
        app.trigger("g/h", json!({"n": format!("bad-{i}")}))
            .await
            .expect_error(400, "InputError");
    }
    let listed = refusals(&app, "g/h").await;
    assert_eq!(listed.len(), 100);
    assert_eq!(
        listed[0]["context"]["payload"]["n"], "bad-104",
        "newest first"
    );
    assert_eq!(
        listed[99]["context"]["payload"]["n"], "bad-5",
        "the oldest were dropped"
    );
}

#[tokio::test]
async fn refusals_of_an_unknown_hook_are_not_found_and_need_the_history_scope() {
    let app = spawn_app().await;
    app.call(Method::GET, "/hooks/g/none/refusals", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
    app.create_hook("g/h", hook_body()).await;
    app.call(Method::GET, "/hooks/g/h/refusals", Auth::Anonymous, None)
        .await
        .expect_error(403, "InsufficientScopes");
}
