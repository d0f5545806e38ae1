//! Settings: command-line flags and `HOOKD_*` environment variables, plus an optional TOML file
//! for clients, roles and the token key.
//!
//! Flags win over environment variables (clap does that); the file holds what does not fit on a
//! command line. [`Settings`] is the validated result that start-up consumes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::api::rate_limit::{RateLimitSettings, DEFAULT_PER_CLIENT, DEFAULT_PER_HOOK};
use crate::clients::ClientConfig;
use crate::domain::Role;
use crate::fire::RenderLimits;
use crate::token_cipher::KEY_LEN;

/// Options of `hookd serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port the API listens on.
    #[arg(long, env = "HOOKD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the embedded store, the root client and the token key.
    #[arg(long, env = "HOOKD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// TOML file with `[[clients]]`, `[[roles]]` and `triggerTokenKey`.
    #[arg(long, env = "HOOKD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Access token of the `root` client (scope `*`); generated and printed once when unset.
    #[arg(long, env = "HOOKD_ROOT_ACCESS_TOKEN", hide_env_values = true)]
    pub root_access_token: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "HOOKD_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// HTTP worker threads; defaults to the number of cores.
    #[arg(long, env = "HOOKD_WORKERS")]
    pub workers: Option<usize>,
    /// How long rendering one task template may take, in milliseconds.
    #[arg(long, env = "HOOKD_RENDER_TIMEOUT_MS", default_value_t = 2000)]
    pub render_timeout_ms: u64,
    /// Largest rendered task, in bytes of JSON.
    #[arg(long, env = "HOOKD_MAX_TASK_BYTES", default_value_t = 1024 * 1024)]
    pub max_task_bytes: usize,
    /// Authenticated requests per client per minute; 0 for no limit.
    #[arg(long, env = "HOOKD_CLIENT_RATE_LIMIT", default_value_t = DEFAULT_PER_CLIENT)]
    pub client_rate_limit: u32,
    /// HTTP fires (trigger, trigger with token) per hook per minute; 0 for no limit.
    #[arg(long, env = "HOOKD_HOOK_RATE_LIMIT", default_value_t = DEFAULT_PER_HOOK)]
    pub hook_rate_limit: u32,
    /// How long a rotated-out webhook secret keeps working, in seconds.
    #[arg(long, env = "HOOKD_WEBHOOK_SECRET_GRACE_SECS", default_value_t = 24 * 60 * 60)]
    pub webhook_secret_grace_secs: u32,
}

/// The optional TOML configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// API clients.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// Roles for `assume:` scopes.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// 64 hex digits; overrides the key file in the data dir.
    pub trigger_token_key: Option<String>,
}

/// Why the settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("config file {path} is invalid")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: toml::de::Error,
    },
    /// The trigger token key is not 64 hex digits.
    #[error("triggerTokenKey must be {} hex digits", KEY_LEN * 2)]
    BadTokenKey,
    /// The root access token is empty.
    #[error("the root access token must not be empty")]
    EmptyRootToken,
}

/// Validated settings for one `hookd serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where data lives.
    pub data_dir: PathBuf,
    /// The root client's token, when set explicitly.
    pub root_access_token: Option<String>,
    /// Configured clients besides `root`.
    pub clients: Vec<ClientConfig>,
    /// Configured roles.
    pub roles: Vec<Role>,
    /// Trigger token key from the config, if any.
    pub trigger_token_key: Option<[u8; KEY_LEN]>,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// HTTP worker threads.
    pub workers: Option<usize>,
    /// Deadline and size bound for rendering task templates.
    pub render_limits: RenderLimits,
    /// Per-client and per-hook rate limits.
    pub rate_limits: RateLimitSettings,
    /// How long a rotated-out webhook secret keeps working.
    pub webhook_secret_grace: chrono::Duration,
}

impl Settings {
    /// Settings with defaults for everything but the data dir; the base for tests and embedders.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: data_dir.into(),
            root_access_token: None,
            clients: Vec::new(),
            roles: Vec::new(),
            trigger_token_key: None,
            body_limit: 1024 * 1024,
            workers: None,
            render_limits: RenderLimits::default(),
            rate_limits: RateLimitSettings::per_minute(DEFAULT_PER_CLIENT, DEFAULT_PER_HOOK),
            webhook_secret_grace: chrono::Duration::days(1),
        }
    }

    /// Combines flags, environment and the config file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad setting.
    pub fn load(args: ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_config_file(path)?,
            None => ConfigFile::default(),
        };
        if args.root_access_token.as_deref() == Some("") {
            return Err(ConfigError::EmptyRootToken);
        }
        let trigger_token_key = file
            .trigger_token_key
            .as_deref()
            .map(parse_key)
            .transpose()?;
        Ok(Self {
            listen: args.listen,
            data_dir: args.data_dir,
            root_access_token: args.root_access_token,
            clients: file.clients,
            roles: file.roles,
            trigger_token_key,
            body_limit: args.body_limit,
            workers: args.workers,
            render_limits: RenderLimits::new(
                Duration::from_millis(args.render_timeout_ms),
                args.max_task_bytes,
                crate::fire::limits::DEFAULT_SLOTS,
            ),
            rate_limits: RateLimitSettings::per_minute(
                args.client_rate_limit,
                args.hook_rate_limit,
            ),
            webhook_secret_grace: chrono::Duration::seconds(args.webhook_secret_grace_secs.into()),
        })
    }
}

fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Parses a token key written as hex.
///
/// # Errors
/// [`ConfigError::BadTokenKey`] unless it is exactly 64 hex digits.
pub fn parse_key(hex_key: &str) -> Result<[u8; KEY_LEN], ConfigError> {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ConfigError::BadTokenKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_carries_clients_roles_and_key() {
        let file: ConfigFile = toml::from_str(
            r#"
            triggerTokenKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            [[clients]]
            clientId = "ci"
            accessTokenHash = "sha256:00"
            scopes = ["hooks:*"]
            [[roles]]
            roleId = "hook-id:g/*"
            scopes = ["queue:*"]
            "#,
        )
        .unwrap();
        assert_eq!(file.clients[0].client_id, "ci");
        assert_eq!(file.roles[0].role_id, "hook-id:g/*");
        assert!(parse_key(file.trigger_token_key.as_deref().unwrap()).is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_token_keys_are_refused() {
        assert!(toml::from_str::<ConfigFile>("listne = 1").is_err());
        assert!(parse_key("abc").is_err());
        assert!(parse_key(&"zz".repeat(32)).is_err());
    }
}
