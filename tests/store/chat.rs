//! The chat part of the store contract: aliases and chat cursors. Listed in
//! `contract::store_contract!`, so every backend runs them.

use hookd::domain::{ChatAlias, ChatAliasId, ChatAliasRecord};
use hookd::store::{HookStore, StoreError};
use serde_json::json;

/// A full alias record, as any test of the store contract may write one.
pub(crate) fn alias(id: &str, description: &str) -> ChatAliasRecord {
    let alias: ChatAlias = serde_json::from_value(json!({
        "aliasId": id, "hookGroupId": "ci", "hookId": "deploy/web",
        "description": description,
        "formats": ["deploy {{branch}} to {{env=staging}}", "ship {{branch}}"],
        "payload": {"$let": {"b": {"$eval": "parameters.branch"}}, "in": {"branch": "${b}"}},
        "channels": ["!ops:example.org"],
        "scopes": ["chat:deploy"],
        "confirmation": {"mode": "other", "timeoutSecs": 60},
        "ack": "on it", "result": {"$if": "error", "then": "no", "else": "yes"},
        "ackVisibility": "inChannel",
        "enabled": true
    }))
    .expect("a valid alias");
    ChatAliasRecord {
        alias,
        version: 1,
        applied: None,
    }
}

fn id(id: &str) -> ChatAliasId {
    ChatAliasId::parse(id).unwrap()
}

pub async fn chat_aliases_read_back_with_every_field(store: impl HookStore) {
    let record = alias("deploy", "deploys");
    store.insert_chat_alias(&record).await.unwrap();
    assert_eq!(
        store.get_chat_alias(&id("deploy")).await.unwrap(),
        Some(record)
    );
    assert_eq!(store.get_chat_alias(&id("other")).await.unwrap(), None);
}

pub async fn insert_of_an_existing_chat_alias_is_already_exists(store: impl HookStore) {
    store.insert_chat_alias(&alias("a", "one")).await.unwrap();
    assert!(matches!(
        store.insert_chat_alias(&alias("a", "two")).await,
        Err(StoreError::AlreadyExists)
    ));
}

pub async fn chat_alias_replace_is_compare_and_set(store: impl HookStore) {
    store.insert_chat_alias(&alias("a", "one")).await.unwrap();
    let mut next = alias("a", "two");
    next.version = 2;
    assert!(matches!(
        store.replace_chat_alias(&next, 7).await,
        Err(StoreError::VersionConflict)
    ));
    store.replace_chat_alias(&next, 1).await.unwrap();
    assert_eq!(
        store.get_chat_alias(&id("a")).await.unwrap(),
        Some(next.clone())
    );
    let mut missing = alias("b", "x");
    missing.version = 2;
    assert!(matches!(
        store.replace_chat_alias(&missing, 1).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn chat_aliases_list_sorted_and_delete_says_whether_it_existed(store: impl HookStore) {
    for name in ["b", "a", "c"] {
        store.insert_chat_alias(&alias(name, name)).await.unwrap();
    }
    assert!(store.delete_chat_alias(&id("c")).await.unwrap());
    assert!(!store.delete_chat_alias(&id("c")).await.unwrap());
    let listed: Vec<String> = store
        .list_chat_aliases()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.alias.alias_id.to_string())
        .collect();
    assert_eq!(listed, ["a", "b"]);
}

pub async fn chat_cursors_are_saved_and_replaced_per_name(store: impl HookStore) {
    assert_eq!(store.get_chat_cursor("matrix").await.unwrap(), None);
    store.set_chat_cursor("matrix", "s1_2_3").await.unwrap();
    store.set_chat_cursor("matrix", "s4_5_6").await.unwrap();
    store.set_chat_cursor("other", "x").await.unwrap();
    assert_eq!(
        store.get_chat_cursor("matrix").await.unwrap().as_deref(),
        Some("s4_5_6")
    );
}
