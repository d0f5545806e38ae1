//! [`ChatSettings`]: which chat platforms are on, and the config file's aliases.

use super::matrix::MatrixSettings;
use crate::domain::ChatAlias;

/// Chat platforms and aliases; every platform is off unless its secret is set.
#[derive(Debug, Clone, Default)]
pub struct ChatSettings {
    /// Slack's signing secret; turns on `POST /chat/slack`.
    pub slack_signing_secret: Option<String>,
    /// Mattermost's command token; turns on `POST /chat/mattermost`.
    pub mattermost_command_token: Option<String>,
    /// The Matrix bot; `None` turns it off.
    pub matrix: Option<MatrixSettings>,
    /// Aliases from the config file, written into the store at start-up.
    pub aliases: Vec<ChatAlias>,
}
