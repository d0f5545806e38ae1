//! The cron scheduler seen through the API: scheduled fires, getHookStatus's
//! `nextScheduledDate`, schedule edits, restarts and the missed-fire policies.

use chrono::{DateTime, Duration, Utc};
use hookd::domain::{HookGroupId, HookId, HookKey, MissedFires, TaskId};
use hookd_testkit::app::{hook_body, spawn_app, spawn_app_with, Auth, TestApp, START};
use reqwest::Method;
use serde_json::{json, Value};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A hook body with `schedule` whose task names how and when it was fired.
fn scheduled_body(schedule: &[&str]) -> Value {
    let mut body = hook_body();
    body["schedule"] = json!(schedule);
    body["task"]["metadata"]["name"] = json!("${firedBy} at ${now} as ${taskId}");
    body
}

/// The `taskCreateTime`s of the hook's fires, oldest first, checking each is a successful
/// schedule fire with its slot's task id.
async fn schedule_fire_times(app: &TestApp, path: &str) -> Vec<String> {
    let (group, id) = path.split_once('/').unwrap();
    let key = HookKey::new(
        HookGroupId::parse(group).unwrap(),
        HookId::parse(id).unwrap(),
    );
    let body = app.last_fires(path, "").await;
    let mut times = Vec::new();
    for fire in body["lastFires"].as_array().unwrap().iter().rev() {
        assert_eq!(fire["firedBy"], "schedule", "{fire}");
        assert_eq!(fire["result"], "success", "{fire}");
        let time = fire["taskCreateTime"].as_str().unwrap().to_owned();
        let slot_id = TaskId::for_slot(&key, at(&time));
        assert_eq!(fire["taskId"], slot_id.as_str(), "{fire}");
        times.push(time);
    }
    times
}

#[tokio::test]
async fn a_hook_scheduled_every_second_fires_once_per_slot_at_the_slot_time() {
    let app = spawn_app().await;
    app.create_hook("g/every-second", scheduled_body(&["* * * * * *"]))
        .await;
    app.tick().await;
    let start = app.now();

    for _ in 0..3 {
        app.clock.advance(Duration::seconds(1));
        app.tick().await;
        // A second tick at the same time finds nothing more to do.
        app.tick().await;
    }

    let slots: Vec<String> = (1..=3).map(|s| iso(start + Duration::seconds(s))).collect();
    assert_eq!(schedule_fire_times(&app, "g/every-second").await, slots);
    let newest = &app.last_fires("g/every-second", "").await["lastFires"][0];
    let task = app.submitted_task(newest["taskId"].as_str().unwrap()).await;
    assert_eq!(
        task["task"]["metadata"]["name"],
        format!(
            "schedule at {} as {}",
            slots[2],
            newest["taskId"].as_str().unwrap()
        )
    );
    let status = app.status("g/every-second").await;
    assert_eq!(status["lastFire"]["result"], "success");
    assert_eq!(
        status["nextScheduledDate"],
        iso(start + Duration::seconds(4))
    );
}

#[tokio::test]
async fn status_shows_the_slot_the_scheduler_fires_next_also_after_a_schedule_change() {
    let app = spawn_app().await;
    app.create_hook("g/h", scheduled_body(&["*/15 * * * *"]))
        .await;
    assert_eq!(
        app.status("g/h").await["nextScheduledDate"],
        "2026-05-01T10:15:00.000Z"
    );
    app.tick().await;
    assert_eq!(
        app.status("g/h").await["nextScheduledDate"],
        "2026-05-01T10:15:00.000Z"
    );

    app.call(
        Method::POST,
        "/hooks/g/h",
        Auth::Root,
        Some(scheduled_body(&["0 12 * * *"])),
    )
    .await
    .expect(200);
    assert_eq!(
        app.status("g/h").await["nextScheduledDate"],
        "2026-05-01T12:00:00.000Z",
        "before the scheduler sees the change"
    );
    app.tick().await;
    app.clock.set(at("2026-05-01T10:15:00Z"));
    app.tick().await;
    assert_eq!(
        app.last_fires("g/h", "").await["lastFires"],
        json!([]),
        "the old schedule's slot does not fire"
    );
    app.clock.set(at("2026-05-01T12:00:00Z"));
    app.tick().await;
    assert_eq!(
        schedule_fire_times(&app, "g/h").await,
        ["2026-05-01T12:00:00.000Z"]
    );
    assert_eq!(
        app.status("g/h").await["nextScheduledDate"],
        "2026-05-02T12:00:00.000Z"
    );
}

#[tokio::test]
async fn clearing_the_schedule_or_removing_the_hook_stops_its_fires() {
    let app = spawn_app().await;
    app.create_hook("g/cleared", scheduled_body(&["* * * * *"]))
        .await;
    app.create_hook("g/removed", scheduled_body(&["* * * * *"]))
        .await;
    app.tick().await;
    app.call(
        Method::POST,
        "/hooks/g/cleared",
        Auth::Root,
        Some(scheduled_body(&[])),
    )
    .await
    .expect(200);
    app.call(Method::DELETE, "/hooks/g/removed", Auth::Root, None)
        .await
        .expect(200);

    app.clock.advance(Duration::minutes(1));
    app.tick().await;

    assert_eq!(
        app.last_fires("g/cleared", "").await["lastFires"],
        json!([])
    );
    assert!(app
        .status("g/cleared")
        .await
        .get("nextScheduledDate")
        .is_none());
    let removed = HookKey::new(
        HookGroupId::parse("g").unwrap(),
        HookId::parse("removed").unwrap(),
    );
    let slot_task = TaskId::for_slot(&removed, at("2026-05-01T10:01:00Z"));
    app.call(
        Method::GET,
        &format!("/tasks/{slot_task}"),
        Auth::Root,
        None,
    )
    .await
    .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn unknown_time_zones_are_refused_naming_the_entry() {
    let app = spawn_app().await;
    let message = app
        .call(
            Method::PUT,
            "/hooks/g/h",
            Auth::Root,
            Some(scheduled_body(&["TZ=Mars/Olympus_Mons 0 9 * * *"])),
        )
        .await
        .expect_error(400, "InputError");
    assert!(message.contains("Mars/Olympus_Mons"), "{message}");
}

#[tokio::test]
async fn a_zoned_schedule_fires_at_local_time() {
    let app = spawn_app().await;
    // START is 10:00Z, noon in Berlin's summer time: the next local noon is tomorrow.
    app.create_hook("g/h", scheduled_body(&["TZ=Europe/Berlin 0 12 * * *"]))
        .await;
    app.tick().await;
    assert_eq!(
        app.status("g/h").await["nextScheduledDate"],
        "2026-05-02T10:00:00.000Z"
    );
    app.clock.set(at("2026-05-02T10:00:00Z"));
    app.tick().await;
    assert_eq!(
        schedule_fire_times(&app, "g/h").await,
        ["2026-05-02T10:00:00.000Z"]
    );
}

/// Schedules a quarter-hourly hook, fires its 10:15 slot, then lets a restart see 13:22 (three
/// hours and seven minutes later) and returns the slots fired after the restart.
async fn fires_after_an_outage(customize: fn(&mut hookd::config::Settings)) -> Vec<String> {
    fires_after_an_outage_of(customize, scheduled_body(&["*/15 * * * *"])).await
}

async fn fires_after_an_outage_of(
    customize: fn(&mut hookd::config::Settings),
    body: Value,
) -> Vec<String> {
    let app = spawn_app_with(customize).await;
    assert_eq!(app.now(), at(START));
    app.create_hook("g/h", body).await;
    app.tick().await;
    app.clock.set(at("2026-05-01T10:15:00Z"));
    app.tick().await;
    assert_eq!(
        schedule_fire_times(&app, "g/h").await,
        ["2026-05-01T10:15:00.000Z"]
    );

    // Restart first, so the old process's loop cannot see the outage's end.
    let app = app.restart().await;
    app.clock.set(at("2026-05-01T13:22:00Z"));
    app.tick().await;
    let mut fired = schedule_fire_times(&app, "g/h").await;
    fired.remove(0);
    assert_eq!(
        app.status("g/h").await["nextScheduledDate"],
        "2026-05-01T13:30:00.000Z"
    );
    fired
}

#[tokio::test]
async fn after_an_outage_skip_fires_no_missed_slot() {
    let fired = fires_after_an_outage(|s| s.catch_up.policy = MissedFires::Skip).await;
    assert_eq!(fired, Vec::<String>::new());
}

#[tokio::test]
async fn after_an_outage_once_fires_the_latest_missed_slot_only() {
    let fired = fires_after_an_outage(|_| {}).await;
    assert_eq!(fired, ["2026-05-01T13:15:00.000Z"]);
}

#[tokio::test]
async fn after_an_outage_all_fires_every_missed_slot_oldest_first() {
    let fired = fires_after_an_outage(|s| s.catch_up.policy = MissedFires::All).await;
    let expected: Vec<String> = (0..12)
        .map(|n| iso(at("2026-05-01T10:30:00Z") + Duration::minutes(15 * n)))
        .collect();
    assert_eq!(expected.last().unwrap(), "2026-05-01T13:15:00.000Z");
    assert_eq!(fired, expected);
}

#[tokio::test]
async fn a_hooks_own_missed_fire_policy_overrides_the_service_default() {
    let mut body = scheduled_body(&["*/15 * * * *"]);
    body["missedFires"] = json!("all");
    let fired = fires_after_an_outage_of(|s| s.catch_up.policy = MissedFires::Skip, body).await;
    assert_eq!(fired.len(), 12, "{fired:?}");
}

#[tokio::test]
async fn an_update_without_missed_fires_keeps_the_hooks_policy() {
    let app = spawn_app().await;
    let mut body = scheduled_body(&["*/15 * * * *"]);
    body["missedFires"] = json!("skip");
    assert_eq!(app.create_hook("g/h", body).await["missedFires"], "skip");
    let updated = app
        .call(
            Method::POST,
            "/hooks/g/h",
            Auth::Root,
            Some(scheduled_body(&["0 * * * *"])),
        )
        .await
        .expect(200);
    assert_eq!(updated["missedFires"], "skip");
    let mut bad = scheduled_body(&[]);
    bad["missedFires"] = json!("sometimes");
    app.call(Method::PUT, "/hooks/g/bad", Auth::Root, Some(bad))
        .await
        .expect_error(400, "InputValidationError");
}

#[tokio::test]
async fn all_catches_up_only_inside_the_window() {
    let fired = fires_after_an_outage(|s| {
        s.catch_up.policy = MissedFires::All;
        s.catch_up.window = Duration::hours(1);
    })
    .await;
    assert_eq!(
        fired,
        [
            "2026-05-01T12:30:00.000Z",
            "2026-05-01T12:45:00.000Z",
            "2026-05-01T13:00:00.000Z",
            "2026-05-01T13:15:00.000Z",
        ]
    );
}

#[tokio::test]
async fn an_api_only_process_runs_no_scheduler_and_status_still_shows_the_next_slot() {
    let app = spawn_app_with(|s| s.service_roles = vec![hookd::config::ServiceRole::Api]).await;
    assert!(app.scheduler.is_none());
    app.create_hook("g/h", scheduled_body(&["* * * * * *"]))
        .await;
    assert_eq!(
        app.status("g/h").await["nextScheduledDate"],
        "2026-05-01T10:00:01.000Z"
    );
}

#[tokio::test]
async fn a_scheduler_only_process_answers_health_checks_but_not_the_api() {
    let app =
        spawn_app_with(|s| s.service_roles = vec![hookd::config::ServiceRole::Scheduler]).await;
    assert!(app.scheduler.is_some());
    app.call(Method::GET, "/ping", Auth::Anonymous, None)
        .await
        .expect(200);
    let heartbeat = reqwest::get(format!("{}/__heartbeat__", app.address))
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 200);
    app.call(Method::GET, "/hooks", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
    app.call(
        Method::PUT,
        "/hooks/g/h",
        Auth::Root,
        Some(scheduled_body(&["* * * * *"])),
    )
    .await
    .expect_error(404, "ResourceNotFound");
}
