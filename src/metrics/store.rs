//! [`MeteredStore`]: times every operation of any [`HookStore`] backend.
//!
//! A decorator rather than code in each backend: the backends stay unaware of metrics, and a
//! new backend is timed the moment start-up wraps it.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::Metrics;
use crate::store::{AroundStore, HookStore, StoreCall, StoreError};

/// A [`HookStore`] that records each call's duration under the trait method's name, whether
/// it succeeded or not, and otherwise passes everything through unchanged.
pub struct MeteredStore {
    inner: Arc<dyn HookStore>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// Wraps `inner`, reporting to `metrics`.
    pub fn new(inner: Arc<dyn HookStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl AroundStore for MeteredStore {
    fn inner(&self) -> &dyn HookStore {
        &*self.inner
    }

    async fn around<'a, T: Send + 'a>(
        &'a self,
        operation: &'static str,
        call: StoreCall<'a, T>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = call.await;
        self.metrics.store_operation(operation, started.elapsed());
        result
    }
}
