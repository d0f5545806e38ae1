//! How every pass through the fire path ends: one log line and one count.
//!
//! [`Report`] is started when a fire begins and consumed by [`Report::finish`] at each of the
//! path's exits, so whatever way a fire ends (refused, declined, failed, created, or not
//! recorded), operators see exactly one `hook fired` line with the same fields, and
//! `hookd_fires_total` moves by exactly one.

use std::time::Instant;

use super::deps::FireDeps;
use super::outcome::{FireError, Fired};
use super::trigger::Trigger;
use crate::domain::{FiredBy, HookKey, TaskId};
use crate::metrics::FireResult;

/// A fire under way: what the closing line and count will say about it.
pub(super) struct Report<'a> {
    deps: &'a FireDeps,
    hook: HookKey,
    fired_by: FiredBy,
    started: Instant,
}

impl<'a> Report<'a> {
    /// Starts timing a fire of `hook` for `trigger`.
    pub(super) fn start(deps: &'a FireDeps, hook: HookKey, trigger: &Trigger) -> Self {
        Self {
            deps,
            hook,
            fired_by: trigger.fired_by(),
            started: Instant::now(),
        }
    }

    /// Logs and counts how the fire ended, then hands `outcome` back to the caller.
    pub(super) fn finish(
        self,
        task_id: &TaskId,
        outcome: Result<Fired, FireError>,
    ) -> Result<Fired, FireError> {
        let result = result_of(&outcome);
        let fired_by = self.fired_by.as_str();
        self.deps.metrics.fire(fired_by, result);
        // A refused fire was turned away before its task id was settled.
        let task_id = match result {
            FireResult::Refused => "",
            _ => task_id.as_str(),
        };
        tracing::info!(
            hook = %self.hook,
            fired_by,
            task_id,
            result = result.as_str(),
            duration_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            "hook fired"
        );
        outcome
    }
}

/// The `result` label and log field: how a fire ended, in one word.
fn result_of(outcome: &Result<Fired, FireError>) -> FireResult {
    match outcome {
        Ok(Fired::Created(_)) => FireResult::Success,
        Ok(Fired::Declined) => FireResult::Declined,
        Err(e) => e.disposition().result(),
    }
}
