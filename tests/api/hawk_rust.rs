//! The Rust `taskcluster` crate against a running hookd, signing with Hawk.
//!
//! The crate signs with the wall clock, so the app's clock is set to it first.

use chrono::Utc;
use hookd_testkit::app::{hook_body, spawn_app, ROOT_TOKEN};
use serde_json::{json, Value};
use taskcluster::{ClientBuilder, Credentials, Hooks};

fn hooks(root_url: &str, credentials: Credentials) -> Hooks {
    Hooks::new(
        ClientBuilder::new(root_url)
            .credentials(credentials)
            .retry(taskcluster::Retry {
                retries: 0,
                ..taskcluster::Retry::default()
            }),
    )
    .expect("the client builds")
}

#[tokio::test]
async fn the_rust_taskcluster_crate_uses_the_whole_api_with_hawk() {
    let app = spawn_app().await;
    app.clock.set(Utc::now());
    let client = hooks(&app.address, Credentials::new("root", ROOT_TOKEN));
    let mut body = hook_body();
    body["task"]["payload"] = json!({"from": {"$eval": "payload.who"}});
    body["triggerSchema"] = json!({"type": "object"});

    let created = client.createHook("rs", "hook", &body).await.unwrap();
    let read = client.hook("rs", "hook").await.unwrap();
    body["metadata"]["name"] = json!("renamed");
    let updated = client.updateHook("rs", "hook", &body).await.unwrap();
    let groups = client.listHookGroups().await.unwrap();
    let listed = client.listHooks("rs").await.unwrap();
    let fired = client
        .triggerHook("rs", "hook", &json!({"who": "rust"}))
        .await
        .unwrap();
    let token = client.getTriggerToken("rs", "hook").await.unwrap();
    let reset = client.resetTriggerToken("rs", "hook").await.unwrap();
    let by_token = client
        .triggerHookWithToken(
            "rs",
            "hook",
            reset["token"].as_str().unwrap(),
            &json!({"who": "t"}),
        )
        .await
        .unwrap();
    let status = client.getHookStatus("rs", "hook").await.unwrap();
    let fires = client
        .listLastFires("rs", "hook", None, None)
        .await
        .unwrap();

    assert_eq!(created["hookId"], "hook");
    assert_eq!(read["metadata"]["name"], "nightly");
    assert_eq!(updated["metadata"]["name"], "renamed");
    assert_eq!(groups["groups"], json!(["rs"]));
    assert_eq!(listed["hooks"][0]["hookId"], "hook");
    let task_id = fired["taskId"].as_str().unwrap();
    assert_eq!(
        app.submitted_task(task_id).await["task"]["payload"]["from"],
        "rust"
    );
    assert_ne!(token["token"], reset["token"]);
    assert!(by_token["taskId"].is_string());
    assert_eq!(status["lastFire"]["result"], "success");
    assert_eq!(fires["lastFires"].as_array().map(Vec::len), Some(2));
    client.removeHook("rs", "hook").await.unwrap();
}

#[tokio::test]
async fn rust_temporary_credentials_hold_only_their_scopes() {
    let app = spawn_app().await;
    app.clock.set(Utc::now());
    app.create_hook("rs/hook", hook_body()).await;
    let temp = Credentials::new("root", ROOT_TOKEN)
        .create_temp_creds(std::time::Duration::from_secs(3600), ["hooks:get:rs:*"])
        .unwrap();
    let client = hooks(&app.address, temp);

    let read: Value = client.hook("rs", "hook").await.unwrap();
    let removed = client.removeHook("rs", "hook").await;

    assert_eq!(read["hookId"], "hook");
    let error = removed.expect_err("the certificate does not grant removal");
    assert!(format!("{error:#}").contains("403 Forbidden"), "{error:#}");
}
