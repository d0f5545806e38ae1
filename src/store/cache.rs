//! Recently read hooks, so that the hottest reads (a fire's hook, getHookDefinition, listHooks)
//! skip the store: no round trip to a read connection or the database server, no decoding and
//! no parsing of a document that has not changed.
//!
//! Freshness: a change made through this process is seen by the next read, because every
//! change through the registry tells the cache to [`HookCache::forget`] the hook. A change made
//! by another process sharing the store (another replica) is seen within
//! [`HookCache::FRESHNESS`]: an entry is used only that long after the read that filled it
//! started. That is the whole promise, so only callers that can live with it read through the
//! cache: the definition and the trigger token. State the scheduler writes straight into the
//! store (the next slot, claims) is never read from here.
//!
//! Owns: the entries and when they may be used. Leaves to others: when to forget (`registry`)
//! and what to read on a miss (the caller's store read).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use super::StoreError;
use crate::clock::Clock;
use crate::domain::{HookGroupId, HookKey, HookRecord};

/// Entries kept at most, per kind; past this the cache starts over (a hot entry is read back
/// at once). Keeps a service with 100,000 hooks from holding every one a second time.
const MAX_ENTRIES: usize = 10_000;

/// A group listing longer than this is read from the store each time instead of cached.
const MAX_CACHED_GROUP: usize = 1_000;

/// Recently read hook records and group listings. See the module docs for what is fresh.
pub struct HookCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Bumped by every forget, so a read that was under way during a change does not fill
    /// the cache with what it saw before the change.
    generation: u64,
    hooks: HashMap<HookKey, Entry<HookRecord>>,
    groups: HashMap<HookGroupId, Entry<Vec<HookRecord>>>,
}

struct Entry<T> {
    value: Arc<T>,
    /// When the read that filled the entry started.
    read_at: DateTime<Utc>,
}

impl HookCache {
    /// How long after its read an entry may be used: the bound on how late a change made by
    /// another replica is seen.
    pub const FRESHNESS: Duration = Duration::seconds(1);

    /// An empty cache whose entries age by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::default(),
        }
    }

    /// The hook `key` from the cache while fresh, else from `read` (a read of the store),
    /// which then fills the cache. A missing hook is not cached.
    ///
    /// # Errors
    /// What `read` fails with.
    pub async fn hook(
        &self,
        key: &HookKey,
        read: impl Future<Output = Result<Option<HookRecord>, StoreError>>,
    ) -> Result<Option<Arc<HookRecord>>, StoreError> {
        let read = async { read.await.map(|found| found.map(Arc::new)) };
        self.fresh_or(|e| &mut e.hooks, key, read, |_| true).await
    }

    /// The hooks of `group`, like [`HookCache::hook`]; an empty group is not cached, nor one
    /// too large to hold twice.
    ///
    /// # Errors
    /// What `read` fails with.
    pub async fn group(
        &self,
        group: &HookGroupId,
        read: impl Future<Output = Result<Vec<HookRecord>, StoreError>>,
    ) -> Result<Arc<Vec<HookRecord>>, StoreError> {
        let read = async { read.await.map(|records| Some(Arc::new(records))) };
        let cacheable =
            |records: &Vec<HookRecord>| !records.is_empty() && records.len() <= MAX_CACHED_GROUP;
        let listed = self.fresh_or(|e| &mut e.groups, group, read, cacheable);
        Ok(listed.await?.unwrap_or_default())
    }

    /// The fresh entry of `key` in the map `kind` picks, else what `read` finds, kept in the
    /// map when `cacheable` and no change was forgotten while the read was under way.
    async fn fresh_or<K: Hash + Eq + Clone, T>(
        &self,
        kind: fn(&mut Entries) -> &mut HashMap<K, Entry<T>>,
        key: &K,
        read: impl Future<Output = Result<Option<Arc<T>>, StoreError>>,
        cacheable: impl Fn(&T) -> bool,
    ) -> Result<Option<Arc<T>>, StoreError> {
        let now = self.clock.now();
        let generation = {
            let mut entries = self.lock();
            if let Some(value) = fresh(kind(&mut entries).get(key), now) {
                return Ok(Some(value));
            }
            entries.generation
        };
        let found = read.await?;
        if let Some(value) = found.as_ref().filter(|value| cacheable(value)) {
            let mut entries = self.lock();
            if entries.generation == generation {
                insert(kind(&mut entries), key.clone(), Arc::clone(value), now);
            }
        }
        Ok(found)
    }

    /// Drops what the cache holds about `key` (the hook and its group's listing); call it once
    /// a change to the hook is in the store.
    pub fn forget(&self, key: &HookKey) {
        let mut entries = self.lock();
        entries.generation = entries.generation.wrapping_add(1);
        entries.hooks.remove(key);
        entries.groups.remove(&key.group);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The maps stay consistent whatever a panicking holder was doing: each change is one
        // insert or remove.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The entry's value if it was read less than [`HookCache::FRESHNESS`] before `now` (and not
/// after it: a clock set back makes entries stale, not immortal).
fn fresh<T>(entry: Option<&Entry<T>>, now: DateTime<Utc>) -> Option<Arc<T>> {
    let entry = entry?;
    let age = now - entry.read_at;
    (age >= Duration::zero() && age < HookCache::FRESHNESS).then(|| Arc::clone(&entry.value))
}

fn insert<K: Hash + Eq, T>(
    map: &mut HashMap<K, Entry<T>>,
    key: K,
    value: Arc<T>,
    read_at: DateTime<Utc>,
) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, Entry { value, read_at });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::{Hook, SealedToken};
    use serde_json::json;

    fn record(name: &str) -> HookRecord {
        let hook: Hook = serde_json::from_value(json!({
            "hookGroupId": "g", "hookId": "h",
            "metadata": {"name": name, "description": "d", "owner": "o@example.com"},
            "schedule": [], "task": {}, "triggerSchema": {"type": "object"}, "bindings": [],
        }))
        .unwrap();
        HookRecord::new(hook, SealedToken("t".into()))
    }

    async fn name(cache: &HookCache, stored: &str) -> String {
        let key = record(stored).hook.key();
        let read = async { Ok(Some(record(stored))) };
        let got = cache.hook(&key, read).await.unwrap().unwrap();
        got.hook.metadata.name.clone()
    }

    #[tokio::test]
    async fn an_entry_is_used_until_it_is_as_old_as_the_freshness_bound() {
        let clock = ManualClock::new("2026-05-01T10:00:00Z".parse().unwrap());
        let cache = HookCache::new(Arc::new(clock.clone()));
        assert_eq!(name(&cache, "old").await, "old");

        clock.advance(HookCache::FRESHNESS - Duration::milliseconds(1));
        assert_eq!(name(&cache, "new").await, "old", "still fresh");
        clock.advance(Duration::milliseconds(1));
        assert_eq!(name(&cache, "new").await, "new", "stale, read again");
    }

    #[tokio::test]
    async fn a_forgotten_hook_and_its_group_are_read_again_at_once() {
        let cache = HookCache::new(Arc::new(ManualClock::new(Utc::now())));
        let key = record("old").hook.key();
        assert_eq!(name(&cache, "old").await, "old");
        let listed = cache.group(&key.group, async { Ok(vec![record("old")]) });
        assert_eq!(listed.await.unwrap()[0].hook.metadata.name, "old");

        cache.forget(&key);

        assert_eq!(name(&cache, "new").await, "new");
        let listed = cache.group(&key.group, async { Ok(vec![record("new")]) });
        assert_eq!(listed.await.unwrap()[0].hook.metadata.name, "new");
    }

    #[tokio::test]
    async fn a_read_under_way_during_a_change_does_not_fill_the_cache() {
        let cache = HookCache::new(Arc::new(ManualClock::new(Utc::now())));
        let key = record("old").hook.key();

        // The read saw the hook before the change; the change is forgotten before it returns.
        let read = async {
            cache.forget(&key);
            Ok(Some(record("old")))
        };
        assert_eq!(
            cache
                .hook(&key, read)
                .await
                .unwrap()
                .unwrap()
                .hook
                .metadata
                .name,
            "old"
        );

        assert_eq!(name(&cache, "new").await, "new");
    }

    #[tokio::test]
    async fn missing_hooks_and_empty_groups_are_not_cached() {
        let cache = HookCache::new(Arc::new(ManualClock::new(Utc::now())));
        let key = record("h").hook.key();
        assert!(cache
            .hook(&key, async { Ok(None) })
            .await
            .unwrap()
            .is_none());
        assert_eq!(name(&cache, "created").await, "created");
        let empty = cache.group(&key.group, async { Ok(Vec::new()) });
        assert!(empty.await.unwrap().is_empty());
        let listed = cache.group(&key.group, async { Ok(vec![record("h")]) });
        assert_eq!(listed.await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_clock_set_back_makes_entries_stale() {
        let clock = ManualClock::new("2026-05-01T10:00:00Z".parse().unwrap());
        let cache = HookCache::new(Arc::new(clock.clone()));
        assert_eq!(name(&cache, "old").await, "old");
        clock.set("2026-05-01T09:00:00Z".parse().unwrap());
        assert_eq!(name(&cache, "new").await, "new");
    }
}
