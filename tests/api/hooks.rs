//! Hook definitions: create, update, get, list and remove.

use hookd::api::schemas::SchemaId;
use hookd_testkit::app::{assert_matches_schemas, hook_body, spawn_app, Auth};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn create_fills_defaults_and_get_returns_the_same_definition() {
    let app = spawn_app().await;
    let created = app.create_hook("nightly/linux", hook_body()).await;
    assert_eq!(created["hookGroupId"], "nightly");
    assert_eq!(created["hookId"], "linux");
    assert_eq!(created["schedule"], json!([]));
    assert_eq!(created["bindings"], json!([]));
    assert_eq!(created["metadata"]["emailOnError"], true);
    assert_eq!(
        created["triggerSchema"],
        json!({"type": "object", "additionalProperties": false})
    );
    let fetched = app
        .call(Method::GET, "/hooks/nightly/linux", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(fetched, created);
    assert!(
        fetched.get("scopes").is_none(),
        "no extension field unless set"
    );
}

#[tokio::test]
async fn an_identical_create_is_idempotent_and_a_different_one_conflicts() {
    let app = spawn_app().await;
    let first = app.create_hook("g/h", hook_body()).await;
    assert_eq!(app.create_hook("g/h", hook_body()).await, first);
    let mut other = hook_body();
    other["metadata"]["name"] = json!("something else");
    app.call(Method::PUT, "/hooks/g/h", Auth::Root, Some(other))
        .await
        .expect_error(409, "RequestConflict");
    let stored = app
        .call(Method::GET, "/hooks/g/h", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(stored, first, "a conflicting create changes nothing");
}

#[tokio::test]
async fn concurrent_creates_of_one_hook_all_succeed_when_identical() {
    let app = spawn_app().await;
    let calls =
        (0..8).map(|_| app.call(Method::PUT, "/hooks/g/race", Auth::Root, Some(hook_body())));
    for reply in futures_util::future::join_all(calls).await {
        reply.expect(200);
    }
}

#[tokio::test]
async fn concurrent_different_creates_of_one_hook_have_one_winner_and_409s() {
    let app = spawn_app().await;
    let bodies: Vec<_> = (0..8)
        .map(|i| {
            let mut body = hook_body();
            body["metadata"]["name"] = json!(format!("writer {i}"));
            body
        })
        .collect();
    let calls = bodies
        .iter()
        .map(|b| app.call(Method::PUT, "/hooks/g/race", Auth::Root, Some(b.clone())));
    let replies = futures_util::future::join_all(calls).await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{replies:?}");
    for reply in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(reply.status, 409, "{:?}", reply.body);
        assert_eq!(reply.body["code"], "RequestConflict");
    }
    let stored = app
        .call(Method::GET, "/hooks/g/race", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(
        stored["metadata"]["name"],
        winners[0].body["metadata"]["name"]
    );
}

#[tokio::test]
async fn a_percent_encoded_slash_is_part_of_the_hook_id() {
    let app = spawn_app().await;
    let created = app.create_hook("g/release%2Flinux%2F64", hook_body()).await;
    assert_eq!(created["hookId"], "release/linux/64");
    let fetched = app
        .call(
            Method::GET,
            "/hooks/g/release%2Flinux%2F64",
            Auth::Root,
            None,
        )
        .await
        .expect(200);
    assert_eq!(fetched["hookId"], "release/linux/64");
    let listed = app
        .call(Method::GET, "/hooks/g", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(listed["hooks"][0]["hookId"], "release/linux/64");
    // Without encoding, the slash splits the path and no route matches.
    app.call(Method::GET, "/hooks/g/release/linux/64", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn groups_and_hooks_are_listed_sorted() {
    let app = spawn_app().await;
    for path in ["b/two", "a/x", "b/one"] {
        app.create_hook(path, hook_body()).await;
    }
    let groups = app
        .call(Method::GET, "/hooks", Auth::Root, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ListHookGroupsResponse, &groups, false);
    assert_eq!(groups, json!({"groups": ["a", "b"]}));
    let hooks = app
        .call(Method::GET, "/hooks/b", Auth::Root, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ListHooksResponse, &hooks, false);
    let ids: Vec<&str> = hooks["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hookId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["one", "two"]);
}

#[tokio::test]
async fn listing_a_group_without_hooks_is_not_found() {
    let app = spawn_app().await;
    app.call(Method::GET, "/hooks/empty", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn update_replaces_the_definition_and_keeps_bindings_when_absent() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["bindings"] = json!([{"exchange": "exchange/x", "routingKeyPattern": "#"}]);
    body["schedule"] = json!(["0 0 * * *"]);
    app.create_hook("g/h", body).await;

    let mut update = hook_body();
    update["metadata"]["description"] = json!("changed");
    let updated = app
        .call(Method::POST, "/hooks/g/h", Auth::Root, Some(update))
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::HookDefinition, &updated, false);
    assert_eq!(updated["metadata"]["description"], "changed");
    assert_eq!(
        updated["bindings"],
        json!([{"exchange": "exchange/x", "routingKeyPattern": "#"}])
    );
    assert_eq!(
        updated["schedule"],
        json!([]),
        "other fields take their defaults"
    );

    let mut clear = hook_body();
    clear["bindings"] = json!([]);
    let cleared = app
        .call(Method::POST, "/hooks/g/h", Auth::Root, Some(clear))
        .await
        .expect(200);
    assert_eq!(cleared["bindings"], json!([]));
}

#[tokio::test]
async fn updating_a_missing_hook_is_not_found() {
    let app = spawn_app().await;
    app.call(Method::POST, "/hooks/g/none", Auth::Root, Some(hook_body()))
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn remove_deletes_the_hook_and_is_fine_when_absent() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let removed = app
        .call(Method::DELETE, "/hooks/g/h", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(removed, json!({}));
    app.call(Method::GET, "/hooks/g/h", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
    let again = app
        .call(Method::DELETE, "/hooks/g/h", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(again, json!({}));
    let groups = app
        .call(Method::GET, "/hooks", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(groups, json!({"groups": []}));
}

#[tokio::test]
async fn ids_in_the_body_must_match_the_path() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["hookGroupId"] = json!("g");
    body["hookId"] = json!("h");
    app.create_hook("g/h", body.clone()).await;
    body["hookId"] = json!("other");
    let message = app
        .call(Method::PUT, "/hooks/g/h2", Auth::Root, Some(body))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("hookId"), "{message}");
}

#[tokio::test]
async fn an_invalid_trigger_schema_is_refused() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "not-a-type"});
    let message = app
        .call(Method::PUT, "/hooks/g/h", Auth::Root, Some(body))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("triggerSchema"), "{message}");
    app.call(Method::GET, "/hooks/g/h", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn schema_violations_are_all_listed() {
    let app = spawn_app().await;
    let body = json!({
        "metadata": {"name": "x".repeat(300), "description": "d"},
        "task": "not an object",
        "schedule": ["a", "a"],
    });
    let message = app
        .call(Method::PUT, "/hooks/g/h", Auth::Root, Some(body))
        .await
        .expect_error(400, "InputValidationError");
    for part in ["/metadata/name", "owner", "/task", "/schedule"] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }
}

#[tokio::test]
async fn owner_scopes_round_trip_and_survive_an_update_without_them() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["scopes"] = json!(["queue:create-task:low"]);
    let created = app.create_hook("g/h", body).await;
    assert_eq!(created["scopes"], json!(["queue:create-task:low"]));
    let updated = app
        .call(Method::POST, "/hooks/g/h", Auth::Root, Some(hook_body()))
        .await
        .expect(200);
    assert_eq!(updated["scopes"], json!(["queue:create-task:low"]));
}

#[tokio::test]
async fn hooks_and_fires_survive_a_restart() {
    let app = spawn_app().await;
    let created = app.create_hook("g/h", hook_body()).await;
    let token = app
        .call(Method::GET, "/hooks/g/h/token", Auth::Root, None)
        .await
        .expect(200)["token"]
        .clone();
    let task_id = app.trigger("g/h", json!({})).await.expect(200)["taskId"].clone();

    let app = app.restart().await;
    let fetched = app
        .call(Method::GET, "/hooks/g/h", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(fetched, created);
    let fires = app.last_fires("g/h", "").await;
    assert_eq!(fires["lastFires"][0]["taskId"], task_id);
    let after = app
        .call(Method::GET, "/hooks/g/h/token", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(
        after["token"], token,
        "the token opens with the persisted key"
    );
    app.submitted_task(task_id.as_str().unwrap()).await;
}

#[tokio::test]
async fn an_invalid_schedule_entry_is_refused_naming_it() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["schedule"] = json!(["0 0 * * *", "61 * * * *"]);
    let message = app
        .call(Method::PUT, "/hooks/g/h", Auth::Root, Some(body))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("61 * * * *"), "{message}");
    app.call(Method::GET, "/hooks/g/h", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn a_schedule_field_that_matches_nothing_is_refused_at_once() {
    // A stray comma empties croner's minute list; searching for its next time took seconds.
    let app = spawn_app().await;
    let mut body = hook_body();
    body["schedule"] = json!([", * * * *"]);
    let message = app
        .call(Method::PUT, "/hooks/g/h", Auth::Root, Some(body))
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("stray comma"), "{message}");
}
