//! The scheduler's lean read and write in the store contract: pages of a group's hooks with only
//! what the timer needs of each, and claims and releases written by compare-and-set on those
//! fields alone, many to a write. Listed in `contract::store_contract!`, so every backend runs
//! them.

use std::sync::Arc;

use hookd::domain::{HookId, HookRecord, Schedule, TaskId};
use hookd::store::{HookSchedule, HookSlots, HookStore, StoreError};

use crate::contract::{at, group, hook_record, key, race, scheduled, the_one_winner, updated};

/// What a full read of `record` says the scheduler needs of it.
fn expected(record: &HookRecord) -> HookSchedule {
    HookSchedule {
        key: record.hook.key(),
        schedule: record.hook.schedule.clone(),
        next_scheduled_date: record.next_scheduled_date,
        claimed_slots: record.claimed_slots.clone(),
    }
}

pub async fn hook_schedules_page_through_a_group_with_what_the_scheduler_needs<S: HookStore>(
    store: S,
) {
    // Every state the scheduler tells apart: armed, claimed (one slot ahead of the next),
    // without a schedule, sharing a schedule with another hook, in a zone.
    let armed = {
        let mut r = hook_record("mine", "a");
        r.next_scheduled_date = Some(at(1_800_000_000_000));
        r
    };
    let claimed = {
        let mut r = hook_record("mine", "b");
        r.next_scheduled_date = Some(at(1_800_000_060_000));
        r.claimed_slots = vec![at(1_799_999_940_000), at(1_800_000_000_000)];
        r
    };
    let unscheduled = {
        let mut r = hook_record("mine", "c");
        r.hook.schedule = Schedule::default();
        r
    };
    let shared = {
        let mut r = hook_record("mine", "d");
        r.next_scheduled_date = armed.next_scheduled_date;
        r
    };
    let zoned = {
        let mut r = hook_record("mine", "e");
        r.hook.schedule =
            Schedule::parse(&["TZ=Europe/Berlin 0 2 * * *", "@hourly"]).expect("valid");
        r
    };
    let mut records = vec![zoned, unscheduled, armed, shared, claimed];
    for record in &records {
        store.insert_hook(record).await.expect("insert");
    }
    store
        .insert_hook(&hook_record("theirs", "b2"))
        .await
        .expect("insert");

    let mut pages = Vec::new();
    let mut after: Option<HookId> = None;
    loop {
        let page = store
            .list_hook_schedules_after(&group("mine"), after.as_ref(), 2)
            .await
            .expect("page");
        after = page.last().map(|hook| hook.key.id.clone());
        let full = page.len() == 2;
        pages.push(page);
        if !full {
            break;
        }
    }
    records.sort_by(|a, b| a.hook.hook_id.as_str().cmp(b.hook.hook_id.as_str()));
    let want: Vec<Vec<HookSchedule>> = records
        .chunks(2)
        .map(|c| c.iter().map(expected).collect())
        .collect();
    assert_eq!(pages, want);
    // What the full read of each hook gives, field for field.
    let listed = store.list_hooks(&group("mine")).await.expect("list");
    let read: Vec<HookSchedule> = listed.iter().map(expected).collect();
    assert_eq!(pages.concat(), read);
    let empty = store
        .list_hook_schedules_after(&group("empty"), None, 2)
        .await
        .expect("empty group");
    assert!(empty.is_empty());
}

/// `record` as a claim of the slot at `ms` leaves it, one version on.
fn claimed(record: &HookRecord, ms: i64) -> HookRecord {
    let mut next = record.clone();
    next.version += 1;
    next.claimed_slots.push(at(ms));
    next.next_scheduled_date = Some(at(ms + 60_000));
    next.next_task_id = Some(TaskId::generate());
    next
}

pub async fn hook_slots_are_written_by_version_each_alone<S: HookStore>(store: S) {
    // Every other field set, so a write that dropped or changed one would show.
    let plain = hook_record("g", "a");
    let full = scheduled(hook_record("g", "b"), 1_800_000_000_000);
    let raced = hook_record("g", "c");
    for record in [&plain, &full, &raced] {
        store.insert_hook(record).await.expect("insert");
    }
    let other_writer = updated(&raced, "changed meanwhile");
    store.replace_hook(&other_writer, 1).await.expect("replace");
    let a = claimed(&plain, 1_800_000_000_000);
    // Every claim released and nothing scheduled any more.
    let mut b = full.clone();
    b.version += 1;
    b.claimed_slots.clear();
    b.next_scheduled_date = None;
    b.next_task_id = None;
    let c = claimed(&raced, 1_800_000_000_000);
    let gone = claimed(&hook_record("g", "gone"), 1_800_000_000_000);

    let answers = store
        .write_hook_slots(&[
            HookSlots::of(&a, 1),
            HookSlots::of(&c, 1),
            HookSlots::of(&b, full.version),
            HookSlots::of(&gone, 1),
        ])
        .await
        .expect("write");

    assert_eq!(answers.len(), 4);
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(
        matches!(answers[1], Err(StoreError::VersionConflict)),
        "the lost race: {answers:?}"
    );
    assert!(answers[2].is_ok(), "{answers:?}");
    assert!(
        matches!(answers[3], Err(StoreError::NotFound)),
        "{answers:?}"
    );
    for (want, what) in [(&a, "claimed"), (&other_writer, "raced"), (&b, "released")] {
        let stored = store.get_hook(&want.hook.key()).await.expect("get");
        assert_eq!(stored.as_ref(), Some(want), "{what}");
    }
    assert_eq!(store.get_hook(&gone.hook.key()).await.expect("get"), None);
    // The lean read sees the same as the full one, and a whole-record compare-and-set goes on
    // from the version the slots' write stored.
    let lean = store
        .list_hook_schedules_after(&group("g"), None, 10)
        .await
        .expect("page");
    let full_read = store.list_hooks(&group("g")).await.expect("list");
    assert_eq!(lean, full_read.iter().map(expected).collect::<Vec<_>>());
    store
        .replace_hook(&updated(&a, "after the claim"), a.version)
        .await
        .expect("replace after a slots write");
    assert!(store.write_hook_slots(&[]).await.expect("empty").is_empty());
}

pub async fn concurrent_hook_slots_writes_on_one_version_have_exactly_one_winner<S: HookStore>(
    store: S,
) {
    let store = Arc::new(store);
    let first = hook_record("g", "cas");
    store.insert_hook(&first).await.expect("insert");
    let results = race(&store, 16, |store, i| {
        let next = claimed(
            &first,
            1_800_000_000_000 + 60_000 * i64::try_from(i).unwrap(),
        );
        async move {
            let answers = store.write_hook_slots(&[HookSlots::of(&next, 1)]).await;
            (answers.expect("write").pop().expect("one answer"), next)
        }
    })
    .await;

    let stored = store.get_hook(&key("g", "cas")).await.expect("get");
    assert_eq!(stored.as_ref(), Some(the_one_winner(&results)));
}
