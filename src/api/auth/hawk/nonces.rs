//! Replay protection for Hawk: each `(client, timestamp, nonce)` is accepted once.
//!
//! Requests outside the timestamp window are refused before they get here, so an entry only
//! has to be remembered while its timestamp is inside the window; older ones are pruned on
//! every check. Memory is therefore bounded by the request rate times the window.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// Nonces seen within the timestamp window.
#[derive(Default)]
pub struct NonceCache {
    /// Ordered by timestamp first, so pruning is one `split_off`.
    seen: Mutex<BTreeSet<(i64, String, String)>>,
}

impl NonceCache {
    /// Records the nonce; `false` when it was already used by this client at this timestamp.
    ///
    /// Entries with a timestamp before `oldest_allowed` (seconds) are forgotten first: requests
    /// that old are refused by the timestamp check anyway.
    pub fn first_use(&self, client_id: &str, ts: i64, nonce: &str, oldest_allowed: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = seen.split_off(&(oldest_allowed, String::new(), String::new()));
        *seen = fresh;
        seen.insert((ts, client_id.to_owned(), nonce.to_owned()))
    }

    /// How many nonces are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once_per_client_and_timestamp() {
        let cache = NonceCache::default();
        assert!(cache.first_use("a", 100, "n", 0));
        assert!(!cache.first_use("a", 100, "n", 0));
        assert!(cache.first_use("b", 100, "n", 0));
        assert!(cache.first_use("a", 101, "n", 0));
    }

    #[test]
    fn entries_older_than_the_window_are_forgotten() {
        let cache = NonceCache::default();
        assert!(cache.first_use("a", 100, "n", 0));
        assert!(cache.first_use("a", 200, "m", 150));
        assert_eq!(cache.len(), 1);
    }
}
