//! The walks over every stored hook, group by group.
//!
//! The scheduler (arming its timer, resyncing) and the AMQP listener (reconciling queues) each
//! need every hook; they visit them through [`every_hook`] (whole records) or
//! [`every_hook_schedule`] (what the scheduler needs of each) rather than listing groups
//! themselves, so only one page of one group is held at a time (a group may hold 100,000
//! hooks).

use std::future::Future;

use futures_util::future::join;

use super::{HookSchedule, HookStore, StoreError};
use crate::domain::{HookGroupId, HookId, HookRecord};

/// Whole records read per store round trip.
const PAGE: usize = 1_000;

/// Schedules read per store round trip: each is a few short strings, so a page this large
/// stays small and a walk over 100,000 hooks is ten round trips.
const SCHEDULE_PAGE: usize = 10_000;

/// Calls `visit` with every stored hook, in group order and hook id order within a group.
///
/// # Errors
/// The first store failure; the hooks visited until then stay visited.
pub async fn every_hook(
    store: &dyn HookStore,
    visit: impl FnMut(HookRecord),
) -> Result<(), StoreError> {
    walk(
        store,
        PAGE,
        |group, after, limit| async move {
            store.list_hooks_after(&group, after.as_ref(), limit).await
        },
        |record| &record.hook.hook_id,
        visit,
    )
    .await
}

/// Calls `visit` with what the scheduler needs of every stored hook, in the order of
/// [`every_hook`], without reading whole records.
///
/// # Errors
/// The first store failure; the hooks visited until then stay visited.
pub async fn every_hook_schedule(
    store: &dyn HookStore,
    visit: impl FnMut(HookSchedule),
) -> Result<(), StoreError> {
    walk(
        store,
        SCHEDULE_PAGE,
        |group, after, limit| async move {
            store
                .list_hook_schedules_after(&group, after.as_ref(), limit)
                .await
        },
        |hook| &hook.key.id,
        visit,
    )
    .await
}

/// Pages through every group with `page_after`, `page` items at a time, each page starting
/// after the id (`id_of`) of the last item of the one before, and visits every item in order.
async fn walk<'s, T, F>(
    store: &'s dyn HookStore,
    page: usize,
    page_after: impl Fn(HookGroupId, Option<HookId>, usize) -> F,
    id_of: impl Fn(&T) -> &HookId,
    mut visit: impl FnMut(T),
) -> Result<(), StoreError>
where
    F: Future<Output = Result<Vec<T>, StoreError>> + 's,
{
    for group in store.list_hook_groups().await? {
        let mut items = page_after(group.clone(), None, page).await?;
        while items.len() == page {
            let after = items.last().map(|item| id_of(item).clone());
            // The next page is read (on the store's own threads or connection) while this one
            // is visited: a start-up over 100,000 hooks is then as long as the slower of the
            // two, not their sum.
            let (next, ()) = join(page_after(group.clone(), after, page), async {
                items.into_iter().for_each(&mut visit);
            })
            .await;
            items = next?;
        }
        items.into_iter().for_each(&mut visit);
    }
    Ok(())
}
