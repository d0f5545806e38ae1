//! The scheduler's in-memory state: the timer of hooks' next slots, the timer of slots claimed
//! ahead of their time (with the records they were claimed on and their fires, made ready),
//! the timer of claimed slots awaiting a retry, and how the outcome of each job updates them.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::broadcast;

use super::claim::resume_after_claims;
use super::timer::Timer;
use crate::domain::{HookKey, HookRecord, Schedule};
use crate::fire::Ready;
use crate::registry::HookChange;
use crate::store::HookSchedule;

/// The first wait before retrying a slot whose fire failed transiently; it doubles each time.
const RETRY_FIRST: Duration = Duration::seconds(1);
/// The longest wait between retries of one slot.
const RETRY_MAX: Duration = Duration::seconds(60);

/// A claimed slot waiting for a retry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Pending {
    pub(super) key: HookKey,
    pub(super) slot: DateTime<Utc>,
}

/// What a job left for the timer.
pub(super) enum TimerUpdate {
    /// The hook's next slot, or `None` when it has none (or is gone).
    Armed(HookKey, Option<DateTime<Utc>>),
    /// The store failed while visiting the hook; visit it again soon.
    VisitFailed(HookKey),
    /// The slot's fire failed transiently for the given number of times.
    RetryLater(Pending, u32),
    /// The slot is done.
    Finished(Pending),
    /// The slot was claimed long ago by someone who never finished it.
    Abandoned(Pending),
    /// The slot is claimed ahead of its time and its fire made ready; fire it when it comes due.
    Prepared(Pending, Box<Held>),
    /// The slot's fire is recorded; its claim, made on this record, is still to be released.
    Fired(Pending, Box<HookRecord>),
}

/// A slot claimed ahead of its time, until its time: the record it was claimed on and its fire,
/// made ready (rendered) on that record.
pub(super) struct Held {
    pub(super) record: Box<HookRecord>,
    /// Boxed, as the record: at the slot a burst's fires are moved into pages and from them
    /// into each write, and moving them whole was most of the scheduler thread's time there
    /// (copies into fresh memory; BENCHMARKS.md, issue 15's twelfth round).
    pub(super) ready: Box<Ready>,
}

/// What the timer needs of a stored hook: its schedule and stored next slot.
#[derive(Debug)]
pub(super) struct ArmedAs {
    pub(super) key: HookKey,
    schedule: Schedule,
    next: Option<DateTime<Utc>>,
    /// The latest slot claimed and not yet released, which may lie ahead (claimed ahead).
    latest_claim: Option<DateTime<Utc>>,
}

impl ArmedAs {
    pub(super) fn of(stored: HookSchedule) -> Self {
        Self {
            latest_claim: stored.claimed_slots.last().copied(),
            key: stored.key,
            schedule: stored.schedule,
            next: stored.next_scheduled_date,
        }
    }
}

/// [`resume_after_claims`] at one `now`, asked once per schedule, stored slot and latest
/// claim: the hooks of a store share a few schedules and slots, so arming 100,000 of them asks
/// croner a few times, not 200,000 (`resume` walks the schedule twice).
pub(super) struct Resumes {
    now: DateTime<Utc>,
    /// Answers by the schedule's entries, then by (stored slot, latest claim).
    answers: HashMap<Vec<String>, HashMap<SlotAndClaim, Option<DateTime<Utc>>>>,
    /// The last question and its answer: hooks read in id order mostly ask it again, and
    /// comparing is cheaper than hashing.
    last: Option<(Vec<String>, SlotAndClaim, Option<DateTime<Utc>>)>,
}

type SlotAndClaim = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

impl Resumes {
    /// No answers yet, for hooks armed at `now`.
    pub(super) fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            answers: HashMap::new(),
            last: None,
        }
    }

    /// The slot `hook` resumes at ([`resume_after_claims`]).
    fn of(&mut self, hook: &ArmedAs) -> Option<DateTime<Utc>> {
        let asked = (hook.next, hook.latest_claim);
        let entries = hook.schedule.entries();
        if let Some((_, _, answer)) = (self.last.as_ref())
            .filter(|(last, last_asked, _)| *last_asked == asked && last.as_slice() == entries)
        {
            return *answer;
        }
        let known = self.answers.get(entries).and_then(|by| by.get(&asked));
        let answer = match known {
            Some(answer) => *answer,
            None => {
                let answer =
                    resume_after_claims(&hook.schedule, hook.next, hook.latest_claim, self.now);
                self.answers
                    .entry(entries.to_vec())
                    .or_default()
                    .insert(asked, answer);
                answer
            }
        };
        self.last = Some((entries.to_vec(), asked, answer));
        answer
    }
}

/// The timers, guarded together so one tick at a time works on them.
pub(super) struct State {
    pub(super) hooks: Timer<HookKey>,
    pub(super) retries: Timer<Pending>,
    pub(super) attempts: HashMap<Pending, u32>,
    /// Slots this process claimed ahead of their time, due at the slot.
    pub(super) prepared: Timer<Pending>,
    /// What each hook's latest prepared slot holds, so its fire needs no read and no render.
    /// Forgotten when the hook changes: the slot is then fired as a retry, which reads the hook
    /// and renders its task again.
    held: HashMap<HookKey, (DateTime<Utc>, Box<Held>)>,
    pub(super) changes: broadcast::Receiver<HookChange>,
    /// The schedule entries each hook was armed with from the store, so a resync can tell
    /// which hooks another process changed. The entries as written, not the parsed schedule:
    /// this map lives as long as the process and holds every scheduled hook.
    schedules: HashMap<HookKey, Vec<String>>,
}

impl State {
    /// Empty timers, following the hook changes on `changes`.
    pub(super) fn new(changes: broadcast::Receiver<HookChange>) -> Self {
        Self {
            hooks: Timer::new(),
            retries: Timer::new(),
            attempts: HashMap::new(),
            prepared: Timer::new(),
            held: HashMap::new(),
            changes,
            schedules: HashMap::new(),
        }
    }

    /// Puts a hook read from the store on the timer, and its unfinished claims on the retry
    /// timer, due at once (a slot claimed ahead of its time, at its time).
    pub(super) fn arm_with_claims(&mut self, stored: HookSchedule, resumes: &mut Resumes) {
        for slot in &stored.claimed_slots {
            let pending = Pending {
                key: stored.key.clone(),
                slot: *slot,
            };
            self.retry_unless_retrying(pending, resumes.now);
        }
        self.arm(ArmedAs::of(stored), resumes);
    }

    /// Forgets every hook, every schedule it was armed with and every prepared slot (a reload
    /// finds those among the hooks' claims).
    pub(super) fn clear(&mut self) {
        self.hooks.clear();
        self.schedules.clear();
        self.prepared.clear();
        self.held.clear();
    }

    /// Forgets what a hook's prepared slots hold, because the hook changed.
    pub(super) fn changed(&mut self, key: &HookKey) {
        self.held.remove(key);
    }

    /// Takes what `pending` holds, unless the hook changed since or a later slot of the hook
    /// was prepared after it (then `pending` fires as a retry).
    pub(super) fn take_held(&mut self, pending: &Pending) -> Option<Box<Held>> {
        match self.held.get(&pending.key) {
            Some((slot, _)) if *slot == pending.slot => {
                self.held.remove(&pending.key).map(|(_, held)| held)
            }
            _ => None,
        }
    }

    /// Whether the timer already holds the hook as stored: same schedule, same next slot.
    pub(super) fn is_armed_as(&self, stored: &ArmedAs) -> bool {
        self.schedules.get(&stored.key).map(Vec::as_slice) == Some(stored.schedule.entries())
            && self.hooks.due(&stored.key) == stored.next
    }

    /// Forgets the hooks for which `exists` says no.
    pub(super) fn forget_unless(&mut self, exists: impl Fn(&HookKey) -> bool) {
        self.hooks.retain(&exists);
        self.schedules.retain(|key, _| exists(key));
        self.held.retain(|key, _| exists(key));
    }

    /// Puts a hook read from the store on the timer: at its stored slot when that is current,
    /// else due at once so a visit fixes the store.
    pub(super) fn arm(&mut self, hook: ArmedAs, resumes: &mut Resumes) {
        let resumed = resumes.of(&hook);
        let now = resumes.now;
        let ArmedAs {
            key,
            schedule,
            next: stored,
            ..
        } = hook;
        let entries = schedule.into_entries();
        match self.schedules.entry(key.clone()) {
            Entry::Occupied(mut armed) => {
                if *armed.get() != entries {
                    // Rescheduled by another process: a slot it had prepared reads the hook
                    // again.
                    self.held.remove(&key);
                    armed.insert(entries);
                }
            }
            Entry::Vacant(new) => {
                new.insert(entries);
            }
        }
        match (resumed, stored) {
            // Up to date: wait for the slot without touching the store.
            (Some(slot), Some(_)) if resumed == stored => self.hooks.set(key, slot),
            (None, None) => {}
            // Needs its stored slot set, moved or cleared: visit it now.
            _ => self.hooks.set(key, now),
        }
    }

    pub(super) fn apply(&mut self, outcome: TimerUpdate, now: DateTime<Utc>) {
        match outcome {
            TimerUpdate::Armed(key, Some(next)) => self.hooks.set(key, next),
            TimerUpdate::Armed(key, None) => {
                self.hooks.remove(&key);
                self.schedules.remove(&key);
            }
            TimerUpdate::VisitFailed(key) => self.hooks.set(key, now + RETRY_FIRST),
            TimerUpdate::RetryLater(pending, attempts) => {
                self.retries.set(pending.clone(), now + backoff(attempts));
                self.attempts.insert(pending, attempts);
            }
            TimerUpdate::Finished(pending) => {
                self.attempts.remove(&pending);
            }
            TimerUpdate::Abandoned(pending) => self.retry_unless_retrying(pending, now),
            TimerUpdate::Prepared(pending, held) => {
                let slot = pending.slot;
                self.held.insert(pending.key.clone(), (slot, held));
                self.prepared.set(pending, slot);
            }
            // The tick releases fired slots itself, after all of its fires; one handed here is
            // left to a retry, which finds its fire recorded and only releases the claim.
            TimerUpdate::Fired(pending, _) => self.retry_unless_retrying(pending, now),
        }
    }

    /// Puts a claimed slot on the retry timer, due at once or, claimed ahead, at its slot,
    /// unless this process already retries it (then it keeps its backoff).
    fn retry_unless_retrying(&mut self, pending: Pending, now: DateTime<Utc>) {
        if !self.attempts.contains_key(&pending) {
            self.attempts.insert(pending.clone(), 0);
            let at = pending.slot.max(now);
            self.retries.set(pending, at);
        }
    }
}

/// Outcomes that hand slots someone else abandoned to this process's retry timer.
pub(super) fn adopt(
    key: &HookKey,
    abandoned: Vec<DateTime<Utc>>,
) -> impl Iterator<Item = TimerUpdate> + '_ {
    abandoned.into_iter().map(|slot| {
        TimerUpdate::Abandoned(Pending {
            key: key.clone(),
            slot,
        })
    })
}

/// The wait before the next attempt after `attempts` failed ones: doubling, capped.
fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (RETRY_FIRST * 2_i32.pow(doublings)).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap() {
        let waits: Vec<i64> = (1..=9).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
