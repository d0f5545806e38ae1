//! Trigger tokens: reading, resetting and firing with them.

use reqwest::Method;
use serde_json::{json, Value};

use hookd::api::schemas::SchemaId;
use hookd_testkit::app::{assert_matches_schemas, hook_body, spawn_app, Auth, TestApp};

async fn token(app: &TestApp, path: &str) -> String {
    let body = app
        .call(
            Method::GET,
            &format!("/hooks/{path}/token"),
            Auth::Root,
            None,
        )
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::TriggerTokenResponse, &body, false);
    body["token"].as_str().unwrap().to_owned()
}

async fn trigger_with(
    app: &TestApp,
    path: &str,
    token: &str,
    payload: Value,
) -> hookd_testkit::app::Reply {
    app.call(
        Method::POST,
        &format!("/hooks/{path}/trigger/{token}"),
        Auth::Anonymous,
        Some(payload),
    )
    .await
}

#[tokio::test]
async fn the_token_fires_the_hook_without_credentials() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["task"] = json!({"payload": {"by": "${firedBy}", "client": {"$if": "defined('clientId')", "then": "set", "else": "unset"}}});
    app.create_hook("g/h", body).await;
    let token = token(&app, "g/h").await;
    assert_eq!(
        token,
        crate::tokens::token(&app, "g/h").await,
        "reading does not change it"
    );

    let reply = trigger_with(&app, "g/h", &token, json!({}))
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::TriggerHookResponse, &reply, false);
    let task = app.submitted_task(reply["taskId"].as_str().unwrap()).await;
    assert_eq!(task["task"]["payload"]["by"], "triggerHookWithToken");
    assert_eq!(
        task["task"]["payload"]["client"], "unset",
        "token triggers carry no clientId"
    );
    assert_eq!(
        app.last_fires("g/h", "").await["lastFires"][0]["firedBy"],
        "triggerHookWithToken"
    );
}

#[tokio::test]
async fn a_token_trigger_without_a_body_counts_as_an_empty_payload() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let token = token(&app, "g/h").await;
    let reply = app
        .send(reqwest::Client::new().post(format!(
            "{}/api/hooks/v1/hooks/g/h/trigger/{token}",
            app.address
        )))
        .await;
    reply.expect(200);
}

#[tokio::test]
async fn a_wrong_token_and_an_unknown_hook_get_the_same_401() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let wrong = trigger_with(&app, "g/h", "wrong-token", json!({})).await;
    let unknown = trigger_with(&app, "g/nosuch", "wrong-token", json!({})).await;
    let wrong_message = wrong.expect_error(401, "AuthenticationFailed");
    let unknown_message = unknown.expect_error(401, "AuthenticationFailed");
    assert_eq!(wrong_message, unknown_message);
    assert_eq!(
        app.status("g/h").await["lastFire"],
        json!({"result": "no-fire"})
    );
}

#[tokio::test]
async fn a_reset_token_replaces_the_old_one_at_once() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let old = token(&app, "g/h").await;
    let reset = app
        .call(Method::POST, "/hooks/g/h/token", Auth::Root, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::TriggerTokenResponse, &reset, false);
    let new = reset["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(token(&app, "g/h").await, new);
    trigger_with(&app, "g/h", &old, json!({}))
        .await
        .expect_error(401, "AuthenticationFailed");
    trigger_with(&app, "g/h", new, json!({})).await.expect(200);
}

#[tokio::test]
async fn tokens_of_a_missing_hook_are_not_found() {
    let app = spawn_app().await;
    app.call(Method::GET, "/hooks/g/none/token", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
    app.call(Method::POST, "/hooks/g/none/token", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn a_recreated_hook_gets_a_new_token() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let old = token(&app, "g/h").await;
    app.call(Method::DELETE, "/hooks/g/h", Auth::Root, None)
        .await
        .expect(200);
    app.create_hook("g/h", hook_body()).await;
    trigger_with(&app, "g/h", &old, json!({}))
        .await
        .expect_error(401, "AuthenticationFailed");
}
