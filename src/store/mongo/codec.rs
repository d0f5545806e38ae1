//! Records to BSON documents and back.
//!
//! Documents use camelCase fields, a readable `_id` and real BSON dates, so operators can query
//! them by hand. Three fields hold user-written JSON (a hook's task template and trigger schema,
//! a submitted task) and are stored as JSON text instead of BSON: such JSON may use
//! `$`-prefixed keys (JSON-e operators, `$ref`), keys with dots, and integers beyond BSON's
//! 64-bit range, all of which MongoDB restricts or changes, and the API must return exactly
//! what was given.

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, DateTime as BsonDate, Document};
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::error::{driver, to_i64, MongoError};
use crate::domain::{
    ApplySetName, Binding, Capture, ChatAliasRecord, FireFailure, FireRecord, FiredBy, Hook,
    HookGroupId, HookId, HookKey, HookRecord, Metadata, MissedFires, Ownership, ReplayOf, Schedule,
    SealedToken, SubmittedTask, TaskId, TriggerSchema, WebhookSecrets,
};
use crate::store::StoreError;

/// The `_id` of a hook: `group/id`. Unique because a group id never contains `/`.
pub(super) fn hook_id(key: &HookKey) -> String {
    key.to_string()
}

/// The filter that selects a group's hooks whose ids sort after `after` (all without it): a
/// page of the group, read sorted by `hookId`.
pub(super) fn page_filter(group: &HookGroupId, after: Option<&HookId>) -> Document {
    let mut filter = doc! { "hookGroupId": group.as_str() };
    if let Some(after) = after {
        filter.insert("hookId", doc! { "$gt": after.as_str() });
    }
    filter
}

/// The filter that selects every fire of one hook.
pub(super) fn hook_filter(key: &HookKey) -> Document {
    doc! { "hookGroupId": key.group.as_str(), "hookId": key.id.as_str() }
}

/// A fire id as stored in `_id`: the hyphenated lowercase form, whose string order is the
/// UUID's byte order, so sorting on `_id` breaks time ties the way the trait orders fires.
pub(super) fn fire_id(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// What a compare-and-set of the hook `id` that matched no document means: the hook was written
/// since it was read, or it is gone. Not atomic with the write, but either answer is one a
/// caller could have seen had it come a moment earlier or later.
pub(super) async fn conflict_or_missing(hooks: &Collection<HookDoc>, id: &str) -> StoreError {
    match hooks.count_documents(doc! { "_id": id }).limit(1).await {
        Ok(0) => StoreError::NotFound,
        Ok(_) => StoreError::VersionConflict,
        Err(e) => driver(e),
    }
}

/// A chrono time as a BSON date (milliseconds; records are already truncated to them).
pub(super) fn date(time: DateTime<Utc>) -> BsonDate {
    BsonDate::from_millis(time.timestamp_millis())
}

/// A BSON date as a chrono time; dates chrono cannot represent are corruption.
pub(super) fn from_date(date: BsonDate) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(date.timestamp_millis())
        .ok_or_else(|| corrupt(MongoError::DateOutOfRange(date.timestamp_millis())))
}

pub(super) fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Corrupt(Box::new(e))
}

fn to_json_text(value: &Value) -> String {
    // Serializing a `Value` cannot fail: its keys are strings and its numbers finite.
    value.to_string()
}

fn from_json_text(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

/// One document of the `hooks` collection.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HookDoc {
    #[serde(rename = "_id")]
    id: String,
    hook_group_id: HookGroupId,
    hook_id: HookId,
    metadata: Metadata,
    schedule: Vec<String>,
    /// JSON text, see the module docs.
    task: String,
    /// JSON text, see the module docs.
    trigger_schema: String,
    bindings: Vec<Binding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    missed_fires: Option<MissedFires>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capture: Option<Capture>,
    trigger_token: SealedToken,
    version: i64,
    next_scheduled_date: Option<BsonDate>,
    next_task_id: Option<TaskId>,
    /// Slots a scheduler has claimed and not yet recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    claimed_slots: Vec<BsonDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook_secrets: Option<WebhookSecretsDoc>,
    /// The apply set that owns the hook (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    applied: Option<OwnershipDoc>,
}

/// A hook's owning apply set; the revision as a BSON integer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnershipDoc {
    set: ApplySetName,
    revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

/// A hook's sealed webhook secrets, with the rotation time as a BSON date.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookSecretsDoc {
    current: SealedToken,
    previous: Option<SealedToken>,
    rotated: Option<BsonDate>,
}

impl HookDoc {
    pub(super) fn new(r: &HookRecord) -> Result<Self, StoreError> {
        let hook = &r.hook;
        Ok(Self {
            id: hook_id(&hook.key()),
            hook_group_id: hook.hook_group_id.clone(),
            hook_id: hook.hook_id.clone(),
            metadata: hook.metadata.clone(),
            schedule: hook.schedule.entries().to_vec(),
            task: to_json_text(hook.task.as_json()),
            trigger_schema: to_json_text(hook.trigger_schema.as_json()),
            bindings: hook.bindings.clone(),
            scopes: hook.scopes.clone(),
            missed_fires: hook.missed_fires,
            capture: hook.capture.clone(),
            trigger_token: r.trigger_token.clone(),
            version: to_i64(r.version)?,
            next_scheduled_date: r.next_scheduled_date.map(date),
            next_task_id: r.next_task_id.clone(),
            claimed_slots: r.claimed_slots.iter().copied().map(date).collect(),
            webhook_secrets: r.webhook_secrets.as_ref().map(|w| WebhookSecretsDoc {
                current: w.current.clone(),
                previous: w.previous.clone(),
                rotated: w.rotated.map(date),
            }),
            applied: match &r.applied {
                Some(o) => Some(OwnershipDoc {
                    set: o.set.clone(),
                    revision: to_i64(o.revision)?,
                    source: o.source.clone(),
                }),
                None => None,
            },
        })
    }

    pub(super) fn into_record(self) -> Result<HookRecord, StoreError> {
        Ok(HookRecord {
            hook: Hook {
                hook_group_id: self.hook_group_id,
                hook_id: self.hook_id,
                metadata: self.metadata,
                // Parsed like any definition that enters; see `StoreError::Corrupt`.
                schedule: Schedule::try_from(self.schedule).map_err(corrupt)?,
                task: from_json_text(&self.task)?.into(),
                trigger_schema: TriggerSchema::try_from(from_json_text(&self.trigger_schema)?)
                    .map_err(corrupt)?,
                bindings: self.bindings,
                scopes: self.scopes,
                missed_fires: self.missed_fires,
                capture: self.capture,
            },
            trigger_token: self.trigger_token,
            version: u64::try_from(self.version).map_err(corrupt)?,
            next_scheduled_date: self.next_scheduled_date.map(from_date).transpose()?,
            next_task_id: self.next_task_id,
            claimed_slots: (self.claimed_slots.into_iter().map(from_date))
                .collect::<Result<_, _>>()?,
            webhook_secrets: self
                .webhook_secrets
                .map(|w| {
                    Ok::<_, StoreError>(WebhookSecrets {
                        current: w.current,
                        previous: w.previous,
                        rotated: w.rotated.map(from_date).transpose()?,
                    })
                })
                .transpose()?,
            applied: self
                .applied
                .map(|o| {
                    Ok::<_, StoreError>(Ownership {
                        set: o.set,
                        revision: u64::try_from(o.revision).map_err(corrupt)?,
                        source: o.source,
                    })
                })
                .transpose()?,
        })
    }
}

/// One document of the `fires` collection.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FireDoc {
    /// The fire id, see [`fire_id`].
    #[serde(rename = "_id")]
    id: String,
    hook_group_id: HookGroupId,
    hook_id: HookId,
    fired_by: FiredBy,
    task_id: TaskId,
    task_create_time: BsonDate,
    failure: Option<FireFailure>,
    /// Extension: the kept trigger context, as JSON text (it holds a payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    /// Extension: the fire this one replayed (its `_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replay_of: Option<String>,
    /// Extension: who asked for the replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replayed_by: Option<String>,
    /// When the TTL index deletes the document.
    expire_at: BsonDate,
}

impl FireDoc {
    pub(super) fn new(f: &FireRecord, retention: chrono::Duration) -> Self {
        Self {
            id: fire_id(f.fire_id),
            hook_group_id: f.hook_group_id.clone(),
            hook_id: f.hook_id.clone(),
            fired_by: f.fired_by,
            task_id: f.task_id.clone(),
            task_create_time: date(f.task_create_time),
            failure: f.failure.clone(),
            // Serializing a context cannot fail: it is strings, numbers and JSON values.
            context: f
                .context
                .as_ref()
                .map(|c| serde_json::to_string(c).unwrap_or_default()),
            replay_of: f.replay.as_ref().map(|r| fire_id(r.fire_id)),
            replayed_by: f.replay.as_ref().map(|r| r.client_id.clone()),
            // Far-future fire times would overflow; such a fire is simply kept forever.
            expire_at: date(
                f.task_create_time
                    .checked_add_signed(retention)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            ),
        }
    }

    pub(super) fn into_record(self) -> Result<FireRecord, StoreError> {
        Ok(FireRecord {
            fire_id: Uuid::parse_str(&self.id).map_err(corrupt)?,
            hook_group_id: self.hook_group_id,
            hook_id: self.hook_id,
            fired_by: self.fired_by,
            task_id: self.task_id,
            task_create_time: from_date(self.task_create_time)?,
            failure: self.failure,
            context: self
                .context
                .as_deref()
                .map(|text| serde_json::from_str(text).map_err(corrupt))
                .transpose()?,
            replay: match (self.replay_of, self.replayed_by) {
                (Some(of), Some(client_id)) => Some(ReplayOf {
                    fire_id: Uuid::parse_str(&of).map_err(corrupt)?,
                    client_id,
                }),
                _ => None,
            },
        })
    }
}

/// One document of the `tasks` collection (the local sink's outbox).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskDoc {
    #[serde(rename = "_id")]
    task_id: TaskId,
    hook_group_id: HookGroupId,
    hook_id: HookId,
    fire_id: String,
    fired_by: FiredBy,
    submitted: BsonDate,
    /// JSON text, see the module docs.
    task: String,
}

impl TaskDoc {
    pub(super) fn new(t: &SubmittedTask) -> Self {
        Self {
            task_id: t.task_id.clone(),
            hook_group_id: t.hook_group_id.clone(),
            hook_id: t.hook_id.clone(),
            fire_id: fire_id(t.fire_id),
            fired_by: t.fired_by,
            submitted: date(t.submitted),
            task: to_json_text(&t.task),
        }
    }

    pub(super) fn into_record(self) -> Result<SubmittedTask, StoreError> {
        Ok(SubmittedTask {
            task_id: self.task_id,
            hook_group_id: self.hook_group_id,
            hook_id: self.hook_id,
            fire_id: Uuid::parse_str(&self.fire_id).map_err(corrupt)?,
            fired_by: self.fired_by,
            submitted: from_date(self.submitted)?,
            task: from_json_text(&self.task)?,
        })
    }
}

/// One document of the `chatAliases` collection: the whole record as JSON text under its id,
/// with its version beside it for compare-and-set. Its payload and message templates are
/// user-written JSON-e, so the same reasons as for a hook's task apply (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AliasDoc {
    #[serde(rename = "_id")]
    id: String,
    version: i64,
    /// The whole record as JSON text.
    doc: String,
}

impl AliasDoc {
    pub(super) fn new(record: &ChatAliasRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: record.alias.alias_id.to_string(),
            version: to_i64(record.version)?,
            doc: serde_json::to_string(record).map_err(|e| StoreError::Backend(Box::new(e)))?,
        })
    }

    pub(super) fn into_record(self) -> Result<ChatAliasRecord, StoreError> {
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

impl CursorDoc {
    pub(super) fn new(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    pub(super) fn into_value(self) -> Result<String, StoreError> {
        Ok(self.value)
    }
}
