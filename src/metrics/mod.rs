//! Prometheus metrics of one running service: what is counted and timed, and the text a scrape
//! of `GET /metrics` returns.
//!
//! Each [`Metrics`] owns its registry. Start-up makes one per `Application` and hands it down
//! through the dependency structs, never through a process global, so several services in one
//! process (as in the tests) each count only their own work. The places that observe call the
//! small verbs below; they know nothing of Prometheus types. Label values come from fixed sets
//! (trigger kinds, results, operation names, route patterns), never from ids, which keeps the
//! number of series bounded.
//!
//! Owns: the metric families, their label sets, the scrape text, and `store` (timing any
//! [`crate::store::HookStore`]). Leaves to others: deciding what happened (the fire path, the
//! listener and `api/metrics.rs` call the verbs) and serving the scrape (`api/metrics.rs`).

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

pub mod store;

pub use store::MeteredStore;

/// The content type of [`Metrics::encode`]'s text (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A family of histograms made by a plain function, so the type can be named in a field.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FireLabels {
    fired_by: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FiredByLabel {
    fired_by: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RenderLabel {
    path: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

/// The counters and histograms of one service, and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    fires: Family<FireLabels, Counter>,
    trigger_latency: Histograms<FiredByLabel>,
    scheduler_lateness: Histogram,
    amqp_consumed: Counter,
    amqp_acked: Counter,
    amqp_requeued: Counter,
    amqp_dead_lettered: Counter,
    amqp_reconnects: Counter,
    store_latency: Histograms<OperationLabel>,
    http_requests: Family<HttpLabels, Counter>,
    webhook_signature_failures: Counter,
    renders: Family<RenderLabel, Counter>,
}

/// Request and store timings: 0.5 ms up to about 16 s.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Registers a family of timing histograms, in seconds, under `name`.
fn timings<L>(registry: &mut Registry, name: &str, help: &str) -> Histograms<L>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    let family: Histograms<L> = Family::new_with_constructor(latency_buckets);
    registry.register_with_unit(name, help, Unit::Seconds, Family::clone(&family));
    family
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered under the `hookd_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hookd");
        let fires = Family::default();
        registry.register(
            "fires",
            "Fires by trigger kind (firedBy) and result",
            Family::clone(&fires),
        );
        let trigger_latency = timings(
            &mut registry,
            "trigger_latency",
            "From an HTTP trigger's arrival to its task accepted and its fire recorded",
        );
        // Seconds late: 1/16 s up to about 4.5 hours (catch-up after an outage), in powers of
        // two so the bucket bounds print exactly.
        let scheduler_lateness = Histogram::new(exponential_buckets(0.0625, 4.0, 10));
        registry.register_with_unit(
            "scheduler_lateness",
            "How long after its slot time a scheduled slot was first fired",
            Unit::Seconds,
            scheduler_lateness.clone(),
        );
        let store_latency = timings(
            &mut registry,
            "store_operation_duration",
            "Duration of store operations, by operation",
        );
        let http_requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route pattern and status",
            Family::clone(&http_requests),
        );
        let renders = Family::default();
        registry.register(
            "renders",
            "Task templates rendered, by where: in_process (provably bounded) or worker",
            Family::clone(&renders),
        );
        let mut counter = |name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let amqp_consumed = counter("amqp_messages_consumed", "AMQP messages received");
        let amqp_acked = counter("amqp_messages_acked", "AMQP messages acknowledged");
        let amqp_requeued = counter(
            "amqp_messages_requeued",
            "AMQP messages handed back to be retried",
        );
        let amqp_dead_lettered = counter(
            "amqp_messages_dead_lettered",
            "AMQP messages given up on and dead-lettered",
        );
        let amqp_reconnects = counter(
            "amqp_reconnects",
            "Times the AMQP listener lost the broker and set out to reconnect",
        );
        let webhook_signature_failures = counter(
            "webhook_signature_failures",
            "Webhook deliveries refused for a missing or wrong signature (never recorded as fires)",
        );
        Self {
            registry,
            fires,
            trigger_latency,
            scheduler_lateness,
            amqp_consumed,
            amqp_acked,
            amqp_requeued,
            amqp_dead_lettered,
            amqp_reconnects,
            store_latency,
            http_requests,
            webhook_signature_failures,
            renders,
        }
    }

    /// The current values in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an error here would be a bug in the encoder.
        if let Err(e) = encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        text
    }

    /// One pass through the fire path ended with `result`.
    pub fn fire(&self, fired_by: &'static str, result: FireResult) {
        let result = result.as_str();
        self.fires
            .get_or_create(&FireLabels { fired_by, result })
            .inc();
    }

    /// A task template was rendered `in_process` or in a worker.
    pub fn rendered(&self, in_process: bool) {
        let path = if in_process { "in_process" } else { "worker" };
        self.renders.get_or_create(&RenderLabel { path }).inc();
    }

    /// An HTTP trigger's task was accepted `elapsed` after the request arrived.
    pub fn trigger_accepted(&self, fired_by: &'static str, elapsed: Duration) {
        self.trigger_latency
            .get_or_create(&FiredByLabel { fired_by })
            .observe(elapsed.as_secs_f64());
    }

    /// A scheduled slot was fired `lateness` after its slot time (early counts as on time).
    pub fn slot_fired(&self, lateness: chrono::Duration) {
        let seconds = lateness.to_std().unwrap_or_default().as_secs_f64();
        self.scheduler_lateness.observe(seconds);
    }

    /// A store operation took `elapsed`.
    pub fn store_operation(&self, operation: &'static str, elapsed: Duration) {
        self.store_latency
            .get_or_create(&OperationLabel { operation })
            .observe(elapsed.as_secs_f64());
    }

    /// An HTTP request matched `route` (a pattern, never a raw path) and was answered `status`.
    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// A webhook delivery was refused for its signature (or for naming no such hook).
    pub fn webhook_signature_failed(&self) {
        self.webhook_signature_failures.inc();
    }

    /// The AMQP listener did `what`.
    pub fn amqp(&self, what: AmqpEvent) {
        let counter = match what {
            AmqpEvent::Consumed => &self.amqp_consumed,
            AmqpEvent::Acked => &self.amqp_acked,
            AmqpEvent::Requeued => &self.amqp_requeued,
            AmqpEvent::DeadLettered => &self.amqp_dead_lettered,
            AmqpEvent::Reconnecting => &self.amqp_reconnects,
        };
        counter.inc();
    }
}

/// How one pass through the fire path ended: the `result` label of `hookd_fires_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireResult {
    /// A task was submitted and the fire recorded.
    Success,
    /// The template rendered to `null`: nothing submitted, nothing recorded.
    Declined,
    /// The input was turned away before a task was made.
    Refused,
    /// Recorded as an error fire.
    Error,
    /// Whatever happened, the fire could not be written down, or no worker could render it.
    Unrecorded,
}

impl FireResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Declined => "declined",
            Self::Refused => "refused",
            Self::Error => "error",
            Self::Unrecorded => "unrecorded",
        }
    }
}

/// What the AMQP listener counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmqpEvent {
    /// It received a message.
    Consumed,
    /// It acknowledged a message.
    Acked,
    /// It handed a message back for another attempt.
    Requeued,
    /// It gave up on a message, which the broker dead-letters.
    DeadLettered,
    /// It lost the broker and will reconnect.
    Reconnecting,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed_with_its_labels_and_the_prefix() {
        let metrics = Metrics::new();
        metrics.fire("schedule", FireResult::Success);
        metrics.http_request("GET", "/api/hooks/v1/ping", 200);
        metrics.slot_fired(chrono::Duration::seconds(-3));
        let text = metrics.encode();
        assert!(text.contains(r#"hookd_fires_total{fired_by="schedule",result="success"} 1"#));
        assert!(text.contains(
            r#"hookd_http_requests_total{method="GET",route="/api/hooks/v1/ping",status="200"} 1"#
        ));
        assert!(
            text.contains("hookd_scheduler_lateness_seconds_sum 0.0"),
            "an early fire counts as on time: {text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
