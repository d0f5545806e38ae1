//! Why the settings are unusable: the one error type of configuration loading.

use std::path::PathBuf;

use crate::crypto::KEY_LEN;
use crate::webhook::SecretError;

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
    /// The command line is invalid (or asked for help).
    #[error(transparent)]
    Command(#[from] clap::Error),
    /// The config file has a key that names no setting.
    #[error("config file {path}: unknown key `{key}`")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A setting in the config file has a value its parser refuses.
    #[error("config file {path}: bad value for `{key}`: {message}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The trigger token key is not 64 hex digits.
    #[error("triggerTokenKey must be {} hex digits", KEY_LEN * 2)]
    BadTokenKey,
    /// The root access token is empty.
    #[error("the root access token must not be empty")]
    EmptyRootToken,
    /// `--task-queue` names no known queue.
    #[error(
        "unknown task queue {0:?}: use `local`, `amqp` (with --amqp-url), an amqp:// URL, \
         an http(s):// URL or taskcluster+http(s)://<rootUrl>"
    )]
    TaskQueue(String),
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
    /// A listener limit is zero.
    #[error("--amqp-max-attempts and --amqp-prefetch must be at least 1")]
    AmqpLimits,
}
