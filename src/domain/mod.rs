//! The hook model: validated identifiers, scopes, hook definitions, fires and submitted tasks.
//!
//! Everything here is plain data plus the rules that keep it valid. Values are parsed where they
//! enter, whatever the path (an API body, a stored document, a test): a [`Hook`] holds a parsed
//! [`Schedule`] and a compiled [`TriggerSchema`], so nothing downstream checks them again.
//! Nothing in this module does I/O or knows about HTTP, storage or brokers; the outer layers
//! convert into these types at their edges and trust them afterwards.
//!
//! Owns: every type the other layers share and its rules. Leaves to others: everything with a
//! clock, a socket or a file.

mod apply_set;
pub mod chat_alias;
pub mod chat_format;
mod encoded;
mod fire;
mod fire_context;
mod hook;
mod ids;
mod json_diff;
mod key_filter;
mod memo;
mod missed_fires;
mod refusal;
mod replay_job;
mod schedule;
pub mod scopes;
mod task;
mod task_template;
pub mod template;
mod time;
mod trigger_schema;

pub use apply_set::{
    apply_step, ApplySetName, ApplySetRecord, ApplyStep, ApplyWrite, OwnedRecord, Ownership,
    WriteTarget,
};
pub use chat_alias::{ChatAlias, ChatAliasId, ChatAliasRecord};
pub use chat_format::Format;
pub use encoded::Encoded;
pub use fire::{FireFailure, FireRecord, FiredBy, ReplayOf};
pub use fire_context::{Capture, CapturePayload, FireContext, PayloadKept};
#[cfg(test)]
pub(crate) use hook::fixtures;
pub use hook::{Binding, Hook, HookRecord, Metadata, SealedToken, WebhookSecrets};
pub use ids::{HookGroupId, HookId, HookKey, TaskId};
pub use json_diff::{json_diff, JsonChange};
pub use key_filter::{KeyFilter, KeyPattern};
pub use missed_fires::{MissedFires, UnknownMissedFires};
pub use refusal::{Refusal, RefusalReason, REFUSALS_KEPT_PER_HOOK};
pub use replay_job::{FireResult, JobCursor, JobState, ReplayJob, TaskIdChoice, TemplateChoice};
pub use schedule::{Schedule, ScheduleError};
pub use scopes::{Role, Roles, ScopeSet};
pub use task::{SubmittedTask, TaskState};
pub use task_template::TaskTemplate;
pub use time::{iso_time, micros_time};
pub use trigger_schema::{PayloadError, TriggerSchema, TriggerSchemaError};

/// A value that failed domain validation; the message is written for the API caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A `hookGroupId` outside `[a-zA-Z0-9-_]{1,1000}`.
    #[error("hookGroupId {0:?} must be 1-1000 characters from [a-zA-Z0-9-_]")]
    InvalidHookGroupId(String),
    /// A `hookId` outside `[a-zA-Z0-9-_/]{1,1000}`.
    #[error("hookId {0:?} must be 1-1000 characters from [a-zA-Z0-9-_/]")]
    InvalidHookId(String),
    /// A task id that is not a v4 slugid.
    #[error("taskId {0:?} is not a valid slugid")]
    InvalidTaskId(String),
    /// An apply set name outside `[a-zA-Z0-9-_.]{1,100}`.
    #[error("apply set name {0:?} must be 1-100 characters from [a-zA-Z0-9-_.]")]
    InvalidApplySetName(String),
}
