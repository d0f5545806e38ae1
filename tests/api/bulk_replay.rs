//! Extension: bulk replay (`POST/GET .../replays`, `GET/DELETE .../replays/{jobId}`). The
//! apps run one replay per second of their manual clock, so each test lets replays through
//! by moving the clock.

use std::collections::HashMap;
use std::num::NonZeroU32;

use hookd::api::schemas::SchemaId;
use hookd::domain::{JobState, ReplayJob};
use hookd_testkit::app::{
    assert_matches_schemas, client, hook_body, spawn_app_with, Auth, Reply, TestApp,
};
use hookd_testkit::wait::eventually;
use reqwest::Method;
use serde_json::{json, Value};

/// A hook whose template fails to render for a payload with `fail` (an error fire), and one
/// like it that renders every payload.
fn hook(failing: bool) -> Value {
    let mut body = hook_body();
    body["triggerSchema"] = json!({"type": "object"});
    let x = if failing {
        json!({"$if": "payload.fail", "then": {"$eval": "undefined_name"}, "else": 0})
    } else {
        json!(0)
    };
    body["task"] = json!({
        "provisionerId": "p",
        "workerType": "w",
        "metadata": {"name": "t"},
        "payload": {"n": {"$eval": "payload.n"}, "x": x},
    });
    body
}

async fn app() -> TestApp {
    let app = spawn_app_with(|s| {
        s.replay_rate = NonZeroU32::MIN;
        s.clients = vec![client("firer", &["hooks:trigger-hook:g/h"])];
    })
    .await;
    app.create_hook("g/h", hook(true)).await;
    app.create_hook("g/other", hook(true)).await;
    app
}

/// Fires `g/h` once per entry of `fails` (whether that fire fails), a minute apart; answers
/// the fires' times.
async fn fire_all(app: &TestApp, fails: &[bool]) -> Vec<String> {
    let mut times = Vec::new();
    for (n, fail) in fails.iter().enumerate() {
        app.clock.advance(chrono::Duration::minutes(1));
        times.push(app.now().to_rfc3339());
        app.trigger("g/h", json!({"n": n, "fail": fail})).await;
    }
    times
}

async fn history(app: &TestApp) -> Vec<Value> {
    let body = app
        .call(Method::GET, "/hooks/g/h/fires", Auth::Root, None)
        .await
        .expect(200);
    body["fires"].as_array().unwrap().clone()
}

/// How many replays the history holds of each fire.
async fn replays_of(app: &TestApp) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for fire in history(app).await {
        if let Some(of) = fire["replay"]["fireId"].as_str() {
            *counts.entry(of.to_owned()).or_default() += 1;
        }
    }
    counts
}

/// The ids of the error fires (not replays) that happened in `since..=until`.
async fn error_fires_between(app: &TestApp, since: &str, until: &str) -> Vec<String> {
    let (since, until) = (time(since), time(until));
    history(app)
        .await
        .into_iter()
        .filter(|f| f["replay"].is_null() && !f["failure"].is_null())
        .filter(|f| (since..=until).contains(&time(f["taskCreateTime"].as_str().unwrap())))
        .map(|f| f["fireId"].as_str().unwrap().to_owned())
        .collect()
}

fn time(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().unwrap()
}

async fn post_replays(app: &TestApp, auth: Auth<'_>, body: Value) -> Reply {
    app.call(Method::POST, "/hooks/g/h/replays", auth, Some(body))
        .await
}

async fn job(app: &TestApp, job_id: &str) -> Value {
    let job = app
        .call(
            Method::GET,
            &format!("/hooks/g/h/replays/{job_id}"),
            Auth::Root,
            None,
        )
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ReplayJob, &job, true);
    job
}

/// Waits until the job `job_id` has replayed `n` fires; answers it.
async fn replayed(app: &TestApp, job_id: &str, n: u64) -> Value {
    eventually(&format!("job {job_id} replays {n}"), || async {
        let job = job(app, job_id).await;
        (job["replayed"] == n).then_some(job)
    })
    .await
}

/// Waits until the job `job_id` is done; answers it.
async fn ended(app: &TestApp, job_id: &str) -> Value {
    eventually(&format!("job {job_id} ends"), || async {
        let job = job(app, job_id).await;
        (job["state"] == "done").then_some(job)
    })
    .await
}

/// Lets the job `job_id` replay one more fire: moves the clock a second (the rate) on and
/// waits for it.
async fn one_more(app: &TestApp, job_id: &str, n: u64) -> Value {
    app.clock.advance(chrono::Duration::seconds(1));
    replayed(app, job_id, n).await
}

/// Fires `g/h` `n` times, each an error fire, starts a job replaying them all and waits for its
/// first replay; answers the fires' times and the job's id.
async fn started_job(app: &TestApp, n: usize) -> (Vec<String>, String) {
    let times = fire_all(app, &vec![true; n]).await;
    let created = post_replays(
        app,
        Auth::Root,
        json!({"since": times[0], "until": times[n - 1]}),
    )
    .await
    .expect(201);
    assert_eq!(created["planned"], n);
    let job_id = created["jobId"].as_str().unwrap().to_owned();
    replayed(app, &job_id, 1).await;
    (times, job_id)
}

#[tokio::test]
async fn a_dry_run_answers_the_plan_and_writes_nothing() {
    let app = app().await;
    let times = fire_all(&app, &[true, false, true, true, false]).await;
    let before = history(&app).await;

    let plan = post_replays(
        &app,
        Auth::Client("firer", "firer-token"),
        json!({"since": times[1], "until": times[3], "dryRun": true}),
    )
    .await
    .expect(200);
    assert_matches_schemas(SchemaId::ReplayPlan, &plan, true);
    assert_eq!(plan["count"], 2, "the error fires at times 2 and 3: {plan}");
    let listed: Vec<&str> = plan["fires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fireId"].as_str().unwrap())
        .collect();
    let expected = error_fires_between(&app, &times[1], &times[3]).await;
    assert_eq!(listed, expected, "newest first, as they would be replayed");

    let all = post_replays(
        &app,
        Auth::Root,
        json!({"since": times[0], "until": times[4], "result": "all", "dryRun": true}),
    )
    .await
    .expect(200);
    assert_eq!(all["count"], 5);

    assert_eq!(history(&app).await, before, "nothing was fired");
    let jobs = app
        .call(Method::GET, "/hooks/g/h/replays", Auth::Root, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ListReplayJobsResponse, &jobs, true);
    assert_eq!(jobs["replays"], json!([]), "no job was stored");
}

#[tokio::test]
async fn a_job_replays_exactly_the_error_fires_in_its_range() {
    let app = app().await;
    let times = fire_all(&app, &[true, true, false, true, true, false, true]).await;
    // The template is fixed since; the replays render the current one, and succeed.
    app.call(Method::POST, "/hooks/g/h", Auth::Root, Some(hook(false)))
        .await
        .expect(200);
    let (since, until) = (&times[1], &times[5]);
    let expected = error_fires_between(&app, since, until).await;
    assert_eq!(expected.len(), 3);

    let created = post_replays(
        &app,
        Auth::Client("firer", "firer-token"),
        json!({"since": since, "until": until, "template": "current", "dryRun": false}),
    )
    .await
    .expect(201);
    assert_matches_schemas(SchemaId::ReplayJob, &created, true);
    assert_eq!(created["planned"], 3);
    assert_eq!(created["state"], "running");
    assert_eq!(created["clientId"], "firer");
    let job_id = created["jobId"].as_str().unwrap();

    replayed(&app, job_id, 1).await;
    one_more(&app, job_id, 2).await;
    one_more(&app, job_id, 3).await;
    let done = ended(&app, job_id).await;
    assert_eq!(done["failed"], 0);

    let counts = replays_of(&app).await;
    let mut replayed_ids: Vec<&String> = counts.keys().collect();
    replayed_ids.sort();
    let mut expected_ids: Vec<&String> = expected.iter().collect();
    expected_ids.sort();
    assert_eq!(
        replayed_ids, expected_ids,
        "only the error fires in the range"
    );
    assert!(counts.values().all(|&n| n == 1), "each once: {counts:?}");
    for fire in history(&app).await {
        if !fire["replay"].is_null() {
            assert!(fire["failure"].is_null(), "the replay succeeded: {fire}");
            assert_eq!(fire["replay"]["clientId"], "firer");
        }
    }

    let jobs = app
        .call(Method::GET, "/hooks/g/h/replays", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(jobs["replays"][0]["jobId"], job_id);
}

#[tokio::test]
async fn a_cancelled_job_replays_nothing_more() {
    let app = app().await;
    let (times, job_id) = started_job(&app, 3).await;
    let job_id = job_id.as_str();

    let cancelled = app
        .call(
            Method::DELETE,
            &format!("/hooks/g/h/replays/{job_id}"),
            Auth::Client("firer", "firer-token"),
            None,
        )
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ReplayJob, &cancelled, true);
    assert_eq!(cancelled["state"], "cancelled");

    // The clock would let the cancelled job go on; a second job, created after, runs to its
    // end, and the runner takes running jobs oldest first, so it passed the first one by.
    app.clock.advance(chrono::Duration::seconds(10));
    let marker = post_replays(
        &app,
        Auth::Root,
        json!({"since": times[0], "until": times[0]}),
    )
    .await
    .expect(201);
    let marker_id = marker["jobId"].as_str().unwrap();
    ended(&app, marker_id).await;

    let after = job(&app, job_id).await;
    assert_eq!(after["state"], "cancelled");
    assert_eq!(after["replayed"], 1);
    let replays: usize = replays_of(&app).await.values().sum();
    assert_eq!(replays, 2, "one of the cancelled job, one of the marker");
}

#[tokio::test]
async fn a_job_interrupted_by_a_restart_finishes_without_firing_anything_twice() {
    let app = app().await;
    let (times, job_id) = started_job(&app, 5).await;
    let planned = error_fires_between(&app, &times[0], &times[4]).await;
    one_more(&app, &job_id, 2).await;

    // Mid-job: the clock holds the third replay back while the app stops.
    let app = app.restart().await;
    assert_eq!(job(&app, &job_id).await["state"], "running");
    for n in 3..=5 {
        one_more(&app, &job_id, n).await;
    }
    ended(&app, &job_id).await;

    let counts = replays_of(&app).await;
    for fire_id in &planned {
        assert_eq!(counts.get(fire_id), Some(&1), "{fire_id} replayed once");
    }
    assert_eq!(counts.len(), planned.len(), "nothing else replayed");
    let job = job(&app, &job_id).await;
    assert_eq!(
        (job["replayed"].clone(), job["failed"].clone()),
        (json!(5), json!(0))
    );
}

#[tokio::test]
async fn a_replay_fired_before_a_crash_could_write_the_cursor_is_not_fired_again() {
    let app = app().await;
    let (_, job_text) = started_job(&app, 3).await;
    let job_id: uuid::Uuid = job_text.parse().unwrap();
    let before: ReplayJob = serde_json::from_value(job(&app, &job_text).await).unwrap();
    one_more(&app, &job_text, 2).await;

    // What a crash after the second replay, before its cursor was written, leaves behind:
    // the job as it stood after the first.
    let app = app.restart().await;
    let store = app.open_store().await;
    let stored = store.get_replay_job(job_id).await.unwrap().unwrap();
    if stored.state == JobState::Running {
        let mut rewound = before.clone();
        rewound.version = stored.version + 1;
        store
            .replace_replay_job(&rewound, stored.version)
            .await
            .unwrap();
    }
    one_more(&app, &job_text, 2).await;
    one_more(&app, &job_text, 3).await;
    let done = ended(&app, &job_text).await;

    let counts = replays_of(&app).await;
    assert_eq!(
        counts.len(),
        3,
        "every planned fire was replayed: {counts:?}"
    );
    assert!(counts.values().all(|&n| n == 1), "none twice: {counts:?}");
    assert_eq!(
        done["replayed"], 3,
        "the repeat found its record and counted once"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_through_the_one_error_mapping() {
    let app = app().await;
    let times = fire_all(&app, &[true]).await;
    let range = json!({"since": times[0], "until": times[0]});

    // Replaying another hook's fires takes the scope of triggering that hook.
    app.call(
        Method::POST,
        "/hooks/g/other/replays",
        Auth::Client("firer", "firer-token"),
        Some(range.clone()),
    )
    .await
    .expect_error(403, "InsufficientScopes");
    post_replays(
        &app,
        Auth::Root,
        json!({"since": times[0], "until": "2020-01-01T00:00:00Z"}),
    )
    .await
    .expect_error(400, "InputError");
    post_replays(&app, Auth::Root, json!({"since": times[0]}))
        .await
        .expect_error(400, "InputValidationError");
    app.call(
        Method::POST,
        "/hooks/g/nope/replays",
        Auth::Root,
        Some(range.clone()),
    )
    .await
    .expect_error(404, "ResourceNotFound");
    let unknown = uuid::Uuid::now_v7();
    app.call(
        Method::GET,
        &format!("/hooks/g/h/replays/{unknown}"),
        Auth::Root,
        None,
    )
    .await
    .expect_error(404, "ResourceNotFound");
    app.call(
        Method::DELETE,
        "/hooks/g/h/replays/not-a-uuid",
        Auth::Root,
        None,
    )
    .await
    .expect_error(400, "InvalidRequestArguments");
}
