//! hookd on MongoDB when the database is behind or away: `hookd migrate` and start-up refuse
//! an un-migrated database, and a database restart under load costs 503s while it is down and
//! nothing else, for webhook deliveries too.

use std::collections::HashSet;
use std::sync::Arc;

use hookd::config::{MongoArgs, Settings};
use hookd::startup::{Application, StartupError};
use hookd_testkit::app::{hook_body, spawn_app_on, Auth, TestApp};
use hookd_testkit::mongodb::{fresh_database_uri, skipping, PrivateServer};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::webhooks::{deliver, github, webhook_hook};

#[tokio::test]
async fn a_server_on_an_unmigrated_database_refuses_to_start() {
    let Some(uri) = fresh_database_uri() else {
        return skipping(module_path!());
    };
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(data_dir.path());
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.mongodb = Some(MongoArgs::options_for(&uri).unwrap());
    settings.render_limits.worker_program = env!("CARGO_BIN_EXE_hookd").into();
    let clock = Arc::new(hookd::clock::ManualClock::new(chrono::Utc::now()));
    let Err(err) = Application::build(settings.clone(), clock.clone()).await else {
        panic!("started on an un-migrated database");
    };
    assert!(matches!(err, StartupError::NotMigrated { .. }), "{err:?}");
    assert!(err.to_string().contains("hookd migrate"), "{err}");

    settings.migrate = true;
    assert!(Application::build(settings, clock).await.is_ok());
}

/// Runs the `hookd` binary with `args`; returns whether it succeeded and what it printed.
fn hookd(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(args)
        .env_remove("HOOKD_MONGODB_URI")
        .output()
        .expect("hookd runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test]
async fn hookd_migrate_applies_pending_migrations_and_status_reports_them() {
    let Some(uri) = fresh_database_uri() else {
        return skipping(module_path!());
    };
    let (ok, text) = hookd(&["migrate", "status", "--mongodb-uri", &uri]);
    assert!(!ok && text.contains("pending  0001_"), "{text}");

    let (ok, text) = hookd(&["migrate", "--mongodb-uri", &uri]);
    assert!(ok && text.contains("applied 3 migration"), "{text}");
    let (ok, text) = hookd(&["migrate", "--mongodb-uri", &uri]);
    assert!(ok && text.contains("applied 0 migration"), "{text}");

    let (ok, text) = hookd(&["migrate", "status", "--mongodb-uri", &uri]);
    assert!(ok && text.contains("applied  0001_"), "{text}");
    assert!(!text.contains("pending"), "{text}");
}

#[test]
fn hookd_migrate_without_a_uri_says_what_it_needs() {
    let (ok, text) = hookd(&["migrate"]);
    assert!(!ok && text.contains("--mongodb-uri"), "{text}");
}

/// One trigger's outcome: the task id on success, the error code otherwise.
type Outcome = Result<Value, (u16, Value)>;

/// Triggers `g/h` over and over, one request at a time, until told to stop; reports each
/// outcome as it comes.
async fn trickle(
    app: Arc<TestApp>,
    stop: watch::Receiver<bool>,
    report: mpsc::UnboundedSender<Outcome>,
) {
    while !*stop.borrow() {
        let reply = app.trigger("g/h", json!({})).await;
        let outcome = match reply.status.as_u16() {
            200 => Ok(reply.body["taskId"].clone()),
            status => Err((status, reply.body)),
        };
        if report.send(outcome).is_err() {
            return;
        }
    }
}

/// Receives outcomes into `all` until `enough` says so.
async fn until(
    outcomes: &mut mpsc::UnboundedReceiver<Outcome>,
    all: &mut Vec<Outcome>,
    enough: impl Fn(&Outcome) -> bool,
    count: usize,
) {
    let mut seen = 0;
    while seen < count {
        let outcome = outcomes.recv().await.expect("the trickle runs");
        if enough(&outcome) {
            seen += 1;
        }
        all.push(outcome);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_under_triggers_costs_only_503s_and_loses_no_fire() {
    let Some(mut server) = PrivateServer::start().await else {
        return skipping(module_path!());
    };
    // A short selection timeout so that requests during the outage fail fast.
    let uri = format!("{}/outage?serverSelectionTimeoutMS=1000", server.uri());
    let app = Arc::new(spawn_app_on(Some(MongoArgs::options_for(&uri).unwrap()), |_| {}).await);
    app.create_hook("g/h", hook_body()).await;

    let (stop, stopped) = watch::channel(false);
    let (report, mut outcomes) = mpsc::unbounded_channel();
    let trickle = tokio::spawn(trickle(Arc::clone(&app), stopped, report));
    let mut all = Vec::new();

    until(&mut outcomes, &mut all, Result::is_ok, 5).await;
    server.crash();
    let before_outage = all.len();
    until(&mut outcomes, &mut all, Result::is_err, 3).await;
    let heartbeat = app
        .call(Method::GET, "/__heartbeat__", Auth::Anonymous, None)
        .await
        .expect_error(503, "ServiceUnavailable");
    assert!(!heartbeat.is_empty());
    server.resume().await;
    until(&mut outcomes, &mut all, Result::is_ok, 5).await;
    stop.send(true).unwrap();
    trickle.await.unwrap();
    while let Ok(outcome) = outcomes.try_recv() {
        all.push(outcome);
    }

    for outcome in &all {
        if let Err((status, body)) = outcome {
            assert_eq!(*status, 503, "only 503 while the database is away: {body}");
            assert_eq!(body["code"], "ServiceUnavailable", "{body}");
        }
    }
    let answered: Vec<&Value> = all.iter().filter_map(|o| o.as_ref().ok()).collect();
    let history = all_fire_task_ids(&app).await;
    let unique: HashSet<&Value> = history.iter().collect();
    assert_eq!(unique.len(), history.len(), "a fire was recorded twice");
    for task_id in &answered {
        assert!(unique.contains(task_id), "the fire of {task_id} was lost");
    }
    // One request at a time: at most the one in flight when the server died can have been
    // recorded and still answered 503.
    assert!(
        history.len() <= answered.len() + 1,
        "{} fires recorded for {} successes (outage began after {before_outage})",
        history.len(),
        answered.len()
    );
}

/// Every task id in `g/h`'s fire history, paging through listLastFires.
async fn all_fire_task_ids(app: &TestApp) -> Vec<Value> {
    let mut ids = Vec::new();
    let mut query = "?limit=100".to_owned();
    loop {
        let page = app.last_fires("g/h", &query).await;
        for fire in page["lastFires"].as_array().expect("lastFires") {
            ids.push(fire["taskId"].clone());
        }
        match page["continuationToken"].as_str() {
            Some(token) => query = format!("?limit=100&continuationToken={token}"),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn a_webhook_delivery_while_the_database_is_away_is_a_503_not_a_refused_signature() {
    let Some(mut server) = PrivateServer::start().await else {
        return skipping(module_path!());
    };
    // A short selection timeout so that the delivery during the outage fails fast.
    let uri = format!("{}/webhook?serverSelectionTimeoutMS=1000", server.uri());
    let app = spawn_app_on(Some(MongoArgs::options_for(&uri).unwrap()), |_| {}).await;
    let secret = webhook_hook(&app).await;

    server.crash();
    deliver(&app, &github(&secret))
        .await
        .expect_error(503, "ServiceUnavailable");
    server.resume().await;

    deliver(&app, &github(&secret)).await.expect(200);
}
