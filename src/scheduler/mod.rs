//! The cron scheduler: fires every hook with a `schedule` at each slot, once, on time.
//!
//! It keeps an in-memory timer of each hook's next slot, built from the store at start-up
//! and updated from the registry's change announcements, and sleeps until the earliest one
//! comes due (there is no polling interval). A due hook is claimed by compare-and-set in the
//! store (see [`claim`]), so several replicas may run on one store and each slot fires once.
//! All time comes from the [`Clock`]: production sleeps until the due instant, tests move a
//! `ManualClock` and call [`Scheduler::tick`].
//!
//! A burst (many hooks due at about the same instant, such as every `0 0 * * *` hook) is
//! prepared ahead (see [`Ahead`]): its slots are claimed and their tasks rendered before they
//! come due, so at the slot only the writes are left, many fires to a write, and their claims
//! are released after all of them went out.
//!
//! Firing itself is [`crate::fire::fire`]; this module decides only when and which slot.
//!
//! Owns: the timer and its start-up load (`state`, `timer`), claims and releases (`claim`), which
//! slots a hook owes after downtime (`plan`). Leaves to others: firing (`fire`), the
//! compare-and-set loop and the scan over every hook (`store`), schedules themselves
//! (`domain::Schedule`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::domain::{HookKey, HookRecord};
use crate::fire::FireDeps;
use crate::registry::{ChangeKind, HookChange};
use crate::store::{every_hook_schedule, HookStore, StoreError};
use claim::{Claim, SlotFate, Slots};
use state::{adopt, ArmedAs, Held, Pending, Resumes, State, TimerUpdate};

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

/// How many fires made ready ahead go to the task sink in one write at their slot. Large, so
/// that SQLite commits a burst in fewer, larger transactions: a burst of 100,000 fires reached
/// the sink with a median p99 of 2.8 s (a run's first burst) and 3.8 s (its second) at 2,048
/// a write, against 3.6 and 5.1 s at 256; 8,192 did no better (BENCHMARKS.md, issue 15, the
/// burst row's fourth round). Since the fires come encoded to their slot, every write of a
/// burst is queued at once, and the SQLite writer commits up to four of them together (its
/// rows per transaction are bounded; see the twelfth round).
const FIRES_PER_WRITE: usize = 2048;

/// How many claims ahead, or releases after the fires, go to the store in one write.
const CLAIMS_PER_WRITE: usize = 256;

/// The most slots of a burst one tick claims ahead, so a tick stays short and a slot that comes
/// due meanwhile waits for no more than this many claims.
const AHEAD_PER_TICK: usize = 4 * CONCURRENCY;

/// When a burst is prepared ahead of its slot.
///
/// A hook's slot is claimed ahead when at least `min_hooks` hooks come due within `lead` of
/// the earliest due one: then the slots due within `lead` of now are claimed in chunks, each
/// as the normal claim would at the slot's time, and each slot's task is rendered on the
/// record it was claimed on, with the slot's time as `now` (what a fire at the slot renders).
/// At the slot the tasks and their fire records are written [`FIRES_PER_WRITE`] to a write,
/// without a read, a claim or a render, and their claims are released after the tick's fires.
/// Nothing of a prepared fire leaves the process before its slot. Fewer hooks than `min_hooks`
/// fire in one round of the tick anyway, so they are claimed when due, as before.
///
/// Exactly once is kept by the claim itself: a slot claimed ahead is in the hook's
/// `claimedSlots`, so a process that stops before the slot leaves it to the next start, which
/// fires it at its time (not before), and no other replica claims it again. A hook changed
/// through this process after its slot was claimed fires as changed (the slot is then fired
/// as a retry, which reads the hook and renders again); a change through another replica in
/// the last `lead` before the slot is not seen by that fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ahead {
    /// How long before its slot a burst's hook is claimed.
    pub lead: Duration,
    /// The fewest hooks due within `lead` that make a burst.
    pub min_hooks: usize,
}

impl Ahead {
    /// What `hookd serve` uses: bursts larger than one round of the tick, claimed up to 20 s
    /// ahead (about what 100,000 claims take on a small machine).
    pub const DEFAULT: Self = Self {
        lead: Duration::seconds(20),
        min_hooks: CONCURRENCY,
    };
}

/// One unit of work in a tick.
enum Job {
    /// Bring a hook up to date: arm its next slot, claim and fire what is due.
    Visit(HookKey),
    /// Claim hooks' slots, still to come, ahead of their time, in one store write.
    Prepare(Vec<(HookKey, DateTime<Utc>)>),
    /// Fire slots claimed ahead, as made ready on the records they were claimed on, together.
    FireReady(Vec<(Pending, Box<Held>)>),
    /// Fire a claimed slot again; the number is how many attempts failed before.
    Retry(Pending, u32),
}

/// The scheduler of one process. Cheap to share behind an `Arc`.
pub struct Scheduler {
    slots: Slots,
    clock: Arc<dyn Clock>,
    ahead: Ahead,
    state: Mutex<State>,
    /// Set when the change subscription fell behind, so the run loop re-reads the store.
    lagged: AtomicBool,
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
            ahead: Ahead::DEFAULT,
            state: Mutex::new(State::new(changes)),
            lagged: AtomicBool::new(false),
        }
    }

    /// Prepares bursts per `ahead` instead of [`Ahead::DEFAULT`].
    #[must_use]
    pub fn with_ahead(mut self, ahead: Ahead) -> Self {
        self.ahead = ahead;
        self
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
        self.follow_changes(&mut state, now);
        // Prepared fires first: they are what is late.
        let mut jobs: Vec<Job> = Vec::new();
        let mut ready = Vec::new();
        for pending in state.prepared.pop_due(now) {
            match state.take_held(&pending) {
                Some(held) => ready.push((pending, held)),
                None => jobs.push(Job::Retry(pending, 0)),
            }
        }
        jobs.extend(in_pages(ready, FIRES_PER_WRITE).map(Job::FireReady));
        jobs.extend(state.hooks.pop_due(now).into_iter().map(Job::Visit));
        for pending in state.retries.pop_due(now) {
            let attempts = state.attempts.get(&pending).copied().unwrap_or(0);
            jobs.push(Job::Retry(pending, attempts));
        }
        if self.burst_from(&state).is_some_and(|from| from <= now) {
            let ahead = state.hooks.pop_until(now + self.ahead.lead, AHEAD_PER_TICK);
            let ahead: Vec<_> = ahead.into_iter().map(|(slot, key)| (key, slot)).collect();
            jobs.extend(
                ahead
                    .chunks(CLAIMS_PER_WRITE)
                    .map(|hooks| Job::Prepare(hooks.to_vec())),
            );
        }
        let outcomes: Vec<Vec<TimerUpdate>> = stream::iter(jobs)
            .map(|job| self.work(job, now))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut fired = Vec::new();
        for outcome in outcomes.into_iter().flatten() {
            match outcome {
                TimerUpdate::Fired(pending, record) => fired.push((pending, record)),
                other => state.apply(other, now),
            }
        }
        // Released once every fire of the tick went out, so the claims' writes do not queue
        // before the fires' writes; a page of them to a store write.
        let released: Vec<Vec<TimerUpdate>> = stream::iter(in_pages(fired, CLAIMS_PER_WRITE))
            .map(|page| self.release(page))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in released.into_iter().flatten() {
            state.apply(outcome, now);
        }
    }

    /// The instant from which the burst at the head of the timer is prepared, if there is one.
    fn burst_from(&self, state: &State) -> Option<DateTime<Utc>> {
        let Ahead { lead, min_hooks } = self.ahead;
        let first = state.hooks.next_due()?;
        (state.hooks.crowd(lead, min_hooks) >= min_hooks).then(|| first - lead)
    }

    /// Releases the claims of slots fired ahead; a failure leaves its slot to a retry.
    async fn release(&self, fired: Vec<(Pending, Box<HookRecord>)>) -> Vec<TimerUpdate> {
        let (pendings, slots): (Vec<_>, Vec<_>) = (fired.into_iter())
            .map(|(pending, record)| {
                let slot = pending.slot;
                (pending, (slot, record))
            })
            .unzip();
        let released = self.slots.release_many(slots).await;
        (pendings.into_iter().zip(released))
            .filter_map(|(pending, released)| {
                let e = released.err()?;
                tracing::warn!(hook = %pending.key, error = %e, "releasing a slot failed");
                Some(TimerUpdate::RetryLater(pending, 1))
            })
            .collect()
    }

    /// The earliest instant at which [`Scheduler::tick`] has something to do.
    pub async fn next_due(&self) -> Option<DateTime<Utc>> {
        let state = self.state.lock().await;
        [
            state.hooks.next_due(),
            state.retries.next_due(),
            state.prepared.next_due(),
            self.burst_from(&state),
        ]
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
            let lagged = self.lagged.load(Ordering::Relaxed);
            if reading.is_none() && (lagged || self.clock.now() >= next_resync) {
                self.lagged.store(false, Ordering::Relaxed);
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
        let mut resumes = Resumes::at(self.clock.now());
        state.clear();
        every_hook_schedule(&**store, |hook| state.arm_with_claims(hook, &mut resumes)).await?;
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
        let mut resumes = Resumes::at(self.clock.now());
        let seen: HashSet<HookKey> = stored.iter().map(|hook| hook.key.clone()).collect();
        for hook in stored {
            if !state.is_armed_as(&hook) {
                state.arm(hook, &mut resumes);
            }
        }
        state.forget_unless(|key| seen.contains(key));
    }

    /// Applies announced changes: a changed hook is visited at once, a removed one forgotten.
    /// A subscriber that fell behind has missed some, so the run loop re-reads the store on
    /// its own task, as for the periodic resync, and ticks go on meanwhile. (Reloading in the
    /// tick made a bulk creation of 100,000 hooks reload them over and over: each reload took
    /// long enough for the subscription to fall behind again.)
    fn follow_changes(&self, state: &mut State, now: DateTime<Utc>) {
        loop {
            match state.changes.try_recv() {
                Ok(HookChange {
                    key,
                    kind: ChangeKind::Removed,
                }) => {
                    state.changed(&key);
                    state.hooks.remove(&key);
                }
                Ok(HookChange { key, .. }) => {
                    state.changed(&key);
                    state.hooks.set(key, now);
                }
                Err(TryRecvError::Lagged(_)) => self.lagged.store(true, Ordering::Relaxed),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    async fn work(&self, job: Job, now: DateTime<Utc>) -> Vec<TimerUpdate> {
        match job {
            Job::Visit(key) => self.visit(key, now).await,
            Job::Prepare(hooks) => {
                let claims = self.slots.claim_ahead(&hooks, now).await;
                let prepared = (hooks.into_iter().zip(claims))
                    .map(|((key, slot), claimed)| self.prepared(key, slot, now, claimed));
                join_all(prepared).await.into_iter().flatten().collect()
            }
            Job::FireReady(held) => {
                let (keys, slots): (Vec<_>, Vec<_>) = (held.into_iter())
                    .map(|(Pending { key, slot }, held)| {
                        let Held { record, ready } = *held;
                        (key, (slot, record, ready))
                    })
                    .unzip();
                let fired = self.slots.fire_ready_unreleased(slots).await;
                (keys.into_iter().zip(fired))
                    .map(|(key, (slot, record, fate))| match fate {
                        SlotFate::Done => TimerUpdate::Fired(Pending { key, slot }, record),
                        SlotFate::RetryLater => TimerUpdate::RetryLater(Pending { key, slot }, 1),
                    })
                    .collect()
            }
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

    /// Goes on from the claim of the hook's `slot`, still to come, for a fire at its time:
    /// makes the fire ready. Should the store have said the hook is due already (another
    /// process moved it), the claim is a visit's and so is what follows: a slot that is due
    /// fires now.
    async fn prepared(
        &self,
        key: HookKey,
        slot: DateTime<Utc>,
        now: DateTime<Utc>,
        claimed: Result<Claim, StoreError>,
    ) -> Vec<TimerUpdate> {
        match claimed {
            // Claimed at the slot's time, the plan is that one slot.
            Ok(Claim::Won {
                record,
                slots,
                abandoned,
            }) if slots == [slot] => {
                let mut outcomes: Vec<_> = adopt(&key, abandoned).collect();
                outcomes.push(TimerUpdate::Armed(key.clone(), record.next_scheduled_date));
                let ready = self.slots.ready(&record, slot).await;
                let held = Box::new(Held { record, ready });
                outcomes.push(TimerUpdate::Prepared(Pending { key, slot }, held));
                outcomes
            }
            claimed => self.visit_claimed(key, now, claimed).await,
        }
    }

    /// Claims and fires due slots of one hook until its next slot lies in the future.
    async fn visit(&self, key: HookKey, now: DateTime<Utc>) -> Vec<TimerUpdate> {
        let claimed = self.slots.claim(&key, now, None).await;
        self.visit_claimed(key, now, claimed).await
    }

    /// [`Scheduler::visit`] from its first claim on.
    async fn visit_claimed(
        &self,
        key: HookKey,
        now: DateTime<Utc>,
        first: Result<Claim, StoreError>,
    ) -> Vec<TimerUpdate> {
        let mut outcomes = Vec::new();
        let mut claims = 0;
        let mut claimed = Some(first);
        loop {
            let claim = match claimed.take() {
                Some(claim) => claim,
                None => self.slots.claim(&key, now, None).await,
            };
            match claim {
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
    every_hook_schedule(&*store, |hook| stored.push(ArmedAs::of(hook))).await?;
    Ok(stored)
}

/// `items` cut into pages of `size` (the last may be shorter), each item moved once: a tick's
/// burst of 100,000 prepared fires must not be copied again for every page taken off it.
fn in_pages<T>(items: Vec<T>, size: usize) -> impl Iterator<Item = Vec<T>> {
    let mut items = items.into_iter().peekable();
    std::iter::from_fn(move || {
        items.peek()?;
        Some(items.by_ref().take(size).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::in_pages;

    #[test]
    fn pages_keep_every_item_once_in_order_and_only_the_last_is_short() {
        let pages: Vec<Vec<u32>> = in_pages((0..10).collect(), 4).collect();
        assert_eq!(pages, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        assert_eq!(in_pages(Vec::<u32>::new(), 4).count(), 0);
        assert_eq!(in_pages((0..8).collect::<Vec<u32>>(), 4).count(), 2);
    }
}
