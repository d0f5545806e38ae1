//! Extension: render without firing (`POST /hooks/{g}/{h}/render`, `POST /render`). A render
//! answers what a fire would validate, render and check, and leaves no trace: no task, no fire
//! in the history, no count.

use hookd::api::schemas::SchemaId;
use hookd_testkit::app::{
    assert_matches_schemas, client, hook_body, spawn_app_with, Auth, Reply, TestApp,
};
use reqwest::Method;
use serde_json::{json, Value};

const TASK_ID: &str = "fN1SbArXTPSVFNUvaOlinQ";

/// A hook whose task shows its context, which a payload with `go: false` declines, whose
/// trigger schema wants an integer `n`, and whose task asks for the scopes in `payload.scopes`.
fn preview_hook() -> Value {
    let mut body = hook_body();
    body["triggerSchema"] = json!({
        "type": "object",
        "properties": {"n": {"type": "integer"}, "go": {"type": "boolean"}},
        "required": ["n"],
    });
    body["task"] = json!({
        "$let": {
            "go": {"$if": "'go' in payload", "then": {"$eval": "payload.go"}, "else": true},
        },
        "in": {
            "$if": "go",
            "then": {
                "provisionerId": "p",
                "workerType": "w",
                "scopes": {"$if": "'scopes' in payload", "then": {"$eval": "payload.scopes"}, "else": []},
                "metadata": {"name": "t"},
                "payload": {
                    "n": {"$eval": "payload.n"},
                    "now": {"$eval": "now"},
                    "taskId": {"$eval": "taskId"},
                    "firedBy": {"$eval": "firedBy"},
                    "deadline": {"$fromNow": "1 hour"},
                },
            },
            "else": null,
        },
    });
    body
}

async fn app() -> TestApp {
    let app = spawn_app_with(|s| {
        s.clients = vec![client("reader", &["hooks:get:g:h"]), client("nobody", &[])];
    })
    .await;
    app.create_hook("g/h", preview_hook()).await;
    app
}

async fn render(app: &TestApp, auth: Auth<'_>, body: Value) -> Reply {
    let reply = app
        .call(Method::POST, "/hooks/g/h/render", auth, Some(body))
        .await;
    if reply.status.is_success() {
        assert_matches_schemas(SchemaId::RenderResponse, &reply.body, true);
    }
    reply
}

#[tokio::test]
async fn a_render_is_the_task_a_fire_submits_and_leaves_no_trace() {
    let app = app().await;
    let payload = json!({"n": 1, "taskId": TASK_ID});
    let preview = render(&app, Auth::Root, json!({ "payload": payload }))
        .await
        .expect(200);
    assert_eq!(preview["declined"], false);
    assert_eq!(preview["schemaErrors"], json!([]));
    assert_eq!(preview["missingScopes"], json!([]));
    assert_eq!(preview["task"]["payload"]["firedBy"], "triggerHook");
    assert_eq!(preview["task"]["payload"]["taskId"], TASK_ID);

    // Nothing was submitted, recorded or counted.
    app.call(Method::GET, &format!("/tasks/{TASK_ID}"), Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
    assert_eq!(app.last_fires("g/h", "").await["lastFires"], json!([]));
    let scrape = app.metrics().await;
    assert!(!scrape.contains("hookd_fires_total"), "{scrape}");

    app.trigger("g/h", payload).await.expect(200);
    let submitted = app.submitted_task(TASK_ID).await["task"].clone();
    assert_eq!(preview["task"], submitted);
    assert_eq!(
        preview["taskBytes"],
        serde_json::to_vec(&submitted).unwrap().len()
    );
}

#[tokio::test]
async fn now_task_id_and_fired_by_given_in_the_request_are_those_of_the_render() {
    let app = app().await;
    let preview = render(
        &app,
        Auth::Root,
        json!({
            "payload": {"n": 2},
            "now": "2030-01-01T00:00:00.000Z",
            "taskId": TASK_ID,
            "firedBy": "triggerHookWithToken",
        }),
    )
    .await
    .expect(200);
    let task = &preview["task"];
    assert_eq!(task["payload"]["now"], "2030-01-01T00:00:00.000Z");
    assert_eq!(task["payload"]["deadline"], "2030-01-01T01:00:00.000Z");
    assert_eq!(task["created"], "2030-01-01T00:00:00.000Z");
    assert_eq!(task["payload"]["taskId"], TASK_ID);
    assert_eq!(task["payload"]["firedBy"], "triggerHookWithToken");
}

#[tokio::test]
async fn a_declined_render_has_no_task() {
    let app = app().await;
    let preview = render(&app, Auth::Root, json!({"payload": {"n": 1, "go": false}}))
        .await
        .expect(200);
    assert_eq!(
        preview,
        json!({"task": null, "declined": true, "schemaErrors": [], "missingScopes": [], "taskBytes": 0})
    );
}

#[tokio::test]
async fn every_schema_error_of_the_payload_is_listed() {
    let app = app().await;
    let preview = render(&app, Auth::Root, json!({"payload": {"go": 1}}))
        .await
        .expect(200);
    assert_eq!(preview["task"], Value::Null);
    assert_eq!(preview["declined"], false);
    let errors = preview["schemaErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.as_str().unwrap().contains("/go")));
}

#[tokio::test]
async fn scopes_the_hook_does_not_hold_are_listed_with_the_task() {
    let app = app().await;
    let preview = render(
        &app,
        Auth::Root,
        json!({"payload": {"n": 1, "scopes": ["queue:route:x", "secrets:get:y"]}}),
    )
    .await
    .expect(200);
    assert_eq!(
        preview["missingScopes"],
        json!(["queue:route:x", "secrets:get:y"])
    );
    assert_eq!(
        preview["task"]["scopes"],
        json!(["queue:route:x", "secrets:get:y"])
    );
}

#[tokio::test]
async fn rendering_a_stored_hook_takes_the_scope_to_read_it() {
    let app = app().await;
    render(&app, Auth::Anonymous, json!({"payload": {"n": 1}}))
        .await
        .expect_error(403, "InsufficientScopes");
    let message = render(
        &app,
        Auth::Client("nobody", "nobody-token"),
        json!({"payload": {"n": 1}}),
    )
    .await
    .expect_error(403, "InsufficientScopes");
    assert!(message.contains("hooks:get:g:h"), "{message}");
    render(
        &app,
        Auth::Client("reader", "reader-token"),
        json!({"payload": {"n": 1}}),
    )
    .await
    .expect(200);
    app.call(
        Method::POST,
        "/hooks/g/nope/render",
        Auth::Root,
        Some(json!({"payload": {}})),
    )
    .await
    .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn bad_render_requests_are_told_what_is_wrong() {
    let app = app().await;
    for body in [
        json!({}),
        json!({"payload": []}),
        json!({"payload": {}, "taskId": "nope"}),
        json!({"payload": {}, "firedBy": "nobody"}),
        json!({"payload": {}, "now": "yesterday"}),
        json!({"payload": {}, "hook": preview_hook()}),
    ] {
        render(&app, Auth::Root, body.clone())
            .await
            .expect_error(400, "InputValidationError");
    }
    let mut broken = preview_hook();
    broken["task"] = json!({"$eval": "nothing.here"});
    app.call(Method::POST, "/hooks/g/h", Auth::Root, Some(broken))
        .await
        .expect(200);
    let message = render(&app, Auth::Root, json!({"payload": {"n": 1}}))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("JSON-e"), "{message}");
}

fn candidate() -> Value {
    let mut hook = preview_hook();
    hook["hookGroupId"] = json!("draft");
    hook["hookId"] = json!("new");
    hook
}

#[tokio::test]
async fn a_definition_that_is_not_stored_renders_for_any_authenticated_client() {
    let app = app().await;
    let body = json!({"hook": candidate(), "payload": {"n": 3}, "taskId": TASK_ID});
    let preview = app
        .call(
            Method::POST,
            "/render",
            Auth::Client("nobody", "nobody-token"),
            Some(body.clone()),
        )
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::RenderResponse, &preview, true);
    assert_eq!(preview["task"]["payload"]["n"], 3);
    app.call(Method::GET, "/hooks/draft/new", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
    app.call(Method::POST, "/render", Auth::Anonymous, Some(body))
        .await
        .expect_error(401, "AuthenticationFailed");
}

#[tokio::test]
async fn an_invalid_definition_is_refused_as_create_hook_refuses_it() {
    let app = app().await;
    let mut no_metadata = candidate();
    no_metadata.as_object_mut().unwrap().remove("metadata");
    let mut no_ids = candidate();
    no_ids.as_object_mut().unwrap().remove("hookId");
    for hook in [no_metadata, no_ids, json!([])] {
        app.call(
            Method::POST,
            "/render",
            Auth::Root,
            Some(json!({"hook": hook, "payload": {}})),
        )
        .await
        .expect_error(400, "InputValidationError");
    }
    let mut bad_schedule = candidate();
    bad_schedule["schedule"] = json!(["not cron"]);
    let reply = app
        .call(
            Method::POST,
            "/render",
            Auth::Root,
            Some(json!({"hook": bad_schedule, "payload": {}})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 400, "{:#}", reply.body);
}

#[tokio::test]
async fn a_render_is_bounded_as_a_fire_is_and_nothing_is_recorded() {
    let app = spawn_app_with(|s| s.render_limits.max_task_bytes = 4096).await;
    let mut body = hook_body();
    body["task"]["payload"] = json!({"$map": {"$eval": "range(0, 2000)"}, "each(x)": "item ${x}"});
    app.create_hook("g/h", body).await;
    let message = render(&app, Auth::Root, json!({"payload": {}}))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("limit of 4096"), "{message}");
    assert_eq!(app.last_fires("g/h", "").await["lastFires"], json!([]));
}
