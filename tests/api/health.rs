//! ping and the Dockerflow endpoints.

use hookd::schemas::SchemaId;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_matches_schemas, spawn_app, Auth};

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
        json!({"store": "ok"})
    );
}
