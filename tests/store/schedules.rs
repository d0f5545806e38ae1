//! The scheduler's lean read in the store contract: pages of a group's hooks with only what the
//! timer needs of each. Listed in `contract::store_contract!`, so every backend runs it.

use hookd::domain::{HookId, HookRecord, Schedule};
use hookd::store::{HookSchedule, HookStore};

use crate::contract::{at, group, hook_record};

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
