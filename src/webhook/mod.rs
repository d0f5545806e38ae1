//! Signed webhook deliveries: which sender signed a request, and whether the signature holds.
//!
//! Three schemes are understood, told apart by their headers:
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, keyed with the secret
//!   text;
//! - GitLab: `X-Gitlab-Token: <secret>`, compared in constant time;
//! - Standard Webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64>`
//!   over `<id>.<timestamp>.<body>`, keyed with the base64 part of a `whsec_` secret, refused
//!   more than five minutes off the service clock and, with [`DeliveryIds`], delivered once.
//!
//! A hook may have two valid secrets during a rotation; a signature by either is accepted.
//!
//! Owns: recognising and checking the three schemes (this file), Standard Webhooks secrets and
//! signing (`secret`, also used by the HTTP task sink to sign what it sends) and delivery
//! dedup (`deliveries`). Leaves to others: the endpoint, rate limits and firing (`api/webhooks.rs`),
//! storing a hook's secrets (`registry`, `store`) and HMAC itself (`crypto`).

mod deliveries;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use subtle::ConstantTimeEq;

pub use deliveries::DeliveryIds;

use crate::crypto::{hmac_sha256, random_bytes};

mod secret;
pub use secret::{SecretError, WebhookSecret, SECRET_PREFIX};

/// How far a Standard Webhooks timestamp may be from the service clock.
pub const TIMESTAMP_WINDOW: Duration = Duration::minutes(5);

/// The request parts a signature covers.
pub struct Delivery<'a> {
    /// The raw body.
    pub body: &'a [u8],
    /// Looks up a request header by lower-case name.
    pub header: &'a dyn Fn(&str) -> Option<&'a str>,
}

/// Who signed a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `X-Hub-Signature-256`.
    GitHub,
    /// `X-Gitlab-Token`.
    GitLab,
    /// `webhook-signature`.
    StandardWebhooks,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// None of the known signature headers is present.
    #[error("the request carries no webhook signature header")]
    Unsigned,
    /// A signature is present but matches no secret of the hook.
    #[error("the webhook signature does not match")]
    BadSignature,
    /// The Standard Webhooks timestamp is outside the window.
    #[error("the webhook timestamp is more than 5 minutes off")]
    Stale,
}

/// A fresh secret: `whsec_` and 32 random bytes in base64, usable by all three schemes.
pub fn generate_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random_bytes::<32>()))
}

/// Checks `delivery` against `secrets` at `now`, returning the scheme that signed it.
///
/// # Errors
/// [`WebhookError`] saying why it is refused.
pub fn verify(
    delivery: &Delivery<'_>,
    secrets: &[String],
    now: DateTime<Utc>,
) -> Result<Scheme, WebhookError> {
    let header = delivery.header;
    if let Some(signature) = header("x-hub-signature-256") {
        let presented = signature
            .strip_prefix("sha256=")
            .and_then(|h| hex::decode(h).ok())
            .ok_or(WebhookError::BadSignature)?;
        let signed = |s: &String| hmac_sha256(s.as_bytes(), delivery.body);
        return matches_any(secrets, &presented, signed).map(|()| Scheme::GitHub);
    }
    if let Some(token) = header("x-gitlab-token") {
        return matches_any(secrets, token.as_bytes(), |s| s.as_bytes().to_vec())
            .map(|()| Scheme::GitLab);
    }
    let (Some(id), Some(timestamp), Some(signatures)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return Err(WebhookError::Unsigned);
    };
    let sent = timestamp
        .parse::<i64>()
        .map_err(|_| WebhookError::BadSignature)?;
    if (now.timestamp() - sent).abs() > TIMESTAMP_WINDOW.num_seconds() {
        return Err(WebhookError::Stale);
    }
    for candidate in signatures.split(' ') {
        let Some(presented) = candidate
            .strip_prefix("v1,")
            .and_then(|b| STANDARD.decode(b).ok())
        else {
            continue;
        };
        let signed = |s: &String| {
            WebhookSecret::parse(s)
                .map(|key| key.mac(id, timestamp, delivery.body))
                .unwrap_or_default()
        };
        if matches_any(secrets, &presented, signed).is_ok() {
            return Ok(Scheme::StandardWebhooks);
        }
    }
    Err(WebhookError::BadSignature)
}

/// Whether `presented` equals what any secret yields, compared in constant time.
fn matches_any<T: AsRef<[u8]>>(
    secrets: &[String],
    presented: &[u8],
    expected: impl Fn(&String) -> T,
) -> Result<(), WebhookError> {
    let hit = secrets
        .iter()
        .any(|s| bool::from(expected(s).as_ref().ct_eq(presented)));
    hit.then_some(()).ok_or(WebhookError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        headers: &[(&str, &str)],
        secrets: &[String],
        now: DateTime<Utc>,
    ) -> Result<Scheme, WebhookError> {
        let header = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        verify(
            &Delivery {
                body: b"{}",
                header: &header,
            },
            secrets,
            now,
        )
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn github_signatures_are_hmacs_of_the_body_under_the_secret_text() {
        let secret = "whsec_c2VjcmV0".to_owned();
        let good = format!(
            "sha256={}",
            hex::encode(hmac_sha256(secret.as_bytes(), b"{}"))
        );
        let headers = [("x-hub-signature-256", good.as_str())];
        assert_eq!(check(&headers, &[secret], now()), Ok(Scheme::GitHub));
        assert_eq!(
            check(&headers, &["other".into()], now()),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn standard_webhooks_check_signature_and_window() {
        let secret = "whsec_c2VjcmV0".to_owned();
        let ts = now().timestamp().to_string();
        let sig = STANDARD.encode(hmac_sha256(
            b"secret",
            format!("msg_1.{ts}.{{}}").as_bytes(),
        ));
        let signature = format!("v1,bogus v1,{sig}");
        let headers = [
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        assert_eq!(
            check(&headers, std::slice::from_ref(&secret), now()),
            Ok(Scheme::StandardWebhooks)
        );
        let late = now() + Duration::minutes(6);
        assert_eq!(check(&headers, &[secret], late), Err(WebhookError::Stale));
        assert_eq!(check(&[], &[], now()), Err(WebhookError::Unsigned));
    }
}
