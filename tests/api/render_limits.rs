//! Render limits: templates that run too long, grow too large or eat memory fail their fire
//! with 400, are recorded as error fires, and leave the server and its render workers healthy.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use hookd::config::Settings;
use hookd_testkit::app::{hook_body, spawn_app_with, Auth, TestApp};

/// An app customized by `customize` with hook `g/h` whose task payload is `payload`, and
/// hook `g/fast` with a plain task.
async fn app_rendering(customize: fn(&mut Settings), payload: Value) -> TestApp {
    let app = spawn_app_with(customize).await;
    let mut body = hook_body();
    body["task"]["payload"] = payload;
    app.create_hook("g/h", body).await;
    app.create_hook("g/fast", hook_body()).await;
    app
}

/// A template whose render allocates without end: a string doubled 64 times.
fn doubling_string() -> Value {
    json!({"$reduce": {"$eval": "range(0, 64)"}, "initial": "x",
           "each(acc, x)": {"$eval": "acc + acc"}})
}

/// A template whose render takes minutes in little memory: 10^5 ranges of 10^5 numbers,
/// built one at a time.
fn endless_sum() -> Value {
    json!({"$reduce": {"$eval": "range(0, 100000)"}, "initial": 0,
           "each(acc, x)": {"$eval": "acc + len(range(0, 100000))"}})
}

/// Fires `g/h`, expecting its render to fail with 400; returns the message.
async fn render_error(app: &TestApp) -> String {
    app.trigger("g/h", json!({}))
        .await
        .expect_error(400, "InputError")
}

/// The fast hook fires and its task is submitted.
async fn assert_fast_hook_fires(app: &TestApp) {
    let reply = app.trigger("g/fast", json!({})).await.expect(200);
    let task_id = reply["status"]["taskId"].as_str().unwrap().to_owned();
    assert_eq!(app.submitted_task(&task_id).await["taskId"], task_id);
}

#[tokio::test]
async fn templates_that_render_too_slowly_answer_400() {
    let app = app_rendering(
        |s| s.render_limits.deadline = Duration::from_millis(1),
        endless_sum(),
    )
    .await;

    let message = render_error(&app).await;

    assert!(message.contains("longer than 1ms"), "{message}");
    app.call(Method::GET, "/ping", Auth::Anonymous, None)
        .await
        .expect(200);
}

#[tokio::test]
async fn a_render_past_its_deadline_is_stopped_and_frees_its_worker() {
    // One worker: if the endless render kept it, the next fire would wait for it and miss
    // its own deadline too.
    let app = app_rendering(
        |s| {
            s.render_limits.deadline = Duration::from_secs(2);
            s.render_limits.workers = 1;
        },
        endless_sum(),
    )
    .await;

    let message = render_error(&app).await;
    assert!(message.contains("longer than 2s"), "{message}");

    assert_fast_hook_fires(&app).await;
    // The hostile template went to a worker, and the plain one did not need one.
    let scrape = app.metrics().await;
    let renders = |path: &str| {
        hookd_testkit::app::metric_value(
            &scrape,
            &format!("hookd_renders_total{{path=\"{path}\"}}"),
        )
    };
    assert_eq!(renders("worker"), Some(1.0), "{scrape}");
    assert_eq!(renders("in_process"), Some(1.0), "{scrape}");
}

#[tokio::test]
async fn templates_that_exhaust_memory_answer_400_and_are_recorded() {
    let app = app_rendering(
        |s| {
            s.render_limits.memory_limit = 32 * 1024 * 1024;
            s.render_limits.deadline = Duration::from_secs(60);
            s.render_limits.workers = 1;
        },
        doubling_string(),
    )
    .await;

    let message = render_error(&app).await;

    assert!(message.contains("limit of 32 MiB of memory"), "{message}");
    let fires = app.last_fires("g/h", "").await;
    assert_eq!(fires["lastFires"][0]["result"], "error");
    assert!(
        fires["lastFires"][0]["error"]
            .to_string()
            .contains("MiB of memory"),
        "{fires}"
    );
    assert_fast_hook_fires(&app).await;
}

#[tokio::test]
async fn templates_that_render_too_large_answer_400() {
    let app = app_rendering(
        |s| s.render_limits.max_task_bytes = 4096,
        json!({"$map": {"$eval": "range(0, 2000)"}, "each(x)": "item ${x}"}),
    )
    .await;

    let message = render_error(&app).await;

    assert!(message.contains("limit of 4096"), "{message}");
}

#[tokio::test]
async fn without_a_render_worker_unbounded_templates_answer_503_and_are_not_recorded() {
    let app = app_rendering(
        |s| s.render_limits.worker_program = "/nonexistent/hookd".into(),
        json!({"$reduce": {"$eval": "payload.list"}, "initial": 0,
               "each(acc, x)": {"$eval": "acc + x"}}),
    )
    .await;

    app.trigger("g/h", json!({}))
        .await
        .expect_error(503, "ServiceUnavailable");

    let fires = app.last_fires("g/h", "").await;
    assert_eq!(fires["lastFires"], json!([]));
}

#[tokio::test]
async fn provably_bounded_templates_render_in_process_without_a_worker() {
    let app =
        spawn_app_with(|s| s.render_limits.worker_program = "/nonexistent/hookd".into()).await;
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object"});
    body["task"]["payload"] = json!({
        "args": {"$map": {"$eval": "payload.items"}, "each(x)": "--item=${x}"},
        "env": {"$json": {"$eval": "payload"}},
    });
    app.create_hook("g/h", body).await;
    app.create_hook("g/fast", hook_body()).await;

    let reply = app
        .trigger("g/h", json!({"items": ["a", "b"]}))
        .await
        .expect(200);

    let task_id = reply["status"]["taskId"].as_str().unwrap().to_owned();
    let task = app.submitted_task(&task_id).await["task"].clone();
    assert_eq!(task["payload"]["args"], json!(["--item=a", "--item=b"]));
    assert_fast_hook_fires(&app).await;
    let scrape = app.metrics().await;
    let series = r#"hookd_renders_total{path="in_process"}"#;
    assert_eq!(
        hookd_testkit::app::metric_value(&scrape, series),
        Some(2.0),
        "{scrape}"
    );
}
