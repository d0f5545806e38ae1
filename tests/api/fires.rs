//! Fire history: getHookStatus and listLastFires with pagination.

use chrono::Duration;
use hookd_testkit::app::{hook_body, spawn_app, Auth};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn status_of_a_hook_that_never_fired_is_no_fire() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let status = app.status("g/h").await;
    assert_eq!(status, json!({"lastFire": {"result": "no-fire"}}));
}

#[tokio::test]
async fn status_shows_the_latest_fire() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    app.trigger("g/h", json!({})).await.expect(200);
    app.clock.advance(Duration::seconds(30));
    let id = app.trigger("g/h", json!({})).await.expect(200)["taskId"].clone();
    let status = app.status("g/h").await;
    assert_eq!(
        status["lastFire"],
        json!({"result": "success", "taskId": id, "time": "2026-05-01T10:00:30.000Z"})
    );
}

#[tokio::test]
async fn status_and_fires_of_a_missing_hook_are_not_found() {
    let app = spawn_app().await;
    for path in ["/hooks/g/none/status", "/hooks/g/none/last-fires"] {
        app.call(Method::GET, path, Auth::Root, None)
            .await
            .expect_error(404, "ResourceNotFound");
    }
}

#[tokio::test]
async fn fires_page_newest_first_and_every_fire_appears_once() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    app.create_hook("g/other", hook_body()).await;
    let mut expected = Vec::new();
    for i in 0..7 {
        // Pairs of fires share a timestamp, so the order must not rest on time alone.
        if i % 2 == 0 {
            app.clock.advance(Duration::seconds(1));
        }
        expected.push(app.trigger("g/h", json!({})).await.expect(200)["taskId"].clone());
        app.trigger("g/other", json!({})).await.expect(200);
    }
    expected.reverse();

    let mut seen = Vec::new();
    let mut query = "?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = app.last_fires("g/h", &query).await;
        pages += 1;
        let fires = page["lastFires"].as_array().unwrap();
        assert!(fires.len() <= 3);
        seen.extend(fires.iter().map(|f| f["taskId"].clone()));
        match page.get("continuationToken") {
            Some(token) => {
                query = format!("?limit=3&continuationToken={}", token.as_str().unwrap())
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    // Same-time fires may come in either order; each fire must appear exactly once.
    let mut sorted_seen = seen.clone();
    sorted_seen.sort_by_key(|v| v.to_string());
    let mut sorted_expected = expected.clone();
    sorted_expected.sort_by_key(|v| v.to_string());
    assert_eq!(sorted_seen, sorted_expected);
    let all = app.last_fires("g/h", "").await;
    let times: Vec<&str> = all["lastFires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["taskCreateTime"].as_str().unwrap())
        .collect();
    let mut descending = times.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, descending, "newest first");
    assert!(all.get("continuationToken").is_none());
}

#[tokio::test]
async fn bad_limits_and_tokens_are_invalid_arguments() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    for query in [
        "?limit=0",
        "?limit=1001",
        "?limit=ten",
        "?continuationToken=garbage",
    ] {
        app.call(
            Method::GET,
            &format!("/hooks/g/h/last-fires{query}"),
            Auth::Root,
            None,
        )
        .await
        .expect_error(400, "InvalidRequestArguments");
    }
}

#[tokio::test]
async fn removing_a_hook_removes_its_history() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    app.trigger("g/h", json!({})).await.expect(200);
    app.call(Method::DELETE, "/hooks/g/h", Auth::Root, None)
        .await
        .expect(200);
    app.create_hook("g/h", hook_body()).await;
    assert_eq!(app.last_fires("g/h", "").await["lastFires"], json!([]));
}

#[tokio::test]
async fn status_of_a_scheduled_hook_names_the_next_scheduled_date() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["schedule"] = json!(["0 12 * * *", "30 11 * * *"]);
    app.create_hook("g/h", body).await;
    let status = app.status("g/h").await;
    assert_eq!(status["nextScheduledDate"], "2026-05-01T11:30:00.000Z");
}
