//! listLastFires latency at a large fire history, on each backend.
//!
//! Seeds one hook with many fires through `record_fire`, then times the first page and a page
//! halfway down the history (a keyset cursor), 100 fires each, and reports the median of 20
//! reads. Run with `cargo bench --bench fire_history`; see BENCHMARKS.md.
//!
//! - `HOOKD_BENCH_SQLITE_FIRES` (default 1000000): fires seeded into a temporary SQLite store.
//! - `HOOKD_BENCH_MONGODB_URI` + `HOOKD_BENCH_MONGODB_FIRES` (default 20000): the same on a
//!   fresh database on that server; skipped when the URI is unset.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use hookd::config::MongoArgs;
use hookd::domain::{FireRecord, FiredBy, HookGroupId, HookId, HookKey, TaskId};
use hookd::store::{FireCursor, HookStore, MongoStore, SqliteStore};
use tokio::task::JoinSet;
use uuid::Uuid;

/// Writers seeding at once; enough to fill the SQLite writer's group commits.
const SEEDERS: usize = 256;
/// Fires per listLastFires page.
const PAGE: usize = 100;
/// Reads timed per case.
const READS: usize = 20;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let fires = env_count("HOOKD_BENCH_SQLITE_FIRES", 1_000_000);
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = SqliteStore::open(&dir.path().join("bench.sqlite")).expect("sqlite");
        run("sqlite", Arc::new(sqlite), fires).await;

        if let Ok(uri) = std::env::var("HOOKD_BENCH_MONGODB_URI") {
            let fires = env_count("HOOKD_BENCH_MONGODB_FIRES", 20_000);
            let uri = format!(
                "{}/bench_{}",
                uri.trim_end_matches('/'),
                Uuid::new_v4().simple()
            );
            let mongo = MongoStore::connect(&MongoArgs::options_for(&uri).unwrap())
                .await
                .expect("mongodb");
            mongo.migrate().await.expect("migrate");
            run("mongodb", Arc::new(mongo), fires).await;
        }
    });
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key() -> HookKey {
    HookKey::new(
        HookGroupId::parse("bench").expect("group"),
        HookId::parse("history").expect("id"),
    )
}

/// The time of the `i`th seeded fire: one per millisecond, ending about now, so that the
/// retention TTL (one year) does not remove fires while the benchmark runs.
fn time_of(i: usize) -> DateTime<Utc> {
    static START_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let start = *START_MS.get_or_init(|| Utc::now().timestamp_millis() - 10_000_000);
    let ms = start + i64::try_from(i).expect("fits");
    Utc.timestamp_millis_opt(ms).single().expect("valid time")
}

async fn run<S: HookStore>(backend: &str, store: Arc<S>, fires: usize) {
    let started = Instant::now();
    let mut seeders = JoinSet::new();
    for seeder in 0..SEEDERS {
        let store = Arc::clone(&store);
        seeders.spawn(async move {
            for i in (seeder..fires).step_by(SEEDERS) {
                let fire = FireRecord::new(
                    &key(),
                    FiredBy::Schedule,
                    TaskId::generate(),
                    time_of(i),
                    None,
                );
                store.record_fire(&fire).await.expect("record_fire");
            }
        });
    }
    seeders.join_all().await;
    let seeding = started.elapsed();
    println!(
        "{backend}: seeded {fires} fires in {:.1} s ({:.0} fires/s)",
        seeding.as_secs_f64(),
        fires as f64 / seeding.as_secs_f64()
    );

    let first = median(READS, || async {
        let page = store.list_fires(&key(), PAGE, None).await.expect("list");
        assert_eq!(page.len(), PAGE.min(fires));
    })
    .await;
    let middle = FireCursor {
        time: time_of(fires / 2),
        fire_id: Uuid::max(),
    };
    let deep = median(READS, || async {
        let page = store
            .list_fires(&key(), PAGE, Some(&middle))
            .await
            .expect("list");
        assert_eq!(
            page.first().map(|f| f.task_create_time),
            Some(time_of(fires / 2))
        );
    })
    .await;
    println!(
        "{backend}: listLastFires of {PAGE} at {fires} fires: first page {:.2} ms, page at \
         the middle {:.2} ms (median of {READS})",
        ms(first),
        ms(deep)
    );
}

async fn median<F, Fut>(runs: usize, read: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        read().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
