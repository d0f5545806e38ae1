//! The official Python Taskcluster client against a running hookd, signing with Hawk.
//!
//! The client comes from PyPI into a venv (`scripts/services/taskcluster_py.sh`);
//! `taskcluster_client.py` makes the calls and prints each outcome, and this test judges them.
//! The client signs with the wall clock, so the app's clock is set to it first.

use chrono::Utc;
use hookd::clients::file::ClientFile;
use hookd::clients::tokens::TokenDeriver;
use hookd::data_dir::DataDir;
use hookd_testkit::app::{spawn_app, TestApp, ROOT_TOKEN};
use serde_json::Value;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/taskcluster_client.py"
);

/// The venv's Python, or `None` (skip) when run outside `scripts/test.sh`.
pub fn taskcluster_python() -> Option<String> {
    match std::env::var("HOOKD_TEST_TASKCLUSTER_PYTHON") {
        Ok(python) => Some(python),
        Err(_) if std::env::var_os("HOOKD_TEST_RUN_DIR").is_none() => {
            eprintln!("skipped: HOOKD_TEST_TASKCLUSTER_PYTHON is unset (run scripts/test.sh)");
            None
        }
        Err(_) => panic!("scripts/test.sh must export HOOKD_TEST_TASKCLUSTER_PYTHON"),
    }
}

/// Runs the script as `client_id` and returns its outcomes by call name.
async fn run_client(python: String, app: &TestApp, client_id: &str, token: &str) -> Value {
    let args = [
        SCRIPT.to_owned(),
        app.address.clone(),
        client_id.to_owned(),
        token.to_owned(),
    ];
    let output =
        tokio::task::spawn_blocking(move || std::process::Command::new(python).args(args).output())
            .await
            .expect("the client thread finishes")
            .expect("python runs");
    assert!(
        output.status.success(),
        "the Python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// A fresh app on the wall clock, and the script's outcomes as root; `None` to skip.
async fn run_as_root() -> Option<(TestApp, Value)> {
    let python = taskcluster_python()?;
    let app = spawn_app().await;
    app.clock.set(Utc::now());
    let out = run_client(python, &app, "root", ROOT_TOKEN).await;
    Some((app, out))
}

#[track_caller]
fn ok<'a>(out: &'a Value, call: &str) -> &'a Value {
    let outcome = &out[call];
    assert!(outcome.get("ok").is_some(), "{call} failed: {outcome}");
    &outcome["ok"]
}

#[track_caller]
fn refused(out: &Value, call: &str, status: u16, code: &str) {
    let outcome = &out[call];
    assert_eq!(outcome["status"], status, "{call}: {outcome}");
    assert_eq!(outcome["code"], code, "{call}: {outcome}");
}

#[tokio::test]
async fn the_python_taskcluster_client_uses_the_whole_api_with_hawk() {
    let Some((app, out)) = run_as_root().await else {
        return;
    };

    assert_eq!(ok(&out, "createHook")["hookId"], "py-hook");
    assert_eq!(ok(&out, "hook")["metadata"]["name"], "py");
    assert_eq!(ok(&out, "updateHook")["metadata"]["name"], "py2");
    assert_eq!(ok(&out, "listHookGroups")["groups"][0], "py-group");
    assert_eq!(ok(&out, "listHooks")["hooks"][0]["hookId"], "py-hook");
    let task_id = ok(&out, "triggerHook")["taskId"]
        .as_str()
        .expect("triggerHook answers a task id")
        .to_owned();
    assert_eq!(
        app.submitted_task(&task_id).await["task"]["payload"]["from"],
        "python"
    );
    let first_token = &ok(&out, "getTriggerToken")["token"];
    assert_ne!(&ok(&out, "resetTriggerToken")["token"], first_token);
    assert!(ok(&out, "triggerHookWithToken")["taskId"].is_string());
    assert_eq!(ok(&out, "getHookStatus")["lastFire"]["result"], "success");
    let fired_by: Vec<&Value> = ok(&out, "listLastFires")["lastFires"]
        .as_array()
        .expect("lastFires is a list")
        .iter()
        .map(|fire| &fire["firedBy"])
        .collect();
    assert_eq!(fired_by.len(), 2, "{fired_by:?}");
    ok(&out, "removeHook");
}

#[tokio::test]
async fn python_authorized_scopes_and_temporary_credentials_narrow_the_caller() {
    let Some((_app, out)) = run_as_root().await else {
        return;
    };

    ok(&out, "authorizedScopes.hook");
    refused(
        &out,
        "authorizedScopes.removeHook",
        403,
        "InsufficientScopes",
    );
    ok(&out, "temporary.hook");
    refused(&out, "temporary.removeHook", 403, "InsufficientScopes");
    ok(&out, "named.hook");
    refused(&out, "temporary.forged", 401, "AuthenticationFailed");
    refused(&out, "temporary.expired", 401, "AuthenticationFailed");
    refused(&out, "wrongToken", 401, "AuthenticationFailed");
}

#[tokio::test]
async fn a_cli_managed_client_signs_with_hawk_within_its_scopes() {
    let Some(python) = taskcluster_python() else {
        return;
    };
    let app = spawn_app().await;
    let data = DataDir::open(app.data_dir()).unwrap();
    let scopes = [
        "hooks:*",
        "assume:hook-id:py-group/*",
        "auth:create-client:py-temp",
    ];
    let token = ClientFile::open_in(&data)
        .unwrap()
        .create(
            "py-ci",
            scopes.iter().map(|s| s.to_string()).collect(),
            &TokenDeriver::open(&data).unwrap(),
        )
        .unwrap();
    let app = app.restart().await;
    app.clock.set(Utc::now());

    let out = run_client(python, &app, "py-ci", &token).await;

    assert_eq!(ok(&out, "createHook")["hookId"], "py-hook");
    ok(&out, "triggerHook");
    ok(&out, "named.hook");
    refused(&out, "authorizedScopes.beyond", 401, "AuthenticationFailed");
    ok(&out, "removeHook");
}
