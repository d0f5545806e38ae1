//! Every error code of the contract, the error body's shape, and bad input that must never
//! cause a 5xx.

use hookd_testkit::app::{hook_body, spawn_app, spawn_app_with, Auth};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn error_bodies_describe_the_request_with_secrets_redacted() {
    let app = spawn_app().await;
    app.create_hook("g/a%2Fb", hook_body()).await;
    let body = app
        .call(
            Method::POST,
            "/hooks/g/a%2Fb/trigger/s3cret-token",
            Auth::Anonymous,
            Some(json!({"k": "v"})),
        )
        .await;
    let body = body.expect(401);
    let info = &body["requestInfo"];
    assert_eq!(info["method"], "post");
    assert_eq!(info["params"]["hookGroupId"], "g");
    assert_eq!(info["params"]["hookId"], "a/b");
    assert_eq!(info["params"]["token"], "<redacted>");
    assert_eq!(info["payload"], json!({"k": "v"}));
    assert!(!body.to_string().contains("s3cret-token"));
}

#[tokio::test]
async fn malformed_ids_are_invalid_request_arguments() {
    let app = spawn_app().await;
    let long = "x".repeat(1001);
    for path in [
        "/hooks/bad%20group/h".to_owned(),
        "/hooks/g/bad.id".to_owned(),
        format!("/hooks/{long}/h"),
        "/hooks/g%2Fh/x".to_owned(),
        "/hooks/%C3%A9/h".to_owned(),
    ] {
        app.call(Method::GET, &path, Auth::Root, None)
            .await
            .expect_error(400, "InvalidRequestArguments");
    }
    app.call(Method::GET, "/hooks/bad%20group", Auth::Root, None)
        .await
        .expect_error(400, "InvalidRequestArguments");
}

#[tokio::test]
async fn bodies_that_are_not_json_are_malformed_payloads() {
    let app = spawn_app().await;
    let not_json = app
        .send(
            app.raw(Method::PUT, "/hooks/g/h")
                .header(CONTENT_TYPE, "application/json")
                .body("{not json"),
        )
        .await;
    let message = not_json.expect_error(400, "MalformedPayload");
    assert!(message.contains("not valid JSON"), "{message}");

    let wrong_type = app
        .send(
            app.raw(Method::PUT, "/hooks/g/h")
                .header(CONTENT_TYPE, "text/plain")
                .body("{}"),
        )
        .await;
    let message = wrong_type.expect_error(400, "MalformedPayload");
    assert!(message.contains("application/json"), "{message}");

    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    app.send(
        app.raw(Method::POST, "/hooks/g/h/trigger")
            .header(CONTENT_TYPE, "application/json")
            .body(deep),
    )
    .await
    .expect_error(400, "MalformedPayload");
}

#[tokio::test]
async fn a_trigger_payload_must_be_an_object() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["triggerSchema"] = json!({});
    app.create_hook("g/h", body).await;
    app.call(
        Method::POST,
        "/hooks/g/h/trigger",
        Auth::Root,
        Some(json!([1, 2])),
    )
    .await
    .expect_error(400, "InputValidationError");
}

#[tokio::test]
async fn bodies_over_the_default_limit_are_too_large() {
    let app = spawn_app().await;
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(1024 * 1024));
    let message = app
        .send(
            app.raw(Method::PUT, "/hooks/g/h")
                .header(CONTENT_TYPE, "application/json")
                .body(big),
        )
        .await
        .expect_error(413, "PayloadTooLarge");
    assert!(message.contains("1048576"), "{message}");
}

#[tokio::test]
async fn the_body_limit_is_configurable_and_also_applies_to_streamed_bodies() {
    let app = spawn_app_with(|s| s.body_limit = 64).await;
    let body = json!({"pad": "x".repeat(100)}).to_string();
    app.send(
        app.raw(Method::PUT, "/hooks/g/h")
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone()),
    )
    .await
    .expect_error(413, "PayloadTooLarge");
    // Without a Content-Length the limit is enforced while reading.
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(body.into_bytes())]);
    app.send(
        app.raw(Method::PUT, "/hooks/g/h")
            .header(CONTENT_TYPE, "application/json")
            .body(reqwest::Body::wrap_stream(stream)),
    )
    .await
    .expect_error(413, "PayloadTooLarge");
}

#[tokio::test]
async fn bad_credentials_fail_authentication() {
    let app = spawn_app().await;
    for header in [
        "Bearer root:wrong",
        "Bearer nobody:x",
        "Bearer no-colon",
        "Basic cm9vdDp4",
        "Bearer ",
    ] {
        let message = app
            .send(
                reqwest::Client::new()
                    .get(format!("{}/api/hooks/v1/hooks", app.address))
                    .header("Authorization", header),
            )
            .await
            .expect_error(401, "AuthenticationFailed");
        assert!(!message.is_empty());
    }
}

#[tokio::test]
async fn unknown_endpoints_and_methods_are_json_404s() {
    let app = spawn_app().await;
    app.call(Method::GET, "/no/such/thing", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
    app.call(Method::PATCH, "/hooks/g/h", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn hostile_inputs_never_cause_a_server_error() {
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let bodies = [
        "null", "[]", "\"str\"", "1e999999", "{\"metadata\": null, \"task\": {}}",
        "{\"metadata\": {\"name\": 1}}", "\u{0}\u{1}", "{\"a\":\"\\ud800\"}",
        "{\"metadata\":{\"name\":\"n\",\"description\":\"d\",\"owner\":\"o\"},\"task\":{},\"triggerSchema\":{\"$ref\":\"http://127.0.0.1:1/x\"}}",
        "{\"metadata\":{\"name\":\"n\",\"description\":\"d\",\"owner\":\"o\"},\"task\":{},\"triggerSchema\":{\"pattern\":\"(\"}}",
    ];
    for body in bodies {
        for (method, path) in [
            (Method::PUT, "/hooks/g/x"),
            (Method::POST, "/hooks/g/h"),
            (Method::POST, "/hooks/g/h/trigger"),
        ] {
            let reply = app
                .send(
                    app.raw(method.clone(), path)
                        .header(CONTENT_TYPE, "application/json")
                        .body(body),
                )
                .await;
            assert!(
                reply.status.is_client_error(),
                "{method} {path} with {body:?}: {reply:?}"
            );
        }
    }
}

/// A trigger payload `{"a": [[...]]}` nesting `levels` deep in all.
fn nested_payload(levels: usize) -> String {
    let inner = levels - 1;
    format!("{{\"a\":{}{}}}", "[".repeat(inner), "]".repeat(inner))
}

#[tokio::test]
async fn bodies_nested_deeper_than_64_levels_are_malformed() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object"});
    app.create_hook("g/h", body).await;
    let send = |levels| {
        app.raw(Method::POST, "/hooks/g/h/trigger")
            .header(CONTENT_TYPE, "application/json")
            .body(nested_payload(levels))
    };

    app.send(send(64)).await.expect(200);
    let message = app
        .send(send(65))
        .await
        .expect_error(400, "MalformedPayload");
    assert!(message.contains("64"), "{message}");
    let message = app
        .send(send(100_000))
        .await
        .expect_error(400, "MalformedPayload");
    assert!(message.contains("64"), "{message}");
}

#[tokio::test]
async fn hooks_with_more_than_100_schedules_or_bindings_are_refused() {
    let app = spawn_app().await;
    let schedules: Vec<String> = (0..101).map(|m| format!("{m} * * * * *")).collect();
    let bindings: Vec<_> = (0..101)
        .map(|i| json!({"exchange": format!("e{i}"), "routingKeyPattern": "#"}))
        .collect();
    for (field, items) in [
        ("schedule", json!(schedules)),
        ("bindings", json!(bindings)),
    ] {
        let mut body = hook_body();
        body[field] = items;
        let message = app
            .call(Method::PUT, "/hooks/g/h", Auth::Root, Some(body))
            .await
            .expect_error(400, "InputValidationError");
        assert!(message.contains(field), "{field}: {message}");
    }
}
