//! The optional TOML config file, read and parsed once into a [`ConfigFile`].
//!
//! The file holds two kinds of keys: settings (any option of `hookd serve`, in camelCase),
//! which [`super::layers`] turns into clap defaults, and the file-only lists of clients and
//! roles ([`FileLists`]). Everything that needs the file (layering, start-up's clients and
//! roles, `hookd config check`) derives it from this one value, so the file is read once per
//! run and every reader sees the same contents.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ConfigError;
use crate::clients::ClientConfig;
use crate::domain::{ChatAlias, Role};

/// Top-level keys of the file that are not settings of the command line: lists of tables.
pub const FILE_ONLY_KEYS: [&str; 3] = ["clients", "roles", "chatAliases"];

/// The file-only part of the config file: the lists of clients, roles and chat aliases.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileLists {
    /// API clients.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// Roles for `assume:` scopes.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Chat aliases, written into the store at start-up.
    #[serde(default)]
    pub chat_aliases: Vec<ChatAlias>,
}

/// A parsed config file.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// Its setting keys and values, not yet checked against the command line.
    pub settings: toml::Table,
    /// Its clients and roles.
    pub lists: FileLists,
}

impl ConfigFile {
    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when it cannot be read, [`ConfigError::Parse`] when it is not TOML
    /// or its clients and roles are not of the expected shape.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text`, the contents of the file at `path`.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] as for [`ConfigFile::read`].
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let parse_error = |source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        };
        let mut settings: toml::Table = text.parse().map_err(parse_error)?;
        let lists: toml::Table = FILE_ONLY_KEYS
            .iter()
            .filter_map(|key| Some(((*key).to_owned(), settings.remove(*key)?)))
            .collect();
        Ok(Self {
            path: path.to_owned(),
            settings,
            lists: toml::Value::Table(lists).try_into().map_err(parse_error)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_carries_clients_and_roles_apart_from_settings() {
        let file = ConfigFile::parse(
            Path::new("hookd.toml"),
            r#"
            listen = "127.0.0.1:0"
            [[clients]]
            clientId = "ci"
            accessTokenHash = "sha256:00"
            scopes = ["hooks:*"]
            [[roles]]
            roleId = "hook-id:g/*"
            scopes = ["queue:*"]
            [[chatAliases]]
            aliasId = "deploy"
            hookGroupId = "ci"
            hookId = "deploy"
            formats = ["deploy {{branch}}"]
            "#,
        )
        .unwrap();
        assert_eq!(file.lists.chat_aliases[0].alias_id.as_str(), "deploy");
        assert_eq!(file.lists.clients[0].client_id, "ci");
        assert_eq!(file.lists.roles[0].role_id, "hook-id:g/*");
        let keys: Vec<&String> = file.settings.keys().collect();
        assert_eq!(keys, ["listen"]);
    }

    #[test]
    fn malformed_lists_are_refused() {
        let parse = |text| ConfigFile::parse(Path::new("hookd.toml"), text);
        assert!(parse("clients = 1").is_err());
        assert!(parse("[[roles]]\nroleId = 1\nscopes = []").is_err());
        assert!(parse("listen = ").is_err());
    }
}
