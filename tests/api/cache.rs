//! The hook cache between replicas: what one replica changes, another reads within the
//! documented freshness bound (`HookCache::FRESHNESS`), and a replica's own changes at once.

use reqwest::Method;
use serde_json::{json, Value};

use hookd::store::HookCache;
use hookd_testkit::app::{hook_body, spawn_app, Auth, TestApp};

async fn name(app: &TestApp) -> Value {
    let hook = (app.call(Method::GET, "/hooks/g/h", Auth::Root, None).await).expect(200);
    hook["metadata"]["name"].clone()
}

async fn listed_name(app: &TestApp) -> Value {
    let list = (app.call(Method::GET, "/hooks/g", Auth::Root, None).await).expect(200);
    list["hooks"][0]["metadata"]["name"].clone()
}

async fn trigger_with(app: &TestApp, token: &str) -> u16 {
    let path = format!("/hooks/g/h/trigger/{token}");
    let reply = app
        .call(Method::POST, &path, Auth::Anonymous, Some(json!({})))
        .await;
    reply.status.as_u16()
}

fn named(name: &str) -> Value {
    let mut body = hook_body();
    body["metadata"]["name"] = json!(name);
    body
}

/// Two replicas on one store, with `g/h` created through the first and read (so cached) through
/// the second: its definition, its group's listing and its token. Returns the token too.
async fn replicas_with_a_hook_read_through_the_second() -> (TestApp, TestApp, String) {
    let a = spawn_app().await;
    let b = a.replica().await;
    a.create_hook("g/h", named("first")).await;
    let token = a.root_string("/hooks/g/h/token", "token").await;
    assert_eq!(name(&b).await, "first");
    assert_eq!(listed_name(&b).await, "first");
    assert_eq!(trigger_with(&b, &token).await, 200);
    (a, b, token)
}

#[tokio::test]
async fn a_change_through_one_replica_is_read_through_another_within_the_freshness_bound() {
    let (a, b, old_token) = replicas_with_a_hook_read_through_the_second().await;

    (a.call(
        Method::POST,
        "/hooks/g/h",
        Auth::Root,
        Some(named("second")),
    )
    .await)
        .expect(200);
    let reset = (a
        .call(Method::POST, "/hooks/g/h/token", Auth::Root, None)
        .await)
        .expect(200);
    let new_token = reset["token"].as_str().unwrap().to_owned();
    assert_eq!(
        name(&a).await,
        "second",
        "the writing replica reads its change at once"
    );
    a.clock.advance(HookCache::FRESHNESS);

    assert_eq!(name(&b).await, "second");
    assert_eq!(listed_name(&b).await, "second");
    assert_eq!(
        trigger_with(&b, &old_token).await,
        401,
        "the old token is refused"
    );
    assert_eq!(trigger_with(&b, &new_token).await, 200);
}

#[tokio::test]
async fn a_hook_deleted_and_recreated_through_one_replica_is_the_new_one_on_another() {
    let (a, b, old_token) = replicas_with_a_hook_read_through_the_second().await;

    (a.call(Method::DELETE, "/hooks/g/h", Auth::Root, None).await).expect(200);
    a.clock.advance(HookCache::FRESHNESS);
    (b.call(Method::GET, "/hooks/g/h", Auth::Root, None).await)
        .expect_error(404, "ResourceNotFound");
    a.create_hook("g/h", named("recreated")).await;
    let new_token = a.root_string("/hooks/g/h/token", "token").await;

    assert_eq!(name(&b).await, "recreated", "a miss is never cached");
    assert_eq!(listed_name(&b).await, "recreated");
    assert_eq!(trigger_with(&b, &old_token).await, 401);
    assert_eq!(trigger_with(&b, &new_token).await, 200);
}

#[tokio::test]
async fn a_replica_reads_its_own_changes_at_once() {
    let app = spawn_app().await;
    app.create_hook("g/h", named("first")).await;
    let old_token = app.root_string("/hooks/g/h/token", "token").await;
    assert_eq!(name(&app).await, "first");
    assert_eq!(listed_name(&app).await, "first");
    assert_eq!(trigger_with(&app, &old_token).await, 200);

    let body = Some(named("second"));
    (app.call(Method::POST, "/hooks/g/h", Auth::Root, body).await).expect(200);
    let reset = (app
        .call(Method::POST, "/hooks/g/h/token", Auth::Root, None)
        .await)
        .expect(200);

    assert_eq!(name(&app).await, "second");
    assert_eq!(listed_name(&app).await, "second");
    assert_eq!(trigger_with(&app, &old_token).await, 401);
    let new_token = reset["token"].as_str().unwrap();
    assert_eq!(trigger_with(&app, new_token).await, 200);
    (app.call(Method::DELETE, "/hooks/g/h", Auth::Root, None)
        .await)
        .expect(200);
    (app.call(Method::GET, "/hooks/g/h", Auth::Root, None).await)
        .expect_error(404, "ResourceNotFound");
}
