//! Rate limits: per client and per hook, answered with 429 and `Retry-After`, and lifted as the
//! app's clock moves on.

use chrono::Duration;
use hookd::api::rate_limit::RateLimitSettings;
use hookd_testkit::app::{hook_body, spawn_app_with, Auth};
use reqwest::header::RETRY_AFTER;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_client_over_its_rate_limit_gets_429_with_retry_after_until_time_passes() {
    let app = spawn_app_with(|s| s.rate_limits = RateLimitSettings::per_minute(3, 0)).await;
    for _ in 0..3 {
        app.call(Method::GET, "/hooks", Auth::Root, None)
            .await
            .expect(200);
    }

    let response = app.raw(Method::GET, "/hooks").send().await.unwrap();

    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()[RETRY_AFTER], "20");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "TooManyRequests");
    app.call(Method::GET, "/hooks", Auth::Anonymous, None)
        .await
        .expect(403);
    app.clock.advance(Duration::seconds(20));
    app.call(Method::GET, "/hooks", Auth::Root, None)
        .await
        .expect(200);
}

#[tokio::test]
async fn a_hook_over_its_fire_limit_gets_429_also_for_token_triggers() {
    let app = spawn_app_with(|s| s.rate_limits = RateLimitSettings::per_minute(0, 2)).await;
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object"});
    app.create_hook("g/h", body.clone()).await;
    app.create_hook("g/other", body).await;
    let token = app.root_string("/hooks/g/h/token", "token").await;
    app.trigger("g/h", json!({})).await.expect(200);
    app.trigger("g/h", json!({})).await.expect(200);

    let by_token = app
        .call(
            Method::POST,
            &format!("/hooks/g/h/trigger/{token}"),
            Auth::Anonymous,
            Some(json!({})),
        )
        .await;

    by_token.expect_error(429, "TooManyRequests");
    app.trigger("g/other", json!({})).await.expect(200);
    app.clock.advance(Duration::seconds(30));
    app.trigger("g/h", json!({})).await.expect(200);
}
