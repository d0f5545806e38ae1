//! Scheduler benchmark: fire lateness and CPU use with many hooks, and start-up time.
//!
//! `cargo bench --bench scheduler -- <hooks> <minutes> [<schedule>]` fills a fresh SQLite store
//! with `<hooks>` hooks on `<schedule>` (default every minute, `* * * * *`), times
//! `Scheduler::start`, then lets the scheduler loop run on the wall clock for `<minutes>` (a
//! fraction is fine: `0.5` is 30 s) and
//! reports fire lateness (the moment the sink stored the task durably minus its slot time) and the
//! process's CPU time. The scheduler runs on a current-thread runtime, as in `hookd serve`.
//! Numbers go in BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hookd::clock::{Clock, SystemClock};
use hookd::config::Settings;
use hookd::domain::{
    Encoded, FireRecord, Hook, HookGroupId, HookId, HookRecord, Metadata, Schedule, SealedToken,
    SubmittedTask, TaskId, TriggerSchema,
};
use hookd::fire::sink::LocalSink;
use hookd::fire::{SinkError, Submission, TaskSink};
use hookd::metrics::Metrics;
use hookd::scheduler::Scheduler;
use hookd::startup::fire_deps;
use hookd::store::{HookStore, SqliteStore};
use serde_json::json;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The outbox sink, noting how late each task was durably stored, per slot. It writes a fire's
/// task and record together, as `hookd serve`'s local sink does.
struct TimingSink {
    inner: LocalSink,
    lateness_ms: Mutex<BTreeMap<DateTime<Utc>, Vec<f64>>>,
}

impl TimingSink {
    fn note(&self, task: &SubmittedTask) {
        let late = Utc::now() - task.submitted;
        if let Ok(mut lateness) = self.lateness_ms.lock() {
            let late_ms = late.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0;
            lateness.entry(task.submitted).or_default().push(late_ms);
        }
    }
}

#[async_trait]
impl TaskSink for TimingSink {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        self.inner.submit(task).await?;
        self.note(task);
        Ok(())
    }

    async fn submit_fired(
        &self,
        task: &SubmittedTask,
        fire: &FireRecord,
    ) -> Result<Submission, SinkError> {
        let submission = self.inner.submit_fired(task, fire).await?;
        self.note(task);
        Ok(submission)
    }

    async fn submit_fired_many(
        &self,
        fired: &[(&Encoded<SubmittedTask>, &Encoded<FireRecord>)],
    ) -> Vec<Result<Submission, SinkError>> {
        let answers = self.inner.submit_fired_many(fired).await;
        for ((task, _), answer) in fired.iter().zip(&answers) {
            if answer.is_ok() {
                self.note(task.get());
            }
        }
        answers
    }
}

fn record(i: usize, schedule: &str) -> HookRecord {
    let hook = Hook {
        hook_group_id: HookGroupId::parse(format!("group-{}", i % 100)).unwrap(),
        hook_id: HookId::parse(format!("hook-{i}")).unwrap(),
        metadata: Metadata {
            name: format!("hook {i}"),
            description: "benchmark".into(),
            owner: "bench@example.com".into(),
            email_on_error: false,
        },
        schedule: Schedule::parse(&[schedule]).unwrap(),
        task: json!({"provisionerId": "p", "workerType": "w", "payload": {},
                     "created": {"$fromNow": "0 seconds"}, "deadline": {"$fromNow": "1 day"},
                     "metadata": {"name": "${firedBy} at ${now}", "description": "",
                                  "owner": "bench@example.com", "source": "https://example.com"}})
        .into(),
        trigger_schema: TriggerSchema::parse(json!({"type": "object"})).unwrap(),
        bindings: vec![],
        scopes: None,
        missed_fires: None,
        capture: None,
    };
    let mut record = HookRecord::new(hook, SealedToken("v1.bench".into()));
    // As a running scheduler would have left it: the next slot stored.
    let next = record.hook.schedule.next_after(Utc::now()).unwrap();
    record.next_task_id = Some(TaskId::for_slot(&record.hook.key(), next));
    record.next_scheduled_date = Some(next);
    record
}

/// User plus system CPU seconds this process has used so far (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

async fn fill(store: &Arc<SqliteStore>, hooks: usize, schedule: &str) {
    let mut inserts = JoinSet::new();
    for i in 0..hooks {
        if inserts.len() >= 256 {
            inserts.join_next().await;
        }
        let store = Arc::clone(store);
        let record = record(i, schedule);
        inserts.spawn(async move { store.insert_hook(&record).await.expect("insert") });
    }
    inserts.join_all().await;
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let hooks: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let minutes: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let schedule = args.get(2).cloned().unwrap_or_else(|| "* * * * *".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(hooks, minutes, &schedule));
}

async fn run(hooks: usize, minutes: f64, schedule: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.sqlite")).unwrap());
    let filled = Instant::now();
    fill(&store, hooks, schedule).await;
    println!("filled {hooks} hooks in {:.1?}", filled.elapsed());

    let dyn_store: Arc<dyn HookStore> = store.clone();
    let sink = Arc::new(TimingSink {
        inner: LocalSink::new(Arc::clone(&dyn_store)),
        lateness_ms: Mutex::new(BTreeMap::new()),
    });
    let mut settings = Settings::new(dir.path());
    settings.render_limits.worker_program = env!("CARGO_BIN_EXE_hookd").into();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fire = fire_deps(
        &settings,
        dyn_store,
        sink.clone(),
        &clock,
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let (changes, _) = broadcast::channel(16);
    let scheduler = Arc::new(Scheduler::new(
        fire,
        clock,
        settings.catch_up,
        changes.subscribe(),
    ));
    let started = Instant::now();
    let armed = scheduler.start().await.unwrap();
    println!("start-up: {armed} hooks armed in {:.1?}", started.elapsed());

    let resynced = Instant::now();
    scheduler.resync().await.unwrap();
    println!("resync with nothing changed: {:.1?}", resynced.elapsed());

    let cancel = CancellationToken::new();
    let cpu_before = cpu_seconds();
    let wall = Instant::now();
    let loop_task = tokio::spawn({
        let scheduler = Arc::clone(&scheduler);
        let cancel = cancel.clone();
        let wake = changes.subscribe();
        async move { scheduler.run(wake, cancel).await }
    });
    tokio::time::sleep(Duration::from_secs_f64(minutes * 60.0)).await;
    cancel.cancel();
    loop_task.await.unwrap();
    let cpu = cpu_seconds() - cpu_before;
    let elapsed = wall.elapsed().as_secs_f64();

    let per_slot = sink.lateness_ms.lock().unwrap().clone();
    let mut lateness: Vec<f64> = per_slot.values().flatten().copied().collect();
    lateness.sort_by(f64::total_cmp);
    println!(
        "{} fires in {elapsed:.0} s (schedule {schedule:?}, now {})",
        lateness.len(),
        SystemClock.now()
    );
    println!(
        "lateness ms: p50 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&lateness, 50.0),
        percentile(&lateness, 99.0),
        lateness.last().copied().unwrap_or(f64::NAN)
    );
    // A burst is one slot; a burst that began before the loop had a whole lead to prepare it
    // (a slow start-up) shows here beside the others.
    if per_slot.len() <= 10 {
        for (slot, mut late) in per_slot {
            late.sort_by(f64::total_cmp);
            println!(
                "slot {}: {} fires, lateness ms p50 {:.1} p99 {:.1} max {:.1}",
                slot.format("%H:%M:%S"),
                late.len(),
                percentile(&late, 50.0),
                percentile(&late, 99.0),
                late.last().copied().unwrap_or(f64::NAN)
            );
        }
    }
    println!(
        "cpu: {cpu:.1} s over {elapsed:.0} s wall = {:.1}% of one core",
        100.0 * cpu / elapsed
    );
}
