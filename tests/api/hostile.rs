//! Hostile input against every hook endpoint: huge ids, invalid UTF-8, deep nesting, wrong
//! content types and path traversal. Each case expects its 4xx JSON error, and afterwards the
//! server still answers.

use hookd_testkit::app::{hook_body, spawn_app, TestApp};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::json;

/// Every endpoint under a hook: method, path after `/hooks/<g>/<h>`, whether it reads a body.
const ENDPOINTS: &[(Method, &str, bool)] = &[
    (Method::GET, "", false),
    (Method::PUT, "", true),
    (Method::POST, "", true),
    (Method::DELETE, "", false),
    (Method::GET, "/status", false),
    (Method::GET, "/last-fires", false),
    (Method::POST, "/trigger", true),
    (Method::POST, "/trigger/some-token", true),
    (Method::GET, "/token", false),
    (Method::POST, "/token", false),
    (Method::POST, "/webhook", true),
    (Method::GET, "/webhook-secret", false),
    (Method::POST, "/webhook-secret", false),
];

/// Sends `request` for the case `what` and asserts a 400 with `code`.
async fn expect_400(app: &TestApp, what: &str, request: reqwest::RequestBuilder, code: &str) {
    let reply = app.send(request).await;
    assert_eq!(
        (reply.status.as_u16(), reply.body["code"].as_str()),
        (400, Some(code)),
        "{what}: {}",
        reply.body
    );
}

#[tokio::test]
async fn hostile_paths_are_invalid_request_arguments_on_every_endpoint() {
    let app = spawn_app().await;
    let huge = "h".repeat(5000);
    let paths = [
        ("a huge hookId", format!("/hooks/g/{huge}")),
        ("a huge hookGroupId", format!("/hooks/{huge}/h")),
        ("invalid UTF-8 in hookId", "/hooks/g/%FF%FE".to_owned()),
        (
            "path traversal in hookId",
            "/hooks/g/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd".to_owned(),
        ),
        ("a NUL in hookId", "/hooks/g/a%00b".to_owned()),
    ];
    for (what, base) in &paths {
        for (method, suffix, _) in ENDPOINTS {
            let request = app.raw(method.clone(), &format!("{base}{suffix}"));
            let case = format!("{what}: {method} {suffix}");
            expect_400(&app, &case, request, "InvalidRequestArguments").await;
        }
    }
    healthy(&app).await;
}

#[tokio::test]
async fn hostile_bodies_are_malformed_payloads_on_every_endpoint_that_reads_one() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let bodies: [(&str, &str, Vec<u8>); 4] = [
        ("deeply nested JSON", "application/json", deep),
        (
            "invalid UTF-8",
            "application/json",
            b"{\"a\": \"\xff\xfe\"}".to_vec(),
        ),
        (
            "a form body",
            "application/x-www-form-urlencoded",
            b"a=1".to_vec(),
        ),
        ("XML", "application/xml", b"<a/>".to_vec()),
    ];
    for (what, content_type, bytes) in &bodies {
        for (method, suffix, reads_body) in ENDPOINTS {
            if !reads_body {
                continue;
            }
            let request = app
                .raw(method.clone(), &format!("/hooks/g/h{suffix}"))
                .header(CONTENT_TYPE, *content_type)
                .body(bytes.clone());
            let case = format!("{what}: {method} {suffix}");
            expect_400(&app, &case, request, "MalformedPayload").await;
        }
    }
    healthy(&app).await;
}

async fn healthy(app: &TestApp) {
    let ping = app
        .send(reqwest::Client::new().get(format!("{}/api/hooks/v1/ping", app.address)))
        .await;
    assert_eq!(ping.status.as_u16(), 200, "{}", ping.body);
    app.create_hook("still/works", hook_body()).await;
    assert_eq!(
        app.trigger("still/works", json!({})).await.status.as_u16(),
        200
    );
}
