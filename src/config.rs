//! Settings: command-line flags and `HOOKD_*` environment variables, plus an optional TOML file
//! for clients, roles and the token key.
//!
//! Flags win over environment variables (clap does that); the file holds what does not fit on a
//! command line. [`Settings`] is the validated result that start-up consumes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;

use crate::clients::ClientConfig;
use crate::domain::Role;
use crate::fire::sink::RetryPolicy;
use crate::token_cipher::KEY_LEN;
use crate::webhook_signature::{SecretError, WebhookSecret};

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
    /// Where tasks go: `local` (an outbox in the store), `http(s)://<receiver>` (a signed POST
    /// per task) or `taskcluster+http(s)://<rootUrl>` (the queue of a Taskcluster deployment).
    #[arg(long, env = "HOOKD_TASK_QUEUE", default_value = "local")]
    pub task_queue: TaskQueue,
    /// Client id hookd uses with a Taskcluster queue.
    #[arg(long, env = "HOOKD_TASKCLUSTER_CLIENT_ID")]
    pub taskcluster_client_id: Option<String>,
    /// Access token hookd uses with a Taskcluster queue.
    #[arg(long, env = "HOOKD_TASKCLUSTER_ACCESS_TOKEN", hide_env_values = true)]
    pub taskcluster_access_token: Option<String>,
    /// Standard Webhooks secret (`whsec_<base64>`) that signs tasks sent to an HTTP receiver.
    #[arg(long, env = "HOOKD_SINK_SECRET", hide_env_values = true)]
    pub sink_secret: Option<String>,
    /// Attempts to submit one task before its fire fails as unavailable.
    #[arg(long, env = "HOOKD_SINK_ATTEMPTS", default_value_t = 5)]
    pub sink_attempts: u32,
    /// Seconds one submission attempt may take.
    #[arg(long, env = "HOOKD_SINK_TIMEOUT", default_value_t = 10)]
    pub sink_timeout: u64,
    /// SMTP server for failure emails, e.g. `smtp://mail.example:25` or `smtps://...`.
    #[arg(long, env = "HOOKD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender address of failure emails.
    #[arg(long, env = "HOOKD_NOTIFY_FROM", default_value = "hookd@localhost")]
    pub notify_from: String,
    /// Slack-compatible incoming-webhook URL that hears about every error fire.
    #[arg(long, env = "HOOKD_CHAT_WEBHOOK_URL", hide_env_values = true)]
    pub chat_webhook_url: Option<String>,
    /// Seconds during which each hook gets at most one notice per channel.
    #[arg(long, env = "HOOKD_NOTIFY_WINDOW", default_value_t = 3600)]
    pub notify_window: u64,
}

/// Failure notices: where they go and how often.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// SMTP server for emails to hook owners, if any.
    pub smtp_url: Option<String>,
    /// Sender of those emails.
    pub from: String,
    /// Chat webhook for every error fire, if any.
    pub chat_webhook_url: Option<String>,
    /// At most one notice per hook and channel within this window.
    pub window: chrono::Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "hookd@localhost".into(),
            chat_webhook_url: None,
            window: chrono::Duration::hours(1),
        }
    }
}

/// Where submitted tasks go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskQueue {
    /// The durable outbox in hookd's own store.
    Local,
    /// POST each task to this URL.
    Http(String),
    /// `createTask` on the Taskcluster deployment at this root URL.
    Taskcluster(String),
}

impl std::str::FromStr for TaskQueue {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        if s == "local" {
            return Ok(Self::Local);
        }
        if let Some(root) = s.strip_prefix("taskcluster+") {
            if root.starts_with("https://") || root.starts_with("http://") {
                return Ok(Self::Taskcluster(root.to_owned()));
            }
        } else if s.starts_with("https://") || s.starts_with("http://") {
            return Ok(Self::Http(s.to_owned()));
        }
        Err(ConfigError::BadTaskQueue(s.to_owned()))
    }
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
    /// `--task-queue` names no known kind of queue.
    #[error("task queue {0:?} must be local, http(s)://... or taskcluster+http(s)://...")]
    BadTaskQueue(String),
    /// A Taskcluster queue needs credentials.
    #[error(
        "a taskcluster+ task queue needs --taskcluster-client-id and --taskcluster-access-token"
    )]
    MissingTaskclusterCredentials,
    /// An HTTP task queue needs a signing secret.
    #[error("an http(s) task queue needs --sink-secret, so receivers can verify what hookd sends")]
    MissingSinkSecret,
    /// The signing secret is unusable.
    #[error("the sink secret is invalid")]
    BadSinkSecret(#[source] SecretError),
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
    /// Where tasks go, with what each kind needs.
    pub task_sink: TaskSinkSettings,
    /// How HTTP sinks retry.
    pub sink_retry: RetryPolicy,
    /// Failure notices.
    pub notify: NotifySettings,
}

/// The task queue and its credentials, checked to fit together.
#[derive(Debug, Clone)]
pub enum TaskSinkSettings {
    /// The store's outbox.
    Local,
    /// A signed POST per task.
    Http {
        /// The receiver.
        url: String,
        /// The signing secret.
        secret: WebhookSecret,
    },
    /// A Taskcluster queue.
    Taskcluster {
        /// The deployment's root URL.
        root_url: String,
        /// hookd's client id there.
        client_id: String,
        /// hookd's access token there.
        access_token: String,
    },
}

impl TaskSinkSettings {
    fn from_args(args: &ServeArgs) -> Result<Self, ConfigError> {
        Ok(match &args.task_queue {
            TaskQueue::Local => Self::Local,
            TaskQueue::Http(url) => {
                let secret = args
                    .sink_secret
                    .as_deref()
                    .ok_or(ConfigError::MissingSinkSecret)?;
                Self::Http {
                    url: url.clone(),
                    secret: WebhookSecret::parse(secret).map_err(ConfigError::BadSinkSecret)?,
                }
            }
            TaskQueue::Taskcluster(root_url) => {
                let (Some(client_id), Some(access_token)) =
                    (&args.taskcluster_client_id, &args.taskcluster_access_token)
                else {
                    return Err(ConfigError::MissingTaskclusterCredentials);
                };
                Self::Taskcluster {
                    root_url: root_url.clone(),
                    client_id: client_id.clone(),
                    access_token: access_token.clone(),
                }
            }
        })
    }
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
            task_sink: TaskSinkSettings::Local,
            sink_retry: RetryPolicy::default(),
            notify: NotifySettings::default(),
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
        let task_sink = TaskSinkSettings::from_args(&args)?;
        let sink_retry = RetryPolicy {
            attempts: args.sink_attempts.max(1),
            attempt_timeout: Duration::from_secs(args.sink_timeout.max(1)),
            ..RetryPolicy::default()
        };
        Ok(Self {
            listen: args.listen,
            data_dir: args.data_dir,
            root_access_token: args.root_access_token,
            clients: file.clients,
            roles: file.roles,
            trigger_token_key,
            body_limit: args.body_limit,
            workers: args.workers,
            task_sink,
            sink_retry,
            notify: NotifySettings {
                smtp_url: args.smtp_url,
                from: args.notify_from,
                chat_webhook_url: args.chat_webhook_url,
                window: chrono::Duration::seconds(
                    i64::try_from(args.notify_window).unwrap_or(i64::MAX),
                ),
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
    fn task_queues_parse_by_their_scheme() {
        assert_eq!("local".parse::<TaskQueue>().unwrap(), TaskQueue::Local);
        assert_eq!(
            "https://r.example/in".parse::<TaskQueue>().unwrap(),
            TaskQueue::Http("https://r.example/in".into())
        );
        assert_eq!(
            "taskcluster+https://tc.example"
                .parse::<TaskQueue>()
                .unwrap(),
            TaskQueue::Taskcluster("https://tc.example".into())
        );
        for bad in ["", "amqp://x", "taskcluster+ftp://x", "taskcluster+"] {
            assert!(bad.parse::<TaskQueue>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_token_keys_are_refused() {
        assert!(toml::from_str::<ConfigFile>("listne = 1").is_err());
        assert!(parse_key("abc").is_err());
        assert!(parse_key(&"zz".repeat(32)).is_err());
    }
}
