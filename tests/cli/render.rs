//! `hookd render`: a fire previewed offline from files, with the API's JSON answer and an exit
//! status a CI step can check (0: it would fire; 1: it would not, or nothing rendered).

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use super::hookd;

const TASK_ID: &str = "fN1SbArXTPSVFNUvaOlinQ";

fn definition(task: Value) -> Value {
    json!({
        "hookGroupId": "ci",
        "hookId": "nightly",
        "metadata": {"name": "n", "description": "d", "owner": "ci@example.com"},
        "triggerSchema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "scopes": ["queue:route:ok"],
        "task": task,
    })
}

fn task() -> Value {
    json!({
        "provisionerId": "p",
        "workerType": "w",
        "metadata": {"name": "t"},
        "scopes": {"$if": "'scopes' in payload", "then": {"$eval": "payload.scopes"}, "else": []},
        "payload": {"n": {"$eval": "payload.n"}, "now": {"$eval": "now"}, "taskId": {"$eval": "taskId"}},
    })
}

/// Runs `hookd render` on `hook` and `payload` written to files, with `extra` flags.
fn render(dir: &Path, hook: &Value, payload: &Value, extra: &[&str]) -> Output {
    let (hook_file, payload_file) = (dir.join("hook.json"), dir.join("payload.json"));
    std::fs::write(&hook_file, hook.to_string()).unwrap();
    std::fs::write(&payload_file, payload.to_string()).unwrap();
    hookd()
        .arg("render")
        .arg("--hook")
        .arg(&hook_file)
        .arg("--payload")
        .arg(&payload_file)
        .args(extra)
        .output()
        .expect("hookd render runs")
}

fn answer(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn a_hook_that_would_fire_prints_its_task_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let output = render(
        dir.path(),
        &definition(task()),
        &json!({"n": 7}),
        &["--now", "2030-01-01T00:00:00Z", "--task-id", TASK_ID],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let answer = answer(&output);
    assert_eq!(answer["declined"], false);
    assert_eq!(
        answer["task"]["payload"],
        json!({"n": 7, "now": "2030-01-01T00:00:00.000Z", "taskId": TASK_ID})
    );
    assert_eq!(answer["task"]["taskGroupId"], TASK_ID);
    assert_eq!(
        answer["taskBytes"],
        serde_json::to_vec(&answer["task"]).unwrap().len()
    );
}

#[test]
fn a_hook_that_would_not_fire_prints_why_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let schema_error = answer(&render(
        dir.path(),
        &definition(task()),
        &json!({"n": "x"}),
        &[],
    ));
    assert_eq!(schema_error["schemaErrors"].as_array().unwrap().len(), 1);
    let scopes = json!({"n": 1, "scopes": ["queue:route:ok", "secrets:get:no"]});
    let output = render(dir.path(), &definition(task()), &scopes, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(answer(&output)["missingScopes"], json!(["secrets:get:no"]));
    let declines = definition(json!({"$if": "payload.n > 0", "then": task(), "else": null}));
    let output = render(dir.path(), &declines, &json!({"n": 0}), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(answer(&output)["declined"], true);
}

#[test]
fn a_definition_or_template_that_cannot_render_exits_1_with_the_reason_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let broken = definition(json!({"$eval": "nothing.here"}));
    let mut no_ids = definition(task());
    no_ids.as_object_mut().unwrap().remove("hookId");
    for (hook, said) in [(broken, "JSON-e"), (no_ids, "hookId")] {
        let output = render(dir.path(), &hook, &json!({}), &[]);
        assert_eq!(output.status.code(), Some(1));
        assert!(output.stdout.is_empty(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(said), "{stderr}");
    }
    let output = render(
        dir.path(),
        &definition(task()),
        &json!({}),
        &["--now", "soon"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("now"));
}
