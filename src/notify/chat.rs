//! Chat notices: one message per error fire to a Slack-compatible incoming webhook (Slack,
//! Mattermost and Rocket.Chat all accept `{"text": ...}`).

use serde_json::json;

use super::Notice;

/// Posts notices to one incoming-webhook URL.
pub struct ChatNotifier {
    client: reqwest::Client,
    url: String,
}

impl ChatNotifier {
    /// A notifier posting to `url`.
    pub fn new(client: reqwest::Client, url: String) -> Self {
        Self { client, url }
    }

    /// Posts `notice`.
    ///
    /// # Errors
    /// The request's failure, or an answer that is not a success.
    pub async fn send(&self, notice: &Notice) -> Result<(), reqwest::Error> {
        self.client
            .post(&self.url)
            .timeout(std::time::Duration::from_secs(10))
            .json(&json!({ "text": notice.describe() }))
            .send()
            .await?
            .error_for_status()
            .map(drop)
    }
}
