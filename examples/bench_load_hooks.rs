//! Fills a running hookd with many hooks for `scripts/bench.sh`'s memory figures: `count`
//! createHook (`PUT`) requests over `concurrency` connections, as a real client would make
//! them, so every hook goes through validation and a durable commit.
//!
//! Usage: `cargo run --release --example bench_load_hooks -- <api base URL> <root access
//! token> <hookGroupId> <count> <concurrency>`. Prints one line: hooks created and the rate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

/// A small hook, shaped like a real one. Its yearly schedule keeps it in the scheduler's plan
/// without firing during a benchmark run.
fn hook_body(n: usize) -> Value {
    json!({
        "metadata": {
            "name": format!("load {n}"),
            "description": "created by bench_load_hooks",
            "owner": "bench@example.com",
        },
        "schedule": ["0 0 1 1 *"],
        "task": {
            "taskQueueId": "bench/worker",
            "payload": {"hook": n, "firedBy": "${firedBy}"},
            "metadata": {"name": "load", "description": "bench", "owner": "bench@example.com"},
        },
        "triggerSchema": {"type": "object"},
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, token, group, count, concurrency] = args.as_slice() else {
        return Err(
            "usage: bench_load_hooks <base URL> <root token> <group> <count> <concurrency>".into(),
        );
    };
    let count: usize = count.parse()?;
    let concurrency: usize = concurrency.parse()?;
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next) = (client.clone(), Arc::clone(&next));
            let url = format!("{base}/hooks/{group}");
            let auth = format!("root:{token}");
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return Ok::<(), String>(());
                    }
                    let response = client
                        .put(format!("{url}/h{n}"))
                        .bearer_auth(&auth)
                        .json(&hook_body(n))
                        .send()
                        .await
                        .map_err(|e| format!("hook {n}: {e}"))?;
                    if !response.status().is_success() {
                        return Err(format!("hook {n}: HTTP {}", response.status()));
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "created {count} hooks in {elapsed:.1} s ({:.0} hooks/s) over {concurrency} connections",
        count as f64 / elapsed
    );
    Ok(())
}
