//! Delivery with retries, shared by the sinks that talk HTTP.
//!
//! One attempt either settles the outcome (accepted, or refused for good) or is transient (a
//! 5xx, a 429, a network error, a timeout). Transient attempts are retried after a capped
//! exponential backoff, or the peer's `Retry-After` when it names one, up to a bounded number of
//! attempts; then the task is reported unavailable. The caller builds each attempt from the same
//! bytes, so a retry submits the identical task.

use std::future::Future;
use std::time::Duration;

use super::SinkError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; each later wait doubles.
    pub first_delay: Duration,
    /// The longest wait between attempts, also for a peer's `Retry-After`.
    pub max_delay: Duration,
    /// How long one attempt may take.
    pub attempt_timeout: Duration,
}

impl RetryPolicy {
    /// `attempts` attempts (at least 1) of at most `attempt_timeout` each, the first wait
    /// 200 ms, doubling up to 10 s. The counts are settings (their defaults are the command
    /// line's); the shape of the backoff is not.
    pub fn new(attempts: u32, attempt_timeout: Duration) -> Self {
        Self {
            attempts: attempts.max(1),
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            attempt_timeout,
        }
    }

    /// The wait after failed attempt number `attempt` (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Why an attempt did not settle the outcome.
#[derive(Debug, thiserror::Error)]
pub enum TransientError {
    /// The request did not get an answer (connection refused, reset, timed out).
    #[error("the request failed")]
    Network(#[source] reqwest::Error),
    /// The peer answered with a status that is worth retrying.
    #[error("the peer answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
}

/// The result of one attempt.
pub enum Attempt {
    /// Accepted.
    Accepted,
    /// Refused for good.
    Refused(SinkError),
    /// Worth another try, after `retry_after` if the peer asked for a delay.
    Transient {
        /// What went wrong.
        error: TransientError,
        /// The peer's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
}

/// Runs `attempt` until it settles or the policy's attempts are used up.
///
/// # Errors
/// The refusal of a settling attempt, or [`SinkError::Unavailable`] with the last transient
/// error once every attempt failed.
pub async fn deliver<F, Fut>(policy: &RetryPolicy, mut attempt: F) -> Result<(), SinkError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut number = 1;
    loop {
        match attempt().await {
            Attempt::Accepted => return Ok(()),
            Attempt::Refused(error) => return Err(error),
            Attempt::Transient { error, retry_after } => {
                if number >= policy.attempts.max(1) {
                    return Err(SinkError::Unavailable(Box::new(error)));
                }
                let wait =
                    retry_after.map_or_else(|| policy.backoff(number), |d| d.min(policy.max_delay));
                tracing::warn!(attempt = number, ?wait, error = %error, "task submission will be retried");
                tokio::time::sleep(wait).await;
                number += 1;
            }
        }
    }
}

/// Sorts one HTTP exchange: a 2xx accepts, a 5xx, a 429 or no answer at all is transient, and
/// any other answer is refused as `refuse` reads it from the status and body.
pub async fn classify(
    sent: Result<reqwest::Response, reqwest::Error>,
    refuse: impl FnOnce(reqwest::StatusCode, &str) -> SinkError,
) -> Attempt {
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            return Attempt::Transient {
                error: TransientError::Network(e),
                retry_after: None,
            }
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Accepted;
    }
    let retry_after = retry_after(&response);
    let text = response.text().await.unwrap_or_default();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Attempt::Transient {
            error: TransientError::Status {
                status: status.as_u16(),
                body: excerpt(&text),
            },
            retry_after,
        };
    }
    Attempt::Refused(refuse(status, &text))
}

/// Reads a `Retry-After` header given in seconds.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The start of a body, for messages: enough to read, never unbounded.
pub fn excerpt(body: &str) -> String {
    const LIMIT: usize = 1000;
    match body.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            attempt_timeout: Duration::from_secs(1),
        };
        let waits: Vec<u128> = (1..=5).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_the_attempts_run_out() {
        let policy = RetryPolicy::new(3, Duration::from_secs(10));
        let mut calls = 0;
        let result = deliver(&policy, || {
            calls += 1;
            async {
                Attempt::Transient {
                    error: TransientError::Status {
                        status: 503,
                        body: String::new(),
                    },
                    retry_after: None,
                }
            }
        })
        .await;
        assert_eq!(calls, 3);
        assert!(matches!(result, Err(SinkError::Unavailable(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_stops_at_once_and_an_acceptance_succeeds() {
        let policy = RetryPolicy::new(5, Duration::from_secs(10));
        let mut calls = 0;
        let refused = deliver(&policy, || {
            calls += 1;
            async {
                Attempt::Refused(SinkError::Rejected {
                    code: "x".into(),
                    message: "no".into(),
                })
            }
        })
        .await;
        assert_eq!(calls, 1);
        assert!(matches!(refused, Err(SinkError::Rejected { .. })));
        assert!(deliver(&policy, || async { Attempt::Accepted })
            .await
            .is_ok());
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"é".repeat(2000)).chars().count(), 1001);
    }
}
