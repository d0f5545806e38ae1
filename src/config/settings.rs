//! [`Settings`]: the validated result of the command line, environment and config file that
//! start-up consumes, and the conversion of [`ServeArgs`] into each part's own settings struct.
//!
//! Settings hold no defaults of their own: [`Settings::new`] and [`Settings::from_flags`] parse
//! a command line (see [`ServeArgs::from_flags`]), so every value a test starts from is the one
//! the shipped binary would use.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::file::FileLists;
use super::serve::{AmqpArgs, ServeArgs, ServiceRole};
use super::task_queue::TaskQueue;
use crate::api::rate_limit::RateLimitSettings;
use crate::chat::matrix::MatrixSettings;
use crate::chat::ChatSettings;
use crate::clients::ClientConfig;
use crate::crypto::KEY_LEN;
use crate::domain::Role;
use crate::fire::render::pool::RenderLimits;
use crate::fire::sink::RetryPolicy;
use crate::listener::AmqpSettings;
use crate::notify::NotifySettings;
use crate::scheduler::CatchUp;
use crate::store::MongoOptions;
use crate::ui::UiSettings;

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
    /// How long a request's head, and then its body, may take to arrive.
    pub request_timeout: Duration,
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
    /// Chat platforms and the config file's chat aliases.
    pub chat: ChatSettings,
    /// Bytes of payload, and of template, each fire's record keeps.
    pub fire_context_limit: usize,
    /// The web UI; `None` when turned off.
    pub ui: Option<UiSettings>,
    /// Fires each bulk replay job replays per second, at most.
    pub replay_rate: std::num::NonZeroU32,
}

impl Settings {
    /// The settings of `hookd serve --data-dir <data_dir>`: the built-in defaults for
    /// everything else, whatever the environment says. The base for tests and embedders.
    ///
    /// # Panics
    /// Only if the built-in defaults do not validate, a defect of the build.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let flags = [
            OsString::from("--data-dir"),
            data_dir.into().into_os_string(),
        ];
        // Defaults that do not validate are a defect of this build, caught by the unit test
        // `the_built_in_defaults_are_valid` below.
        Self::from_flags(flags).expect("the built-in defaults are valid")
    }

    /// The settings of `hookd serve` with `flags` (no program name) and the built-in defaults
    /// for the rest; the environment and config files play no part.
    ///
    /// # Errors
    /// [`ConfigError`] for a flag that does not parse or a combination that does not validate.
    pub fn from_flags<I, T>(flags: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Self::load(ServeArgs::from_flags(flags)?, FileLists::default())
    }

    /// Whether this process runs `role`.
    pub fn runs(&self, role: ServiceRole) -> bool {
        self.service_roles.contains(&role)
    }

    /// Validates `args` (flags, environment and the config file's settings, already layered)
    /// together with the config file's clients and roles.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad setting.
    pub fn load(args: ServeArgs, lists: FileLists) -> Result<Self, ConfigError> {
        if args.root_access_token.as_deref() == Some("") {
            return Err(ConfigError::EmptyRootToken);
        }
        let trigger_token_key = args
            .trigger_token_key
            .as_deref()
            .map(|key| crate::crypto::parse_key(key).map_err(|_| ConfigError::BadTokenKey))
            .transpose()?;
        Ok(Self {
            task_queue: TaskQueue::from_args(&args)?,
            amqp: amqp_settings(&args.amqp)?,
            sink_retry: RetryPolicy::new(
                args.sink_attempts,
                Duration::from_secs(args.sink_timeout.max(1)),
            ),
            notify: NotifySettings {
                smtp_url: args.smtp_url,
                from: args.notify_from,
                chat_webhook_url: args.chat_webhook_url,
                window: chrono::Duration::seconds(
                    i64::try_from(args.notify_window).unwrap_or(i64::MAX),
                ),
            },
            mongodb: args.mongodb.options(),
            listen: args.listen,
            data_dir: args.data_dir,
            root_access_token: args.root_access_token,
            chat: ChatSettings {
                slack_signing_secret: args.slack_signing_secret,
                mattermost_command_token: args.mattermost_command_token,
                matrix: args.matrix_homeserver.zip(args.matrix_access_token).map(
                    |(homeserver, access_token)| MatrixSettings {
                        homeserver,
                        access_token,
                        rooms: args.matrix_rooms,
                        prefix: args.matrix_prefix,
                    },
                ),
                aliases: lists.chat_aliases,
            },
            clients: lists.clients,
            roles: lists.roles,
            trigger_token_key,
            body_limit: args.body_limit,
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            workers: args.workers,
            migrate: args.migrate,
            service_roles: args.service_roles,
            catch_up: CatchUp {
                policy: args.missed_fires,
                window: args.catch_up_window,
            },
            render_limits: args.render.limits(),
            rate_limits: RateLimitSettings::per_minute(
                args.client_rate_limit,
                args.hook_rate_limit,
            ),
            webhook_secret_grace: chrono::Duration::seconds(args.webhook_secret_grace_secs.into()),
            shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
            fire_context_limit: args.fire_context_limit,
            ui: args.ui.then(|| UiSettings {
                session_lifetime: Duration::from_secs(args.ui_session_minutes.max(1) * 60),
            }),
            replay_rate: args.replay_rate,
        })
    }
}

/// The listener's settings, when `--amqp-url` turns it on.
fn amqp_settings(args: &AmqpArgs) -> Result<Option<AmqpSettings>, ConfigError> {
    let Some(url) = &args.amqp_url else {
        return Ok(None);
    };
    if args.amqp_max_attempts == 0 || args.amqp_prefetch == 0 {
        return Err(ConfigError::AmqpLimits);
    }
    Ok(Some(AmqpSettings {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_defaults_are_valid() {
        let settings = Settings::new("/tmp/hookd-test");
        assert_eq!(settings.data_dir, PathBuf::from("/tmp/hookd-test"));
        assert_eq!(settings.task_queue, TaskQueue::Local);
        assert!(settings.amqp.is_none());
    }

    #[test]
    fn the_ui_is_on_by_default_and_off_with_ui_false() {
        let on = Settings::new("/tmp/hookd-test").ui.expect("on by default");
        let off = Settings::from_flags(["--ui", "false"]).unwrap();
        let short = Settings::from_flags(["--ui-session-minutes", "5"]).unwrap();

        assert_eq!(on.session_lifetime, Duration::from_secs(8 * 60 * 60));
        assert!(off.ui.is_none());
        assert_eq!(short.ui.unwrap().session_lifetime, Duration::from_secs(300));
    }

    #[test]
    fn the_listener_is_on_with_a_url_and_refuses_zero_limits() {
        let amqp = Settings::from_flags(["--amqp-url", "amqp://b/%2f"])
            .unwrap()
            .amqp
            .expect("a URL turns the listener on");
        assert_eq!(amqp.url, "amqp://b/%2f");
        let zero = ["--amqp-url", "amqp://b/%2f", "--amqp-prefetch", "0"];
        assert!(matches!(
            Settings::from_flags(zero),
            Err(ConfigError::AmqpLimits)
        ));
    }

    #[test]
    fn bad_token_keys_and_empty_root_tokens_are_refused() {
        assert!(matches!(
            Settings::from_flags(["--trigger-token-key", "abc"]),
            Err(ConfigError::BadTokenKey)
        ));
        let zz = "zz".repeat(32);
        assert!(Settings::from_flags(["--trigger-token-key", zz.as_str()]).is_err());
        assert!(matches!(
            Settings::from_flags(["--root-access-token", ""]),
            Err(ConfigError::EmptyRootToken)
        ));
    }
}
