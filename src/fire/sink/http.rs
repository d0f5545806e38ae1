//! The plain HTTP sink: POST each task as JSON to a receiver, signed with Standard Webhooks.
//!
//! Any 2xx accepts the task. 5xx, 429 (after its `Retry-After`) and network errors are retried;
//! every other answer refuses the task, and the receiver's message becomes the error fire's.
//! Retries repeat the same body, `webhook-id` and `Idempotency-Key` (the task id), so a receiver
//! can drop duplicates.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::Value;

use super::retry::{self, Attempt, RetryPolicy};
use super::{SinkError, TaskSink};
use crate::clock::Clock;
use crate::domain::SubmittedTask;
use crate::webhook::WebhookSecret;

/// Posts tasks to one URL.
pub struct HttpSink {
    client: reqwest::Client,
    url: String,
    secret: WebhookSecret,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl HttpSink {
    /// A sink posting to `url`, signing with `secret`.
    pub fn new(
        client: reqwest::Client,
        url: String,
        secret: WebhookSecret,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            url,
            secret,
            retry,
            clock,
        }
    }

    async fn attempt(&self, task: &SubmittedTask, body: &[u8]) -> Attempt {
        let id = task.task_id.as_str();
        // Each attempt is signed at its own time; the id stays, so receivers deduplicate.
        let timestamp = self.clock.now().timestamp();
        let request = self
            .client
            .post(&self.url)
            .timeout(self.retry.attempt_timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", id)
            .header("Hookd-Hook-Group-Id", task.hook_group_id.as_str())
            .header("Hookd-Hook-Id", task.hook_id.as_str())
            .header("Hookd-Fired-By", task.fired_by.as_str())
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", self.secret.sign(id, timestamp, body))
            .body(body.to_vec());
        retry::classify(request.send().await, refusal).await
    }
}

/// The receiver's own `code` and `message` when it answers JSON, else its status and text.
fn refusal(status: StatusCode, text: &str) -> SinkError {
    let body: Option<Value> = serde_json::from_str(text).ok();
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    SinkError::Rejected {
        code: field("code").unwrap_or_else(|| format!("HTTP{}", status.as_u16())),
        message: field("message")
            .unwrap_or_else(|| format!("the receiver answered {status}: {}", retry::excerpt(text))),
    }
}

#[async_trait]
impl TaskSink for HttpSink {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        let body =
            serde_json::to_vec(&task.task).map_err(|e| SinkError::Unavailable(Box::new(e)))?;
        retry::deliver(&self.retry, || self.attempt(task, &body)).await
    }
}
