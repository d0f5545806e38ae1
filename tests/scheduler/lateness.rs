//! `hookd_scheduler_lateness_seconds`: how late a slot's task reached the task queue, measured
//! on the scheduler's clock when the queue took it, not when the tick began.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use hookd::clock::ManualClock;
use hookd::domain::SubmittedTask;
use hookd::fire::{SinkError, TaskSink};
use hookd_testkit::app::metric_value;

use crate::harness::{at, fresh_store, node_with_quarter_hourly_hook};

/// A task queue that takes `delay` (on the manual clock) to accept each task, as a queue under
/// load, or a long line of fires ahead in the same tick, would.
struct SlowSink {
    clock: ManualClock,
    delay: Duration,
}

#[async_trait]
impl TaskSink for SlowSink {
    async fn submit(&self, _task: &SubmittedTask) -> Result<(), SinkError> {
        self.clock.advance(self.delay);
        Ok(())
    }
}

#[tokio::test]
async fn lateness_counts_until_the_task_queue_took_the_task() {
    let (_dir, db, clock) = fresh_store();
    let sink = Arc::new(SlowSink {
        clock: clock.clone(),
        delay: Duration::seconds(7),
    });
    let node = node_with_quarter_hourly_hook(&db, &clock, sink).await;

    clock.set(at("2026-05-01T10:15:00Z"));
    node.scheduler.tick().await;

    let scrape = node.metrics.encode();
    let count = metric_value(&scrape, "hookd_scheduler_lateness_seconds_count");
    let sum = metric_value(&scrape, "hookd_scheduler_lateness_seconds_sum");
    assert_eq!((count, sum), (Some(1.0), Some(7.0)), "{scrape}");
}
