//! Writing chat aliases: idempotent create (always disabled), compare-and-set update, remove,
//! and bringing the config file's aliases into the store at start-up.
//!
//! The API and start-up both write through here, so the rules hold whichever way an alias
//! comes in. An alias an apply set owns changes here only when forced, as a hook does in
//! `registry`; the set's own writes go through `apply`. Reads go to the store directly.

use std::sync::Arc;

use crate::domain::{ApplySetName, ChatAlias, ChatAliasId, ChatAliasRecord};
use crate::registry::Drift;
use crate::store::{HookStore, StoreError};

/// How often an update re-reads after losing a compare-and-set race.
const MAX_UPDATE_ATTEMPTS: usize = 16;

/// Why an alias write was refused.
#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    /// A create asked for an enabled alias.
    #[error("a chat alias is created disabled; enable it with an update")]
    CreatedEnabled,
    /// A different alias has this id.
    #[error("chat alias {0} exists with a different definition")]
    Conflict(ChatAliasId),
    /// No alias has this id.
    #[error("chat alias {0} does not exist")]
    NotFound(ChatAliasId),
    /// An apply set owns the alias and the write was not forced.
    #[error(
        "chat alias {id} is managed by apply set {set}: change the set's files and apply them, \
         or force this write (header X-Hookd-Force: true), which the set then shows as drift"
    )]
    OwnedBySet {
        /// The alias.
        id: ChatAliasId,
        /// The set that owns it.
        set: ApplySetName,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Alias writes over a store.
#[derive(Clone)]
pub struct AliasRegistry {
    store: Arc<dyn HookStore>,
}

impl AliasRegistry {
    /// Writes aliases into `store`.
    pub fn new(store: Arc<dyn HookStore>) -> Self {
        Self { store }
    }

    /// Creates `alias` (which must be disabled), or confirms it when an identical one exists.
    ///
    /// # Errors
    /// [`AliasError::CreatedEnabled`], [`AliasError::Conflict`], store failures.
    pub async fn create(&self, alias: ChatAlias) -> Result<ChatAliasRecord, AliasError> {
        if alias.enabled {
            return Err(AliasError::CreatedEnabled);
        }
        let id = alias.alias_id.clone();
        let record = ChatAliasRecord {
            alias,
            version: 1,
            applied: None,
        };
        match self.store.insert_chat_alias(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::AlreadyExists) => match self.store.get_chat_alias(&id).await? {
                Some(existing) if existing.alias == record.alias => Ok(existing),
                _ => Err(AliasError::Conflict(id)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces an existing alias's definition with `alias`; one an apply set owns only when
    /// `drift` allows it, keeping the ownership so the set shows the change as drift.
    ///
    /// # Errors
    /// [`AliasError::NotFound`], [`AliasError::OwnedBySet`], store failures.
    pub async fn update(
        &self,
        alias: ChatAlias,
        drift: Drift,
    ) -> Result<ChatAliasRecord, AliasError> {
        let id = alias.alias_id.clone();
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let stored = self
                .store
                .get_chat_alias(&id)
                .await?
                .ok_or_else(|| AliasError::NotFound(id.clone()))?;
            refuse_drift(&stored, drift)?;
            let record = ChatAliasRecord {
                alias: alias.clone(),
                version: stored.version + 1,
                applied: stored.applied.clone(),
            };
            match self.store.replace_chat_alias(&record, stored.version).await {
                Ok(()) => return Ok(record),
                Err(StoreError::VersionConflict) => {}
                Err(StoreError::NotFound) => return Err(AliasError::NotFound(id)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::VersionConflict.into())
    }

    /// Removes an alias; returns whether it existed. One an apply set owns only when `drift`
    /// allows it.
    ///
    /// # Errors
    /// [`AliasError::OwnedBySet`], store failures.
    pub async fn remove(&self, id: &ChatAliasId, drift: Drift) -> Result<bool, AliasError> {
        if let Some(stored) = self.store.get_chat_alias(id).await? {
            // No conditional delete in the store: as for hooks, an apply taking the alias over
            // right between this read and the delete is the one window.
            refuse_drift(&stored, drift)?;
        }
        Ok(self.store.delete_chat_alias(id).await?)
    }

    /// Makes the store hold each alias of the config file as written there (enabled or not:
    /// the operator who writes the file decides). Aliases created over the API are left alone.
    ///
    /// # Errors
    /// Store failures.
    pub async fn apply_config(&self, aliases: &[ChatAlias]) -> Result<(), AliasError> {
        for alias in aliases {
            let record = ChatAliasRecord {
                alias: alias.clone(),
                version: 1,
                applied: None,
            };
            match self.store.insert_chat_alias(&record).await {
                Ok(()) => {}
                Err(StoreError::AlreadyExists) => {
                    match self.update(alias.clone(), Drift::Refuse).await {
                        // Two owners claim the alias; the set's files win until one gives it up.
                        Err(AliasError::OwnedBySet { id, set }) => tracing::warn!(alias = %id,
                            set = %set, "a config file alias is owned by an apply set; left as the set made it"),
                        other => {
                            other?;
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// [`AliasError::OwnedBySet`] when `drift` may not change `stored`.
fn refuse_drift(stored: &ChatAliasRecord, drift: Drift) -> Result<(), AliasError> {
    match drift.refuses(stored) {
        Some(set) => Err(AliasError::OwnedBySet {
            id: stored.alias.alias_id.clone(),
            set: set.clone(),
        }),
        None => Ok(()),
    }
}
