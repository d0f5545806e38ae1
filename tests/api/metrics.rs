//! `GET /metrics` after real work: fires by trigger kind and result, trigger latency,
//! scheduler lateness, store timings, requests by route pattern, and refused webhook
//! signatures. Every app has its own registry, so exact counts hold while tests run in
//! parallel.

use chrono::Duration;
use hookd_testkit::app::{hook_body, spawn_app, Auth};
use reqwest::Method;
use serde_json::json;

use crate::webhooks::{deliver, github, webhook_hook};

const HOOK_ROUTE: &str = "/api/hooks/v1/hooks/{hookGroupId}/{hookId}";

fn fires(fired_by: &str, result: &str) -> String {
    format!(r#"hookd_fires_total{{fired_by="{fired_by}",result="{result}"}}"#)
}

fn requests(method: &str, route: &str, status: u16) -> String {
    format!(r#"hookd_http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#)
}

fn store_calls(operation: &str) -> String {
    format!(r#"hookd_store_operation_duration_seconds_count{{operation="{operation}"}}"#)
}

#[tokio::test]
async fn a_trigger_counts_one_successful_fire_its_latency_its_store_calls_and_its_route() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;

    app.trigger("g/h", json!({})).await.expect(200);

    let scrape = app.metrics().await;
    let value = |series: &str| hookd_testkit::app::metric_value(&scrape, series);
    assert_eq!(
        value(&fires("triggerHook", "success")),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(value(&fires("triggerHook", "error")), None, "{scrape}");
    assert_eq!(
        value(r#"hookd_trigger_latency_seconds_count{fired_by="triggerHook"}"#),
        Some(1.0),
        "{scrape}"
    );
    let trigger_route = format!("{HOOK_ROUTE}/trigger");
    assert_eq!(value(&requests("POST", &trigger_route, 200)), Some(1.0));
    assert_eq!(value(&requests("PUT", HOOK_ROUTE, 200)), Some(1.0));
    assert_eq!(value(&store_calls("insert_hook")), Some(1.0), "{scrape}");
    // The local outbox writes the task and the fire record in one store call.
    assert_eq!(
        value(&store_calls("insert_task_and_record_fire")),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(value(&store_calls("record_fire")), None, "{scrape}");
    assert_eq!(value(&store_calls("insert_task")), None, "{scrape}");
    assert!(
        !scrape.contains("/hooks/g/h"),
        "routes are patterns, never paths: {scrape}"
    );
}

#[tokio::test]
async fn failed_and_refused_triggers_are_counted_by_result_without_a_latency() {
    let app = spawn_app().await;
    let mut broken = hook_body();
    broken["task"] = json!({"payload": {"x": {"$eval": "undefined_variable"}}});
    app.create_hook("g/broken", broken).await;
    app.create_hook("g/strict", hook_body()).await;

    app.trigger("g/broken", json!({}))
        .await
        .expect_error(400, "InputError");
    app.trigger("g/strict", json!({"extra": true}))
        .await
        .expect_error(400, "InputError");
    app.trigger("g/missing", json!({}))
        .await
        .expect_error(404, "ResourceNotFound");

    let scrape = app.metrics().await;
    let value = |series: &str| hookd_testkit::app::metric_value(&scrape, series);
    assert_eq!(value(&fires("triggerHook", "error")), Some(1.0), "{scrape}");
    assert_eq!(
        value(&fires("triggerHook", "refused")),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(value(&fires("triggerHook", "success")), None, "{scrape}");
    assert_eq!(
        value(r#"hookd_trigger_latency_seconds_count{fired_by="triggerHook"}"#),
        None,
        "only accepted tasks are timed: {scrape}"
    );
    let trigger_route = format!("{HOOK_ROUTE}/trigger");
    assert_eq!(value(&requests("POST", &trigger_route, 400)), Some(2.0));
    assert_eq!(value(&requests("POST", &trigger_route, 404)), Some(1.0));
}

#[tokio::test]
async fn a_bad_webhook_signature_is_counted_and_is_not_a_fire() {
    let app = spawn_app().await;
    let secret = webhook_hook(&app).await;
    let failures = "hookd_webhook_signature_failures_total";
    assert_eq!(app.metric(failures).await, Some(0.0));

    deliver(&app, &github("whsec_other")).await.expect(401);
    deliver(&app, &[]).await.expect(401);

    let scrape = app.metrics().await;
    let value = |series: &str| hookd_testkit::app::metric_value(&scrape, series);
    assert_eq!(value(failures), Some(2.0), "{scrape}");
    assert!(!scrape.contains(r#"fired_by="webhook""#), "{scrape}");
    let webhook_route = format!("{HOOK_ROUTE}/webhook");
    assert_eq!(value(&requests("POST", &webhook_route, 401)), Some(2.0));

    deliver(&app, &github(&secret)).await.expect(200);
    let scrape = app.metrics().await;
    let value = |series: &str| hookd_testkit::app::metric_value(&scrape, series);
    assert_eq!(value(&fires("webhook", "success")), Some(1.0), "{scrape}");
    assert_eq!(value(failures), Some(2.0), "a good delivery is no failure");
}

#[tokio::test]
async fn a_scheduled_fire_is_counted_with_how_late_it_fired() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["schedule"] = json!(["0 * * * * *"]);
    app.create_hook("g/minutely", body).await;
    app.tick().await;

    // The clock starts on the hour; the 10:01:00 slot is found 30 seconds late.
    app.clock.advance(Duration::seconds(90));
    app.tick().await;

    let scrape = app.metrics().await;
    let value = |series: &str| hookd_testkit::app::metric_value(&scrape, series);
    assert_eq!(value(&fires("schedule", "success")), Some(1.0), "{scrape}");
    assert_eq!(value("hookd_scheduler_lateness_seconds_count"), Some(1.0));
    assert_eq!(value("hookd_scheduler_lateness_seconds_sum"), Some(30.0));
    assert_eq!(
        value(r#"hookd_scheduler_lateness_seconds_bucket{le="16.0"}"#),
        Some(0.0),
        "{scrape}"
    );
    assert_eq!(
        value(r#"hookd_scheduler_lateness_seconds_bucket{le="64.0"}"#),
        Some(1.0),
        "{scrape}"
    );
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_and_unknown_paths_as_unmatched() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let token = app.root_string("/hooks/g/h/token", "token").await;

    app.call(
        Method::POST,
        &format!("/hooks/g/h/trigger/{token}"),
        Auth::Anonymous,
        Some(json!({})),
    )
    .await
    .expect(200);
    app.call(Method::GET, "/no/such/endpoint", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
    app.call(Method::GET, "/hooks", Auth::Anonymous, None)
        .await
        .expect(403);

    let scrape = app.metrics().await;
    let value = |series: &str| hookd_testkit::app::metric_value(&scrape, series);
    let with_token = format!("{HOOK_ROUTE}/trigger/{{token}}");
    assert_eq!(value(&requests("POST", &with_token, 200)), Some(1.0));
    assert_eq!(value(&requests("GET", "unmatched", 404)), Some(1.0));
    assert_eq!(
        value(&requests("GET", "/api/hooks/v1/hooks", 403)),
        Some(1.0)
    );
    assert!(!scrape.contains(&token), "no trigger token in {scrape}");
    assert_eq!(
        value(r#"hookd_trigger_latency_seconds_count{fired_by="triggerHookWithToken"}"#),
        Some(1.0)
    );
}

#[tokio::test]
async fn each_app_counts_only_its_own_work() {
    let busy = spawn_app().await;
    let idle = spawn_app().await;
    busy.create_hook("g/h", hook_body()).await;

    busy.trigger("g/h", json!({})).await.expect(200);

    assert_eq!(
        busy.metric(&fires("triggerHook", "success")).await,
        Some(1.0)
    );
    let idle_scrape = idle.metrics().await;
    assert!(!idle_scrape.contains("hookd_fires_total"), "{idle_scrape}");
    assert!(!idle_scrape.contains("insert_hook"), "{idle_scrape}");
}
