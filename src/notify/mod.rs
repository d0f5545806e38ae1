//! Telling people about failed fires: email to a hook's owner, a notice in a chat channel.
//!
//! - Email, as Taskcluster does: when a *scheduled* fire fails for a reason a retry will not fix
//!   and the hook's `metadata.emailOnError` is set, its `metadata.owner` hears about it.
//! - Chat (extension): every error fire is announced to one Slack-compatible incoming webhook.
//!
//! Whether a retry may fix a failure is not decided here: the fire path classifies its error
//! once and passes the verdict in as an [`Audience`].
//!
//! Each channel sends at most one notice per hook per window, so a broken hook firing every
//! second does not flood anyone. Notices are sent in the background: a slow or broken mail
//! server never delays, fails or retries the fire itself; a failed notice is logged and counted.
//!
//! Owns: the two channels (`email`, `chat`), their settings and rate windows. Leaves to others:
//! which failures are worth a notice (`fire::outcome`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use crate::clock::Clock;
use crate::domain::{FireFailure, FireRecord, FiredBy, Hook, HookKey};

mod chat;
mod email;

pub use chat::ChatNotifier;
pub use email::{EmailError, EmailNotifier};

/// Who may hear about an error fire, as the fire path classified its failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A retry will not fix it: every channel, including the owner's mail for a scheduled fire
    /// of a hook with `emailOnError`.
    Everyone,
    /// A later attempt may well get through (an outage): the chat channel only, since the
    /// owner can do nothing about it.
    ChatOnly,
}

/// Failure notices: where they go and how often. Built from the command line by the
/// configuration module, which holds the defaults.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// SMTP server for emails to hook owners, if any.
    pub smtp_url: Option<String>,
    /// Sender of those emails.
    pub from: String,
    /// Chat webhook for every error fire, if any.
    pub chat_webhook_url: Option<String>,
    /// At most one notice per hook and channel within this window.
    pub window: Duration,
}

/// What a notice says: the hook, the fire and what went wrong.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The hook that failed.
    pub hook: HookKey,
    /// Its name, for people.
    pub hook_name: String,
    /// What fired it.
    pub fired_by: FiredBy,
    /// The task id the fire chose.
    pub task_id: String,
    /// When it fired.
    pub time: DateTime<Utc>,
    /// Why it failed.
    pub failure: FireFailure,
}

impl Notice {
    /// The API path of the hook, ready to append to the service's URL.
    pub fn hook_path(&self) -> String {
        format!(
            "/api/hooks/v1/hooks/{}/{}",
            self.hook.group,
            self.hook.id.as_str().replace('/', "%2F")
        )
    }

    /// A few sentences saying what failed.
    pub fn describe(&self) -> String {
        format!(
            "Hook {hook} ({name}) failed when fired by {by} at {time}.\n\n\
             Task id: {task}\nError ({code}): {message}\n\n\
             Fire history: {path}/last-fires",
            hook = self.hook,
            name = self.hook_name,
            by = self.fired_by.as_str(),
            time = self.time.to_rfc3339(),
            task = self.task_id,
            code = self.failure.code,
            message = self.failure.message,
            path = self.hook_path(),
        )
    }
}

/// Remembers when each hook was last notified on one channel.
struct Window {
    length: Duration,
    last: Mutex<HashMap<HookKey, DateTime<Utc>>>,
}

impl Window {
    /// True, and remembered, when `hook` has not been notified within the window before `now`.
    fn admit(&self, hook: &HookKey, now: DateTime<Utc>) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match last.get(hook) {
            Some(sent) if now - *sent < self.length => false,
            _ => {
                last.insert(hook.clone(), now);
                true
            }
        }
    }
}

/// Decides which error fires to tell whom, and sends the notices.
pub struct Notifier {
    email: Option<(EmailNotifier, Window)>,
    chat: Option<(ChatNotifier, Window)>,
    clock: Arc<dyn Clock>,
    failures: AtomicU64,
}

impl Notifier {
    /// A notifier over the configured channels; with none, it does nothing.
    pub fn new(
        email: Option<EmailNotifier>,
        chat: Option<ChatNotifier>,
        window: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let window = || Window {
            length: window,
            last: Mutex::new(HashMap::new()),
        };
        Self {
            email: email.map(|e| (e, window())),
            chat: chat.map(|c| (c, window())),
            clock,
            failures: AtomicU64::new(0),
        }
    }

    /// How many notices failed to send since start-up.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Notifies about `fire` of `hook` if it failed, on every channel that wants it and that
    /// `audience` allows, and returns when the notices were sent or failed.
    pub async fn error_fire(&self, hook: &Hook, fire: &FireRecord, audience: Audience) {
        let Some(failure) = &fire.failure else {
            return;
        };
        let notice = Notice {
            hook: hook.key(),
            hook_name: hook.metadata.name.clone(),
            fired_by: fire.fired_by,
            task_id: fire.task_id.to_string(),
            time: fire.task_create_time,
            failure: failure.clone(),
        };
        let now = self.clock.now();
        if let Some((email, window)) = &self.email {
            let wanted = fire.fired_by == FiredBy::Schedule
                && hook.metadata.email_on_error
                && audience == Audience::Everyone;
            if wanted && window.admit(&notice.hook, now) {
                let sent = email.send(&hook.metadata.owner, &notice).await;
                self.count("email", sent.err().map(|e| e.to_string()));
            }
        }
        if let Some((chat, window)) = &self.chat {
            if window.admit(&notice.hook, now) {
                let sent = chat.send(&notice).await;
                self.count("chat", sent.err().map(|e| e.to_string()));
            }
        }
    }

    fn count(&self, channel: &str, error: Option<String>) {
        if let Some(error) = error {
            self.failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(channel, %error, "a failure notice could not be sent");
        }
    }
}
