//! Request ids: a safe `X-Request-Id` is kept, anything else replaced by a fresh UUID; every
//! answer carries the id (errors too, without adding it to `requestInfo`), and the request's
//! log lines show it.

use hookd_testkit::app::{hook_body, spawn_app, TestApp};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::json;

use crate::secrets::capture;

/// Sends `GET /api/hooks/v1<path>` as root with `id` as `X-Request-Id`; returns the status and
/// the answer's headers.
async fn get_with_id(app: &TestApp, path: &str, id: Option<&str>) -> (u16, HeaderMap) {
    let mut request = app.raw(Method::GET, path);
    if let Some(id) = id {
        request = request.header("X-Request-Id", id);
    }
    let response = request.send().await.expect("answered");
    (response.status().as_u16(), response.headers().clone())
}

fn returned_id(headers: &HeaderMap) -> String {
    headers["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_safe_request_id_is_returned_unchanged_on_success_and_on_errors() {
    let app = spawn_app().await;
    for (path, status) in [("/ping", 200), ("/hooks/g/missing", 404), ("/nowhere", 404)] {
        let id = "req-42_a.b:c";

        let (answered, headers) = get_with_id(&app, path, Some(id)).await;

        assert_eq!(answered, status, "{path}");
        assert_eq!(returned_id(&headers), id, "{path}");
    }
}

#[tokio::test]
async fn a_missing_or_unsafe_request_id_is_replaced_by_a_fresh_uuid() {
    let app = spawn_app().await;
    let too_long = "a".repeat(129);
    let mut seen = Vec::new();
    for (what, id) in [
        ("none", None),
        ("empty", Some("")),
        ("too long", Some(too_long.as_str())),
        ("with spaces", Some("a b")),
        ("with a quote", Some("a\"b")),
        ("with a slash", Some("../etc")),
    ] {
        let (_, headers) = get_with_id(&app, "/ping", id).await;

        let returned = returned_id(&headers);
        assert!(
            uuid::Uuid::parse_str(&returned).is_ok(),
            "{what}: {returned:?} is a UUID"
        );
        assert!(!seen.contains(&returned), "{what}: a fresh id each time");
        seen.push(returned);
    }
}

#[tokio::test]
async fn error_bodies_keep_taskclusters_request_info_without_the_id() {
    let app = spawn_app().await;
    let response = app
        .raw(Method::GET, "/hooks/g/missing")
        .header("X-Request-Id", "trace-me")
        .send()
        .await
        .expect("answered");
    assert_eq!(returned_id(response.headers()), "trace-me");
    let body: serde_json::Value = response.json().await.unwrap();
    let mut keys: Vec<&str> = body["requestInfo"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["method", "params", "payload", "time"], "{body}");
    assert!(!body.to_string().contains("trace-me"), "{body}");
}

#[tokio::test]
async fn log_lines_of_a_request_carry_its_id() {
    let log = capture();
    let app = spawn_app().await;
    app.create_hook("g/logged", hook_body()).await;
    let id = format!("fire-{}", uuid::Uuid::new_v4());

    let response = app
        .raw(Method::POST, "/hooks/g/logged/trigger")
        .header("X-Request-Id", &id)
        .json(&json!({}))
        .send()
        .await
        .expect("answered");

    assert_eq!(response.status().as_u16(), 200);
    let logged = log.text();
    let fire_line = logged
        .lines()
        .find(|line| line.contains(&id) && line.contains("hook fired"))
        .unwrap_or_else(|| panic!("no fire line with {id}:\n{logged}"));
    assert!(fire_line.contains("hook=g/logged"), "{fire_line}");
    assert!(fire_line.contains("result=\"success\""), "{fire_line}");
}
