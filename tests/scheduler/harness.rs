//! Scheduler nodes over a real SQLite file: each node is what one `hookd serve` process holds
//! (its own store connection, registry and scheduler), sharing a `ManualClock`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use chrono::{DateTime, Utc};
use hookd::clock::{Clock, ManualClock};
use hookd::config::Settings;
use hookd::crypto::TokenCipher;
use hookd::domain::{
    FireRecord, Hook, HookGroupId, HookId, HookKey, HookRecord, Metadata, Schedule, SubmittedTask,
    TaskId, TriggerSchema,
};
use hookd::fire::sink::LocalSink;
use hookd::fire::{SinkError, TaskSink};
use hookd::metrics::Metrics;
use hookd::registry::HookRegistry;
use hookd::scheduler::{Ahead, Scheduler};
use hookd::startup::fire_deps;
use hookd::store::{HookStore, SqliteStore};
use hookd_testkit::app::hookd_binary;
pub use hookd_testkit::app::START;
use serde_json::json;

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A temp dir (keep it alive) with the path of a store file in it, and a clock at [`START`].
pub fn fresh_store() -> (tempfile::TempDir, PathBuf, ManualClock) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hookd.sqlite");
    (dir, db, ManualClock::new(at(START)))
}

/// One process's view: a store connection, a registry and a scheduler.
pub struct Node {
    pub store: Arc<dyn HookStore>,
    pub registry: HookRegistry,
    pub scheduler: Arc<Scheduler>,
    pub metrics: Arc<Metrics>,
}

/// A node on the store file `db`, firing into `sink` (the real outbox sink when `None`),
/// started: its timer is loaded from the store.
pub async fn node(db: &Path, clock: &ManualClock, sink: Option<Arc<dyn TaskSink>>) -> Node {
    node_with(db, clock, sink, Ahead::DEFAULT).await
}

/// A [`node`] that prepares bursts per `ahead`.
pub async fn node_with(
    db: &Path,
    clock: &ManualClock,
    sink: Option<Arc<dyn TaskSink>>,
    ahead: Ahead,
) -> Node {
    let store: Arc<dyn HookStore> = Arc::new(SqliteStore::open(db).expect("store opens"));
    let sink = sink.unwrap_or_else(|| Arc::new(LocalSink::new(Arc::clone(&store))));
    let registry = HookRegistry::new(
        Arc::clone(&store),
        TokenCipher::new(&TokenCipher::generate_key()),
        Arc::new(clock.clone()),
    );
    let mut settings = Settings::new(db.parent().expect("the store file is in a directory"));
    settings.render_limits.worker_program = hookd_binary();
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let metrics = Arc::new(Metrics::new());
    let fire = fire_deps(&settings, Arc::clone(&store), sink, &clock, metrics)
        .expect("the default settings have no notice channel to fail");
    let metrics = Arc::clone(&fire.metrics);
    let scheduler = Arc::new(
        Scheduler::new(fire, clock, settings.catch_up, registry.subscribe()).with_ahead(ahead),
    );
    scheduler.start().await.expect("scheduler starts");
    Node {
        store,
        registry,
        scheduler,
        metrics,
    }
}

/// A [`node`] holding hook `g/h`, every 15 minutes, armed for its first slot (10:15).
pub async fn node_with_quarter_hourly_hook(
    db: &Path,
    clock: &ManualClock,
    sink: Arc<dyn TaskSink>,
) -> Node {
    let node = node(db, clock, Some(sink)).await;
    node.registry
        .create(hook("h", &["*/15 * * * *"]))
        .await
        .expect("the hook is created");
    node.scheduler.tick().await;
    node
}

pub fn key(id: &str) -> HookKey {
    HookKey::new(HookGroupId::parse("g").unwrap(), HookId::parse(id).unwrap())
}

/// A hook `g/<id>` with `schedule` whose task renders with the fire's time.
pub fn hook(id: &str, schedule: &[&str]) -> Hook {
    let key = key(id);
    Hook {
        hook_group_id: key.group,
        hook_id: key.id,
        metadata: Metadata {
            name: id.into(),
            description: "scheduled".into(),
            owner: "o@example.com".into(),
            email_on_error: false,
        },
        schedule: Schedule::parse(schedule).expect("the test's schedule parses"),
        task: json!({"provisionerId": "p", "workerType": "w", "payload": {},
                     "metadata": {"name": "${firedBy} at ${now}"}})
        .into(),
        trigger_schema: TriggerSchema::parse(json!({"type": "object"})).unwrap(),
        bindings: vec![],
        scopes: None,
        missed_fires: None,
        capture: None,
    }
}

/// Every fire of `key`, oldest first.
pub async fn fires(store: &dyn HookStore, key: &HookKey) -> Vec<FireRecord> {
    let mut fires = store.list_fires(key, 10_000, None).await.unwrap();
    fires.reverse();
    fires
}

/// The stored record of `key`.
pub async fn record(store: &dyn HookStore, key: &HookKey) -> HookRecord {
    store.get_hook(key).await.unwrap().expect("hook exists")
}

/// A task queue that takes every task and remembers its id.
#[derive(Default)]
pub struct CountingSink {
    pub submitted: Mutex<Vec<TaskId>>,
}

#[async_trait]
impl TaskSink for CountingSink {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        self.submitted.lock().unwrap().push(task.task_id.clone());
        Ok(())
    }
}
