//! Firing through triggerHook: payload validation, rendering, defaults, scopes and the sink.

use chrono::Duration;
use hookd_testkit::app::{client, hook_body, role, spawn_app, spawn_app_with, Auth};
use reqwest::Method;
use serde_json::{json, Value};

fn echo_hook() -> Value {
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object", "properties": {"branch": {"type": "string"}}});
    body["task"] = json!({
        "payload": {
            "branch": {"$if": "'branch' in payload", "then": "${payload.branch}", "else": "none"},
            "firedBy": "${firedBy}",
            "taskId": "${taskId}",
            "now": "${now}",
            "clientId": {"$eval": "clientId"},
            "later": {"$fromNow": "1 hour"},
        },
    });
    body
}

#[tokio::test]
async fn a_trigger_submits_the_rendered_task_with_its_context_and_defaults() {
    let app = spawn_app().await;
    app.create_hook("g/h", echo_hook()).await;
    let reply = app
        .trigger("g/h", json!({"branch": "main"}))
        .await
        .expect(200);
    let task_id = reply["taskId"].as_str().unwrap();
    assert_eq!(reply["status"]["taskId"], task_id);

    let submitted = app.submitted_task(task_id).await;
    assert_eq!(submitted["hookGroupId"], "g");
    assert_eq!(submitted["hookId"], "h");
    assert_eq!(submitted["firedBy"], "triggerHook");
    let task = &submitted["task"];
    assert_eq!(task["payload"]["branch"], "main");
    assert_eq!(task["payload"]["firedBy"], "triggerHook");
    assert_eq!(task["payload"]["taskId"], task_id);
    assert_eq!(task["payload"]["clientId"], "root");
    assert_eq!(
        task["payload"]["now"], "2026-05-01T10:00:00.000Z",
        "now is the injected clock"
    );
    assert_eq!(task["payload"]["later"], "2026-05-01T11:00:00.000Z");
    assert_eq!(task["created"], "2026-05-01T10:00:00.000Z");
    assert_eq!(task["deadline"], "2026-05-02T10:00:00.000Z");
    assert_eq!(task["expires"], "2026-05-31T10:00:00.000Z");
    assert_eq!(task["taskGroupId"], task_id);

    let fires = app.last_fires("g/h", "").await;
    assert_eq!(fires["lastFires"][0]["result"], "success");
    assert_eq!(fires["lastFires"][0]["firedBy"], "triggerHook");
    assert_eq!(
        fires["lastFires"][0]["taskCreateTime"],
        "2026-05-01T10:00:00.000Z"
    );
}

#[tokio::test]
async fn template_times_win_over_the_defaults() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["task"] = json!({"created": {"$fromNow": "0 seconds"}, "deadline": {"$fromNow": "3 hours"}, "taskGroupId": "fN1SbArXTPSVFNUvaOlinQ"});
    app.create_hook("g/h", body).await;
    let task_id = app.trigger("g/h", json!({})).await.expect(200)["taskId"].clone();
    let task = app.submitted_task(task_id.as_str().unwrap()).await["task"].clone();
    assert_eq!(task["deadline"], "2026-05-01T13:00:00.000Z");
    assert_eq!(task["taskGroupId"], "fN1SbArXTPSVFNUvaOlinQ");
    assert_eq!(task["expires"], "2026-05-31T10:00:00.000Z");
}

#[tokio::test]
async fn a_payload_that_breaks_the_trigger_schema_is_refused_and_not_recorded() {
    let app = spawn_app().await;
    app.create_hook("g/h", echo_hook()).await;
    let message = app
        .trigger("g/h", json!({"branch": 42}))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("/branch"), "{message}");
    // The default schema accepts only an empty object.
    app.create_hook("g/strict", hook_body()).await;
    app.trigger("g/strict", json!({"extra": true}))
        .await
        .expect_error(400, "InputError");
    assert_eq!(
        app.status("g/h").await["lastFire"],
        json!({"result": "no-fire"})
    );
}

#[tokio::test]
async fn a_payload_task_id_is_used_when_it_is_a_slugid() {
    let app = spawn_app().await;
    let mut body = echo_hook();
    body["triggerSchema"] = json!({"type": "object"});
    app.create_hook("g/h", body).await;
    let given = "fN1SbArXTPSVFNUvaOlinQ";
    let reply = app
        .trigger("g/h", json!({"taskId": given}))
        .await
        .expect(200);
    assert_eq!(reply["taskId"], given);
    app.trigger("g/h", json!({"taskId": "not-a-slugid"}))
        .await
        .expect_error(400, "InputError");
}

#[tokio::test]
async fn the_same_task_id_with_the_same_task_is_accepted_once_and_a_different_task_conflicts() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object"});
    body["task"] = json!({"payload": {"n": {"$eval": "payload.n"}}});
    app.create_hook("g/h", body).await;
    let id = "fN1SbArXTPSVFNUvaOlinQ";
    app.trigger("g/h", json!({"taskId": id, "n": 1}))
        .await
        .expect(200);
    app.trigger("g/h", json!({"taskId": id, "n": 1}))
        .await
        .expect(200);
    app.trigger("g/h", json!({"taskId": id, "n": 2}))
        .await
        .expect_error(409, "RequestConflict");
    assert_eq!(app.submitted_task(id).await["task"]["payload"]["n"], 1);
}

#[tokio::test]
async fn a_null_render_declines_without_a_task_or_a_fire() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object"});
    body["task"] = json!({"$if": "payload.go", "then": {"payload": {}}});
    app.create_hook("g/h", body).await;
    let reply = app.trigger("g/h", json!({"go": false})).await.expect(200);
    assert_eq!(reply, json!({}));
    assert_eq!(
        app.status("g/h").await["lastFire"],
        json!({"result": "no-fire"})
    );
    assert_eq!(app.last_fires("g/h", "").await["lastFires"], json!([]));
    app.trigger("g/h", json!({"go": true})).await.expect(200);
}

#[tokio::test]
async fn a_render_error_is_an_input_error_and_an_error_fire() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["task"] = json!({"payload": {"x": {"$eval": "undefined_variable"}}});
    app.create_hook("g/h", body).await;
    let message = app
        .trigger("g/h", json!({}))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("undefined_variable"), "{message}");

    let status = app.status("g/h").await;
    assert_eq!(status["lastFire"]["result"], "error");
    assert_eq!(status["lastFire"]["error"]["code"], "InputError");
    let fire = &app.last_fires("g/h", "").await["lastFires"][0];
    assert_eq!(fire["result"], "error");
    assert!(
        fire["error"]
            .as_str()
            .unwrap()
            .contains("undefined_variable"),
        "{fire}"
    );
}

#[tokio::test]
async fn a_template_that_renders_to_a_non_object_is_an_error_fire() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["task"] = json!({"$eval": "[1, 2]"});
    app.create_hook("g/h", body).await;
    let message = app
        .trigger("g/h", json!({}))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("an array"), "{message}");
    assert_eq!(app.status("g/h").await["lastFire"]["result"], "error");
}

fn scoped_task_hook() -> Value {
    let mut body = hook_body();
    body["task"] = json!({"scopes": ["queue:create-task:low", "secrets:get:deploy"]});
    body
}

#[tokio::test]
async fn task_scopes_beyond_the_hook_role_are_refused_and_recorded() {
    let app = spawn_app_with(|s| {
        s.roles = vec![role("hook-id:g/*", &["queue:create-task:*"])];
    })
    .await;
    app.create_hook("g/h", scoped_task_hook()).await;
    let message = app
        .trigger("g/h", json!({}))
        .await
        .expect_error(403, "InsufficientScopes");
    assert!(message.contains("secrets:get:deploy"), "{message}");
    assert!(
        !message.contains("queue:create-task:low"),
        "granted scopes are not listed: {message}"
    );
    let status = app.status("g/h").await;
    assert_eq!(status["lastFire"]["error"]["code"], "InsufficientScopes");
}

#[tokio::test]
async fn task_scopes_granted_by_the_hook_role_pass() {
    let app = spawn_app_with(|s| {
        s.roles = vec![
            role("hook-id:g/h", &["assume:deployer", "queue:create-task:low"]),
            role("deployer", &["secrets:get:*"]),
        ];
    })
    .await;
    app.create_hook("g/h", scoped_task_hook()).await;
    app.trigger("g/h", json!({})).await.expect(200);
}

#[tokio::test]
async fn owner_scopes_replace_the_role_for_task_scopes() {
    let app = spawn_app_with(|s| {
        s.roles = vec![role("hook-id:g/*", &["*"])];
    })
    .await;
    let mut body = scoped_task_hook();
    body["scopes"] = json!(["queue:create-task:low"]);
    app.create_hook("g/h", body.clone()).await;
    let message = app
        .trigger("g/h", json!({}))
        .await
        .expect_error(403, "InsufficientScopes");
    assert!(message.contains("secrets:get:deploy"), "{message}");

    body["scopes"] = json!(["queue:create-task:low", "secrets:get:deploy"]);
    app.call(Method::POST, "/hooks/g/h", Auth::Root, Some(body))
        .await
        .expect(200);
    app.trigger("g/h", json!({})).await.expect(200);
}

#[tokio::test]
async fn a_client_cannot_give_a_hook_scopes_it_does_not_hold() {
    let app = spawn_app_with(|s| {
        s.clients = vec![client(
            "dev",
            &[
                "hooks:modify-hook:g/*",
                "assume:hook-id:g/*",
                "queue:create-task:low",
            ],
        )];
    })
    .await;
    let dev = Auth::Client("dev", "dev-token");
    let mut body = hook_body();
    body["scopes"] = json!(["queue:create-task:low", "secrets:get:deploy"]);
    let message = app
        .call(Method::PUT, "/hooks/g/h", dev, Some(body.clone()))
        .await
        .expect_error(403, "InsufficientScopes");
    assert!(message.contains("secrets:get:deploy"), "{message}");

    body["scopes"] = json!(["queue:create-task:low"]);
    app.call(Method::PUT, "/hooks/g/h", dev, Some(body))
        .await
        .expect(200);

    // Root widens the hook; dev may no longer update it, even without naming scopes.
    let mut wide = hook_body();
    wide["scopes"] = json!(["secrets:get:deploy"]);
    app.call(Method::POST, "/hooks/g/h", Auth::Root, Some(wide))
        .await
        .expect(200);
    app.call(Method::POST, "/hooks/g/h", dev, Some(hook_body()))
        .await
        .expect_error(403, "InsufficientScopes");
}

#[tokio::test]
async fn triggering_a_missing_hook_is_not_found() {
    let app = spawn_app().await;
    app.trigger("g/none", json!({}))
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn each_fire_uses_the_clock_at_its_time() {
    let app = spawn_app().await;
    app.create_hook("g/h", echo_hook()).await;
    app.trigger("g/h", json!({})).await.expect(200);
    app.clock.advance(Duration::minutes(5));
    let id = app.trigger("g/h", json!({})).await.expect(200)["taskId"].clone();
    let task = app.submitted_task(id.as_str().unwrap()).await["task"].clone();
    assert_eq!(task["payload"]["now"], "2026-05-01T10:05:00.000Z");
    assert_eq!(app.now().to_rfc3339(), "2026-05-01T10:05:00+00:00");
}

#[tokio::test]
async fn the_task_endpoint_answers_404_for_unknown_and_400_for_malformed_ids() {
    let app = spawn_app().await;
    app.call(
        Method::GET,
        "/tasks/fN1SbArXTPSVFNUvaOlinQ",
        Auth::Root,
        None,
    )
    .await
    .expect_error(404, "ResourceNotFound");
    app.call(Method::GET, "/tasks/nope", Auth::Root, None)
        .await
        .expect_error(400, "InvalidRequestArguments");
}
