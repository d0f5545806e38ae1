//! Writes to hook definitions: create (idempotent), update, remove, and trigger tokens.
//!
//! The rules here are the same for every store backend, so they sit above the [`HookStore`]
//! trait: a new hook gets a sealed trigger token, an identical re-create is a success, an update
//! keeps the service's own state (token, schedule slot) and is a compare-and-set retried on
//! races, so concurrent writers never lose each other's changes. A hook an apply set owns is
//! changed or removed here only when the caller forces it ([`Drift`]); the set's own writes go
//! through `apply`.
//!
//! Every successful change is announced as a [`HookChange`] on a broadcast channel, so the
//! parts that keep their own view of the hooks (the scheduler's timer, the AMQP bindings) can
//! update at once instead of polling; the same moment drops the hook from the [`HookCache`]
//! that the hot reads ([`HookRegistry::definition`], [`HookRegistry::list`],
//! [`HookRegistry::check_token`]) go through.

use std::sync::Arc;

use tokio::sync::broadcast;

use chrono::{DateTime, Duration, Utc};

use crate::clock::Clock;
use crate::crypto::{TokenCipher, TokenError};
use crate::domain::{
    ApplySetName, Hook, HookGroupId, HookKey, HookRecord, OwnedRecord, WebhookSecrets,
};
use crate::store::{compare_and_set, Change, HookCache, HookStore, StoreError};
use crate::webhook;

/// Changes buffered per subscriber; a subscriber that falls further behind is told it lagged
/// and must resynchronise from the store.
const CHANGE_BUFFER: usize = 1024;

/// What happened to a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// It was created.
    Created,
    /// Its definition or state was replaced.
    Updated,
    /// It was removed.
    Removed,
}

/// One announced change to a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookChange {
    /// The hook.
    pub key: HookKey,
    /// What happened.
    pub kind: ChangeKind,
}

/// Why a hook write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The hook does not exist.
    #[error("hook {0} does not exist")]
    NotFound(HookKey),
    /// A different hook with this name already exists.
    #[error("hook {0} already exists with a different definition")]
    Conflict(HookKey),
    /// An apply set owns the hook and the write was not forced.
    #[error(
        "hook {key} is managed by apply set {set}: change the set's files and apply them, or \
         force this write (header X-Hookd-Force: true), which the set then shows as drift"
    )]
    OwnedBySet {
        /// The hook.
        key: HookKey,
        /// The set that owns it.
        set: ApplySetName,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A trigger token could not be sealed or opened.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Whether a write through the API may change a hook an apply set owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drift {
    /// No: such a hook changes only through its set.
    Refuse,
    /// Yes, explicitly: the set then shows the difference as drift.
    Force,
}

impl Drift {
    /// The set whose `record` (a hook's or a chat alias's) this write may not change, if any.
    pub fn refuses<R: OwnedRecord>(self, record: &R) -> Option<&ApplySetName> {
        match (record.ownership(), self) {
            (Some(owner), Self::Refuse) => Some(&owner.set),
            _ => None,
        }
    }

    fn check(self, record: &HookRecord) -> Result<(), RegistryError> {
        match self.refuses(record) {
            Some(set) => Err(RegistryError::OwnedBySet {
                key: record.hook.key(),
                set: set.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// How a create ended.
#[derive(Debug)]
pub enum Created {
    /// The hook is new.
    New(HookRecord),
    /// An identical hook already existed; nothing changed.
    Unchanged(HookRecord),
}

/// Hook writes and token management over a store.
#[derive(Clone)]
pub struct HookRegistry {
    store: Arc<dyn HookStore>,
    cipher: TokenCipher,
    /// When definitions are accepted, which is where their schedules start.
    clock: Arc<dyn Clock>,
    changes: broadcast::Sender<HookChange>,
    /// Recently read definitions; shared by the clones of this registry.
    cache: Arc<HookCache>,
}

impl HookRegistry {
    /// A registry over `store`, sealing tokens with `cipher`; schedules start at `clock`'s time
    /// of each create or schedule change.
    pub fn new(store: Arc<dyn HookStore>, cipher: TokenCipher, clock: Arc<dyn Clock>) -> Self {
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        let cache = Arc::new(HookCache::new(Arc::clone(&clock)));
        Self {
            store,
            cipher,
            clock,
            changes,
            cache,
        }
    }

    /// Subscribes to changes made through this registry from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HookChange> {
        self.changes.subscribe()
    }

    /// Announces a change to the hook `key`, also one made to the store without this registry
    /// (an apply's writes): the cache forgets it and subscribers hear of it.
    pub fn announce(&self, key: &HookKey, kind: ChangeKind) {
        self.cache.forget(key);
        // No subscribers is fine: nothing keeps a view of the hooks in this process.
        let _ = self.changes.send(HookChange {
            key: key.clone(),
            kind,
        });
    }

    /// Creates `hook`, or confirms it when an identical one exists.
    ///
    /// # Errors
    /// [`RegistryError::Conflict`] when a different hook has the name.
    pub async fn create(&self, hook: Hook) -> Result<Created, RegistryError> {
        let key = hook.key();
        let record = self.new_record(hook, self.clock.now())?;
        match self.store.insert_hook(&record).await {
            Ok(()) => {
                self.announce(&key, ChangeKind::Created);
                Ok(Created::New(record))
            }
            Err(StoreError::AlreadyExists) => match self.store.get_hook(&key).await? {
                Some(existing) if existing.hook == record.hook => Ok(Created::Unchanged(existing)),
                // Deleted between our insert and read: a retry would race again, and the
                // caller's view (someone else owns this name right now) is still a conflict.
                _ => Err(RegistryError::Conflict(key)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The record a new hook is stored as: a fresh sealed trigger token, and its schedule's
    /// first slot after `now`, when its definition was accepted.
    ///
    /// # Errors
    /// A token that cannot be sealed.
    pub fn new_record(&self, hook: Hook, now: DateTime<Utc>) -> Result<HookRecord, RegistryError> {
        let token = self
            .cipher
            .seal(&hook.key(), &TokenCipher::generate_token())?;
        let mut record = HookRecord::new(hook, token);
        record.schedule_from(now);
        Ok(record)
    }

    /// Replaces the definition of an existing hook, applying `change` to the stored one.
    ///
    /// `change` gets the current definition and returns the new one, or refuses; it may run
    /// more than once when another writer changes the hook at the same time, and always sees
    /// the definition it is about to replace.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when the hook does not exist, or what `change` refused with.
    pub async fn update<E: From<RegistryError>>(
        &self,
        key: &HookKey,
        change: impl Fn(&Hook) -> Result<Hook, E>,
    ) -> Result<HookRecord, E> {
        self.update_with(key, Drift::Refuse, change).await
    }

    /// [`HookRegistry::update`], which for a hook an apply set owns refuses with
    /// [`RegistryError::OwnedBySet`] unless `drift` allows it. A forced change keeps the
    /// ownership, so the set shows it as drift.
    ///
    /// # Errors
    /// As [`HookRegistry::update`], and [`RegistryError::OwnedBySet`].
    pub async fn update_with<E: From<RegistryError>>(
        &self,
        key: &HookKey,
        drift: Drift,
        change: impl Fn(&Hook) -> Result<Hook, E>,
    ) -> Result<HookRecord, E> {
        let now = self.clock.now();
        self.modify(key, |record| {
            drift.check(record)?;
            let hook = change(&record.hook)?;
            let rescheduled = hook.schedule != record.hook.schedule;
            record.hook = hook;
            if rescheduled {
                record.schedule_from(now);
            }
            Ok(())
        })
        .await
    }

    /// Removes a hook and its fire history; returns whether it existed. A hook an apply set
    /// owns is refused (see [`HookRegistry::remove_with`]).
    ///
    /// # Errors
    /// Store failures, and [`RegistryError::OwnedBySet`].
    pub async fn remove(&self, key: &HookKey) -> Result<bool, RegistryError> {
        self.remove_with(key, Drift::Refuse).await
    }

    /// [`HookRegistry::remove`], removing a hook an apply set owns only when `drift` allows it.
    ///
    /// # Errors
    /// Store failures, and [`RegistryError::OwnedBySet`].
    pub async fn remove_with(&self, key: &HookKey, drift: Drift) -> Result<bool, RegistryError> {
        if drift == Drift::Refuse {
            // The store has no conditional delete; an apply taking the hook over between this
            // read and the delete is the one window, and the set then shows the hook missing.
            if let Some(record) = self.store.get_hook(key).await? {
                drift.check(&record)?;
            }
        }
        let existed = self.store.delete_hook(key).await?;
        if existed {
            self.announce(key, ChangeKind::Removed);
        }
        Ok(existed)
    }

    /// The hook's trigger token, in clear.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], or a token that cannot be opened with the configured key.
    pub async fn token(&self, key: &HookKey) -> Result<String, RegistryError> {
        let record = self.get(key).await?;
        Ok(self.cipher.open(key, &record.trigger_token)?)
    }

    /// Replaces the hook's trigger token with a fresh one and returns it. The old token stops
    /// working at once.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when the hook does not exist.
    pub async fn reset_token(&self, key: &HookKey) -> Result<String, RegistryError> {
        let token = TokenCipher::generate_token();
        let sealed = self.cipher.seal(key, &token)?;
        self.modify::<RegistryError>(key, |record| {
            record.trigger_token = sealed.clone();
            Ok(())
        })
        .await?;
        Ok(token)
    }

    /// Checks a presented trigger token in constant time. An unknown hook and a wrong token
    /// look the same to the caller.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn check_token(
        &self,
        key: &HookKey,
        presented: &str,
    ) -> Result<Option<Arc<HookRecord>>, RegistryError> {
        // Both failures look the same to the caller. The one extra step for a known hook, a
        // sub-microsecond AES-GCM open, is lost in the noise of the read both paths make.
        // Through the cache: a token reset by another replica is seen within its freshness.
        let record = self.cache.hook(key, self.store.get_hook(key)).await?;
        Ok(record.filter(|r| self.cipher.matches(key, &r.trigger_token, presented)))
    }

    /// The hook's current webhook secret, created on first use.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], or a secret that cannot be opened with the configured key.
    pub async fn webhook_secret(&self, key: &HookKey) -> Result<String, RegistryError> {
        let record = self.get(key).await?;
        match &record.webhook_secrets {
            Some(secrets) => Ok(self.cipher.open(key, &secrets.current)?),
            None => self.new_webhook_secret(key, None).await,
        }
    }

    /// Replaces the hook's webhook secret and returns the new one; the old one stays valid for
    /// the grace period from `now` (see [`HookRegistry::webhook_secrets`]).
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when the hook does not exist.
    pub async fn rotate_webhook_secret(
        &self,
        key: &HookKey,
        now: DateTime<Utc>,
    ) -> Result<String, RegistryError> {
        self.new_webhook_secret(key, Some(now)).await
    }

    /// A first secret (`rotated_at` `None`: kept if a concurrent call made one) or a rotation.
    async fn new_webhook_secret(
        &self,
        key: &HookKey,
        rotated_at: Option<DateTime<Utc>>,
    ) -> Result<String, RegistryError> {
        let secret = webhook::generate_secret();
        let sealed = self.cipher.seal(key, &secret)?;
        let record = self
            .modify::<RegistryError>(key, |record| {
                let previous = record.webhook_secrets.take();
                record.webhook_secrets = Some(match (previous, rotated_at) {
                    (Some(existing), None) => existing,
                    (previous, _) => WebhookSecrets {
                        current: sealed.clone(),
                        previous: previous.map(|p| p.current),
                        rotated: rotated_at,
                    },
                });
                Ok(())
            })
            .await?;
        match record.webhook_secrets {
            Some(secrets) => Ok(self.cipher.open(key, &secrets.current)?),
            None => Ok(secret),
        }
    }

    /// The secrets a delivery to `record` may be signed with at `now`: the current one, and the
    /// previous one until `grace` after the rotation.
    ///
    /// # Errors
    /// A secret that cannot be opened with the configured key.
    pub fn webhook_secrets(
        &self,
        record: &HookRecord,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> Result<Vec<String>, RegistryError> {
        let key = record.hook.key();
        let Some(secrets) = &record.webhook_secrets else {
            return Ok(Vec::new());
        };
        let mut valid = vec![self.cipher.open(&key, &secrets.current)?];
        if let (Some(previous), Some(rotated)) = (&secrets.previous, secrets.rotated) {
            if now < rotated + grace {
                valid.push(self.cipher.open(&key, previous)?);
            }
        }
        Ok(valid)
    }

    /// Fetches a hook.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when it does not exist.
    pub async fn get(&self, key: &HookKey) -> Result<HookRecord, RegistryError> {
        self.store
            .get_hook(key)
            .await?
            .ok_or_else(|| RegistryError::NotFound(key.clone()))
    }

    /// A hook's definition and trigger token, as [`HookRegistry::get`] but through the
    /// [`HookCache`]: a change made through this process is seen at once, one made by another
    /// replica within [`HookCache::FRESHNESS`]. The rest of the record (the next slot, claims,
    /// webhook secrets) may be older; read those with [`HookRegistry::get`].
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when it does not exist.
    pub async fn definition(&self, key: &HookKey) -> Result<Arc<HookRecord>, RegistryError> {
        self.cache
            .hook(key, self.store.get_hook(key))
            .await?
            .ok_or_else(|| RegistryError::NotFound(key.clone()))
    }

    /// The hooks of `group` sorted by hook id, through the [`HookCache`] as
    /// [`HookRegistry::definition`] is.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list(&self, group: &HookGroupId) -> Result<Arc<Vec<HookRecord>>, RegistryError> {
        Ok(self
            .cache
            .group(group, self.store.list_hooks(group))
            .await?)
    }

    /// Read-modify-write with compare-and-set (see [`compare_and_set`]); `change` refusing
    /// writes nothing.
    async fn modify<E: From<RegistryError>>(
        &self,
        key: &HookKey,
        change: impl Fn(&mut HookRecord) -> Result<(), E>,
    ) -> Result<HookRecord, E> {
        let changed = compare_and_set(&*self.store, key, None, |record| match change(record) {
            Ok(()) => Change::Write(Ok(())),
            Err(refused) => Change::Keep(Err(refused)),
        })
        .await
        .map_err(RegistryError::from)?;
        match changed {
            None => Err(RegistryError::NotFound(key.clone()).into()),
            Some((_, Err(refused))) => Err(refused),
            Some((record, Ok(()))) => {
                self.announce(key, ChangeKind::Updated);
                Ok(record)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::{HookId, Metadata, Schedule, TaskId, TriggerSchema};
    use crate::store::SqliteStore;
    use serde_json::json;

    fn hook(id: &str) -> Hook {
        Hook {
            hook_group_id: HookGroupId::parse("g").unwrap(),
            hook_id: HookId::parse(id).unwrap(),
            metadata: Metadata {
                name: "n".into(),
                description: "d".into(),
                owner: "o@example.com".into(),
                email_on_error: true,
            },
            schedule: Schedule::default(),
            task: json!({}).into(),
            trigger_schema: TriggerSchema::parse(json!({"type": "object"})).unwrap(),
            bindings: vec![],
            scopes: None,
            missed_fires: None,
            capture: None,
        }
    }

    fn registry(dir: &tempfile::TempDir, clock: ManualClock) -> HookRegistry {
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let cipher = TokenCipher::new(&TokenCipher::generate_key());
        HookRegistry::new(store, cipher, Arc::new(clock))
    }

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    #[tokio::test]
    async fn a_schedule_starts_when_it_is_created_or_changed_not_when_a_scheduler_looks() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(at("2026-05-01T10:00:00Z"));
        let registry = registry(&dir, clock.clone());
        let mut every_minute = hook("h");
        every_minute.schedule = Schedule::parse(&["* * * * *"]).unwrap();
        let key = every_minute.key();

        let Created::New(created) = registry.create(every_minute).await.unwrap() else {
            panic!("not created");
        };
        assert_eq!(
            created.next_scheduled_date,
            Some(at("2026-05-01T10:01:00Z"))
        );
        assert_eq!(
            created.next_task_id,
            Some(TaskId::for_slot(&key, at("2026-05-01T10:01:00Z")))
        );

        clock.advance(Duration::minutes(30));
        let renamed = registry
            .update(&key, |h| {
                let mut h = h.clone();
                h.metadata.name = "other".into();
                Ok::<_, RegistryError>(h)
            })
            .await
            .unwrap();
        assert_eq!(
            renamed.next_scheduled_date,
            Some(at("2026-05-01T10:01:00Z"))
        );

        let hourly = registry
            .update(&key, |h| {
                let mut h = h.clone();
                h.schedule = Schedule::parse(&["0 * * * *"]).unwrap();
                Ok::<_, RegistryError>(h)
            })
            .await
            .unwrap();
        assert_eq!(hourly.next_scheduled_date, Some(at("2026-05-01T11:00:00Z")));
    }

    #[tokio::test]
    async fn changes_are_announced_once_each_and_no_ops_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let registry = registry(&dir, ManualClock::new(chrono::Utc::now()));
        let mut changes = registry.subscribe();
        let key = hook("h").key();

        registry.create(hook("h")).await.unwrap();
        registry.create(hook("h")).await.unwrap();
        registry
            .update(&key, |h| Ok::<_, RegistryError>(h.clone()))
            .await
            .unwrap();
        registry.reset_token(&key).await.unwrap();
        registry.remove(&key).await.unwrap();
        registry.remove(&key).await.unwrap();

        let kinds: Vec<ChangeKind> = std::iter::from_fn(|| changes.try_recv().ok())
            .map(|change| {
                assert_eq!(change.key, key);
                change.kind
            })
            .collect();
        use ChangeKind::*;
        assert_eq!(kinds, [Created, Updated, Updated, Removed]);
    }
}
