//! Chat aliases and chat cursors in MongoDB: their documents and queries, the MongoDB side of
//! the chat part of [`HookStore`].
//!
//! The documents' shapes are in `codec`.
//!
//! [`HookStore`]: crate::store::HookStore

use mongodb::bson::doc;
use mongodb::options::ReplaceOptions;

use super::codec::{AliasDoc, CursorDoc};
use super::error::{driver, insert, to_i64};
use super::{collect, find_by_id, insert_new, MongoStore};
use crate::domain::{ChatAliasId, ChatAliasRecord};
use crate::store::StoreError;

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
        find_by_id(&self.chat_cursors, name, CursorDoc::into_value).await
    }

    pub(super) async fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let doc = CursorDoc::new(name, value);
        self.chat_cursors
            .replace_one(doc! { "_id": name }, doc)
            .with_options(ReplaceOptions::builder().upsert(true).build())
            .await
            .map_err(insert)?;
        Ok(())
    }
}
