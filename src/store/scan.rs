//! The one walk over every stored hook, group by group.
//!
//! The scheduler (arming its timer, resyncing) and the AMQP listener (reconciling queues) each
//! need every hook; they visit them through [`every_hook`] rather than listing groups
//! themselves, so only one page of one group's records is held at a time (a group may hold
//! 100,000 hooks).

use super::{HookStore, StoreError};
use crate::domain::HookRecord;

/// Hooks read per store round trip.
const PAGE: usize = 1_000;

/// Calls `visit` with every stored hook, in group order and hook id order within a group.
///
/// # Errors
/// The first store failure; the hooks visited until then stay visited.
pub async fn every_hook(
    store: &dyn HookStore,
    mut visit: impl FnMut(HookRecord),
) -> Result<(), StoreError> {
    for group in store.list_hook_groups().await? {
        let mut after = None;
        loop {
            let page = store.list_hooks_after(&group, after.as_ref(), PAGE).await?;
            let full = page.len() == PAGE;
            after = page.last().map(|record| record.hook.hook_id.clone());
            page.into_iter().for_each(&mut visit);
            if !full {
                break;
            }
        }
    }
    Ok(())
}
