//! Catching up under `all`: a hook with many missed slots fires them over several ticks, so
//! other hooks due at the same time are not held up behind it.

use chrono::Duration;
use hookd::domain::MissedFires;
use hookd::scheduler::MAX_CLAIMS_PER_VISIT;

use crate::harness::{at, fires, fresh_store, hook, key, node, START};

#[tokio::test]
async fn a_long_catch_up_is_spread_over_ticks_and_loses_no_slot() {
    let (_dir, db, clock) = fresh_store();
    let node = node(&db, &clock, None).await;
    let mut busy = hook("busy", &["* * * * * *"]);
    busy.missed_fires = Some(MissedFires::All);
    node.registry.create(busy).await.unwrap();
    // Due once, at 10:01:40.
    node.registry
        .create(hook("quiet", &["40 1 10 * * *"]))
        .await
        .unwrap();
    node.scheduler.tick().await;

    // 100 s pass unseen (as if the process had been stopped), ending on the slot of `quiet`.
    let missed = 100;
    let now = at(START) + Duration::seconds(missed);
    assert_eq!(now, at("2026-05-01T10:01:40Z"));
    clock.set(now);
    node.scheduler.tick().await;

    let quiet = fires(&*node.store, &key("quiet")).await;
    assert_eq!(quiet.len(), 1, "the other hook fires in the first tick");
    assert_eq!(
        fires(&*node.store, &key("busy")).await.len(),
        MAX_CLAIMS_PER_VISIT,
        "one tick claims a bounded number of one hook's missed slots"
    );
    let mut ticks = 1;
    while node
        .scheduler
        .next_due()
        .await
        .is_some_and(|due| due <= now)
    {
        node.scheduler.tick().await;
        ticks += 1;
    }
    let times: Vec<_> = fires(&*node.store, &key("busy"))
        .await
        .iter()
        .map(|f| f.task_create_time)
        .collect();
    let expected: Vec<_> = (1..=missed)
        .map(|s| at(START) + Duration::seconds(s))
        .collect();
    assert_eq!(times, expected);
    assert_eq!(ticks, (missed as usize).div_ceil(MAX_CLAIMS_PER_VISIT));
}
