//! A scheduler-only process learns of hooks created, changed and removed through another
//! process's API (whose change announcements it never hears) by resyncing with the store.

use hookd::domain::Schedule;
use hookd::registry::RegistryError;

use crate::harness::{at, fires, fresh_store, hook, key, node};

#[tokio::test]
async fn a_resync_picks_up_hooks_created_changed_and_removed_elsewhere() {
    let (_dir, db, clock) = fresh_store();
    let scheduler = node(&db, &clock, None).await;
    let api = node(&db, &clock, None).await;
    api.registry
        .create(hook("moved", &["*/15 * * * *"]))
        .await
        .unwrap();
    api.registry
        .create(hook("removed", &["*/5 * * * *"]))
        .await
        .unwrap();
    assert_eq!(scheduler.scheduler.next_due().await, None, "not heard of");

    scheduler.scheduler.resync().await.unwrap();
    scheduler.scheduler.tick().await;
    assert_eq!(
        scheduler.scheduler.next_due().await,
        Some(at("2026-05-01T10:05:00Z"))
    );

    api.registry
        .update(&key("moved"), |h| {
            let mut h = h.clone();
            h.schedule = Schedule::parse(&["*/5 * * * *"]).unwrap();
            Ok::<_, RegistryError>(h)
        })
        .await
        .unwrap();
    api.registry.remove(&key("removed")).await.unwrap();
    // As the loop does: resync, then tick (which moves the changed hook to its new slot).
    scheduler.scheduler.resync().await.unwrap();
    scheduler.scheduler.tick().await;
    clock.set(at("2026-05-01T10:05:00Z"));
    scheduler.scheduler.tick().await;

    let moved: Vec<_> = fires(&*scheduler.store, &key("moved"))
        .await
        .iter()
        .map(|f| f.task_create_time)
        .collect();
    assert_eq!(
        moved,
        [at("2026-05-01T10:05:00Z")],
        "the new schedule's slot"
    );
    assert_eq!(
        scheduler.scheduler.next_due().await,
        Some(at("2026-05-01T10:10:00Z")),
        "only the changed hook is left on the timer"
    );
}
