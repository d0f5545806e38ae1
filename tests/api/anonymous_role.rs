//! Every caller holds `assume:anonymous`, as in Taskcluster: clients with credentials, signed
//! requests, and the role a hook's tasks are checked against.

use reqwest::Method;
use serde_json::json;

use hookd_testkit::app::{client, hook_body, role, spawn_app_with, Auth};

#[tokio::test]
async fn a_client_with_few_scopes_may_do_what_anonymous_callers_may() {
    let app = spawn_app_with(|s| {
        s.roles = vec![role("anonymous", &["hooks:get:public:*"])];
        s.clients = vec![client("dave", &["hooks:list-hooks:"])];
    })
    .await;
    app.create_hook("public/h", hook_body()).await;
    app.create_hook("private/h", hook_body()).await;
    let dave = Auth::Client("dave", "dave-token");
    for auth in [Auth::Anonymous, dave] {
        app.call(Method::GET, "/hooks/public/h", auth, None)
            .await
            .expect(200);
        app.call(Method::GET, "/hooks/private/h", auth, None)
            .await
            .expect_error(403, "InsufficientScopes");
    }
    app.call(Method::GET, "/hooks", dave, None)
        .await
        .expect(200);
}

#[tokio::test]
async fn a_hooks_tasks_may_ask_for_what_the_anonymous_role_grants() {
    let app = spawn_app_with(|s| {
        s.roles = vec![
            role("anonymous", &["queue:route:public.*"]),
            role("hook-id:g/*", &["queue:create-task:low"]),
        ];
    })
    .await;
    let mut body = hook_body();
    body["task"]["scopes"] = json!(["queue:create-task:low", "queue:route:public.builds"]);
    app.create_hook("g/h", body.clone()).await;
    app.trigger("g/h", json!({})).await.expect(200);
    body["task"]["scopes"] = json!(["queue:route:private.builds"]);
    app.create_hook("g/other", body).await;
    app.trigger("g/other", json!({}))
        .await
        .expect_error(403, "InsufficientScopes");
}
