//! Settings: every option of `hookd serve`, from a TOML file, `HOOKD_*` environment variables
//! and flags (layered by [`crate::config::layers`]), plus the file-only lists of clients and roles.
//!
//! Flags win over environment variables, which win over the file. [`Settings`] is the validated
//! result that start-up consumes.

mod error;
pub mod layers;

pub use error::ConfigError;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::api::rate_limit::{RateLimitSettings, DEFAULT_PER_CLIENT, DEFAULT_PER_HOOK};
use crate::clients::ClientConfig;
use crate::crypto::KEY_LEN;
use crate::domain::{MissedFires, Role};
use crate::fire::render::pool::{RenderLimits, DEFAULT_MEMORY_MIB, DEFAULT_WORKERS};
use crate::fire::sink::RetryPolicy;
use crate::scheduler::CatchUp;
use crate::store::MongoOptions;
use crate::telemetry::LogFormat;
use crate::webhook::WebhookSecret;

/// Options of `hookd serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port the API listens on.
    #[arg(long, env = "HOOKD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the embedded store, the root client and the token key.
    #[arg(long, env = "HOOKD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// TOML file with any of these settings (camelCase keys) plus `[[clients]]` and
    /// `[[roles]]`; environment variables and flags override it.
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
    /// Where rendered tasks go: `local` (the outbox in the store, readable at
    /// `/tasks/{taskId}`), `amqp` (the broker of `--amqp-url`) or an `amqp://` URL.
    #[arg(long, env = "HOOKD_TASK_QUEUE", default_value = "local")]
    pub task_queue: String,
    /// Exchange the AMQP task queue publishes tasks to.
    #[arg(
        long,
        env = "HOOKD_TASK_EXCHANGE",
        default_value = "exchange/hookd/v1/tasks"
    )]
    pub task_exchange: String,
    /// Routing key of tasks without a `taskQueueId` (or `provisionerId`/`workerType`).
    #[arg(long, env = "HOOKD_TASK_ROUTING_KEY", default_value = "default")]
    pub task_routing_key: String,
    /// Client id hookd uses with a Taskcluster queue.
    #[arg(long, env = "HOOKD_TASKCLUSTER_CLIENT_ID")]
    pub taskcluster_client_id: Option<String>,
    /// Access token hookd uses with a Taskcluster queue.
    #[arg(long, env = "HOOKD_TASKCLUSTER_ACCESS_TOKEN", hide_env_values = true)]
    pub taskcluster_access_token: Option<String>,
    /// Standard Webhooks secret (`whsec_<base64>`) that signs tasks sent to an HTTP receiver.
    #[arg(long, env = "HOOKD_SINK_SECRET", hide_env_values = true)]
    pub sink_secret: Option<String>,
    /// Attempts to submit one task over HTTP before its fire fails as unavailable.
    #[arg(long, env = "HOOKD_SINK_ATTEMPTS", default_value_t = 5)]
    pub sink_attempts: u32,
    /// Seconds one HTTP submission attempt may take.
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
    /// The AMQP listener.
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// Where hooks are stored when not in the embedded store.
    #[command(flatten)]
    pub mongodb: MongoArgs,
    /// Apply pending MongoDB migrations before serving.
    #[arg(long, env = "HOOKD_MIGRATE")]
    pub migrate: bool,
    /// The parts this process runs, comma-separated. Without `api` only the health endpoints
    /// answer.
    // Named `serviceRoles` in the file, where `[[roles]]` are scope roles.
    #[arg(
        long = "roles",
        env = "HOOKD_ROLES",
        value_enum,
        value_delimiter = ',',
        default_value = "api,scheduler,listener"
    )]
    pub service_roles: Vec<ServiceRole>,
    /// What the scheduler does about slots missed while no scheduler ran: skip, once or all.
    #[arg(long, env = "HOOKD_MISSED_FIRES", default_value_t = MissedFires::Once)]
    pub missed_fires: MissedFires,
    /// Under `--missed-fires all`, how far back missed slots are still fired, e.g. `24h`,
    /// `90m`, `2d`, `3600s`.
    #[arg(long, env = "HOOKD_CATCH_UP_WINDOW", default_value = "24h", value_parser = parse_window)]
    pub catch_up_window: chrono::Duration,
    /// How long rendering one task template may take, in milliseconds.
    #[arg(long, env = "HOOKD_RENDER_TIMEOUT_MS", default_value_t = 2000)]
    pub render_timeout_ms: u64,
    /// Largest rendered task, in bytes of JSON.
    #[arg(long, env = "HOOKD_MAX_TASK_BYTES", default_value_t = 1024 * 1024)]
    pub max_task_bytes: usize,
    /// Memory one render worker process may use, in MiB; a render that needs more fails.
    #[arg(long, env = "HOOKD_RENDER_MEMORY_MB", default_value_t = DEFAULT_MEMORY_MIB)]
    pub render_memory_mb: u64,
    /// How many render worker processes render task templates at once.
    #[arg(long, env = "HOOKD_RENDER_WORKERS", default_value_t = DEFAULT_WORKERS)]
    pub render_workers: usize,
    /// Authenticated requests per client per minute; 0 for no limit.
    #[arg(long, env = "HOOKD_CLIENT_RATE_LIMIT", default_value_t = DEFAULT_PER_CLIENT)]
    pub client_rate_limit: u32,
    /// HTTP fires (trigger, trigger with token) per hook per minute; 0 for no limit.
    #[arg(long, env = "HOOKD_HOOK_RATE_LIMIT", default_value_t = DEFAULT_PER_HOOK)]
    pub hook_rate_limit: u32,
    /// How long a rotated-out webhook secret keeps working, in seconds.
    #[arg(long, env = "HOOKD_WEBHOOK_SECRET_GRACE_SECS", default_value_t = 24 * 60 * 60)]
    pub webhook_secret_grace_secs: u32,
    /// Log lines: `human` (readable) or `json` (one object per line).
    #[arg(long, env = "HOOKD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Key (64 hex digits) sealing trigger tokens at rest; overrides the key file in the data dir.
    #[arg(long, env = "HOOKD_TRIGGER_TOKEN_KEY", hide_env_values = true)]
    pub trigger_token_key: Option<String>,
    /// On SIGTERM, how many seconds work in flight may take to finish before hookd exits anyway.
    #[arg(long, env = "HOOKD_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
}

/// Options of the AMQP listener; it runs only when `--amqp-url` is set.
#[derive(Debug, Clone, clap::Args)]
pub struct AmqpArgs {
    /// Broker URL, e.g. `amqp://user:password@host:5672/%2f`; turns the listener on.
    #[arg(long, env = "HOOKD_AMQP_URL", hide_env_values = true)]
    pub amqp_url: Option<String>,
    /// Prefix of hookd's queues: `<prefix>/<hookGroupId>/<hookId>` and `<prefix>/dead-letter`.
    #[arg(long, env = "HOOKD_AMQP_QUEUE_PREFIX", default_value = "hookd")]
    pub amqp_queue_prefix: String,
    /// Prefix of the hook-change exchanges (`<prefix>hook-created`, ...).
    #[arg(
        long,
        env = "HOOKD_AMQP_EXCHANGE_PREFIX",
        default_value = "exchange/hookd/v1/"
    )]
    pub amqp_exchange_prefix: String,
    /// Unacknowledged messages each hook's consumer may hold (its concurrency).
    #[arg(long, env = "HOOKD_AMQP_PREFETCH", default_value_t = 16)]
    pub amqp_prefetch: u16,
    /// Longest a hook's queue may grow; past it the broker dead-letters the oldest message.
    #[arg(long, env = "HOOKD_AMQP_MAX_LENGTH")]
    pub amqp_max_length: Option<u32>,
    /// Deliveries of a message whose task the sink could not take before it is dead-lettered.
    #[arg(long, env = "HOOKD_AMQP_MAX_ATTEMPTS", default_value_t = 5)]
    pub amqp_max_attempts: u32,
    /// Wait before the first retry of a message, in milliseconds; doubles per attempt.
    #[arg(long, env = "HOOKD_AMQP_RETRY_BACKOFF_MS", default_value_t = 1000)]
    pub amqp_retry_backoff_ms: u64,
    /// Seconds between full reconciliations of queues and bindings with the stored hooks.
    #[arg(long, env = "HOOKD_AMQP_RECONCILE_SECS", default_value_t = 60)]
    pub amqp_reconcile_secs: u64,
    /// Longest wait between reconnection attempts, in milliseconds.
    #[arg(long, env = "HOOKD_AMQP_RECONNECT_MAX_MS", default_value_t = 30_000)]
    pub amqp_reconnect_max_ms: u64,
}

/// Where rendered tasks go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskQueue {
    /// The outbox in hookd's own store.
    Local,
    /// Persistent messages on a RabbitMQ exchange, with publisher confirms.
    Amqp(AmqpTaskQueue),
    /// A signed POST per task.
    Http {
        /// The receiver.
        url: String,
        /// The signing secret.
        secret: WebhookSecret,
    },
    /// `createTask` on a Taskcluster deployment.
    Taskcluster {
        /// The deployment's root URL.
        root_url: String,
        /// hookd's client id there.
        client_id: String,
        /// hookd's access token there.
        access_token: String,
    },
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

fn is_http_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// The AMQP task queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpTaskQueue {
    /// Broker URL.
    pub url: String,
    /// Exchange tasks are published to.
    pub exchange: String,
    /// Routing key of tasks that name no queue.
    pub default_routing_key: String,
}

impl TaskQueue {
    /// Reads `--task-queue` with what each kind of queue needs: `local`, `amqp` or an
    /// `amqp://` URL, `http(s)://<receiver>` (needs `--sink-secret`), or
    /// `taskcluster+http(s)://<rootUrl>` (needs Taskcluster credentials).
    ///
    /// # Errors
    /// [`ConfigError`] naming what is unknown or missing.
    pub fn from_args(args: &ServeArgs) -> Result<Self, ConfigError> {
        let raw = args.task_queue.as_str();
        if let Some(root_url) = raw.strip_prefix("taskcluster+") {
            if !is_http_url(root_url) {
                return Err(ConfigError::TaskQueue(raw.to_owned()));
            }
            let (Some(client_id), Some(access_token)) =
                (&args.taskcluster_client_id, &args.taskcluster_access_token)
            else {
                return Err(ConfigError::MissingTaskclusterCredentials);
            };
            return Ok(Self::Taskcluster {
                root_url: root_url.to_owned(),
                client_id: client_id.clone(),
                access_token: access_token.clone(),
            });
        }
        if is_http_url(raw) {
            let secret = args
                .sink_secret
                .as_deref()
                .ok_or(ConfigError::MissingSinkSecret)?;
            return Ok(Self::Http {
                url: raw.to_owned(),
                secret: WebhookSecret::parse(secret).map_err(ConfigError::BadSinkSecret)?,
            });
        }
        Self::parse(
            raw,
            args.amqp.amqp_url.as_deref(),
            &args.task_exchange,
            &args.task_routing_key,
        )
    }

    /// Reads `--task-queue`: `local`, `amqp` (the listener's broker) or an `amqp://` URL.
    ///
    /// # Errors
    /// [`ConfigError::TaskQueue`] for anything else, or `amqp` without `--amqp-url`.
    pub fn parse(
        raw: &str,
        amqp_url: Option<&str>,
        exchange: &str,
        default_routing_key: &str,
    ) -> Result<Self, ConfigError> {
        let amqp = |url: &str| {
            Self::Amqp(AmqpTaskQueue {
                url: url.to_owned(),
                exchange: exchange.to_owned(),
                default_routing_key: default_routing_key.to_owned(),
            })
        };
        match (raw, amqp_url) {
            ("local", _) => Ok(Self::Local),
            ("amqp", Some(url)) => Ok(amqp(url)),
            // amqps:// is refused: hookd is built without TLS.
            (url, _) if url.starts_with("amqp://") => Ok(amqp(url)),
            _ => Err(ConfigError::TaskQueue(raw.to_owned())),
        }
    }
}

/// Validated settings of the AMQP listener.
#[derive(Debug, Clone)]
pub struct AmqpSettings {
    /// Broker URL.
    pub url: String,
    /// Prefix of hookd's queue names.
    pub queue_prefix: String,
    /// Prefix of the hook-change exchange names.
    pub exchange_prefix: String,
    /// Prefetch per hook consumer.
    pub prefetch: u16,
    /// Longest queue length, if limited.
    pub max_length: Option<u32>,
    /// Deliveries before a message is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles per attempt.
    pub retry_backoff: Duration,
    /// Time between full reconciliations.
    pub reconcile_interval: Duration,
    /// Cap of the reconnection backoff.
    pub reconnect_max: Duration,
}

impl AmqpSettings {
    /// Listener settings with the defaults of the command line, for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            queue_prefix: "hookd".into(),
            exchange_prefix: "exchange/hookd/v1/".into(),
            prefetch: 16,
            max_length: None,
            max_attempts: 5,
            retry_backoff: Duration::from_secs(1),
            reconcile_interval: Duration::from_secs(60),
            reconnect_max: Duration::from_secs(30),
        }
    }

    fn load(args: &AmqpArgs) -> Result<Option<Self>, ConfigError> {
        let Some(url) = &args.amqp_url else {
            return Ok(None);
        };
        if args.amqp_max_attempts == 0 || args.amqp_prefetch == 0 {
            return Err(ConfigError::AmqpLimits);
        }
        Ok(Some(Self {
            url: url.clone(),
            queue_prefix: args.amqp_queue_prefix.clone(),
            exchange_prefix: args.amqp_exchange_prefix.clone(),
            prefetch: args.amqp_prefetch,
            max_length: args.amqp_max_length,
            max_attempts: args.amqp_max_attempts,
            retry_backoff: Duration::from_millis(args.amqp_retry_backoff_ms),
            reconcile_interval: Duration::from_secs(args.amqp_reconcile_secs.max(1)),
            reconnect_max: Duration::from_millis(args.amqp_reconnect_max_ms.max(1)),
        }))
    }
}

/// MongoDB options, shared by `hookd serve` and `hookd migrate`. Global, so that
/// `hookd migrate status --mongodb-uri ..` reads as written.
#[derive(Debug, Clone, clap::Args)]
pub struct MongoArgs {
    /// Store hooks in this MongoDB database instead of the embedded SQLite store, e.g.
    /// `mongodb://db.example:27017/hookd`.
    #[arg(long, env = "HOOKD_MONGODB_URI", hide_env_values = true, global = true)]
    pub mongodb_uri: Option<String>,
    /// Days a fire stays in the MongoDB fire history.
    #[arg(
        long,
        env = "HOOKD_MONGODB_FIRE_RETENTION_DAYS",
        default_value_t = 365,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub mongodb_fire_retention_days: u32,
    /// Keep only this many of each hook's newest fires in MongoDB.
    #[arg(
        long,
        env = "HOOKD_MONGODB_FIRES_PER_HOOK",
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub mongodb_fires_per_hook: Option<u64>,
}

impl MongoArgs {
    /// The store options, when a URI is set.
    pub fn options(&self) -> Option<MongoOptions> {
        let uri = self.mongodb_uri.clone()?;
        Some(MongoOptions {
            fire_retention: chrono::Duration::days(i64::from(self.mongodb_fire_retention_days)),
            fires_per_hook: self.mongodb_fires_per_hook,
            ..MongoOptions::new(uri)
        })
    }
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

/// The file-only part of the optional TOML configuration file; its other keys are settings
/// (see [`crate::config::layers`]).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// API clients.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// Roles for `assume:` scopes.
    #[serde(default)]
    pub roles: Vec<Role>,
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
    /// Where rendered tasks go.
    pub task_queue: TaskQueue,
    /// The AMQP listener; `None` leaves bindings inactive.
    pub amqp: Option<AmqpSettings>,
    /// How HTTP task queues retry.
    pub sink_retry: RetryPolicy,
    /// Failure notices.
    pub notify: NotifySettings,
    /// The MongoDB store; `None` selects the embedded SQLite store in the data dir.
    pub mongodb: Option<MongoOptions>,
    /// Whether to apply pending MongoDB migrations at start-up.
    pub migrate: bool,
    /// The parts this process runs.
    pub service_roles: Vec<ServiceRole>,
    /// How the scheduler catches up on missed slots.
    pub catch_up: CatchUp,
    /// Deadline, memory and size bounds for rendering task templates, and the worker program.
    pub render_limits: RenderLimits,
    /// Per-client and per-hook rate limits.
    pub rate_limits: RateLimitSettings,
    /// How long a rotated-out webhook secret keeps working.
    pub webhook_secret_grace: chrono::Duration,
    /// How long a stop on SIGTERM waits for work in flight.
    pub shutdown_grace: Duration,
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
            task_queue: TaskQueue::Local,
            amqp: None,
            sink_retry: RetryPolicy::default(),
            notify: NotifySettings::default(),
            mongodb: None,
            migrate: false,
            service_roles: vec![
                ServiceRole::Api,
                ServiceRole::Scheduler,
                ServiceRole::Listener,
            ],
            catch_up: CatchUp::default(),
            render_limits: RenderLimits::default(),
            rate_limits: RateLimitSettings::per_minute(DEFAULT_PER_CLIENT, DEFAULT_PER_HOOK),
            webhook_secret_grace: chrono::Duration::days(1),
            shutdown_grace: Duration::from_secs(30),
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
        let trigger_token_key = args
            .trigger_token_key
            .as_deref()
            .map(|key| crate::crypto::parse_key(key).map_err(|_| ConfigError::BadTokenKey))
            .transpose()?;
        let task_queue = TaskQueue::from_args(&args)?;
        let sink_retry = RetryPolicy {
            attempts: args.sink_attempts.max(1),
            attempt_timeout: Duration::from_secs(args.sink_timeout.max(1)),
            ..RetryPolicy::default()
        };
        let notify = NotifySettings {
            smtp_url: args.smtp_url.clone(),
            from: args.notify_from.clone(),
            chat_webhook_url: args.chat_webhook_url.clone(),
            window: chrono::Duration::seconds(
                i64::try_from(args.notify_window).unwrap_or(i64::MAX),
            ),
        };
        let amqp = AmqpSettings::load(&args.amqp)?;
        Ok(Self {
            listen: args.listen,
            data_dir: args.data_dir,
            root_access_token: args.root_access_token,
            clients: file.clients,
            roles: file.roles,
            trigger_token_key,
            body_limit: args.body_limit,
            workers: args.workers,
            task_queue,
            amqp,
            sink_retry,
            notify,
            mongodb: args.mongodb.options(),
            migrate: args.migrate,
            service_roles: args.service_roles,
            catch_up: CatchUp {
                policy: args.missed_fires,
                window: args.catch_up_window,
            },
            render_limits: RenderLimits {
                deadline: Duration::from_millis(args.render_timeout_ms),
                max_task_bytes: args.max_task_bytes,
                memory_limit: args.render_memory_mb.saturating_mul(1024 * 1024),
                workers: args.render_workers.max(1),
                ..RenderLimits::default()
            },
            rate_limits: RateLimitSettings::per_minute(
                args.client_rate_limit,
                args.hook_rate_limit,
            ),
            webhook_secret_grace: chrono::Duration::seconds(args.webhook_secret_grace_secs.into()),
            shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        })
    }
}

/// The file's clients and roles; its other keys must be settings (their values are taken by
/// [`crate::config::layers`]).
///
/// # Errors
/// [`ConfigError`] when the file cannot be read, is not TOML of the expected shape, or has a key
/// that names no setting.
pub fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    };
    let mut table: toml::Table = text.parse().map_err(parse_error)?;
    let command = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    let setting_keys: Vec<String> = layers::settings(&command)
        .map(|arg| layers::toml_key(arg.get_id().as_str()))
        .collect();
    let file_only = |key: &str| layers::FILE_ONLY_KEYS.contains(&key);
    if let Some(key) = table
        .keys()
        .find(|key| !setting_keys.contains(key) && !file_only(key))
    {
        return Err(ConfigError::UnknownKey {
            path: path.to_owned(),
            key: key.clone(),
        });
    }
    table.retain(|key, _| file_only(key));
    toml::Value::Table(table).try_into().map_err(parse_error)
}

/// Parses a catch-up window: a whole number followed by `s`, `m`, `h` or `d`.
///
/// # Errors
/// A message for the operator when the text is not of that form.
fn parse_window(text: &str) -> Result<chrono::Duration, String> {
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
        .and_then(chrono::Duration::try_seconds)
        .filter(|window| *window >= chrono::Duration::zero())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_carries_clients_and_roles() {
        let file: ConfigFile = toml::from_str(
            r#"
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
    }

    #[test]
    fn task_queues_parse_local_amqp_and_urls_and_refuse_the_rest() {
        let parse = |raw, url| TaskQueue::parse(raw, url, "ex", "rk");
        assert_eq!(parse("local", None).unwrap(), TaskQueue::Local);
        let TaskQueue::Amqp(queue) = parse("amqp", Some("amqp://b/%2f")).unwrap() else {
            panic!("amqp selects the listener's broker");
        };
        assert_eq!(
            (queue.url.as_str(), queue.exchange.as_str()),
            ("amqp://b/%2f", "ex")
        );
        assert!(matches!(parse("amqp://x/", None), Ok(TaskQueue::Amqp(_))));
        for bad in ["amqp", "http://x", "amqps://x/", "", "Local"] {
            assert!(parse(bad, None).is_err(), "{bad:?} should be refused");
        }
    }

    /// `hookd serve` options from a command line.
    fn serve_args(line: &[&str]) -> ServeArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: ServeArgs,
        }
        let argv = std::iter::once("hookd").chain(line.iter().copied());
        <Cli as clap::Parser>::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn http_and_taskcluster_queues_need_their_credentials() {
        let queue = |line: &[&str]| TaskQueue::from_args(&serve_args(line));
        assert!(matches!(
            queue(&[
                "--task-queue",
                "https://r.example/in",
                "--sink-secret",
                "s3cret"
            ]),
            Ok(TaskQueue::Http { .. })
        ));
        assert!(matches!(
            queue(&["--task-queue", "https://r.example/in"]),
            Err(ConfigError::MissingSinkSecret)
        ));
        let tc = [
            "--task-queue",
            "taskcluster+https://tc.example",
            "--taskcluster-client-id",
            "hookd",
            "--taskcluster-access-token",
            "t",
        ];
        let Ok(TaskQueue::Taskcluster { root_url, .. }) = queue(&tc) else {
            panic!("a taskcluster+ URL selects the queue sink");
        };
        assert_eq!(root_url, "https://tc.example");
        assert!(matches!(
            queue(&tc[..2]),
            Err(ConfigError::MissingTaskclusterCredentials)
        ));
        assert!(queue(&["--task-queue", "taskcluster+ftp://x"]).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_token_keys_are_refused() {
        assert!(toml::from_str::<ConfigFile>("listne = 1").is_err());
        assert!(crate::crypto::parse_key("abc").is_err());
        assert!(crate::crypto::parse_key(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn catch_up_windows_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_window("24h"), Ok(chrono::Duration::hours(24)));
        assert_eq!(parse_window("90m"), Ok(chrono::Duration::minutes(90)));
        assert_eq!(parse_window("2d"), Ok(chrono::Duration::days(2)));
        assert_eq!(parse_window("3600s"), Ok(chrono::Duration::hours(1)));
        for bad in ["", "h", "24", "1w", "-1h", "1.5h", "99999999999999999d"] {
            assert!(parse_window(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
