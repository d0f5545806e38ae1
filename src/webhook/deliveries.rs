//! Standard Webhooks deduplication: each `(hook, webhook-id)` is acted on once.
//!
//! Deliveries older than the timestamp window are refused anyway, so an id needs to be kept
//! only that long (twice, to cover clock differences in both directions).

use std::collections::{BTreeSet, HashSet};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use super::TIMESTAMP_WINDOW;

/// Delivery ids seen recently.
#[derive(Default)]
pub struct DeliveryIds {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    by_time: BTreeSet<(i64, String)>,
}

impl DeliveryIds {
    /// Records `id` for `hook` at `now`; `false` when it was seen within the window.
    pub fn first_delivery(&self, hook: &str, id: &str, now: DateTime<Utc>) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = now.timestamp() - 2 * TIMESTAMP_WINDOW.num_seconds();
        let keep = seen.by_time.split_off(&(oldest, String::new()));
        for (_, old) in std::mem::replace(&mut seen.by_time, keep) {
            seen.ids.remove(&old);
        }
        let key = format!("{hook}\n{id}");
        if !seen.ids.insert(key.clone()) {
            return false;
        }
        seen.by_time.insert((now.timestamp(), key));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn an_id_counts_once_per_hook_until_it_ages_out() {
        let ids = DeliveryIds::default();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(ids.first_delivery("g/h", "m1", now));
        assert!(!ids.first_delivery("g/h", "m1", now));
        assert!(ids.first_delivery("g/other", "m1", now));
        assert!(ids.first_delivery("g/h", "m1", now + Duration::minutes(11)));
    }
}
