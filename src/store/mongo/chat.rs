//! Chat aliases and chat cursors in MongoDB: their documents and queries, the MongoDB side of
//! the chat part of [`HookStore`].
//!
//! An alias is stored as JSON text under its id (with its version beside it for
//! compare-and-set): its payload and message templates are user-written JSON-e, which may use
//! `$`-prefixed keys that MongoDB restricts (see `codec`).
//!
//! [`HookStore`]: crate::store::HookStore

use mongodb::bson::doc;
use mongodb::options::ReplaceOptions;
use serde::{Deserialize, Serialize};

use super::error::{driver, insert, to_i64};
use super::{collect, find_by_id, insert_new, MongoStore};
use crate::domain::{ChatAliasId, ChatAliasRecord};
use crate::store::StoreError;

/// One document of the `chatAliases` collection.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AliasDoc {
    #[serde(rename = "_id")]
    id: String,
    version: i64,
    /// The whole record as JSON text.
    doc: String,
}

impl AliasDoc {
    fn new(record: &ChatAliasRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: record.alias.alias_id.to_string(),
            version: to_i64(record.version)?,
            doc: serde_json::to_string(record).map_err(|e| StoreError::Backend(Box::new(e)))?,
        })
    }

    fn into_record(self) -> Result<ChatAliasRecord, StoreError> {
        serde_json::from_str(&self.doc).map_err(|e| StoreError::Corrupt(Box::new(e)))
    }
}

/// One document of the `chatCursors` collection.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CursorDoc {
    #[serde(rename = "_id")]
    name: String,
    value: String,
}

impl MongoStore {
    pub(super) async fn insert_alias(&self, record: &ChatAliasRecord) -> Result<(), StoreError> {
        insert_new(&self.chat_aliases, AliasDoc::new(record)?).await
    }

    pub(super) async fn get_alias(
        &self,
        id: &ChatAliasId,
    ) -> Result<Option<ChatAliasRecord>, StoreError> {
        find_by_id(&self.chat_aliases, id.as_str(), AliasDoc::into_record).await
    }

    pub(super) async fn replace_alias(
        &self,
        record: &ChatAliasRecord,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let id = record.alias.alias_id.as_str();
        let replaced = self
            .chat_aliases
            .replace_one(
                doc! { "_id": id, "version": to_i64(expected_version)? },
                AliasDoc::new(record)?,
            )
            .await
            .map_err(driver)?;
        if replaced.matched_count > 0 {
            return Ok(());
        }
        let exists = self.get_alias(&record.alias.alias_id).await?.is_some();
        Err(if exists {
            StoreError::VersionConflict
        } else {
            StoreError::NotFound
        })
    }

    pub(super) async fn delete_alias(&self, id: &ChatAliasId) -> Result<bool, StoreError> {
        let deleted = self
            .chat_aliases
            .delete_one(doc! { "_id": id.as_str() })
            .await
            .map_err(driver)?;
        Ok(deleted.deleted_count > 0)
    }

    pub(super) async fn list_aliases(&self) -> Result<Vec<ChatAliasRecord>, StoreError> {
        let cursor = self
            .chat_aliases
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .map_err(driver)?;
        collect(cursor, AliasDoc::into_record).await
    }

    pub(super) async fn get_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        find_by_id(&self.chat_cursors, name, |d: CursorDoc| Ok(d.value)).await
    }

    pub(super) async fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let doc = CursorDoc {
            name: name.to_owned(),
            value: value.to_owned(),
        };
        self.chat_cursors
            .replace_one(doc! { "_id": name }, doc)
            .with_options(ReplaceOptions::builder().upsert(true).build())
            .await
            .map_err(insert)?;
        Ok(())
    }
}
