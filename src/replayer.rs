//! The bulk replay runner (extension): the loop that works through every running replay job
//! in the store, whichever process created it, so a job survives a restart of its creator.
//!
//! Each round takes one turn of each running job (`fire::bulk_replay::run_turn`), which
//! replays as many fires as the rate lets the clock allow and writes its progress after each;
//! between rounds it waits a poll interval, short enough for the rate to be reached. Several
//! replicas may run it: a job's compare-and-set version gives each turn to one, and each
//! replay's fixed ids make a repeat harmless.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::fire::bulk_replay::run_turn;
use crate::fire::FireDeps;

/// The longest wait between rounds, whatever the rate.
const MAX_POLL: Duration = Duration::from_millis(250);

/// Runs the replay jobs of the store behind a [`FireDeps`].
pub struct ReplayRunner {
    deps: FireDeps,
    clock: Arc<dyn Clock>,
    /// Time between two replays of one job, by `clock`.
    interval: chrono::Duration,
    /// Real time between rounds.
    poll: Duration,
}

impl ReplayRunner {
    /// A runner replaying at most `rate` fires per second per job, by `clock`.
    pub fn new(deps: FireDeps, clock: Arc<dyn Clock>, rate: NonZeroU32) -> Self {
        let interval = Duration::from_secs(1) / rate.get();
        Self {
            deps,
            clock,
            interval: chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX),
            poll: interval.min(MAX_POLL),
        }
    }

    /// Runs rounds until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            self.round().await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// One turn of each running job; a failure is logged and the job tried again next round.
    async fn round(&self) {
        let jobs = match self.deps.store.running_replay_jobs().await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "the replay jobs could not be read");
                return;
            }
        };
        for job in jobs {
            let job_id = job.job_id;
            if let Err(e) = run_turn(&self.deps, self.clock.as_ref(), self.interval, job).await {
                tracing::warn!(job = %job_id, error = %e, "a replay job stopped for now");
            }
        }
    }
}
