//! Throughput and latency of the fire path on this machine: durable store commits (where
//! group commit pays off) and token triggers over HTTP end to end.
//!
//! Run with `cargo bench --bench fire_path`; results go into BENCHMARKS.md by hand, with the
//! machine they were measured on. Bounded: a few seconds per scenario.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::join_all;
use hookd::api::rate_limit::RateLimitSettings;
use hookd::clock::SystemClock;
use hookd::config::Settings;
use hookd::domain::{FireRecord, FiredBy, HookGroupId, HookId, HookKey, TaskId};
use hookd::startup::Application;
use hookd::store::{HookStore, SqliteStore};
use serde_json::json;

const COMMITS: usize = 20_000;
const REQUESTS: usize = 5_000;
const RUNS: usize = 3;

#[tokio::main]
async fn main() {
    println!("| scenario | concurrency | ops/s (median of {RUNS}) | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for concurrency in [1, 16, 64] {
        report("store: durable record_fire", concurrency, || {
            store_commits(concurrency)
        })
        .await;
    }
    for concurrency in [1, 16, 64] {
        report("HTTP: triggerHookWithToken", concurrency, || {
            token_triggers(concurrency)
        })
        .await;
    }
}

/// Runs a scenario `RUNS` times and prints the median run.
async fn report<F, Fut>(name: &str, concurrency: usize, scenario: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Sample>,
{
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        samples.push(scenario().await);
    }
    samples.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let median = &samples[RUNS / 2];
    println!(
        "| {name} | {concurrency} | {:.0} | {:.2} | {:.2} |",
        median.rate, median.p50_ms, median.p99_ms
    );
}

struct Sample {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs `op` `total` times spread over `concurrency` tasks and measures each call.
async fn measure<F, Fut>(total: usize, concurrency: usize, op: F) -> Sample
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let op = op.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            for _ in 0..total / concurrency {
                let t = Instant::now();
                op().await;
                latencies.push(t.elapsed());
            }
            latencies
        })
    });
    let latencies: Vec<Duration> = join_all(workers)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    sample(latencies.len(), start.elapsed(), latencies)
}

fn sample(total: usize, elapsed: Duration, mut latencies: Vec<Duration>) -> Sample {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Sample {
        rate: total as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50).as_secs_f64() * 1e3,
        p99_ms: at(0.99).as_secs_f64() * 1e3,
    }
}

/// `concurrency` tasks each record their share of `COMMITS` fires, one durable commit each.
async fn store_commits(concurrency: usize) -> Sample {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.sqlite3")).unwrap());
    let key = HookKey::new(
        HookGroupId::parse("bench").unwrap(),
        HookId::parse("h").unwrap(),
    );
    measure(COMMITS, concurrency, move || {
        let store = Arc::clone(&store);
        let fire = FireRecord::new(
            &key,
            FiredBy::Schedule,
            TaskId::generate(),
            Utc::now(),
            None,
        );
        async move { store.record_fire(&fire).await.unwrap() }
    })
    .await
}

/// `concurrency` HTTP clients fire one hook by token, `REQUESTS` times in all.
async fn token_triggers(concurrency: usize) -> Sample {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(dir.path());
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.root_access_token = Some("bench".into());
    settings.render_limits.worker_program = env!("CARGO_BIN_EXE_hookd").into();
    // Throughput, not the rate limits, is measured here.
    settings.rate_limits = RateLimitSettings::default();
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}/api/hooks/v1", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let hook = json!({
        "metadata": {"name": "bench", "description": "bench", "owner": "bench@example.com"},
        "task": {"payload": {"n": "${now}"}},
        "triggerSchema": {"type": "object"},
    });
    client
        .put(format!("{base}/hooks/bench/h"))
        .bearer_auth("root:bench")
        .json(&hook)
        .send()
        .await
        .unwrap();
    let token: serde_json::Value = client
        .get(format!("{base}/hooks/bench/h/token"))
        .bearer_auth("root:bench")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{base}/hooks/bench/h/trigger/{}",
        token["token"].as_str().unwrap()
    );

    let result = measure(REQUESTS, concurrency, {
        let client = client.clone();
        move || {
            let request = client.post(&url).json(&json!({"k": 1}));
            async move { assert!(request.send().await.unwrap().status().is_success()) }
        }
    })
    .await;
    drop(client);
    let _ = stop.send(());
    let _ = server.await;
    result
}
