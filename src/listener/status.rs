//! What the listener is doing, shared with the HTTP API (getHookStatus and the heartbeat).

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::domain::HookKey;

/// The listener's link to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    /// No `--amqp-url`: bindings are stored but nothing listens.
    Disabled,
    /// Connecting, or waiting to reconnect after losing the broker.
    Connecting,
    /// Connected; queues and bindings are being kept in line with the hooks.
    Connected,
}

impl ListenerState {
    /// The name shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Connecting => "connecting",
            Self::Connected => "connected",
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: ListenerState,
    reconnects: u64,
    binding_errors: HashMap<HookKey, Vec<String>>,
}

/// Shared, always-current view of the listener.
#[derive(Debug)]
pub struct ListenerStatus {
    inner: RwLock<Inner>,
}

impl ListenerStatus {
    /// The status of a listener that does not run.
    pub fn disabled() -> Self {
        Self::with_state(ListenerState::Disabled)
    }

    /// The status of a listener about to connect.
    pub fn connecting() -> Self {
        Self::with_state(ListenerState::Connecting)
    }

    fn with_state(state: ListenerState) -> Self {
        Self {
            inner: RwLock::new(Inner {
                state,
                reconnects: 0,
                binding_errors: HashMap::new(),
            }),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> T) -> T {
        f(&self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write(&self, f: impl FnOnce(&mut Inner)) {
        f(&mut self.inner.write().unwrap_or_else(PoisonError::into_inner));
    }

    /// The link to the broker.
    pub fn state(&self) -> ListenerState {
        self.read(|i| i.state)
    }

    /// How often the listener lost the broker and connected again.
    pub fn reconnects(&self) -> u64 {
        self.read(|i| i.reconnects)
    }

    /// Bindings of `key` the broker refused (e.g. their exchange does not exist yet).
    pub fn binding_errors(&self, key: &HookKey) -> Vec<String> {
        self.read(|i| i.binding_errors.get(key).cloned().unwrap_or_default())
    }

    pub(super) fn set_connected(&self) {
        self.write(|i| i.state = ListenerState::Connected);
    }

    pub(super) fn set_lost(&self) {
        self.write(|i| {
            i.state = ListenerState::Connecting;
            i.reconnects += 1;
        });
    }

    pub(super) fn set_binding_errors(&self, key: &HookKey, errors: Vec<String>) {
        self.write(|i| {
            if errors.is_empty() {
                i.binding_errors.remove(key);
            } else {
                i.binding_errors.insert(key.clone(), errors);
            }
        });
    }
}
