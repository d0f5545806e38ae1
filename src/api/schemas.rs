//! hookd's JSON Schemas (draft 2020-12) for the bodies of the hooks v1 API.
//!
//! The schema files live in `schemas/v1/` and are embedded into the binary at compile time, so
//! validation never touches the file system or the network. Each file's `$id` is
//! `https://hookd.dev/schemas/v1/<file>`, and files share common parts through relative `$ref`s to
//! their siblings.
//!
//! Files are of two kinds:
//! - request and response bodies, named by [`SchemaId`], which can be validated against;
//! - [`fragments`], which only exist to be referenced by the others.
//!
//! Build a [`SchemaSet`] once at start-up with [`SchemaSet::load`]; each body schema is compiled
//! on its first use, and [`SchemaSet::validate`] then reports every [`Violations`] of an instance at once.
//!
//! Formats (`email`, `date-time`, `uuid`) are checked, as Taskcluster does.

use std::sync::OnceLock;

use jsonschema::{Draft, Uri, ValidationError, Validator};
use serde_json::Value;

/// The common prefix of every schema's `$id`.
pub const BASE_URI: &str = "https://hookd.dev/schemas/v1/";

/// Embeds the named files of `schemas/v1/` as `(file name, contents)` pairs.
macro_rules! embed {
    ($($file:literal),* $(,)?) => {
        [$((
            $file,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/v1/", $file)),
        )),*]
    };
}

/// Every schema file, body schemas and fragments alike.
const SOURCES: [(&str, &str); 42] = embed![
    "create-hook-request.json",
    "hook-definition.json",
    "list-hook-groups-response.json",
    "list-hooks-response.json",
    "hook-status.json",
    "list-last-fires-response.json",
    "trigger-hook.json",
    "trigger-hook-response.json",
    "trigger-token-response.json",
    "ping-response.json",
    "error.json",
    "submitted-task.json",
    "render-hook-request.json",
    "render-request.json",
    "render-response.json",
    "chat-alias.json",
    "list-chat-aliases-response.json",
    "apply-request.json",
    "apply-response.json",
    "apply-set-status.json",
    "fire-record.json",
    "list-fires-response.json",
    "replay-request.json",
    "replay-dry-run-response.json",
    "list-refusals-response.json",
    "bulk-replay-request.json",
    "replay-plan.json",
    "replay-job.json",
    "list-replay-jobs-response.json",
    "bindings.json",
    "capture.json",
    "fired-by.json",
    "hook-group-id.json",
    "hook-id.json",
    "hook-metadata.json",
    "missed-fires.json",
    "schedule.json",
    "scopes.json",
    "task-id.json",
    "task-template.json",
    "timestamp.json",
    "trigger-schema.json",
];

/// Every embedded schema file as `(file name, contents)`, for bundling into other documents.
pub fn sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    SOURCES.iter().copied()
}

/// The schema files that are only `$ref`erenced by other schemas and have no [`SchemaId`]:
/// every embedded file that is not a body schema.
pub fn fragments() -> impl Iterator<Item = &'static str> {
    SOURCES
        .iter()
        .map(|(file, _)| *file)
        .filter(|file| SchemaId::ALL.iter().all(|id| id.file_name() != *file))
}

/// A request or response body that hookd has a schema for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaId {
    /// Body of createHook and updateHook.
    CreateHookRequest,
    /// A hook as returned by hook, createHook and updateHook.
    HookDefinition,
    /// Response of listHookGroups.
    ListHookGroupsResponse,
    /// Response of listHooks.
    ListHooksResponse,
    /// Response of getHookStatus.
    HookStatus,
    /// Response of listLastFires.
    ListLastFiresResponse,
    /// Body of triggerHook and triggerHookWithToken.
    TriggerHook,
    /// Response of triggerHook and triggerHookWithToken.
    TriggerHookResponse,
    /// Response of getTriggerToken and resetTriggerToken.
    TriggerTokenResponse,
    /// Response of ping.
    PingResponse,
    /// Body of every error response.
    Error,
    /// Response of the extension endpoint `GET /tasks/{taskId}`.
    SubmittedTask,
    /// Body of the extension endpoint `POST /hooks/{hookGroupId}/{hookId}/render`.
    RenderHookRequest,
    /// Body of the extension endpoint `POST /render`.
    RenderRequest,
    /// Response of both render endpoints.
    RenderResponse,
    /// A chat alias: body of createChatAlias and updateChatAlias, response of getChatAlias.
    ChatAlias,
    /// Response of listChatAliases.
    ListChatAliasesResponse,
    /// Body of the extension endpoint `POST /apply`.
    ApplyRequest,
    /// Response of `POST /apply`.
    ApplyResponse,
    /// Response of the extension endpoint `GET /apply-sets/{name}`.
    ApplySetStatus,
    /// Response of the extension endpoint `GET /hooks/{hookGroupId}/{hookId}/fires/{fireId}`.
    FireRecord,
    /// Response of the extension endpoint `GET /hooks/{hookGroupId}/{hookId}/fires`.
    ListFiresResponse,
    /// Body of the extension endpoint `POST .../fires/{fireId}/replay`.
    ReplayRequest,
    /// Response of a replay with `dryRun`.
    ReplayDryRunResponse,
    /// Response of the extension endpoint `GET /hooks/{hookGroupId}/{hookId}/refusals`.
    ListRefusalsResponse,
    /// Body of the extension endpoint `POST /hooks/{hookGroupId}/{hookId}/replays`.
    BulkReplayRequest,
    /// Response of a bulk replay with `dryRun`: the plan.
    ReplayPlan,
    /// A bulk replay job: the response of creating, reading and cancelling one.
    ReplayJob,
    /// Response of the extension endpoint `GET /hooks/{hookGroupId}/{hookId}/replays`.
    ListReplayJobsResponse,
}

impl SchemaId {
    /// Every schema id, in declaration order.
    pub const ALL: [SchemaId; 29] = [
        Self::CreateHookRequest,
        Self::HookDefinition,
        Self::ListHookGroupsResponse,
        Self::ListHooksResponse,
        Self::HookStatus,
        Self::ListLastFiresResponse,
        Self::TriggerHook,
        Self::TriggerHookResponse,
        Self::TriggerTokenResponse,
        Self::PingResponse,
        Self::Error,
        Self::SubmittedTask,
        Self::RenderHookRequest,
        Self::RenderRequest,
        Self::RenderResponse,
        Self::ChatAlias,
        Self::ListChatAliasesResponse,
        Self::ApplyRequest,
        Self::ApplyResponse,
        Self::ApplySetStatus,
        Self::FireRecord,
        Self::ListFiresResponse,
        Self::ReplayRequest,
        Self::ReplayDryRunResponse,
        Self::ListRefusalsResponse,
        Self::BulkReplayRequest,
        Self::ReplayPlan,
        Self::ReplayJob,
        Self::ListReplayJobsResponse,
    ];

    /// The schema's file name in `schemas/v1/`, e.g. `create-hook-request.json`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::CreateHookRequest => "create-hook-request.json",
            Self::HookDefinition => "hook-definition.json",
            Self::ListHookGroupsResponse => "list-hook-groups-response.json",
            Self::ListHooksResponse => "list-hooks-response.json",
            Self::HookStatus => "hook-status.json",
            Self::ListLastFiresResponse => "list-last-fires-response.json",
            Self::TriggerHook => "trigger-hook.json",
            Self::TriggerHookResponse => "trigger-hook-response.json",
            Self::TriggerTokenResponse => "trigger-token-response.json",
            Self::PingResponse => "ping-response.json",
            Self::Error => "error.json",
            Self::SubmittedTask => "submitted-task.json",
            Self::RenderHookRequest => "render-hook-request.json",
            Self::RenderRequest => "render-request.json",
            Self::RenderResponse => "render-response.json",
            Self::ChatAlias => "chat-alias.json",
            Self::ListChatAliasesResponse => "list-chat-aliases-response.json",
            Self::ApplyRequest => "apply-request.json",
            Self::ApplyResponse => "apply-response.json",
            Self::ApplySetStatus => "apply-set-status.json",
            Self::FireRecord => "fire-record.json",
            Self::ListFiresResponse => "list-fires-response.json",
            Self::ReplayRequest => "replay-request.json",
            Self::ReplayDryRunResponse => "replay-dry-run-response.json",
            Self::ListRefusalsResponse => "list-refusals-response.json",
            Self::BulkReplayRequest => "bulk-replay-request.json",
            Self::ReplayPlan => "replay-plan.json",
            Self::ReplayJob => "replay-job.json",
            Self::ListReplayJobsResponse => "list-replay-jobs-response.json",
        }
    }
}

/// A schema file that could not be loaded or compiled.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file is not valid JSON.
    #[error("schema {file} is not valid JSON: {source}")]
    Json {
        /// The file name.
        file: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The file has no string `$id`.
    #[error("schema {file} has no $id")]
    MissingId {
        /// The file name.
        file: &'static str,
    },
    /// No embedded file carries this name.
    #[error("schema {file} is not embedded")]
    NotEmbedded {
        /// The file name.
        file: &'static str,
    },
    /// The file is not a valid schema, or one of its `$ref`s does not resolve.
    #[error("schema {file} does not compile: {reason}")]
    Compile {
        /// The file name.
        file: &'static str,
        /// What the compiler reported.
        reason: String,
    },
}

/// Every way an instance fails a schema, each as `<JSON pointer>: <problem>`, with `(root)` for
/// the instance itself. Displayed joined with `; `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct Violations(Vec<String>);

impl Violations {
    /// The individual violations, in the order the validator found them.
    pub fn messages(&self) -> &[String] {
        &self.0
    }
}

/// The body schemas, each compiled into a validator on its first use.
///
/// Compiling is lazy because it is most of hookd's idle memory: a validator holds its own
/// registry of every embedded document, and the response schemas are only ever checked by
/// tests. A running service compiles the two or three request schemas it meets.
#[derive(Debug)]
pub struct SchemaSet {
    /// Every embedded document by file name and under its `$id`, for `$ref`s to resolve
    /// against.
    documents: Vec<(&'static str, String, Value)>,
    /// Indexed by `SchemaId as usize`, which is the id's position in [`SchemaId::ALL`].
    validators: [OnceLock<Result<Validator, SchemaError>>; SchemaId::ALL.len()],
}

impl SchemaSet {
    /// Parses every embedded file and checks that each [`SchemaId`] has one; each schema is
    /// compiled, with every file registered under its `$id` so `$ref`s resolve offline, when it
    /// is first used.
    pub fn load() -> Result<Self, SchemaError> {
        let mut documents = Vec::with_capacity(SOURCES.len());
        for (file, text) in SOURCES {
            let schema: Value =
                serde_json::from_str(text).map_err(|source| SchemaError::Json { file, source })?;
            let id = schema
                .get("$id")
                .and_then(Value::as_str)
                .ok_or(SchemaError::MissingId { file })?
                .to_owned();
            documents.push((file, id, schema));
        }
        for schema_id in SchemaId::ALL {
            let file = schema_id.file_name();
            if !SOURCES.iter().any(|(name, _)| *name == file) {
                return Err(SchemaError::NotEmbedded { file });
            }
        }
        Ok(Self {
            documents,
            validators: std::array::from_fn(|_| OnceLock::new()),
        })
    }

    /// The validator of `id`, compiled now if this is its first use.
    fn validator(&self, id: SchemaId) -> Result<&Validator, &SchemaError> {
        // `validators` is built from `SchemaId::ALL`, whose order is the declaration order.
        self.validators[id as usize]
            .get_or_init(|| self.compile(id))
            .as_ref()
    }

    fn compile(&self, id: SchemaId) -> Result<Validator, SchemaError> {
        let file = id.file_name();
        let (_, _, root) = (self.documents.iter())
            .find(|(name, _, _)| *name == file)
            .ok_or(SchemaError::NotEmbedded { file })?;
        let resources = self.documents.iter().map(|(_, doc_id, schema)| {
            (
                doc_id.clone(),
                Draft::Draft202012.create_resource(schema.clone()),
            )
        });
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .with_retriever(Offline)
            .with_resources(resources)
            .build(root)
            .map_err(|error| SchemaError::Compile {
                file,
                reason: error.to_string(),
            })
    }

    /// Checks `instance` against the schema `id`, reporting every violation.
    pub fn validate(&self, id: SchemaId, instance: &Value) -> Result<(), Violations> {
        // An embedded schema that does not compile is a build defect (a unit test compiles
        // each); the caller still hears about it rather than a pass.
        let validator = self
            .validator(id)
            .map_err(|e| Violations(vec![format!("(root): {e}")]))?;
        if validator.is_valid(instance) {
            return Ok(());
        }
        Err(Violations(
            validator
                .iter_errors(instance)
                .map(|e| describe(&e))
                .collect(),
        ))
    }
}

/// One violation as `<location>: <problem>`, abbreviating long offending values.
fn describe(error: &ValidationError<'_>) -> String {
    let location = match error.instance_path.as_str() {
        "" => "(root)",
        path => path,
    };
    match abbreviate(&error.instance) {
        Some(short) => format!("{location}: {}", error.masked_with(short)),
        None => format!("{location}: {error}"),
    }
}

/// A short stand-in for a value whose JSON text is too long to quote in a message, or `None`
/// when it is short enough to quote whole.
fn abbreviate(value: &Value) -> Option<String> {
    const MAX_QUOTED: usize = 80;
    const PREFIX: usize = 40;
    let text = value.to_string();
    if text.chars().count() <= MAX_QUOTED {
        return None;
    }
    Some(match value {
        Value::String(s) => {
            let prefix: String = s.chars().take(PREFIX).collect();
            format!("\"{prefix}…\" ({} characters)", s.chars().count())
        }
        Value::Array(items) => format!("an array of length {}", items.len()),
        Value::Object(members) => format!("an object with {} members", members.len()),
        _ => text.chars().take(PREFIX).chain(['…']).collect(),
    })
}

/// Refuses to fetch anything: every schema hookd needs is embedded.
struct Offline;

impl jsonschema::Retrieve for Offline {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("{} is not one of hookd's embedded schemas", uri.as_str()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn all_lists_ids_in_declaration_order() {
        for (index, id) in SchemaId::ALL.iter().enumerate() {
            assert_eq!(*id as usize, index, "{id:?}");
        }
    }

    #[test]
    fn every_body_schema_is_embedded() {
        for id in SchemaId::ALL {
            assert!(
                SOURCES.iter().any(|(file, _)| *file == id.file_name()),
                "{id:?} is not embedded"
            );
        }
    }

    #[test]
    fn every_body_schema_compiles() {
        let set = SchemaSet::load().expect("schemas load");
        for id in SchemaId::ALL {
            if let Err(e) = set.validator(id) {
                panic!("{id:?}: {e}");
            }
        }
    }

    #[test]
    fn long_values_are_abbreviated_in_messages() {
        let set = SchemaSet::load().expect("schemas load");
        let long = "x".repeat(300);
        let err = set
            .validate(
                SchemaId::TriggerTokenResponse,
                &json!({"token": 1, "extra": long}),
            )
            .expect_err("invalid");
        assert!(!err.to_string().contains(&long), "{err}");

        let err = set
            .validate(SchemaId::TriggerHook, &json!([long]))
            .expect_err("an array is not an object");
        assert_eq!(
            err.messages(),
            [r#"(root): an array of length 1 is not of type "object""#]
        );
    }
}
