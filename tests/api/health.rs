//! ping and the Dockerflow endpoints.

use hookd::api::schemas::SchemaId;
use hookd_testkit::app::{assert_matches_schemas, hook_body, spawn_app, Auth};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn ping_is_alive_with_an_uptime() {
    let app = spawn_app().await;
    let body = app
        .call(Method::GET, "/ping", Auth::Anonymous, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::PingResponse, &body, true);
    assert_eq!(body["alive"], true);
}

#[tokio::test]
async fn dockerflow_endpoints_answer_at_the_root_and_under_the_prefix() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for prefix in ["", "/api/hooks/v1"] {
        for path in ["/__heartbeat__", "/__lbheartbeat__", "/__version__"] {
            let url = format!("{}{prefix}{path}", app.address);
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{url}");
            let _: serde_json::Value = response.json().await.expect("JSON body");
        }
    }
    let version = client
        .get(format!("{}/__version__", app.address))
        .send()
        .await
        .unwrap();
    let version: serde_json::Value = version.json().await.unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    let heartbeat = client
        .get(format!("{}/__heartbeat__", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        heartbeat.json::<serde_json::Value>().await.unwrap(),
        json!({"store": "ok", "listener": {"state": "disabled", "reconnects": 0}})
    );
}

#[tokio::test]
async fn without_a_broker_bindings_are_stored_but_reported_inactive() {
    let app = spawn_app().await;
    let mut body = hook_body();
    body["bindings"] = json!([{"exchange": "exchange/x", "routingKeyPattern": "#"}]);
    app.create_hook("g/bound", body).await;
    app.create_hook("g/unbound", hook_body()).await;

    let bound = app.status("g/bound").await;
    let unbound = app.status("g/unbound").await;

    assert_eq!(
        bound["bindingStatus"],
        json!({"state": "inactive", "errors": []})
    );
    assert!(
        unbound.get("bindingStatus").is_none(),
        "hooks without bindings keep Taskcluster's shape: {unbound}"
    );
}
