//! Slash commands (Slack and Mattermost): who may send one, and reading its form.
//!
//! Both platforms POST a form (`user_id`, `channel_id`, `text`, `response_url`, ...) when a user
//! types `/hookd <text>`. Slack signs it: `X-Slack-Signature: v0=<hex HMAC-SHA256>` over
//! `v0:<X-Slack-Request-Timestamp>:<body>` with the app's signing secret, refused more than five
//! minutes off the service clock, compared in constant time, and each signature counts once.
//! Mattermost sends the command's token in the form (`token`), compared in constant time.
//!
//! Owns: the two checks and the form. Leaves to others: the endpoint and the answer (`api`), the
//! command itself (`engine`).

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use subtle::ConstantTimeEq;

use crate::crypto::hmac_sha256;
use crate::webhook::{DeliveryIds, TIMESTAMP_WINDOW};

/// Why a slash command was refused; said to the sender as a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlashError {
    /// A header or form field the check needs is missing or malformed.
    #[error("the request is not a signed slash command")]
    Unsigned,
    /// The timestamp is more than five minutes off.
    #[error("the request's timestamp is too far from the server's time")]
    Stale,
    /// The signature or token does not match.
    #[error("the request's signature does not match")]
    BadSignature,
    /// This exact request was seen before.
    #[error("the request was already received")]
    Replayed,
}

/// Checks a Slack request signed with `secret` at `now`; `seen` remembers signatures for the
/// window, so a replayed request is refused.
///
/// # Errors
/// [`SlashError`].
pub fn verify_slack(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    seen: &DeliveryIds,
) -> Result<(), SlashError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SlashError::Unsigned);
    };
    let sent: i64 = timestamp.parse().map_err(|_| SlashError::Unsigned)?;
    if (now.timestamp() - sent).abs() > TIMESTAMP_WINDOW.num_seconds() {
        return Err(SlashError::Stale);
    }
    let presented = signature
        .strip_prefix("v0=")
        .and_then(|hex_mac| hex::decode(hex_mac).ok())
        .ok_or(SlashError::BadSignature)?;
    let mut signed = format!("v0:{timestamp}:").into_bytes();
    signed.extend_from_slice(body);
    let expected = hmac_sha256(secret.as_bytes(), &signed);
    if !bool::from(expected.as_slice().ct_eq(&presented)) {
        return Err(SlashError::BadSignature);
    }
    if !seen.first_delivery("slack", signature, now) {
        return Err(SlashError::Replayed);
    }
    Ok(())
}

/// Checks a Mattermost command's `token` against the configured one.
///
/// # Errors
/// [`SlashError::Unsigned`] without a token, [`SlashError::BadSignature`] for a wrong one.
pub fn verify_mattermost(expected: &str, form: &SlashForm) -> Result<(), SlashError> {
    let presented = form.token.as_deref().ok_or(SlashError::Unsigned)?;
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(SlashError::BadSignature)
    }
}

/// The fields of a slash command hookd reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SlashForm {
    /// Mattermost's command token.
    pub token: Option<String>,
    /// Who typed it.
    pub user_id: String,
    /// Where.
    pub channel_id: String,
    /// What followed the command.
    pub text: String,
    /// Where the result goes.
    pub response_url: Option<String>,
}

impl SlashForm {
    /// Reads an `application/x-www-form-urlencoded` body.
    ///
    /// # Errors
    /// [`SlashError::Unsigned`] when `user_id` or `channel_id` is missing.
    pub fn parse(body: &[u8]) -> Result<Self, SlashError> {
        let mut form = Self::default();
        for pair in String::from_utf8_lossy(body).split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match key {
                "token" => form.token = Some(value),
                "user_id" => form.user_id = value,
                "channel_id" => form.channel_id = value,
                "text" => form.text = value,
                "response_url" => form.response_url = Some(value),
                _ => {}
            }
        }
        if form.user_id.is_empty() || form.channel_id.is_empty() {
            return Err(SlashError::Unsigned);
        }
        Ok(form)
    }
}

fn decode(value: &str) -> String {
    percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Signs a Slack request body as Slack does (for tests and tools that stand in for Slack).
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("v0:{timestamp}:").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "v0={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &signed))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn check(
        timestamp: i64,
        signature: &str,
        body: &[u8],
        seen: &DeliveryIds,
    ) -> Result<(), SlashError> {
        let timestamp = timestamp.to_string();
        verify_slack(SECRET, Some(&timestamp), Some(signature), body, now(), seen)
    }

    #[test]
    fn a_signed_request_passes_once_and_stale_wrong_or_unsigned_ones_never() {
        let seen = DeliveryIds::default();
        let body = b"user_id=U1&channel_id=C1&text=deploy+main";
        let at = now().timestamp();
        let signature = slack_signature(SECRET, at, body);
        assert_eq!(check(at, &signature, body, &seen), Ok(()));
        assert_eq!(
            check(at, &signature, body, &seen),
            Err(SlashError::Replayed)
        );
        let old = at - 301;
        assert_eq!(
            check(old, &slack_signature(SECRET, old, body), body, &seen),
            Err(SlashError::Stale)
        );
        assert_eq!(
            check(at, &slack_signature("other", at, body), body, &seen),
            Err(SlashError::BadSignature)
        );
        assert_eq!(
            check(
                at,
                &signature,
                b"user_id=U1&channel_id=C1&text=deploy+prod",
                &seen
            ),
            Err(SlashError::BadSignature)
        );
        assert_eq!(
            verify_slack(SECRET, None, Some(&signature), body, now(), &seen),
            Err(SlashError::Unsigned)
        );
    }

    #[test]
    fn the_form_is_decoded_and_mattermost_tokens_are_compared() {
        let form = SlashForm::parse(
            b"token=t0k&user_id=U1&channel_id=C1&text=deploy+main+to+%22big+env%22&response_url=http%3A%2F%2Fx%2Fy",
        )
        .unwrap();
        assert_eq!(form.text, "deploy main to \"big env\"");
        assert_eq!(form.response_url.as_deref(), Some("http://x/y"));
        assert_eq!(verify_mattermost("t0k", &form), Ok(()));
        assert_eq!(
            verify_mattermost("other", &form),
            Err(SlashError::BadSignature)
        );
        assert_eq!(SlashForm::parse(b"text=x"), Err(SlashError::Unsigned));
    }
}
