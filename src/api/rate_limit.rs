//! Per-client and per-hook rate limits: a 429 `TooManyRequests` with `Retry-After` beyond them.
//!
//! Each limit is a per-minute budget that may be spent in a burst and refills evenly (GCRA, via
//! `governor`). Clients are counted when they authenticate (anonymous callers are not: they
//! share one name, and what they can do unauthenticated is limited per hook); hooks are counted
//! when they are fired over HTTP, after the hook was found, so made-up hook names cost no state.
//! Time comes from the service's [`Clock`], so tests move it instead of sleeping.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::error::{ApiError, ErrorCode};
use crate::clock::Clock;
use crate::domain::HookKey;

/// The service's clock as governor wants it: time since the epoch, monotonic enough for
/// budgets measured in seconds.
#[derive(Clone)]
struct ServiceClock(Arc<dyn Clock>);

impl GovernorClock for ServiceClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let nanos = self.0.now().timestamp_nanos_opt().unwrap_or_default();
        Duration::from_nanos(u64::try_from(nanos).unwrap_or_default())
    }
}

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, ServiceClock, NoOpMiddleware<Duration>>;

/// Requests per minute per client and fires per minute per hook; `None` means unlimited.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimitSettings {
    /// Authenticated requests per client per minute.
    pub per_client: Option<NonZeroU32>,
    /// HTTP fires per hook per minute.
    pub per_hook: Option<NonZeroU32>,
}

impl RateLimitSettings {
    /// Limits from per-minute counts, where 0 means unlimited.
    pub fn per_minute(per_client: u32, per_hook: u32) -> Self {
        Self {
            per_client: NonZeroU32::new(per_client),
            per_hook: NonZeroU32::new(per_hook),
        }
    }
}

/// The running limits.
pub struct RateLimits {
    per_client: Option<Limiter>,
    per_hook: Option<Limiter>,
    clock: ServiceClock,
}

impl RateLimits {
    /// Limits as `settings` say, on `clock`.
    pub fn new(settings: RateLimitSettings, clock: Arc<dyn Clock>) -> Self {
        let clock = ServiceClock(clock);
        let limiter = |per_minute: NonZeroU32| {
            RateLimiter::new(
                Quota::per_minute(per_minute),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            )
        };
        Self {
            per_client: settings.per_client.map(limiter),
            per_hook: settings.per_hook.map(limiter),
            clock,
        }
    }

    /// Counts one request of `client_id`.
    ///
    /// # Errors
    /// `TooManyRequests` with `Retry-After` when its budget is spent.
    pub fn check_client(&self, client_id: &str) -> Result<(), ApiError> {
        self.check(self.per_client.as_ref(), client_id, "client")
    }

    /// Counts one fire of `hook`.
    ///
    /// # Errors
    /// `TooManyRequests` with `Retry-After` when its budget is spent.
    pub fn check_hook(&self, hook: &HookKey) -> Result<(), ApiError> {
        self.check(self.per_hook.as_ref(), &hook.to_string(), "hook")
    }

    fn check(&self, limiter: Option<&Limiter>, key: &str, what: &str) -> Result<(), ApiError> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Round up: retrying after a rounded-down wait would be refused again.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::new(
                ErrorCode::TooManyRequests,
                format!("this {what} is over its rate limit; retry in {seconds} s"),
            )
            .with_retry_after(seconds)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_spent_budget_refuses_until_it_refills() {
        let clock = ManualClock::new("2026-05-01T10:00:00Z".parse().unwrap());
        let settings = RateLimitSettings {
            per_client: NonZeroU32::new(2),
            per_hook: None,
        };
        let limits = RateLimits::new(settings, Arc::new(clock.clone()));
        assert!(limits.check_client("a").is_ok());
        assert!(limits.check_client("a").is_ok());
        let refused = limits.check_client("a").unwrap_err();
        assert_eq!(refused.code, ErrorCode::TooManyRequests);
        assert_eq!(refused.retry_after, Some(30));
        assert!(limits.check_client("b").is_ok(), "budgets are per client");
        clock.advance(chrono::Duration::seconds(30));
        assert!(limits.check_client("a").is_ok());
    }
}
