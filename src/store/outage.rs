//! [`OutageGuard`]: within one request, a store that has answered "unavailable" is not asked
//! again.
//!
//! While the database is away, each store call waits out the backend's timeout before it fails.
//! A trigger makes several calls (the task into the outbox, then the error fire recording that
//! failure), so it used to wait once per call for the same outage. Work run inside
//! [`one_outage`] (each HTTP request) remembers the first [`StoreError::Unavailable`] it met,
//! and its later calls fail at once. Nothing is shared between requests: the next request, and
//! `/__heartbeat__`, asks the store afresh, so the heartbeat reports what the store says now and
//! recovery needs no restart. The scheduler and the listener run each fire in such a scope too
//! (their retries are their own); outside one, every call goes through.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::store::{AroundStore, HookStore, StoreCall, StoreError};

tokio::task_local! {
    /// Whether the store answered "unavailable" earlier in the current unit of work.
    static OUTAGE_SEEN: Cell<bool>;
}

/// Runs `work` as one unit: once a store call in it fails as unavailable, later calls in it
/// fail at once instead of waiting for the same outage again.
pub async fn one_outage<F: Future>(work: F) -> F::Output {
    OUTAGE_SEEN.scope(Cell::new(false), work).await
}

/// Why a call failed without reaching the store.
#[derive(Debug, thiserror::Error)]
#[error("the store was unavailable earlier in this request; not waiting for it again")]
pub struct OutageSeen;

/// A [`HookStore`] that, inside [`one_outage`], stops calling a backend that has already
/// failed as unavailable; everything else passes through unchanged.
pub struct OutageGuard {
    inner: Arc<dyn HookStore>,
}

impl OutageGuard {
    /// Guards `inner`.
    pub fn new(inner: Arc<dyn HookStore>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl AroundStore for OutageGuard {
    fn inner(&self) -> &dyn HookStore {
        &*self.inner
    }

    async fn around<'a, T: Send + 'a>(
        &'a self,
        _operation: &'static str,
        call: StoreCall<'a, T>,
    ) -> Result<T, StoreError> {
        if OUTAGE_SEEN.try_with(Cell::get).unwrap_or(false) {
            return Err(StoreError::Unavailable(Box::new(OutageSeen)));
        }
        let result = call.await;
        if matches!(result, Err(StoreError::Unavailable(_))) {
            // Outside a unit of work there is nothing to remember it in, which is fine.
            let _ = OUTAGE_SEEN.try_with(|seen| seen.set(true));
        }
        result
    }
}
