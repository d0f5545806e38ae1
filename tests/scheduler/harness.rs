//! Scheduler nodes over a real SQLite file: each node is what one `hookd serve` process holds
//! (its own store connection, registry and scheduler), sharing a `ManualClock`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use hookd::clock::ManualClock;
use hookd::crypto::TokenCipher;
use hookd::domain::{
    FireRecord, Hook, HookGroupId, HookId, HookKey, HookRecord, Metadata, Roles, Schedule,
    TriggerSchema,
};
use hookd::fire::sink::LocalSink;
use hookd::fire::{FireDeps, RenderLimits, RenderPool, TaskSink};
use hookd::registry::HookRegistry;
use hookd::scheduler::{CatchUp, Scheduler};
use hookd::store::{HookStore, SqliteStore};
use serde_json::json;

/// The start time of every test.
pub const START: &str = "2026-05-01T10:00:00Z";

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
}

/// A node on the store file `db`, firing into `sink` (the real outbox sink when `None`),
/// started: its timer is loaded from the store.
pub async fn node(db: &Path, clock: &ManualClock, sink: Option<Arc<dyn TaskSink>>) -> Node {
    let store: Arc<dyn HookStore> = Arc::new(SqliteStore::open(db).expect("store opens"));
    let sink = sink.unwrap_or_else(|| Arc::new(LocalSink::new(Arc::clone(&store))));
    let registry = HookRegistry::new(
        Arc::clone(&store),
        TokenCipher::new(&TokenCipher::generate_key()),
        Arc::new(clock.clone()),
    );
    let fire = FireDeps {
        notifier: Arc::new(hookd::notify::Notifier::silent()),
        renderer: Arc::new(RenderPool::new(RenderLimits {
            worker_program: env!("CARGO_BIN_EXE_hookd").into(),
            ..RenderLimits::default()
        })),
        store: Arc::clone(&store),
        sink,
        roles: Arc::new(Roles::new(vec![])),
        metrics: Arc::new(hookd::metrics::Metrics::new()),
    };
    let scheduler = Arc::new(Scheduler::new(
        fire,
        Arc::new(clock.clone()),
        CatchUp::default(),
        registry.subscribe(),
    ));
    scheduler.start().await.expect("scheduler starts");
    Node {
        store,
        registry,
        scheduler,
    }
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
                     "metadata": {"name": "${firedBy} at ${now}"}}),
        trigger_schema: TriggerSchema::parse(json!({"type": "object"})).unwrap(),
        bindings: vec![],
        scopes: None,
        missed_fires: None,
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

/// Waits, in short real-time steps with a bound, until `done` says yes; for the one place a
/// test must watch another task reach a point it cannot signal.
pub async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if done().await {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    panic!("gave up waiting until {what}");
}
