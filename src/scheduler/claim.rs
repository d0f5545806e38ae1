//! One hook's scheduling steps against the store: claim due slots by compare-and-set, fire a
//! claimed slot, release it when done.
//!
//! The claim is the only synchronisation between replicas: a replica advances the hook's
//! `nextScheduledDate` past the slots it fires and adds them to `claimedSlots` in one
//! compare-and-set on the version it read, so exactly one replica wins each slot. A slot stays
//! in `claimedSlots` until its fire is recorded, so a crash in between leaves it for the next
//! start to finish, with the same task id.
//!
//! Recording the fire and releasing the claim are two writes, so a crash between them leaves
//! a claim on a slot that was fired. Whoever finishes the claim first asks the store whether
//! the slot's final fire is recorded (under the fire id derived from the slot's task id, see
//! [`fire::settled`]); if so it only releases the claim, and no sink sees the task twice.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;

use super::failpoint::{self, Failpoint};
use super::plan::{plan, CatchUp, Plan};
use crate::clock::Clock;
use crate::domain::{FireRecord, HookKey, HookRecord, Schedule, TaskId};
use crate::fire::{self, FireDeps, FireError, Fired, Ready, Trigger};
use crate::store::{compare_and_set_as, one_outage, CasWrite, Change, HookSlots, StoreError};

/// A slot claimed longer ago than this is taken to be abandoned by a replica that died, and
/// any scheduler visiting the hook fires it. A live replica finishes a slot within seconds
/// unless the task queue is down; if both then retry, they submit the same task id.
pub(super) const CLAIM_LEASE: Duration = Duration::minutes(10);

/// What a claim decided for a hook: its plan, and the slots it found abandoned.
type Step = (Plan, Vec<DateTime<Utc>>);

/// How many of a page's hooks [`Slots::claim_ahead`] reads at once. A tick claims a few pages
/// side by side, and a store's reads are served by a few connections (SQLite keeps 8 idle);
/// a whole page read at once made each read past those open a connection of its own, which
/// cost more than the read, and most when the machine was busy.
const READS_AT_ONCE: usize = 2;

/// The result of a claim.
#[derive(Debug)]
pub(super) enum Claim {
    /// The hook no longer exists.
    Gone,
    /// The hook is up to date; this is its next slot. `abandoned` are slots claimed longer
    /// than [`CLAIM_LEASE`] ago.
    Armed {
        next: Option<DateTime<Utc>>,
        abandoned: Vec<DateTime<Utc>>,
    },
    /// These slots are now ours to fire; the record is as we wrote it.
    Won {
        record: Box<HookRecord>,
        slots: Vec<DateTime<Utc>>,
        abandoned: Vec<DateTime<Utc>>,
    },
}

/// What became of a claimed slot after its fire.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SlotFate {
    /// The fire was recorded (successful or not) and the claim released.
    Done,
    /// The task sink or the store was out of reach; the slot stays claimed for a retry.
    RetryLater,
}

/// The store and fire path, plus the service's default catch-up.
#[derive(Clone)]
pub(super) struct Slots {
    pub(super) fire: FireDeps,
    pub(super) catch_up: CatchUp,
    /// The time at which a slot's task reached the sink, for the lateness metric.
    pub(super) clock: Arc<dyn Clock>,
    /// Set only by crash tests.
    pub(super) failpoint: Option<Failpoint>,
}

impl Slots {
    /// Brings the hook's stored next slot up to date at `now`, claiming whatever the
    /// missed-fire policy says to fire.
    ///
    /// With `ahead`, a slot still to come, the hook is claimed as if it were that slot's time
    /// already, so that slot is claimed before it comes due (a burst prepared ahead, see
    /// [`super::Ahead`]); unless the stored next slot is not `ahead` (another process moved it),
    /// then the claim is made at `now` as without it.
    pub(super) async fn claim(
        &self,
        key: &HookKey,
        now: DateTime<Utc>,
        ahead: Option<DateTime<Utc>>,
    ) -> Result<Claim, StoreError> {
        let claimed = compare_and_set_as(CasWrite::Slots, &*self.fire.store, key, None, |record| {
            self.change(key, record, now, ahead)
        })
        .await?;
        Ok(claim_of(claimed))
    }

    /// [`Slots::claim`] of many hooks' slots still to come, each hook's with its `ahead`, in
    /// one store write: the hooks are read side by side, and every claim that changes a hook is
    /// written by [`HookStore::write_hook_slots`](crate::store::HookStore::write_hook_slots),
    /// each on the version read. A claim whose compare-and-set lost (another process wrote the
    /// hook meanwhile) is made again alone, as [`Slots::claim`] would retry it; the others
    /// stand. Answers in the order of `hooks`.
    pub(super) async fn claim_ahead(
        &self,
        hooks: &[(HookKey, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Vec<Result<Claim, StoreError>> {
        let store = &*self.fire.store;
        let mut reads = Vec::with_capacity(hooks.len());
        for some in hooks.chunks(READS_AT_ONCE) {
            reads.extend(join_all(some.iter().map(|(key, _)| store.get_hook(key))).await);
        }
        let mut claims: Vec<Option<Result<Claim, StoreError>>> = Vec::with_capacity(hooks.len());
        // Claims to write: their index in `hooks`, and what a won write makes of them.
        let mut written = Vec::new();
        let mut writes = Vec::new();
        for (i, ((key, slot), read)) in hooks.iter().zip(reads).enumerate() {
            let mut record = match read {
                Ok(Some(record)) => record,
                Ok(None) => {
                    claims.push(Some(Ok(Claim::Gone)));
                    continue;
                }
                Err(e) => {
                    claims.push(Some(Err(e)));
                    continue;
                }
            };
            let expected = record.version;
            match self.change(key, &mut record, now, Some(*slot)) {
                Change::Keep(value) => claims.push(Some(Ok(claim_of(Some((record, value)))))),
                Change::Write(value) => {
                    record.version = expected + 1;
                    writes.push(HookSlots::of(&record, expected));
                    written.push((i, record, value));
                    claims.push(None);
                }
            }
        }
        let answers = match store.write_hook_slots(&writes).await {
            Ok(answers) if answers.len() == written.len() => {
                failpoint::stop_if(self.failpoint, Failpoint::AfterClaimAhead);
                answers.into_iter().map(Some).collect()
            }
            // The write failed as a whole: each claim is made alone, and fails on its own.
            Ok(_) | Err(_) => Vec::from_iter(std::iter::repeat_with(|| None).take(written.len())),
        };
        for ((i, record, value), answer) in written.into_iter().zip(answers) {
            claims[i] = match answer {
                Some(Ok(())) => Some(Ok(claim_of(Some((record, value))))),
                Some(Err(StoreError::NotFound)) => Some(Ok(Claim::Gone)),
                Some(Err(_)) | None => None,
            };
        }
        let lost: Vec<usize> = (claims.iter().enumerate())
            .filter_map(|(i, claim)| claim.is_none().then_some(i))
            .collect();
        let retried = join_all(lost.iter().map(|&i| {
            let (key, slot) = &hooks[i];
            self.claim(key, now, Some(*slot))
        }))
        .await;
        for (i, claim) in lost.into_iter().zip(retried) {
            claims[i] = Some(claim);
        }
        // Every claim is answered by now.
        claims.into_iter().flatten().collect()
    }

    /// What a claim at `now` (or at `ahead`, see [`Slots::claim`]) changes in `record`: the
    /// slots it fires, the next slot it arms, and the slots it finds abandoned.
    fn change(
        &self,
        key: &HookKey,
        record: &mut HookRecord,
        now: DateTime<Utc>,
        ahead: Option<DateTime<Utc>>,
    ) -> Change<Step> {
        let at = ahead
            .filter(|slot| *slot > now && resume(record, now) == Some(*slot))
            .unwrap_or(now);
        let step = self.plan(record, at);
        let next_task_id = step.next.map(|next| TaskId::for_slot(key, next));
        let abandoned: Vec<_> = (record.claimed_slots.iter().copied())
            .filter(|slot| *slot < now - CLAIM_LEASE)
            .collect();
        if step.fire.is_empty()
            && record.next_scheduled_date == step.next
            && record.next_task_id == next_task_id
        {
            return Change::Keep((step, abandoned));
        }
        record.next_scheduled_date = step.next;
        record.next_task_id = next_task_id;
        record.claimed_slots.extend(&step.fire);
        record.claimed_slots.sort_unstable();
        record.claimed_slots.dedup();
        Change::Write((step, abandoned))
    }

    fn plan(&self, record: &HookRecord, now: DateTime<Utc>) -> Plan {
        let schedule = &record.hook.schedule;
        match resume(record, now) {
            Some(due) => {
                let catch_up = CatchUp {
                    policy: record.hook.missed_fires.unwrap_or(self.catch_up.policy),
                    ..self.catch_up
                };
                plan(schedule, due, now, catch_up)
            }
            None => Plan {
                fire: Vec::new(),
                next: None,
            },
        }
    }

    /// Fires a slot this scheduler holds a claim on, with the slot's own task id and time,
    /// and releases the claim unless the failure is one a retry can fix.
    pub(super) async fn fire(
        &self,
        record: &HookRecord,
        slot: DateTime<Utc>,
    ) -> Result<SlotFate, StoreError> {
        if self.fire_unreleased(record, slot).await == SlotFate::RetryLater {
            return Ok(SlotFate::RetryLater);
        }
        self.release(&record.hook.key(), Some(record.clone()), slot)
            .await?;
        Ok(SlotFate::Done)
    }

    /// Fires a slot this scheduler holds a claim on and leaves the claim in place:
    /// [`SlotFate::Done`] means the fire is recorded and only [`Slots::release`] is left. A
    /// crash before that release is the window [`Slots::refire`] closes.
    pub(super) async fn fire_unreleased(
        &self,
        record: &HookRecord,
        slot: DateTime<Utc>,
    ) -> SlotFate {
        let key = record.hook.key();
        // One store outage costs one wait, not one for the task and another for the record.
        let fired = one_outage(fire::fire(&self.fire, record, slot_trigger(&key, slot))).await;
        let fate = self.fate(&key, slot, fired);
        failpoint::stop_if(self.failpoint, Failpoint::AfterRecord);
        fate
    }

    /// Makes the fire of a slot claimed ahead ready on the record it was claimed on: renders
    /// its task now, with the slot's time as its `now`, so at the slot only the write is left.
    pub(super) async fn ready(&self, record: &HookRecord, slot: DateTime<Utc>) -> Box<Ready> {
        let trigger = slot_trigger(&record.hook.key(), slot);
        Box::new(fire::ready(&self.fire, record, trigger).await)
    }

    /// Fires slots claimed ahead, whose fires were made ready ([`Slots::ready`]), together:
    /// their tasks and records go in one write. As [`Slots::fire_unreleased`], each slot's
    /// claim is left in place, so a crash before the releases leaves every slot of the write to
    /// [`Slots::refire`], which finds its fire recorded and only releases it.
    pub(super) async fn fire_ready_unreleased(
        &self,
        slots: Vec<(DateTime<Utc>, Box<HookRecord>, Box<Ready>)>,
    ) -> Vec<(DateTime<Utc>, Box<HookRecord>, SlotFate)> {
        let (claimed, ready): (Vec<_>, Vec<_>) = (slots.into_iter())
            .map(|(slot, record, ready)| ((slot, record), ready))
            .unzip();
        let fires = (claimed.iter())
            .map(|(_, record)| &**record)
            .zip(ready)
            .collect();
        // One store outage costs the batch one wait, as for one fire.
        let fired = one_outage(fire::fire_ready(&self.fire, fires)).await;
        let fates: Vec<_> = (claimed.into_iter().zip(fired))
            .map(|((slot, record), fired)| {
                let fate = self.fate(&record.hook.key(), slot, fired);
                (slot, record, fate)
            })
            .collect();
        failpoint::stop_if(self.failpoint, Failpoint::AfterRecord);
        fates
    }

    /// What a slot's fire leaves for its claim: released unless a retry can fix the failure.
    fn fate(
        &self,
        key: &HookKey,
        slot: DateTime<Utc>,
        fired: Result<Fired, FireError>,
    ) -> SlotFate {
        match fired {
            Ok(Fired::Created(_)) => {
                // Observed when the sink has the task, not when the tick began: under a burst,
                // later slots of one tick go out much later than the first.
                self.fire.metrics.slot_fired(self.clock.now() - slot);
            }
            Ok(Fired::Declined) => {}
            Err(e) if e.disposition().transient => {
                tracing::warn!(hook = %key, %slot, error = %e, "scheduled fire will be retried");
                return SlotFate::RetryLater;
            }
            // Recorded as an error fire by the fire path; the schedule moves on.
            Err(e) => tracing::warn!(hook = %key, %slot, error = %e, "scheduled fire failed"),
        }
        SlotFate::Done
    }

    /// Fires a slot claimed earlier (by this process before a retry, or by one that crashed),
    /// if the hook still exists and the slot is still claimed, and was not fired to the end
    /// already: then the claim is only released.
    pub(super) async fn refire(
        &self,
        key: &HookKey,
        slot: DateTime<Utc>,
    ) -> Result<SlotFate, StoreError> {
        let record = match self.fire.store.get_hook(key).await? {
            Some(record) if record.claimed_slots.contains(&slot) => record,
            _ => return Ok(SlotFate::Done),
        };
        if self.fired_to_the_end(key, slot).await? {
            tracing::info!(hook = %key, %slot, "slot was fired before its claim was released");
            self.release(key, Some(record), slot).await?;
            return Ok(SlotFate::Done);
        }
        self.fire(&record, slot).await
    }

    /// Whether the slot's final fire is recorded: under this build's ids, or under those a
    /// build before time-first task ids gave the slot (whose claim it may have left behind).
    async fn fired_to_the_end(
        &self,
        key: &HookKey,
        slot: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if fire::settled(&self.fire, &slot_trigger(key, slot))
            .await?
            .is_some()
        {
            return Ok(true);
        }
        let earlier = FireRecord::settled_id_by_hash(&TaskId::for_slot_by_hash(key, slot));
        Ok(self.fire.store.get_fire(earlier).await?.is_some())
    }

    /// Marks a claimed slot done. The first attempt writes over `known`, the record as last
    /// seen, which saves a read when nobody wrote the hook since.
    pub(super) async fn release(
        &self,
        key: &HookKey,
        known: Option<HookRecord>,
        slot: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        compare_and_set_as(CasWrite::Slots, &*self.fire.store, key, known, |record| {
            if !record.claimed_slots.contains(&slot) {
                return Change::Keep(());
            }
            record.claimed_slots.retain(|claimed| *claimed != slot);
            Change::Write(())
        })
        .await?;
        Ok(())
    }

    /// [`Slots::release`] of many fired slots, each over the record it was claimed on, in one
    /// store write. A release whose compare-and-set lost (the hook was written since its
    /// claim, by an edit or another of its releases) is made again alone on the hook as read
    /// then. Answers in the order of `fired`.
    pub(super) async fn release_many(
        &self,
        fired: Vec<(DateTime<Utc>, Box<HookRecord>)>,
    ) -> Vec<Result<(), StoreError>> {
        let writes: Vec<HookSlots> = (fired.iter())
            .map(|(slot, record)| {
                let mut released = HookSlots::of(record, record.version);
                released.claimed_slots.retain(|claimed| claimed != slot);
                released
            })
            .collect();
        let answers = match self.fire.store.write_hook_slots(&writes).await {
            Ok(answers) if answers.len() == fired.len() => answers,
            // The write failed as a whole: each release is made alone, and fails on its own.
            Ok(_) | Err(_) => (fired.iter())
                .map(|_| Err(StoreError::VersionConflict))
                .collect(),
        };
        let releases = (fired.iter().zip(answers)).map(|((slot, record), answer)| async move {
            match answer {
                Ok(()) | Err(StoreError::NotFound) => Ok(()),
                Err(_) => self.release(&record.hook.key(), None, *slot).await,
            }
        });
        join_all(releases).await
    }
}

/// The hook's next slot to fire ([`Schedule::resume`]), counted from its latest claimed slot
/// when that one lies ahead of `now`: a slot claimed ahead of its time is the schedule's next,
/// and the stored next slot, after it, must not be taken for a changed schedule.
pub(super) fn resume_after_claims(
    schedule: &Schedule,
    stored: Option<DateTime<Utc>>,
    latest_claim: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    schedule.resume(stored, latest_claim.map_or(now, |claimed| claimed.max(now)))
}

/// [`resume_after_claims`] of a stored record (its claimed slots are sorted).
fn resume(record: &HookRecord, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let latest_claim = record.claimed_slots.last().copied();
    resume_after_claims(
        &record.hook.schedule,
        record.next_scheduled_date,
        latest_claim,
        now,
    )
}

/// The claim a compare-and-set of [`Slots::change`] ended on (`None`: the hook is gone).
fn claim_of(claimed: Option<(HookRecord, Step)>) -> Claim {
    match claimed {
        None => Claim::Gone,
        Some((_, (step, abandoned))) if step.fire.is_empty() => Claim::Armed {
            next: step.next,
            abandoned,
        },
        Some((record, (step, abandoned))) => Claim::Won {
            record: Box::new(record),
            slots: step.fire,
            abandoned,
        },
    }
}

/// The trigger of one slot: its time and the task id reserved for it.
fn slot_trigger(key: &HookKey, slot: DateTime<Utc>) -> Trigger {
    Trigger::schedule(slot, TaskId::for_slot(key, slot))
}
