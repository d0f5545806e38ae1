//! The Taskcluster queue sink: `createTask` on a Taskcluster deployment, as its hooks service
//! does.
//!
//! Each task is `PUT` to `<rootUrl>/api/queue/v1/task/<taskId>`, signed with Hawk using hookd's
//! own credentials, with `authorizedScopes: ["assume:hook-id:<group>/<id>"]` in the `ext`: the
//! queue then checks the task's scopes against the hook's role, not against hookd's (broad)
//! credentials. The task id makes retries idempotent: the queue accepts an identical
//! re-submission and refuses a different one.

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hawk::{Credentials, Key, RequestBuilder, SHA256};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::retry::{self, Attempt, RetryPolicy};
use super::{SinkError, TaskSink};
use crate::domain::{SubmittedTask, TaskId, TaskState};

/// Why the Taskcluster sink cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TaskclusterSinkError {
    /// The root URL is not an absolute http(s) URL with a host.
    #[error("the Taskcluster root URL {0:?} must be an absolute http(s) URL")]
    BadRootUrl(String),
    /// The access token cannot be a Hawk key.
    #[error("the Taskcluster access token cannot be used as a Hawk key")]
    BadKey,
}

/// Submits tasks to a Taskcluster queue.
pub struct TaskclusterSink {
    client: reqwest::Client,
    root_url: reqwest::Url,
    credentials: Credentials,
    retry: RetryPolicy,
}

/// Taskcluster's error body.
#[derive(Deserialize)]
struct QueueError {
    code: Option<String>,
    message: Option<String>,
}

impl TaskclusterSink {
    /// A sink for the deployment at `root_url`, authenticating as `client_id`.
    ///
    /// # Errors
    /// [`TaskclusterSinkError`] for an unusable URL or token.
    pub fn new(
        client: reqwest::Client,
        root_url: &str,
        client_id: &str,
        access_token: &str,
        retry: RetryPolicy,
    ) -> Result<Self, TaskclusterSinkError> {
        let bad_url = || TaskclusterSinkError::BadRootUrl(root_url.to_owned());
        let root_url =
            reqwest::Url::parse(root_url.trim_end_matches('/')).map_err(|_| bad_url())?;
        if !matches!(root_url.scheme(), "http" | "https") || root_url.host_str().is_none() {
            return Err(bad_url());
        }
        let key =
            Key::new(access_token.as_bytes(), SHA256).map_err(|_| TaskclusterSinkError::BadKey)?;
        Ok(Self {
            client,
            root_url,
            credentials: Credentials {
                id: client_id.to_owned(),
                key,
            },
            retry,
        })
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.root_url.clone();
        url.set_path(&format!(
            "{}{path}",
            self.root_url.path().trim_end_matches('/')
        ));
        url
    }

    /// `Authorization: Hawk ...` for one request, with `ext` carrying authorized scopes.
    fn authorization(&self, method: &str, url: &reqwest::Url, scopes: &[String]) -> Option<String> {
        let ext = STANDARD.encode(json!({ "authorizedScopes": scopes }).to_string());
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        let header = RequestBuilder::new(method, host, port, url.path())
            .ext(ext.as_str())
            .request()
            .make_header(&self.credentials)
            .ok()?;
        Some(format!("Hawk {header}"))
    }

    async fn attempt(&self, task: &SubmittedTask, body: &[u8]) -> Attempt {
        let url = self.url(&format!("/api/queue/v1/task/{}", task.task_id));
        let role = format!("assume:hook-id:{}/{}", task.hook_group_id, task.hook_id);
        let Some(authorization) = self.authorization("PUT", &url, &[role]) else {
            return Attempt::Refused(SinkError::Rejected {
                code: "HawkError".into(),
                message: "the request to the queue could not be signed".into(),
            });
        };
        let request = self
            .client
            .put(url)
            .timeout(self.retry.attempt_timeout)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        retry::classify(request.send().await, queue_refusal).await
    }
}

/// A 4xx from the queue, with its `code` and `message`; `InsufficientScopes` keeps its meaning.
fn queue_refusal(status: StatusCode, text: &str) -> SinkError {
    let error: QueueError = serde_json::from_str(text).unwrap_or(QueueError {
        code: None,
        message: None,
    });
    let message = error
        .message
        .unwrap_or_else(|| format!("the queue answered {status}: {}", retry::excerpt(text)));
    match error.code.as_deref() {
        Some("InsufficientScopes") => SinkError::InsufficientScopes(message),
        code => SinkError::Rejected {
            code: code.map_or_else(|| format!("HTTP{}", status.as_u16()), str::to_owned),
            message,
        },
    }
}

#[async_trait]
impl TaskSink for TaskclusterSink {
    async fn submit(&self, task: &SubmittedTask) -> Result<(), SinkError> {
        let body =
            serde_json::to_vec(&task.task).map_err(|e| SinkError::Unavailable(Box::new(e)))?;
        retry::deliver(&self.retry, || self.attempt(task, &body)).await
    }

    async fn task_state(&self, task_id: &TaskId) -> Option<TaskState> {
        #[derive(Deserialize)]
        struct Status {
            status: StatusBody,
        }
        #[derive(Deserialize)]
        struct StatusBody {
            state: TaskState,
        }
        let url = self.url(&format!("/api/queue/v1/task/{task_id}/status"));
        let response = self
            .client
            .get(url)
            .timeout(self.retry.attempt_timeout)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json::<Status>().await.ok().map(|s| s.status.state)
    }
}
