//! Signed URLs (Hawk bewits) made by Taskcluster's own clients, JavaScript and Python, against a
//! running hookd; and the error code (`InputError`) of a trigger payload the hook refuses, as the
//! JavaScript client and a token trigger see it.
//!
//! `taskcluster_signed_urls.js` and `.py` make the URLs (and the JavaScript one the refused
//! trigger) and print them; this test fetches the URLs without credentials and judges. The
//! clients sign with the wall clock, so the app's clock is set to it first; expiry is then
//! tested by moving the app's clock, not by waiting.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::process::Command;

use crate::hawk_python::taskcluster_python;
use crate::scopes_oracle::node;
use crate::secrets::capture;
use hookd_testkit::app::{hook_body, spawn_app, Auth, Reply, TestApp, ROOT_TOKEN};

const JS_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/taskcluster_signed_urls.js"
);
const PY_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/taskcluster_signed_urls.py"
);

/// Runs `program script root_url root token` (with `env`) and parses what it prints.
async fn run(program: String, script: &str, app: &TestApp, env: Vec<(String, String)>) -> Value {
    let args = [script, &app.address, "root", ROOT_TOKEN];
    let output = Command::new(program)
        .args(args)
        .envs(env)
        .output()
        .await
        .expect("the client runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed: {stderr}");
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// A GET of `url` without any `Authorization` header.
async fn fetch(app: &TestApp, method: Method, url: &str) -> Reply {
    app.send(reqwest::Client::new().request(method, url)).await
}

/// A hook `js/h` that any payload may trigger, and `js/strict` that takes only `{}`.
async fn app_with_hooks() -> TestApp {
    let app = spawn_app().await;
    app.clock.set(Utc::now());
    let mut open = hook_body();
    open["triggerSchema"] = json!({"type": "object"});
    app.create_hook("js/h", open).await;
    app.create_hook("js/strict", hook_body()).await;
    app
}

/// What every client's URLs must do while they are fresh.
async fn judge_fresh_urls(app: &TestApp, client: &str, urls: &Value) {
    let url = |name: &str| {
        urls[name]
            .as_str()
            .unwrap_or_else(|| panic!("{client}: no {name}"))
    };
    let hook = fetch(app, Method::GET, url("hook")).await.expect(200);
    assert_eq!(hook["hookId"], "h", "{client}");
    for name in ["authorizedHook", "temporaryHook"] {
        let body = fetch(app, Method::GET, url(name)).await.expect(200);
        assert_eq!(body["hookId"], "h", "{client} {name}");
    }
    for name in ["authorizedOther", "temporaryList"] {
        fetch(app, Method::GET, url(name))
            .await
            .expect_error(403, "InsufficientScopes");
    }
    let message = fetch(app, Method::GET, url("wrongToken"))
        .await
        .expect_error(401, "AuthenticationFailed");
    assert!(message.contains("MAC"), "{client}: {message}");
}

/// After 20 minutes a 60-second URL is expired even with the 15 minutes of tolerated clock
/// skew, and a default (15-minute) one is not.
async fn judge_expiry(app: &TestApp, client: &str, urls: &Value) {
    let message = fetch(app, Method::GET, urls["shortLived"].as_str().unwrap())
        .await
        .expect_error(401, "AuthenticationFailed");
    assert!(message.contains("expired"), "{client}: {message}");
    fetch(app, Method::GET, urls["hook"].as_str().unwrap())
        .await
        .expect(200);
}

#[tokio::test]
async fn signed_urls_from_the_javascript_and_python_clients_authorize_gets() {
    let (Some((node, node_path)), Some(python)) = (node(), taskcluster_python()) else {
        return;
    };
    let log = capture();
    let app = app_with_hooks().await;
    let node_env = vec![("NODE_PATH".to_owned(), node_path)];
    let js = run(node, JS_SCRIPT, &app, node_env).await;
    let py = run(python, PY_SCRIPT, &app, Vec::new()).await;

    judge_fresh_urls(&app, "javascript", &js["urls"]).await;
    judge_fresh_urls(&app, "python", &py["urls"]).await;
    let page = fetch(&app, Method::GET, js["urls"]["lastFires"].as_str().unwrap())
        .await
        .expect(200);
    assert!(page["lastFires"].is_array(), "{page}");

    // A bewit authorizes only GET: the same credential on a POST (updateHook) is refused.
    let message = fetch(&app, Method::POST, js["urls"]["hook"].as_str().unwrap())
        .await
        .expect_error(401, "AuthenticationFailed");
    assert!(message.contains("only GET"), "{message}");

    app.clock.set(Utc::now() + Duration::minutes(20));
    judge_expiry(&app, "javascript", &js["urls"]).await;
    judge_expiry(&app, "python", &py["urls"]).await;

    let logged = log.text();
    for urls in [&js["urls"], &py["urls"]] {
        for url in urls.as_object().unwrap().values() {
            let bewit = url.as_str().unwrap().split("bewit=").nth(1).unwrap();
            assert!(!logged.contains(bewit), "a bewit is logged:\n{logged}");
        }
    }
}

#[tokio::test]
async fn a_malformed_or_duplicated_bewit_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    // An expiry past what a clock can hold must not reach the `hawk` crate, which would panic.
    let huge = format!(
        "bewit={}",
        URL_SAFE_NO_PAD.encode("root\\18446744073709551615\\bWFj\\")
    );
    for query in [
        "bewit=not-a-bewit",
        "bewit=!!",
        "bewit=a&bewit=b",
        "bewit=",
        &huge,
    ] {
        let url = format!("{}/api/hooks/v1/hooks/g/h?{query}", app.address);
        let message = fetch(&app, Method::GET, &url)
            .await
            .expect_error(401, "AuthenticationFailed");
        assert!(message.contains("bewit is malformed"), "{query}: {message}");
    }
}

#[tokio::test]
async fn the_javascript_client_sees_input_error_for_a_payload_the_trigger_schema_refuses() {
    let Some((node, node_path)) = node() else {
        return;
    };
    let app = app_with_hooks().await;
    let out = run(node, JS_SCRIPT, &app, vec![("NODE_PATH".into(), node_path)]).await;
    let trigger = &out["trigger"];
    assert_eq!(trigger["status"], 400, "{trigger}");
    assert_eq!(trigger["code"], "InputError", "{trigger}");
    let message = trigger["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("triggerSchema"),
        "the refusal is explained: {message}"
    );
}

#[tokio::test]
async fn a_payload_the_trigger_schema_refuses_is_an_input_error_with_a_token_too() {
    let app = app_with_hooks().await;
    let token = app
        .call(Method::POST, "/hooks/js/strict/token", Auth::Root, None)
        .await
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/hooks/js/strict/trigger/{token}");
    let message = app
        .call(
            Method::POST,
            &path,
            Auth::Anonymous,
            Some(json!({"extra": 1})),
        )
        .await
        .expect_error(400, "InputError");
    assert!(
        message.contains("triggerSchema"),
        "the refusal is explained: {message}"
    );
    // A body that is not an object fails the endpoint's own schema instead.
    app.call(Method::POST, &path, Auth::Anonymous, Some(json!([1])))
        .await
        .expect_error(400, "InputValidationError");
}
