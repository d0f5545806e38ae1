//! Scope enforcement: every endpoint refuses a client without its scopes with a 403 that names
//! them, and accepts a client holding exactly those scopes.

use hookd_testkit::app::{client, hook_body, role, spawn_app_with, Auth, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// An endpoint, a body, and the scopes it needs for hook `g/h` (or group `g`).
struct Case {
    name: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    scopes: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let case = |name, method, path, body, scopes| Case {
        name,
        method,
        path,
        body,
        scopes,
    };
    vec![
        case(
            "listHookGroups",
            Method::GET,
            "/hooks",
            None,
            &["hooks:list-hooks:"],
        ),
        case(
            "listHooks",
            Method::GET,
            "/hooks/g",
            None,
            &["hooks:list-hooks:g"],
        ),
        case("hook", Method::GET, "/hooks/g/h", None, &["hooks:get:g:h"]),
        case(
            "getHookStatus",
            Method::GET,
            "/hooks/g/h/status",
            None,
            &["hooks:status:g/h"],
        ),
        case(
            "createHook",
            Method::PUT,
            "/hooks/g/h",
            Some(hook_body()),
            &["hooks:modify-hook:g/h", "assume:hook-id:g/h"],
        ),
        case(
            "updateHook",
            Method::POST,
            "/hooks/g/h",
            Some(hook_body()),
            &["hooks:modify-hook:g/h", "assume:hook-id:g/h"],
        ),
        case(
            "triggerHook",
            Method::POST,
            "/hooks/g/h/trigger",
            Some(json!({})),
            &["hooks:trigger-hook:g/h"],
        ),
        case(
            "getTriggerToken",
            Method::GET,
            "/hooks/g/h/token",
            None,
            &["hooks:get-trigger-token:g/h"],
        ),
        case(
            "resetTriggerToken",
            Method::POST,
            "/hooks/g/h/token",
            None,
            &["hooks:reset-trigger-token:g/h"],
        ),
        case(
            "listLastFires",
            Method::GET,
            "/hooks/g/h/last-fires",
            None,
            &["hooks:list-last-fires:g/h"],
        ),
        case(
            "renderHook",
            Method::POST,
            "/hooks/g/h/render",
            Some(json!({"payload": {}})),
            &["hooks:get:g:h"],
        ),
        case(
            "removeHook",
            Method::DELETE,
            "/hooks/g/h",
            None,
            &["hooks:modify-hook:g/h"],
        ),
    ]
}

async fn app_with_clients() -> TestApp {
    let app = spawn_app_with(|s| {
        s.clients = cases()
            .iter()
            .map(|c| client(c.name, c.scopes))
            .chain([client("nobody", &[])])
            .collect();
    })
    .await;
    app.create_hook("g/h", hook_body()).await;
    app
}

#[tokio::test]
async fn every_endpoint_refuses_a_client_without_its_scopes_and_names_them() {
    let app = app_with_clients().await;
    for case in cases() {
        let message = app
            .call(
                case.method.clone(),
                case.path,
                Auth::Client("nobody", "nobody-token"),
                case.body.clone(),
            )
            .await
            .expect_error(403, "InsufficientScopes");
        for scope in case.scopes {
            assert!(
                message.contains(scope),
                "{}: {scope} not named in {message:?}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn every_endpoint_accepts_a_client_with_exactly_its_scopes() {
    let app = app_with_clients().await;
    for case in cases() {
        let token = format!("{}-token", case.name);
        let reply = app
            .call(
                case.method.clone(),
                case.path,
                Auth::Client(case.name, &token),
                case.body.clone(),
            )
            .await;
        assert!(reply.status.is_success(), "{}: {reply:?}", case.name);
    }
}

#[tokio::test]
async fn anonymous_requests_get_the_anonymous_role_and_scopes_expand_through_roles() {
    let app = spawn_app_with(|s| {
        s.roles = vec![
            role("anonymous", &["hooks:list-hooks:"]),
            role("reader", &["hooks:get:*"]),
        ];
        s.clients = vec![client("carol", &["assume:reader"])];
    })
    .await;
    app.create_hook("g/h", hook_body()).await;
    app.call(Method::GET, "/hooks", Auth::Anonymous, None)
        .await
        .expect(200);
    app.call(Method::GET, "/hooks/g/h", Auth::Anonymous, None)
        .await
        .expect_error(403, "InsufficientScopes");
    app.call(
        Method::GET,
        "/hooks/g/h",
        Auth::Client("carol", "carol-token"),
        None,
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_submitted_task_is_readable_with_the_fire_history_scope_only() {
    let app = spawn_app_with(|s| {
        s.clients = vec![
            client("auditor", &["hooks:list-last-fires:g/h"]),
            client("other", &["hooks:list-last-fires:g/x"]),
        ];
    })
    .await;
    app.create_hook("g/h", hook_body()).await;
    let task_id = app.trigger("g/h", json!({})).await.expect(200)["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/tasks/{task_id}");
    app.call(
        Method::GET,
        &path,
        Auth::Client("auditor", "auditor-token"),
        None,
    )
    .await
    .expect(200);
    app.call(
        Method::GET,
        &path,
        Auth::Client("other", "other-token"),
        None,
    )
    .await
    .expect_error(403, "InsufficientScopes");
}
