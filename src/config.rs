//! Settings: command-line flags and `HOOKD_*` environment variables, plus an optional TOML file
//! for clients, roles and the token key.
//!
//! Flags win over environment variables (clap does that); the file holds what does not fit on a
//! command line. [`Settings`] is the validated result that start-up consumes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::Duration;
use serde::Deserialize;

use crate::clients::ClientConfig;
use crate::domain::{MissedFires, Role};
use crate::scheduler::CatchUp;
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
    /// The parts this process runs, comma-separated. Without `api` only the health endpoints
    /// answer.
    #[arg(
        long,
        env = "HOOKD_ROLES",
        value_enum,
        value_delimiter = ',',
        default_value = "api,scheduler,listener"
    )]
    pub roles: Vec<ServiceRole>,
    /// What the scheduler does about slots missed while no scheduler ran: skip, once or all.
    #[arg(long, env = "HOOKD_MISSED_FIRES", default_value_t = MissedFires::Once)]
    pub missed_fires: MissedFires,
    /// Under `--missed-fires all`, how far back missed slots are still fired, e.g. `24h`,
    /// `90m`, `2d`, `3600s`.
    #[arg(long, env = "HOOKD_CATCH_UP_WINDOW", default_value = "24h", value_parser = parse_window)]
    pub catch_up_window: Duration,
}

/// A part of the service that a process may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceRole {
    /// The HTTP API.
    Api,
    /// The cron scheduler.
    Scheduler,
    /// The AMQP listener.
    Listener,
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
    /// The parts this process runs.
    pub service_roles: Vec<ServiceRole>,
    /// How the scheduler catches up on missed slots.
    pub catch_up: CatchUp,
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
            service_roles: vec![
                ServiceRole::Api,
                ServiceRole::Scheduler,
                ServiceRole::Listener,
            ],
            catch_up: CatchUp::default(),
        }
    }

    /// Whether this process runs `role`.
    pub fn runs(&self, role: ServiceRole) -> bool {
        self.service_roles.contains(&role)
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
            service_roles: args.roles,
            catch_up: CatchUp {
                policy: args.missed_fires,
                window: args.catch_up_window,
            },
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

/// Parses a catch-up window: a whole number followed by `s`, `m`, `h` or `d`.
///
/// # Errors
/// A message for the operator when the text is not of that form.
fn parse_window(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 24h, 90m, 2d or 3600s");
    let unit_at = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(unit_at);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    number
        .checked_mul(seconds)
        .and_then(Duration::try_seconds)
        .filter(|window| *window >= Duration::zero())
        .ok_or_else(bad)
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

    #[test]
    fn catch_up_windows_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_window("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_window("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_window("2d"), Ok(Duration::days(2)));
        assert_eq!(parse_window("3600s"), Ok(Duration::hours(1)));
        for bad in ["", "h", "24", "1w", "-1h", "1.5h", "99999999999999999d"] {
            assert!(parse_window(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
