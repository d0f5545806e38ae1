//! Reading what the listener did through the API: fires and the tasks in the local outbox.

use hookd_testkit::app::TestApp;
use hookd_testkit::wait::eventually;
use serde_json::Value;

/// Every recorded fire of `hook`, newest first.
pub async fn fires(app: &TestApp, hook: &str) -> Vec<Value> {
    let body = app.last_fires(hook, "").await;
    body["lastFires"].as_array().cloned().unwrap_or_default()
}

/// The fires of `hook` once there are at least `count`.
pub async fn await_fires(app: &TestApp, hook: &str, count: usize) -> Vec<Value> {
    eventually(&format!("{count} fires of {hook}"), || async {
        let fires = fires(app, hook).await;
        (fires.len() >= count).then_some(fires)
    })
    .await
}

/// The task payload of a successful fire, from the local outbox.
pub async fn task_payload(app: &TestApp, fire: &Value) -> Value {
    assert_eq!(fire["result"], "success", "fire: {fire}");
    let task_id = fire["taskId"].as_str().expect("taskId");
    app.submitted_task(task_id).await["task"]["payload"].clone()
}

/// The successful and the failed fires, apart.
pub fn by_result(fires: &[Value]) -> (Vec<Value>, Vec<Value>) {
    fires
        .iter()
        .cloned()
        .partition(|f| f["result"] == "success")
}
