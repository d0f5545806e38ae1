//! The options of `hookd serve` as clap declares them: every setting's flag, environment
//! variable, help text and built-in default, in one place.
//!
//! These attributes are the only defaults of hookd's settings. Code that wants "the defaults"
//! (tests, benchmarks, embedders) parses a command line with [`ServeArgs::from_flags`] instead of
//! writing a value again, so the shipped binary and its tests cannot drift apart. What this
//! module leaves to others: layering the config file in ([`super::layers`]) and validating the
//! combination ([`super::Settings::load`]).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, FromArgMatches};

use crate::domain::MissedFires;
use crate::fire::render::pool::{this_executable, RenderLimits};
use crate::store::MongoOptions;
use crate::telemetry::LogFormat;

/// The data dir when none is set; `hookd client` shares it with `hookd serve`.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Options of `hookd serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port the API listens on.
    #[arg(long, env = "HOOKD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the embedded store, the root client and the token key.
    #[arg(long, env = "HOOKD_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
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
    /// How long one request may take to arrive, in milliseconds: its head, and then its body
    /// (each bounded on its own). A slower request is answered 408 and its connection closed.
    // Well under a minute: a client that stops sending must not hold a connection for long.
    #[arg(long, env = "HOOKD_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
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
    /// Slack app signing secret; turns on the Slack slash-command endpoint.
    #[arg(long, env = "HOOKD_SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<String>,
    /// Mattermost slash-command token; turns on the Mattermost slash-command endpoint.
    #[arg(long, env = "HOOKD_MATTERMOST_COMMAND_TOKEN", hide_env_values = true)]
    pub mattermost_command_token: Option<String>,
    /// Matrix homeserver of the chat bot, e.g. `https://matrix.example.org`; with
    /// `--matrix-access-token`, turns the bot on.
    #[arg(long, env = "HOOKD_MATRIX_HOMESERVER")]
    pub matrix_homeserver: Option<String>,
    /// Access token of the Matrix bot user.
    #[arg(long, env = "HOOKD_MATRIX_ACCESS_TOKEN", hide_env_values = true)]
    pub matrix_access_token: Option<String>,
    /// Rooms the Matrix bot joins and listens to, comma-separated; no others.
    #[arg(long, env = "HOOKD_MATRIX_ROOMS", value_delimiter = ',')]
    pub matrix_rooms: Vec<String>,
    /// What starts a command in a Matrix room.
    #[arg(long, env = "HOOKD_MATRIX_PREFIX", default_value = "!hookd")]
    pub matrix_prefix: String,
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
    /// Bounds on rendering task templates.
    #[command(flatten)]
    pub render: RenderArgs,
    /// Authenticated requests per client per minute; 0 for no limit.
    #[arg(long, env = "HOOKD_CLIENT_RATE_LIMIT", default_value_t = 6000)]
    pub client_rate_limit: u32,
    /// HTTP fires (trigger, trigger with token) per hook per minute; 0 for no limit.
    #[arg(long, env = "HOOKD_HOOK_RATE_LIMIT", default_value_t = 600)]
    pub hook_rate_limit: u32,
    /// Bytes of payload JSON, and of template JSON, each fire's record keeps for reading back
    /// and replaying; a larger payload is kept truncated, a larger template not at all.
    #[arg(long, env = "HOOKD_FIRE_CONTEXT_LIMIT", default_value_t = 64 * 1024)]
    pub fire_context_limit: usize,
    /// Fires each bulk replay job replays per second, at most (extension).
    #[arg(long, env = "HOOKD_REPLAY_RATE", default_value = "10")]
    pub replay_rate: std::num::NonZeroU32,
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
    /// Serve the web UI at `/ui` (and redirect `/` there); `--ui false` turns it off.
    #[arg(long, env = "HOOKD_UI", default_value_t = true, action = clap::ArgAction::Set)]
    pub ui: bool,
    /// Minutes a UI sign-in lasts.
    #[arg(long, env = "HOOKD_UI_SESSION_MINUTES", default_value_t = 480)]
    pub ui_session_minutes: u64,
}

impl ServeArgs {
    /// `hookd serve` with `flags` (no program name) and every other option at its built-in
    /// default. Unlike the real command line, it ignores `HOOKD_*` environment variables and
    /// reads no config file, so a test gets the same settings on every machine.
    ///
    /// # Errors
    /// The [`clap::Error`] of a flag that does not parse.
    pub fn from_flags<I, T>(flags: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        parse_flags(flags)
    }
}

/// `A` from `flags` (no program name), without environment variables.
fn parse_flags<A, I, T>(flags: I) -> Result<A, clap::Error>
where
    A: Args + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = A::augment_args(clap::Command::new("hookd").no_binary_name(true))
        .mut_args(|arg| arg.env(None));
    A::from_arg_matches(&command.try_get_matches_from(flags)?)
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
    /// How long a MongoDB operation waits for a reachable server, in milliseconds, before it
    /// fails as unavailable; the URI's `serverSelectionTimeoutMS` and `connectTimeoutMS` win.
    // Short: while the database is away, a caller should hear 503 quickly, not wait it out.
    #[arg(
        long,
        env = "HOOKD_MONGODB_TIMEOUT_MS",
        default_value_t = 1000,
        global = true
    )]
    pub mongodb_timeout_ms: u64,
}

impl MongoArgs {
    /// The store options of `--mongodb-uri <uri>` with the built-in defaults for the rest,
    /// whatever the environment says.
    ///
    /// # Errors
    /// The [`clap::Error`] of a URI clap refuses (one that is not valid UTF-8, say).
    pub fn options_for(uri: &str) -> Result<MongoOptions, clap::Error> {
        let args: Self = parse_flags(["--mongodb-uri", uri])?;
        Ok(args
            .options()
            .expect("--mongodb-uri was given, so the options exist"))
    }

    /// The store options, when a URI is set.
    pub fn options(&self) -> Option<MongoOptions> {
        let uri = self.mongodb_uri.clone()?;
        Some(MongoOptions {
            uri,
            fire_retention: chrono::Duration::days(i64::from(self.mongodb_fire_retention_days)),
            fires_per_hook: self.mongodb_fires_per_hook,
            // A zero timeout would fail every operation, reachable server or not.
            timeout: std::time::Duration::from_millis(self.mongodb_timeout_ms.max(1)),
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
    fn catch_up_windows_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_window("24h"), Ok(chrono::Duration::hours(24)));
        assert_eq!(parse_window("90m"), Ok(chrono::Duration::minutes(90)));
        assert_eq!(parse_window("2d"), Ok(chrono::Duration::days(2)));
        assert_eq!(parse_window("3600s"), Ok(chrono::Duration::hours(1)));
        for bad in ["", "h", "24", "1w", "-1h", "1.5h", "99999999999999999d"] {
            assert!(parse_window(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn flags_override_the_built_in_defaults_and_are_checked() {
        let args = ServeArgs::from_flags(["--listen", "127.0.0.1:0"]).unwrap();
        assert_eq!(args.listen, SocketAddr::from(([127, 0, 0, 1], 0)));
        assert_eq!(args.body_limit, 1024 * 1024);
        assert!(ServeArgs::from_flags(["--body-limit", "x"]).is_err());
    }
}

/// Bounds on rendering task templates, shared by `hookd serve` and `hookd render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// How long rendering one task template may take, in milliseconds.
    #[arg(long, env = "HOOKD_RENDER_TIMEOUT_MS", default_value_t = 2000)]
    pub render_timeout_ms: u64,
    /// Largest rendered task, in bytes of JSON.
    // Taskcluster's queue refuses larger task definitions anyway.
    #[arg(long, env = "HOOKD_MAX_TASK_BYTES", default_value_t = 1024 * 1024)]
    pub max_task_bytes: usize,
    /// Memory one render worker process may use, in MiB; a render that needs more fails.
    // Ample for any task under the size bound.
    #[arg(long, env = "HOOKD_RENDER_MEMORY_MB", default_value_t = 256)]
    pub render_memory_mb: u64,
    /// How many render worker processes render task templates at once.
    // Enough that one slow template does not stall the fires of other hooks.
    #[arg(long, env = "HOOKD_RENDER_WORKERS", default_value_t = 4)]
    pub render_workers: usize,
}

impl RenderArgs {
    /// The render pool's limits, with this executable as the render worker.
    pub fn limits(&self) -> RenderLimits {
        RenderLimits {
            deadline: Duration::from_millis(self.render_timeout_ms),
            max_task_bytes: self.max_task_bytes,
            memory_limit: self.render_memory_mb.saturating_mul(1024 * 1024),
            workers: self.render_workers.max(1),
            worker_program: this_executable(),
        }
    }
}
