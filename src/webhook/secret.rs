//! Standard Webhooks signatures: HMAC-SHA256 over `<id>.<timestamp>.<body>`.
//!
//! The scheme (<https://www.standardwebhooks.com>) lets a receiver check that a request came
//! from a holder of the shared secret and is recent. Secrets are written `whsec_<base64>`, the
//! form Standard Webhooks libraries use; any other string is taken as raw key bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::crypto::hmac_sha256;

/// What marks a secret as base64 key bytes, as Standard Webhooks libraries write it.
pub const SECRET_PREFIX: &str = "whsec_";

/// A shared signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A secret that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `whsec_` followed by something that is not base64.
    #[error("a whsec_ secret must be followed by base64")]
    NotBase64,
    /// No bytes to sign with.
    #[error("the webhook secret is empty")]
    Empty,
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`, or takes any other string as the key itself.
    ///
    /// # Errors
    /// [`SecretError`] for an empty secret or a `whsec_` one that is not base64.
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        let key = match secret.strip_prefix(SECRET_PREFIX) {
            Some(encoded) => STANDARD
                .decode(encoded)
                .map_err(|_| SecretError::NotBase64)?,
            None => secret.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(key))
    }

    /// The `webhook-signature` header value for a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mac = self.mac(id, &timestamp.to_string(), body);
        format!("v1,{}", STANDARD.encode(mac))
    }

    /// The raw HMAC of a message, with `timestamp` exactly as it was sent; what a receiver
    /// compares a presented signature with.
    pub fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
        let mut content = format!("{id}.{timestamp}.").into_bytes();
        content.extend_from_slice(body);
        hmac_sha256(&self.0, &content).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification's test suite.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert!(WebhookSecret::parse("").is_err());
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
        assert!(WebhookSecret::parse("plain-secret").is_ok());
    }
}
