//! The Matrix bot: a client-server API client that logs in with an access token, joins the
//! configured rooms only, reads them with `/sync`, and answers commands as notices.
//!
//! The sync token is stored (`HookStore::set_chat_cursor`) after each batch is answered, so a
//! restarted bot goes on from where it stopped: commands sent while it was away are answered
//! once, commands answered before are not seen again. On its very first start the bot takes
//! the rooms' present position and answers only what comes after. Only lines that start with
//! the configured prefix (`!hookd deploy main`) are commands.

use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::engine::{Answer, ChatEngine, Message};
use super::speaker::Speaker;
use crate::store::{HookStore, StoreError};

/// The name the sync token is stored under.
const CURSOR: &str = "matrix";

/// How long one `/sync` waits for news on the homeserver.
const SYNC_WAIT_MS: u64 = 30_000;

/// How long the bot waits after a failed round before trying again.
const RETRY: Duration = Duration::from_secs(2);

/// Where the bot connects and listens.
#[derive(Debug, Clone)]
pub struct MatrixSettings {
    /// The homeserver's base URL, e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// The bot user's access token.
    pub access_token: String,
    /// Room ids (or aliases) the bot joins and listens to; no others.
    pub rooms: Vec<String>,
    /// What starts a command line, e.g. `!hookd`.
    pub prefix: String,
}

/// Why one round of the bot failed; it tries again.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// The homeserver could not be reached or refused a request.
    #[error("the homeserver refused or failed: {0}")]
    Http(#[source] reqwest::Error),
    /// The sync token could not be read or saved.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An answer lacked a field the bot needs.
    #[error("the homeserver's answer lacks {0}")]
    Malformed(&'static str),
}

impl From<reqwest::Error> for MatrixError {
    fn from(e: reqwest::Error) -> Self {
        Self::Http(e.without_url())
    }
}

/// The bot.
pub struct MatrixBot {
    http: reqwest::Client,
    settings: MatrixSettings,
    engine: Arc<ChatEngine>,
    store: Arc<dyn HookStore>,
}

impl MatrixBot {
    /// A bot answering through `engine`, keeping its sync token in `store`.
    pub fn new(
        http: reqwest::Client,
        settings: MatrixSettings,
        engine: Arc<ChatEngine>,
        store: Arc<dyn HookStore>,
    ) -> Self {
        Self {
            http,
            settings,
            engine,
            store,
        }
    }

    /// Joins the rooms and answers commands until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut me = None;
        loop {
            let round = async {
                let user = match &me {
                    Some(user) => String::clone(user),
                    None => {
                        let user = self.join().await?;
                        me = Some(user.clone());
                        user
                    }
                };
                self.sync_once(&user).await
            };
            let failed = tokio::select! {
                () = stop.cancelled() => return,
                outcome = round => outcome.err(),
            };
            if let Some(e) = failed {
                tracing::warn!(error = %e, "the Matrix bot's round failed; trying again");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/_matrix/client/v3{path}",
            self.settings.homeserver.trim_end_matches('/')
        )
    }

    /// Joins every configured room; returns the bot's own user id.
    async fn join(&self) -> Result<String, MatrixError> {
        let whoami: Value = self
            .http
            .get(self.url("/account/whoami"))
            .bearer_auth(&self.settings.access_token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let user = whoami["user_id"]
            .as_str()
            .ok_or(MatrixError::Malformed("user_id"))?
            .to_owned();
        for room in &self.settings.rooms {
            let path = format!("/join/{}", utf8_percent_encode(room, NON_ALPHANUMERIC));
            self.http
                .post(self.url(&path))
                .bearer_auth(&self.settings.access_token)
                .json(&json!({}))
                .send()
                .await?
                .error_for_status()?;
        }
        Ok(user)
    }

    /// One `/sync`: answers the commands it brings, then saves the new sync token.
    async fn sync_once(&self, me: &str) -> Result<(), MatrixError> {
        let since = self.store.get_chat_cursor(CURSOR).await?;
        let filter = json!({
            "room": {
                "rooms": self.settings.rooms,
                "timeline": {"types": ["m.room.message"], "limit": 100},
                "state": {"types": []},
                "ephemeral": {"types": []},
                "account_data": {"types": []},
            },
            "presence": {"types": []},
            "account_data": {"types": []},
        });
        let mut query = vec![("filter", filter.to_string())];
        match &since {
            Some(since) => {
                query.push(("since", since.clone()));
                query.push(("timeout", SYNC_WAIT_MS.to_string()));
            }
            None => query.push(("timeout", "0".into())),
        }
        let sync: Value = self
            .http
            .get(self.url("/sync"))
            .bearer_auth(&self.settings.access_token)
            .query(&query)
            .timeout(Duration::from_millis(SYNC_WAIT_MS) + Duration::from_secs(30))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let next = sync["next_batch"]
            .as_str()
            .ok_or(MatrixError::Malformed("next_batch"))?;
        // The first start only takes the present position: what was said before the bot
        // existed is not a command to it.
        if since.is_some() {
            for (room, events) in timelines(&sync) {
                for event in events {
                    self.answer(me, room, event).await?;
                }
            }
        }
        self.store.set_chat_cursor(CURSOR, next).await?;
        Ok(())
    }

    async fn answer(&self, me: &str, room: &str, event: &Value) -> Result<(), MatrixError> {
        let sender = event["sender"].as_str().unwrap_or_default();
        let body = event["content"]["body"].as_str().unwrap_or_default();
        let Some(text) = body.strip_prefix(self.settings.prefix.as_str()) else {
            return Ok(());
        };
        if sender == me || sender.is_empty() || event["content"]["msgtype"] != "m.text" {
            return Ok(());
        }
        let event_id = event["event_id"].as_str().unwrap_or_default();
        let message = Message {
            speaker: Speaker {
                platform: "matrix",
                user_id: sender.to_owned(),
            },
            room: room.to_owned(),
            text: text.trim().to_owned(),
        };
        match self.engine.handle(&message).await {
            Answer::Say(text) => self.notice(room, &format!("{event_id}-say"), &text).await,
            Answer::Fire { ack, run } => {
                self.notice(room, &format!("{event_id}-ack"), &ack).await?;
                let result = run.result().await;
                self.notice(room, &format!("{event_id}-result"), &result)
                    .await
            }
        }
    }

    /// Sends a notice; `txn` makes a resend after a failure the same message.
    async fn notice(&self, room: &str, txn: &str, text: &str) -> Result<(), MatrixError> {
        let path = format!(
            "/rooms/{}/send/m.room.message/{}",
            utf8_percent_encode(room, NON_ALPHANUMERIC),
            utf8_percent_encode(txn, NON_ALPHANUMERIC)
        );
        self.http
            .put(self.url(&path))
            .bearer_auth(&self.settings.access_token)
            .json(&json!({"msgtype": "m.notice", "body": text}))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

/// Every joined room's timeline events in a sync answer.
fn timelines(sync: &Value) -> Vec<(&str, &Vec<Value>)> {
    sync["rooms"]["join"]
        .as_object()
        .map(|rooms| {
            rooms
                .iter()
                .filter_map(|(room, data)| {
                    Some((room.as_str(), data["timeline"]["events"].as_array()?))
                })
                .collect()
        })
        .unwrap_or_default()
}
