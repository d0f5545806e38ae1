//! `--task-queue`: which sink rendered tasks go to, with what that sink needs.
//!
//! Start-up turns a [`TaskQueue`] into a sink; each sink's own settings (such as
//! [`AmqpTaskQueue`]) live with that sink.

use super::error::ConfigError;
use super::serve::ServeArgs;
use crate::fire::sink::AmqpTaskQueue;
use crate::webhook::WebhookSecret;

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

fn is_http_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn http_and_taskcluster_queues_need_their_credentials() {
        let queue = |line: &[&str]| {
            TaskQueue::from_args(&ServeArgs::from_flags(line.iter().copied()).unwrap())
        };
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
}
