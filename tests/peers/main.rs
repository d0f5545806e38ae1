//! hookd against the peers it talks to over the network, each real and on loopback: a RabbitMQ
//! broker (the AMQP listener and the AMQP sink, `HOOKD_TEST_AMQP_URL`), HTTP receivers (the
//! plain HTTP and the Taskcluster queue sinks, chat notices) and an SMTP server (mail notices);
//! and the [`TaskSink`](hookd::fire::TaskSink) contract, run against every sink.
//!
//! One binary, because these tests start the same services and share the broker fixtures.

mod broker;
mod fires;
mod listener;
mod recovery;
mod relay_crash;
mod shared_channels;

mod amqp_sink;
mod http_sink;
mod local_sink;
mod sink_contract;
mod taskcluster_sink;

mod notify;

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
