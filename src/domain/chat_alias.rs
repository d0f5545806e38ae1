//! Chat aliases: what a chat command fires, for whom, where, and what the bot says about it.
//!
//! A [`ChatAlias`] is valid by construction, like a hook: its id is checked, its formats are
//! parsed ([`super::chat_format`]), and deserializing (an API body, the config file, a stored
//! document) goes through the same checks. A new alias is disabled until someone enables it.
//!
//! Owns: the alias definition, its id, the confirmation modes and the stored record. Leaves to
//! others: matching a line to an alias and running it (`chat`), storing it (`store`).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chat_format::Format;
use super::{HookGroupId, HookId, HookKey};

/// Longest alias id.
const MAX_ALIAS_ID_LEN: usize = 100;

/// Most formats one alias may have.
pub const MAX_FORMATS: usize = 20;

/// A chat alias id that breaks the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("aliasId {0:?} must be 1-100 characters from [a-zA-Z0-9-_]")]
pub struct InvalidAliasId(String);

/// A chat alias id: 1-100 characters from `[a-zA-Z0-9-_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChatAliasId(String);

impl ChatAliasId {
    /// Validates `value`.
    ///
    /// # Errors
    /// [`InvalidAliasId`] when it breaks the rules.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidAliasId> {
        let value = value.into();
        let valid = (1..=MAX_ALIAS_ID_LEN).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid {
            Ok(Self(value))
        } else {
            Err(InvalidAliasId(value))
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChatAliasId {
    type Error = InvalidAliasId;
    fn try_from(value: String) -> Result<Self, InvalidAliasId> {
        Self::parse(value)
    }
}

impl From<ChatAliasId> for String {
    fn from(id: ChatAliasId) -> String {
        id.0
    }
}

impl fmt::Display for ChatAliasId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who has to confirm a command before it fires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConfirmationMode {
    /// Nobody: it fires at once.
    #[default]
    None,
    /// The user who asked repeats a short code.
    #[serde(rename = "self")]
    OwnCode,
    /// A second user who may run the alias approves.
    Other,
}

/// How a command is confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Confirmation {
    /// Who confirms.
    pub mode: ConfirmationMode,
    /// How long a confirmation may take, in seconds.
    #[serde(default = "default_confirmation_secs")]
    pub timeout_secs: u64,
}

impl Default for Confirmation {
    fn default() -> Self {
        Self {
            mode: ConfirmationMode::None,
            timeout_secs: default_confirmation_secs(),
        }
    }
}

fn default_confirmation_secs() -> u64 {
    300
}

/// Where Slack-style platforms show the acknowledgement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AckVisibility {
    /// Only to the user who asked.
    #[default]
    Ephemeral,
    /// To everyone in the channel.
    InChannel,
}

/// One chat alias, in the JSON shape the API returns (with `aliasId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatAlias {
    /// The alias's id.
    pub alias_id: ChatAliasId,
    /// The hook it fires.
    pub hook_group_id: HookGroupId,
    /// The hook it fires.
    pub hook_id: HookId,
    /// What it does, shown by `help`.
    #[serde(default)]
    pub description: String,
    /// The command lines it answers to; the first word of each names the command.
    pub formats: Vec<Format>,
    /// JSON-e template of the payload, over `parameters`, `user` and `room`; absent: the
    /// parameters as an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Rooms or channels it may run in (platform ids); absent: every room the bot is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// Scopes a chat user needs besides the hook's trigger scope.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Who confirms a command before it fires.
    #[serde(default)]
    pub confirmation: Confirmation,
    /// JSON-e template of the acknowledgement, over the fire's context; absent: a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Value>,
    /// JSON-e template of the result message (`taskId`, `error`, `links`); absent: a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Where Slack-style platforms show the acknowledgement.
    #[serde(default)]
    pub ack_visibility: AckVisibility,
    /// Whether chat users may run it at all; new aliases are disabled.
    #[serde(default)]
    pub enabled: bool,
}

/// Why an alias definition was refused (beyond its JSON shape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatAliasError {
    /// No formats, or too many.
    #[error("an alias needs 1 to {MAX_FORMATS} formats")]
    FormatCount,
}

impl ChatAlias {
    /// Checks what serde cannot: the number of formats.
    ///
    /// # Errors
    /// [`ChatAliasError`].
    pub fn check(&self) -> Result<(), ChatAliasError> {
        if self.formats.is_empty() || self.formats.len() > MAX_FORMATS {
            return Err(ChatAliasError::FormatCount);
        }
        Ok(())
    }

    /// The hook it fires.
    pub fn hook_key(&self) -> HookKey {
        HookKey::new(self.hook_group_id.clone(), self.hook_id.clone())
    }

    /// Every scope a chat user needs to run it: the hook's trigger scope, then the alias's own.
    pub fn required_scopes(&self) -> Vec<String> {
        std::iter::once(format!("hooks:trigger-hook:{}", self.hook_key()))
            .chain(self.scopes.iter().cloned())
            .collect()
    }

    /// Whether it may run in `room`.
    pub fn allows_room(&self, room: &str) -> bool {
        self.channels
            .as_ref()
            .is_none_or(|rooms| rooms.iter().any(|r| r == room))
    }
}

/// A stored alias with its version, for compare-and-set updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatAliasRecord {
    /// The definition.
    pub alias: ChatAlias,
    /// Bumped on every update.
    pub version: u64,
    /// The apply set that wrote it last, if any (see [`super::apply_set`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<super::Ownership>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alias(extra: Value) -> Result<ChatAlias, serde_json::Error> {
        let mut body = json!({
            "aliasId": "deploy", "hookGroupId": "ci", "hookId": "deploy",
            "formats": ["deploy {{branch}} to {{env=staging}}"],
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(body)
    }

    #[test]
    fn a_minimal_alias_is_disabled_open_to_every_room_and_needs_the_trigger_scope() {
        let alias = alias(json!({})).unwrap();
        assert!(!alias.enabled);
        assert!(alias.allows_room("!any:example.org"));
        assert_eq!(alias.required_scopes(), ["hooks:trigger-hook:ci/deploy"]);
        assert_eq!(alias.confirmation, Confirmation::default());
        assert!(alias.check().is_ok());
    }

    #[test]
    fn channels_scopes_and_confirmations_are_read() {
        let alias = alias(json!({
            "channels": ["!ops:example.org"], "scopes": ["chat:deploy"],
            "confirmation": {"mode": "self", "timeoutSecs": 60}, "ackVisibility": "inChannel"
        }))
        .unwrap();
        assert!(alias.allows_room("!ops:example.org"));
        assert!(!alias.allows_room("!dev:example.org"));
        assert_eq!(
            alias.required_scopes(),
            ["hooks:trigger-hook:ci/deploy", "chat:deploy"]
        );
        assert_eq!(alias.confirmation.mode, ConfirmationMode::OwnCode);
        assert_eq!(alias.ack_visibility, AckVisibility::InChannel);
    }

    #[test]
    fn bad_definitions_are_refused() {
        assert!(alias(json!({"aliasId": "a b"})).is_err());
        assert!(alias(json!({"formats": ["{{x}}"]})).is_err());
        assert!(alias(json!({"unknown": 1})).is_err());
        assert!(alias(json!({"confirmation": {"mode": "nobody"}})).is_err());
        assert_eq!(
            alias(json!({"formats": []})).unwrap().check(),
            Err(ChatAliasError::FormatCount)
        );
    }
}
