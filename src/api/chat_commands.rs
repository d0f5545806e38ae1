//! Slash commands from Slack and Mattermost (extension): `POST /chat/slack` and
//! `POST /chat/mattermost`.
//!
//! The request's signature (Slack) or command token (Mattermost) is its credential; each
//! platform's endpoint answers 404 until the platform is configured. The answer is the
//! command's acknowledgement, at once (Slack waits 3 seconds); the fire runs afterwards and its
//! result is posted to the request's `response_url`, so a slow task queue never delays the ack.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::{ApiError, ErrorCode};
use super::extract::RawForm;
use super::ApiState;
use crate::chat::slash::{self, SlashForm};
use crate::chat::{Answer, ChatEngine, Message, Speaker};
use crate::domain::chat_alias::AckVisibility;
use crate::webhook::DeliveryIds;

/// What the slash-command endpoints need.
pub struct SlashCommands {
    /// The command engine.
    pub engine: Arc<ChatEngine>,
    /// Slack's signing secret; `None` turns the Slack endpoint off.
    pub slack_signing_secret: Option<String>,
    /// Mattermost's command token; `None` turns the Mattermost endpoint off.
    pub mattermost_command_token: Option<String>,
    /// Slack signatures seen within the timestamp window.
    pub seen: DeliveryIds,
    /// Posts results to `response_url`s.
    pub http: reqwest::Client,
}

fn not_configured(platform: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFound,
        format!("{platform} slash commands are not configured"),
    )
}

/// `POST /chat/slack`
pub async fn slack(
    state: web::Data<ApiState>,
    req: HttpRequest,
    RawForm(body): RawForm,
) -> Result<HttpResponse, ApiError> {
    let slash = &state.slash;
    let secret = slash
        .slack_signing_secret
        .as_deref()
        .ok_or_else(|| not_configured("Slack"))?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    slash::verify_slack(
        secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        state.clock.now(),
        &slash.seen,
    )?;
    answer(slash, "slack", SlashForm::parse(&body)?).await
}

/// `POST /chat/mattermost`
pub async fn mattermost(
    state: web::Data<ApiState>,
    RawForm(body): RawForm,
) -> Result<HttpResponse, ApiError> {
    let slash = &state.slash;
    let token = slash
        .mattermost_command_token
        .as_deref()
        .ok_or_else(|| not_configured("Mattermost"))?;
    let form = SlashForm::parse(&body)?;
    slash::verify_mattermost(token, &form)?;
    answer(slash, "mattermost", form).await
}

/// Runs the command and answers with its first words; a fire's result goes to `response_url`.
async fn answer(
    slash: &SlashCommands,
    platform: &'static str,
    form: SlashForm,
) -> Result<HttpResponse, ApiError> {
    let message = Message {
        speaker: Speaker {
            platform,
            user_id: form.user_id,
        },
        room: form.channel_id,
        text: form.text,
    };
    let (text, visibility) = match slash.engine.handle(&message).await {
        Answer::Say(text) => (text, AckVisibility::Ephemeral),
        Answer::Fire { ack, run } => {
            let visibility = run.ack_visibility();
            let http = slash.http.clone();
            let response_url = form.response_url;
            tokio::spawn(async move {
                let result = run.result().await;
                if let Some(url) = response_url {
                    post_result(&http, &url, &result).await;
                }
            });
            (ack, visibility)
        }
    };
    let response_type = match visibility {
        AckVisibility::Ephemeral => "ephemeral",
        AckVisibility::InChannel => "in_channel",
    };
    Ok(HttpResponse::Ok().json(json!({ "response_type": response_type, "text": text })))
}

/// Posts a fire's result where the platform asked; a failure is logged (the URL is not: it is
/// a credential to the channel).
async fn post_result(http: &reqwest::Client, url: &str, text: &str) {
    let body = json!({ "response_type": "in_channel", "text": text });
    let sent = http.post(url).json(&body).send().await;
    match sent.map(|r| r.error_for_status()) {
        Ok(Ok(_)) => {}
        Ok(Err(e)) | Err(e) => {
            tracing::warn!(error = %e.without_url(), "a chat result could not be posted");
        }
    }
}
