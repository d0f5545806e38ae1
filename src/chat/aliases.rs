//! Writing chat aliases: idempotent create (always disabled), compare-and-set update, remove,
//! and bringing the config file's aliases into the store at start-up.
//!
//! The API and start-up both write through here, so the rules hold whichever way an alias
//! comes in. Reads go to the store directly.

use std::sync::Arc;

use crate::domain::{ChatAlias, ChatAliasId, ChatAliasRecord};
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
        let record = ChatAliasRecord { alias, version: 1 };
        match self.store.insert_chat_alias(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::AlreadyExists) => match self.store.get_chat_alias(&id).await? {
                Some(existing) if existing.alias == record.alias => Ok(existing),
                _ => Err(AliasError::Conflict(id)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces an existing alias's definition with `alias`.
    ///
    /// # Errors
    /// [`AliasError::NotFound`], store failures.
    pub async fn update(&self, alias: ChatAlias) -> Result<ChatAliasRecord, AliasError> {
        let id = alias.alias_id.clone();
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let stored = self
                .store
                .get_chat_alias(&id)
                .await?
                .ok_or_else(|| AliasError::NotFound(id.clone()))?;
            let record = ChatAliasRecord {
                alias: alias.clone(),
                version: stored.version + 1,
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

    /// Removes an alias; returns whether it existed.
    ///
    /// # Errors
    /// Store failures.
    pub async fn remove(&self, id: &ChatAliasId) -> Result<bool, AliasError> {
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
            };
            match self.store.insert_chat_alias(&record).await {
                Ok(()) => {}
                Err(StoreError::AlreadyExists) => {
                    self.update(alias.clone()).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
