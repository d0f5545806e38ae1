//! The one walk over every stored hook, group by group.
//!
//! The scheduler (arming its timer, resyncing) and the AMQP listener (reconciling queues) each
//! need every hook; they visit them through [`every_hook`] rather than listing groups
//! themselves, so only one group's records are held at a time.

use super::{HookStore, StoreError};
use crate::domain::HookRecord;

/// Calls `visit` with every stored hook, in group order and hook id order within a group.
///
/// # Errors
/// The first store failure; the hooks visited until then stay visited.
pub async fn every_hook(
    store: &dyn HookStore,
    mut visit: impl FnMut(HookRecord),
) -> Result<(), StoreError> {
    for group in store.list_hook_groups().await? {
        for record in store.list_hooks(&group).await? {
            visit(record);
        }
    }
    Ok(())
}
