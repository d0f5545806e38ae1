//! Task sinks over HTTP, against real receivers on loopback: the plain signed POST and the
//! Taskcluster queue.

// Shared with the api binary; not every helper is used here.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../common/mongodb.rs"]
mod mongo_server;
#[path = "../common/taskcluster.rs"]
mod taskcluster;

mod http_sink;
mod receiver;
mod taskcluster_sink;

use std::time::Duration;

use hookd::fire::sink::RetryPolicy;

/// Quick retries, so tests of retrying stay fast.
pub fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        attempt_timeout: Duration::from_secs(5),
    }
}
