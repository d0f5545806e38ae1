//! The cron scheduler: fires every hook with a `schedule` at each slot, once, on time.
//!
//! It keeps an in-memory timer of each hook's next slot, built from the store at start-up
//! and updated from the registry's change announcements, and sleeps until the earliest one
//! comes due (there is no polling interval). A due hook is claimed by compare-and-set in the
//! store (see [`claim`]), so several replicas may run on one store and each slot fires once.
//! All time comes from the [`Clock`]: production sleeps until the due instant, tests move a
//! `ManualClock` and call [`Scheduler::tick`].
//!
//! Firing itself is [`crate::fire::fire`]; this module decides only when and which slot.
//!
//! Owns: the timer and its start-up load (`state`, `timer`), claims and releases (`claim`), which
//! slots a hook owes after downtime (`plan`). Leaves to others: firing (`fire`), the
//! compare-and-set loop and the scan over every hook (`store`), schedules themselves
//! (`domain::Schedule`).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::domain::HookKey;
use crate::fire::FireDeps;
use crate::registry::{ChangeKind, HookChange};
use crate::store::{every_hook, HookStore, StoreError};
use claim::{Claim, SlotFate, Slots};
use state::{adopt, ArmedAs, Pending, State, TimerUpdate};

mod claim;
mod failpoint;
mod plan;
mod state;
mod timer;

pub use failpoint::Failpoint;
pub use plan::{CatchUp, ON_TIME};

/// How often the loop re-reads the store for changes made through other processes. Fires
/// never wait for this: they follow the timer.
const RESYNC_EVERY: Duration = Duration::seconds(60);

/// The most slots one hook claims in one tick while it catches up on missed slots.
pub const MAX_CLAIMS_PER_VISIT: usize = 32;

/// How many hooks one tick works on at once. Each fire waits on a few durable writes, so the
/// store commits them in batches about this large (the SQLite writer takes up to 256 a commit).
const CONCURRENCY: usize = 256;
/// One unit of work in a tick.
enum Job {
    /// Bring a hook up to date: arm its next slot, claim and fire what is due.
    Visit(HookKey),
    /// Fire a claimed slot again; the number is how many attempts failed before.
    Retry(Pending, u32),
}

/// The scheduler of one process. Cheap to share behind an `Arc`.
pub struct Scheduler {
    slots: Slots,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl Scheduler {
    /// A scheduler firing through `fire`, catching up per `catch_up`, and following the hook
    /// changes announced on `changes`. It does nothing until [`Scheduler::start`].
    pub fn new(
        fire: FireDeps,
        clock: Arc<dyn Clock>,
        catch_up: CatchUp,
        changes: broadcast::Receiver<HookChange>,
    ) -> Self {
        Self {
            slots: Slots {
                fire,
                catch_up,
                clock: Arc::clone(&clock),
                failpoint: None,
            },
            clock,
            state: Mutex::new(State::new(changes)),
        }
    }

    /// Arms `failpoint` (crash tests only; see [`Failpoint`]).
    #[must_use]
    pub fn with_failpoint(mut self, failpoint: Option<Failpoint>) -> Self {
        self.slots.failpoint = failpoint;
        self
    }

    /// Builds the timer from every hook in the store, including slots claimed but never
    /// finished (by a crash), which come due at once. Returns how many hooks are armed.
    ///
    /// # Errors
    /// The store failure that stopped the load.
    pub async fn start(&self) -> Result<usize, StoreError> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await?;
        Ok(state.hooks.len())
    }

    /// Does everything due at the clock's current time: follows announced changes, claims and
    /// fires due slots, retries failed fires whose wait is over. Returns when all of it is
    /// finished, so a test that moved the clock can check the results right after.
    pub async fn tick(&self) {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        self.follow_changes(&mut state, now).await;
        let mut jobs: Vec<Job> = state
            .hooks
            .pop_due(now)
            .into_iter()
            .map(Job::Visit)
            .collect();
        for pending in state.retries.pop_due(now) {
            let attempts = state.attempts.get(&pending).copied().unwrap_or(0);
            jobs.push(Job::Retry(pending, attempts));
        }
        let outcomes: Vec<Vec<TimerUpdate>> = stream::iter(jobs)
            .map(|job| self.work(job, now))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes.into_iter().flatten() {
            state.apply(outcome, now);
        }
    }

    /// The earliest instant at which [`Scheduler::tick`] has something to do.
    pub async fn next_due(&self) -> Option<DateTime<Utc>> {
        let state = self.state.lock().await;
        [state.hooks.next_due(), state.retries.next_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Ticks whenever something comes due or a hook changes, until `cancel` fires. A tick in
    /// progress finishes first, so no claimed slot is abandoned by a graceful stop.
    pub async fn run(&self, mut wake: broadcast::Receiver<HookChange>, cancel: CancellationToken) {
        let mut wake_open = true;
        let mut next_resync = self.clock.now() + RESYNC_EVERY;
        // The store is re-read on its own task, so ticks go on meanwhile.
        let mut reading: Option<JoinHandle<Result<Vec<ArmedAs>, StoreError>>> = None;
        loop {
            if reading.is_none() && self.clock.now() >= next_resync {
                reading = Some(tokio::spawn(read_all(Arc::clone(&self.slots.fire.store))));
                next_resync = self.clock.now() + RESYNC_EVERY;
            }
            self.tick().await;
            let wake_at = self
                .next_due()
                .await
                .map_or(next_resync, |due| due.min(next_resync));
            let wait = (wake_at - self.clock.now()).to_std().unwrap_or_default();
            let read = async {
                match reading.as_mut() {
                    Some(handle) => handle.await,
                    None => std::future::pending().await,
                }
            };
            let snapshot = tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => None,
                received = wake.recv(), if wake_open => {
                    wake_open = !matches!(received, Err(RecvError::Closed));
                    None
                }
                read = read => Some(read),
            };
            if let Some(read) = snapshot {
                reading = None;
                match read {
                    Ok(Ok(stored)) => self.apply_snapshot(stored).await,
                    Ok(Err(e)) => tracing::warn!(error = %e, "scheduler could not resync"),
                    Err(e) => tracing::warn!(error = %e, "scheduler resync task failed"),
                }
            }
        }
        if let Some(handle) = reading {
            handle.abort();
        }
    }

    async fn load(&self, state: &mut State) -> Result<(), StoreError> {
        let store = &self.slots.fire.store;
        let now = self.clock.now();
        state.clear();
        every_hook(&**store, |record| state.arm_with_claims(&record, now)).await?;
        tracing::info!(hooks = state.hooks.len(), "scheduler armed");
        Ok(())
    }

    /// Re-reads every hook and re-arms those whose schedule or stored next slot differs from
    /// what this process holds, and forgets hooks that are gone. This is how a process learns
    /// of hooks created, changed or removed through another process's API, whose change
    /// announcements it never hears. Claims are left to their owners (and to adoption after
    /// [`claim::CLAIM_LEASE`]).
    ///
    /// # Errors
    /// The store failure that stopped the pass; the timer keeps what it had.
    pub async fn resync(&self) -> Result<(), StoreError> {
        let stored = read_all(Arc::clone(&self.slots.fire.store)).await?;
        self.apply_snapshot(stored).await;
        Ok(())
    }

    /// Re-arms from a snapshot of the store. The snapshot may be older than the timer (ticks
    /// go on while it is read); that is safe because a visit re-reads the hook before it
    /// claims anything, so re-arming from an old slot costs at most one extra read.
    async fn apply_snapshot(&self, stored: Vec<ArmedAs>) {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        let seen: HashSet<HookKey> = stored.iter().map(|hook| hook.key.clone()).collect();
        for hook in stored {
            if !state.is_armed_as(&hook) {
                state.arm(hook, now);
            }
        }
        state.forget_unless(|key| seen.contains(key));
    }

    /// Applies announced changes: a changed hook is visited at once, a removed one forgotten.
    /// A subscriber that fell behind has missed some, so it reloads everything.
    async fn follow_changes(&self, state: &mut State, now: DateTime<Utc>) {
        let mut lagged = false;
        loop {
            match state.changes.try_recv() {
                Ok(HookChange {
                    key,
                    kind: ChangeKind::Removed,
                }) => state.hooks.remove(&key),
                Ok(HookChange { key, .. }) => state.hooks.set(key, now),
                Err(TryRecvError::Lagged(_)) => lagged = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if lagged {
            if let Err(e) = self.load(state).await {
                tracing::error!(error = %e, "scheduler could not reload hooks");
            }
        }
    }

    async fn work(&self, job: Job, now: DateTime<Utc>) -> Vec<TimerUpdate> {
        match job {
            Job::Visit(key) => self.visit(key, now).await,
            Job::Retry(pending, attempts) => {
                let outcome = match self.slots.refire(&pending.key, pending.slot).await {
                    Ok(SlotFate::Done) => TimerUpdate::Finished(pending),
                    Ok(SlotFate::RetryLater) => TimerUpdate::RetryLater(pending, attempts + 1),
                    Err(e) => {
                        tracing::warn!(hook = %pending.key, error = %e, "retry of a slot failed");
                        TimerUpdate::RetryLater(pending, attempts + 1)
                    }
                };
                vec![outcome]
            }
        }
    }

    /// Claims and fires due slots of one hook until its next slot lies in the future.
    async fn visit(&self, key: HookKey, now: DateTime<Utc>) -> Vec<TimerUpdate> {
        let mut outcomes = Vec::new();
        let mut claims = 0;
        loop {
            match self.slots.claim(&key, now).await {
                Ok(Claim::Gone) => return vec![TimerUpdate::Armed(key, None)],
                Ok(Claim::Armed { next, abandoned }) => {
                    outcomes.extend(adopt(&key, abandoned));
                    outcomes.push(TimerUpdate::Armed(key, next));
                    return outcomes;
                }
                Ok(Claim::Won {
                    record,
                    slots,
                    abandoned,
                }) => {
                    outcomes.extend(adopt(&key, abandoned));
                    for slot in slots {
                        let pending = Pending {
                            key: key.clone(),
                            slot,
                        };
                        match self.slots.fire(&record, slot).await {
                            Ok(SlotFate::Done) => {}
                            Ok(SlotFate::RetryLater) => {
                                outcomes.push(TimerUpdate::RetryLater(pending, 1));
                            }
                            Err(e) => {
                                tracing::warn!(hook = %key, error = %e, "releasing a slot failed");
                                outcomes.push(TimerUpdate::RetryLater(pending, 1));
                            }
                        }
                    }
                    // Under `all` more missed slots may be due. After a few they wait for the
                    // next tick (at once), so one hook's long catch-up does not hold up others.
                    claims += 1;
                    if claims >= MAX_CLAIMS_PER_VISIT
                        || record.next_scheduled_date.is_none_or(|next| next > now)
                    {
                        outcomes.push(TimerUpdate::Armed(key, record.next_scheduled_date));
                        return outcomes;
                    }
                }
                Err(e) => {
                    tracing::warn!(hook = %key, error = %e, "claiming a slot failed");
                    outcomes.push(TimerUpdate::VisitFailed(key));
                    return outcomes;
                }
            }
        }
    }
}

/// What the timer needs of every stored hook.
async fn read_all(store: Arc<dyn HookStore>) -> Result<Vec<ArmedAs>, StoreError> {
    let mut stored = Vec::new();
    every_hook(&*store, |record| stored.push(ArmedAs::of(&record))).await?;
    Ok(stored)
}
