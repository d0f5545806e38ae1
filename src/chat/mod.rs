//! ChatOps: chat commands fire hooks, under each chat user's own scopes.
//!
//! A chat line (`deploy main to staging`) is matched against the enabled *chat aliases* of the
//! room it was said in; the alias names a hook, the line's parameters become its payload, and
//! the hook fires with the chat user's principal (`chat:<platform>:<user id>`) as caller. A chat
//! user's scopes come from the role `chat-user:<platform>:<user id>`, so `help` shows, and the
//! engine runs, only what that role allows. A chat fire is one more [`crate::fire::Trigger`].
//!
//! Owns: alias writes ([`aliases`]), who is speaking ([`speaker`]), the command engine
//! ([`engine`]), running an alias ([`run`]), pending confirmations ([`confirm`]), its settings, and one file per
//! platform: the Matrix bot ([`matrix`]), slash commands of Slack and Mattermost ([`slash`]). Leaves to others: the alias
//! model and format parser (`domain::chat_alias`, `domain::chat_format`), storing aliases and
//! cursors (`store`), the HTTP endpoints (`api`), firing (`fire`).

pub mod aliases;
pub mod confirm;
pub mod engine;
pub mod matrix;
pub mod run;
mod settings;
pub mod slash;
pub mod speaker;

pub use aliases::{AliasError, AliasRegistry};
pub use engine::{Answer, ChatEngine, Message};
pub use settings::ChatSettings;
pub use speaker::Speaker;
