//! The one bounded wait of the test suite.
//!
//! Tests synchronise on real signals wherever hookd gives one (an awaited answer, the next
//! message of a consumer, `scheduler.tick()`). Some outcomes have none a test can await: a
//! notice sent in the background, a listener reconnecting, a mail delivered by another
//! process. For those, and only those, [`eventually`] checks again until the outcome shows,
//! with a deadline so that a test that would wait forever fails instead.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long [`eventually`] keeps checking. Generous: a passing test returns as soon as its
/// check does, so the bound only decides how long a failing test takes to say so.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The pause between two checks.
const STEP: Duration = Duration::from_millis(25);

/// Runs `check` until it returns `Some`, and returns that; panics with `what` once
/// [`PATIENCE`] has passed. The deadline is on the real clock, so it holds in tests that pause
/// or drive tokio's timer too.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(PATIENCE, what, check).await
}

/// [`eventually`] with a bound of the test's own, for a test whose point is that something
/// happens well before [`PATIENCE`] (e.g. a stop that must not wait out a longer timeout).
pub async fn eventually_within<T, F, Fut>(patience: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        tokio::time::sleep(STEP).await;
    }
}

/// [`eventually_within`] for tests without a runtime of their own (those that drive the
/// `hookd` binary from plain threads), on a runtime made for the wait.
pub fn eventually_blocking<T>(
    patience: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime for the wait")
        .block_on(eventually_within(patience, what, || {
            std::future::ready(check())
        }))
}
