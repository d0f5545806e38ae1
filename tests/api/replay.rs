//! Extension: what fires were fired with (`GET .../fires`, `GET .../fires/{fireId}`) and
//! replaying them (`POST .../fires/{fireId}/replay`).

use hookd::api::schemas::SchemaId;
use hookd_testkit::app::{
    assert_matches_schemas, client, hook_body, spawn_app, spawn_app_with, Auth, Reply, TestApp,
};
use reqwest::Method;
use serde_json::{json, Value};

/// A hook whose task shows its payload's `n`, `firedBy` and `clientId`, with `capture`.
fn replay_hook(capture: Option<Value>) -> Value {
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object"});
    body["task"] = json!({
        "provisionerId": "p",
        "workerType": "w",
        "metadata": {"name": "t"},
        "payload": {"n": {"$eval": "payload.n"}, "by": {"$eval": "firedBy"}, "client": {"$eval": "clientId"}},
    });
    if let Some(capture) = capture {
        body["capture"] = capture;
    }
    body
}

async fn app() -> TestApp {
    let app = spawn_app_with(|s| {
        s.clients = vec![
            client("firer", &["hooks:trigger-hook:g/h"]),
            client("reader", &["hooks:list-last-fires:g/h"]),
        ];
        s.fire_context_limit = 200;
    })
    .await;
    app.create_hook("g/h", replay_hook(None)).await;
    app
}

async fn fires(app: &TestApp, hook: &str) -> Vec<Value> {
    let body = app
        .call(
            Method::GET,
            &format!("/hooks/{hook}/fires"),
            Auth::Root,
            None,
        )
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ListFiresResponse, &body, true);
    body["fires"].as_array().unwrap().clone()
}

/// Triggers `g/h` with `payload` and answers the id of the fire it recorded.
async fn fire_id_of(app: &TestApp, payload: Value) -> String {
    let task_id = app.trigger("g/h", payload).await.expect(200)["taskId"].clone();
    let fire = fires(app, "g/h")
        .await
        .into_iter()
        .find(|f| f["taskId"] == task_id)
        .expect("the fire is listed");
    fire["fireId"].as_str().unwrap().to_owned()
}

async fn replay(app: &TestApp, auth: Auth<'_>, fire_id: &str, body: Value) -> Reply {
    let reply = app
        .call(
            Method::POST,
            &format!("/hooks/g/h/fires/{fire_id}/replay"),
            auth,
            Some(body),
        )
        .await;
    if reply.status.is_success() && reply.body.get("diff").is_some() {
        assert_matches_schemas(SchemaId::ReplayDryRunResponse, &reply.body, true);
    }
    reply
}

#[tokio::test]
async fn a_fire_keeps_its_payload_caller_and_template_and_last_fires_keeps_its_shape() {
    let app = app().await;
    let fire_id = fire_id_of(&app, json!({"n": 1})).await;

    let fire = app
        .call(
            Method::GET,
            &format!("/hooks/g/h/fires/{fire_id}"),
            Auth::Root,
            None,
        )
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::FireRecord, &fire, true);
    let context = &fire["context"];
    assert_eq!(context["payloadKept"], "whole");
    assert_eq!(context["payload"], json!({"n": 1}));
    assert_eq!(context["trigger"], json!({"clientId": "root"}));
    assert_eq!(context["template"], replay_hook(None)["task"]);
    // listLastFires is checked against Taskcluster's schema by the test kit.
    assert_eq!(
        app.last_fires("g/h", "").await["lastFires"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn redaction_removes_the_listed_fields_before_anything_is_stored() {
    let app = app().await;
    app.create_hook(
        "g/r",
        replay_hook(Some(json!({"redact": ["/secret", "/deep/token"]}))),
    )
    .await;
    let secret = "s3cr3t-value-that-must-not-be-stored";
    let payload = json!({"n": 1, "secret": secret, "deep": {"token": secret, "keep": 2}});
    app.call(
        Method::POST,
        "/hooks/g/r/trigger",
        Auth::Root,
        Some(payload),
    )
    .await
    .expect(200);

    let fire = &fires(&app, "g/r").await[0];
    assert_eq!(fire["context"]["payloadKept"], "redacted");
    assert_eq!(
        fire["context"]["payload"],
        json!({"n": 1, "deep": {"keep": 2}})
    );
    assert_eq!(
        fire["context"]["redacted"],
        json!(["/secret", "/deep/token"])
    );
    // On SQLite every stored byte is in the data dir: the secret is in none of its files.
    for entry in std::fs::read_dir(app.data_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "the secret was stored");
    }
    // A redacted payload is not replayed as if it were whole.
    let fire_id = fire["fireId"].as_str().unwrap();
    let message = app
        .call(
            Method::POST,
            &format!("/hooks/g/r/fires/{fire_id}/replay"),
            Auth::Root,
            Some(json!({"template": "current", "taskId": "new"})),
        )
        .await
        .expect_error(409, "RequestConflict");
    assert!(message.contains("redacted"), "{message}");
}

#[tokio::test]
async fn a_larger_payload_is_kept_truncated_and_replays_only_with_an_override() {
    let app = app().await;
    let big = "x".repeat(300);
    let fire_id = fire_id_of(&app, json!({"n": 1, "big": big})).await;
    let fire = &fires(&app, "g/h").await[0];
    assert_eq!(fire["context"]["payloadKept"], "truncated");
    assert!(fire["context"].get("payload").is_none());
    assert_eq!(
        fire["context"]["truncatedPayload"].as_str().unwrap().len(),
        200
    );

    let request = json!({"template": "recorded", "taskId": "new"});
    let message = replay(&app, Auth::Root, &fire_id, request.clone())
        .await
        .expect_error(409, "RequestConflict");
    assert!(message.contains("larger than the size kept"), "{message}");
    let mut with_override = request;
    with_override["payloadOverride"] = json!({"n": 7});
    let task_id = replay(&app, Auth::Root, &fire_id, with_override)
        .await
        .expect(200)["taskId"]
        .clone();
    let task = app.submitted_task(task_id.as_str().unwrap()).await;
    assert_eq!(task["task"]["payload"]["n"], 7);
}

#[tokio::test]
async fn capture_none_keeps_no_payload_and_says_so_on_replay() {
    let app = app().await;
    let body = replay_hook(Some(json!({"payload": "none"})));
    app.call(Method::POST, "/hooks/g/h", Auth::Root, Some(body))
        .await
        .expect(200);
    let fire_id = fire_id_of(&app, json!({"n": 1})).await;
    let fire = &fires(&app, "g/h").await[0];
    assert_eq!(fire["context"]["payloadKept"], "none");
    assert!(fire["context"].get("payload").is_none());
    let message = replay(
        &app,
        Auth::Root,
        &fire_id,
        json!({"template": "current", "taskId": "new"}),
    )
    .await
    .expect_error(409, "RequestConflict");
    assert!(message.contains("keeps no payloads"), "{message}");
}

#[tokio::test]
async fn replay_with_a_new_task_id_submits_a_new_task_recorded_as_a_replay_by_its_caller() {
    let app = app().await;
    let fire_id = fire_id_of(&app, json!({"n": 3})).await;
    let original = fires(&app, "g/h").await[0]["taskId"].clone();

    let request = json!({"template": "recorded", "taskId": "new"});
    let task_id = replay(
        &app,
        Auth::Client("firer", "firer-token"),
        &fire_id,
        request,
    )
    .await
    .expect(200)["taskId"]
        .clone();
    assert_ne!(task_id, original);
    let task = app.submitted_task(task_id.as_str().unwrap()).await;
    assert_eq!(
        task["task"]["payload"],
        json!({"n": 3, "by": "triggerHook", "client": "root"}),
        "the recorded caller, not the replaying one, is in the context"
    );
    let history = fires(&app, "g/h").await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["taskId"], task_id);
    assert_eq!(
        history[0]["replay"],
        json!({"fireId": fire_id, "clientId": "firer"})
    );
}

#[tokio::test]
async fn replay_with_the_same_task_id_is_idempotent_and_a_changed_template_conflicts() {
    let app = app().await;
    let fire_id = fire_id_of(&app, json!({"n": 1})).await;
    let original = fires(&app, "g/h").await[0]["taskId"].clone();
    let same = json!({"template": "current", "taskId": "same"});

    for attempt in 1..=2 {
        let answer = replay(&app, Auth::Root, &fire_id, same.clone())
            .await
            .expect(200);
        assert_eq!(answer["taskId"], original, "attempt {attempt}");
    }
    assert_eq!(fires(&app, "g/h").await.len(), 2, "one fire and one replay");

    let mut changed = replay_hook(None);
    changed["task"]["payload"]["extra"] = json!(true);
    app.call(Method::POST, "/hooks/g/h", Auth::Root, Some(changed))
        .await
        .expect(200);
    replay(&app, Auth::Root, &fire_id, same)
        .await
        .expect_error(409, "RequestConflict");
    let recorded = json!({"template": "recorded", "taskId": "same"});
    let answer = replay(&app, Auth::Root, &fire_id, recorded)
        .await
        .expect(200);
    assert_eq!(
        answer["taskId"], original,
        "the recorded template makes the same task"
    );
}

#[tokio::test]
async fn a_dry_run_shows_the_task_and_its_differences_and_changes_nothing() {
    let app = app().await;
    let fire_id = fire_id_of(&app, json!({"n": 1})).await;
    let mut changed = replay_hook(None);
    changed["task"]["payload"]["n"] = json!({"$eval": "payload.n + 1"});
    app.call(Method::POST, "/hooks/g/h", Auth::Root, Some(changed))
        .await
        .expect(200);

    let request = json!({"template": "current", "taskId": "same", "dryRun": true});
    let answer = replay(&app, Auth::Root, &fire_id, request)
        .await
        .expect(200);
    assert_eq!(answer["task"]["payload"]["n"], 2);
    assert_eq!(answer["submitted"]["payload"]["n"], 1);
    assert_eq!(
        answer["diff"],
        json!([{"path": "/payload/n", "before": 1, "after": 2}])
    );

    let recorded = json!({"template": "recorded", "taskId": "same", "dryRun": true});
    let answer = replay(&app, Auth::Root, &fire_id, recorded)
        .await
        .expect(200);
    assert_eq!(
        answer["diff"],
        json!([]),
        "the recorded template renders the submitted task"
    );
    assert_eq!(
        fires(&app, "g/h").await.len(),
        1,
        "a dry run records nothing"
    );
}

#[tokio::test]
async fn replay_needs_the_trigger_scope_and_names_an_existing_fire_of_the_hook() {
    let app = app().await;
    let fire_id = fire_id_of(&app, json!({"n": 1})).await;
    let request = json!({"template": "current", "taskId": "new"});
    replay(
        &app,
        Auth::Client("reader", "reader-token"),
        &fire_id,
        request.clone(),
    )
    .await
    .expect_error(403, "InsufficientScopes");
    let unknown = "01890a5d-ac96-774b-bcce-b302099a8057";
    replay(&app, Auth::Root, unknown, request.clone())
        .await
        .expect_error(404, "ResourceNotFound");
    replay(&app, Auth::Root, "not-a-fire", request.clone())
        .await
        .expect_error(400, "InvalidRequestArguments");
    app.create_hook("g/other", replay_hook(None)).await;
    app.call(
        Method::POST,
        &format!("/hooks/g/other/fires/{fire_id}/replay"),
        Auth::Root,
        Some(request.clone()),
    )
    .await
    .expect_error(404, "ResourceNotFound");
    app.call(
        Method::POST,
        &format!("/hooks/g/none/fires/{fire_id}/replay"),
        Auth::Root,
        Some(request),
    )
    .await
    .expect_error(404, "ResourceNotFound");
    replay(
        &app,
        Auth::Root,
        &fire_id,
        json!({"template": "old", "taskId": "new"}),
    )
    .await
    .expect_error(400, "InputValidationError");
}

#[tokio::test]
async fn a_scheduled_slot_without_payload_replays_as_the_same_task_and_is_recorded_apart() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["schedule"] = json!(["* * * * * *"]);
    body["task"]["metadata"]["name"] = json!("${firedBy} at ${now}");
    app.create_hook("g/cron", body).await;
    app.tick().await;
    app.clock.advance(chrono::Duration::seconds(1));
    app.tick().await;
    let slot = fires(&app, "g/cron").await[0].clone();
    assert_eq!(slot["context"]["payloadKept"], "absent");

    let fire_id = slot["fireId"].as_str().unwrap();
    let path = format!("/hooks/g/cron/fires/{fire_id}/replay");
    let same = json!({"template": "recorded", "taskId": "same"});
    let answer = app
        .call(Method::POST, &path, Auth::Root, Some(same))
        .await
        .expect(200);
    assert_eq!(
        answer["taskId"], slot["taskId"],
        "the slot's own task, accepted once"
    );
    let history = fires(&app, "g/cron").await;
    let replays: Vec<&Value> = history
        .iter()
        .filter(|f| f.get("replay").is_some())
        .collect();
    assert_eq!(
        replays.len(),
        1,
        "the replay has a record of its own: {history:#?}"
    );
    assert_eq!(replays[0]["replay"]["fireId"], fire_id);
    assert_eq!(replays[0]["firedBy"], "schedule");
}
