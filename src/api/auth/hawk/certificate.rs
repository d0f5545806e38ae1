//! Temporary credentials: a certificate in Hawk's `ext`, signed by the issuing client.
//!
//! Taskcluster clients make these without asking a server: the issuer signs the certificate's
//! fields with its access token, and the temporary access token is an HMAC of the certificate's
//! random seed under the same key. So checking one needs only the issuer's access token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{decode_base64, HawkError};
use crate::clients::ClientRegistry;
use crate::crypto::hmac_sha256;
use crate::domain::ScopeSet;

/// Taskcluster refuses certificates that live longer than this.
const MAX_LIFETIME: Duration = Duration::days(31);
/// Two slug ids.
const SEED_LEN: usize = 44;

/// A temporary-credentials certificate, as Taskcluster clients write it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    version: u32,
    scopes: Vec<String>,
    /// Milliseconds since the epoch.
    start: i64,
    /// Milliseconds since the epoch.
    expiry: i64,
    seed: String,
    signature: String,
    /// Present for named credentials: then the Hawk id is the new name, and this the signer.
    issuer: Option<String>,
}

/// What a valid certificate grants.
pub struct Granted {
    /// The Hawk MAC key of the temporary credentials.
    pub access_token: String,
    /// The certificate's scopes, expanded through roles.
    pub scopes: ScopeSet,
}

impl Certificate {
    /// Checks the certificate presented by Hawk id `client_id` at `now`, allowing `skew` of
    /// clock difference at both ends of its validity.
    ///
    /// # Errors
    /// [`HawkError::Certificate`] saying what is wrong.
    pub fn verify(
        &self,
        client_id: &str,
        clients: &ClientRegistry,
        now: DateTime<Utc>,
        skew: Duration,
    ) -> Result<Granted, HawkError> {
        let bad = |why: &'static str| Err(HawkError::Certificate(why));
        if self.version != 1 {
            return bad("only version 1 certificates are supported");
        }
        if self.seed.len() != SEED_LEN {
            return bad("the seed must be 44 characters");
        }
        let now_ms = now.timestamp_millis();
        if self.expiry - self.start > MAX_LIFETIME.num_milliseconds() {
            return bad("temporary credentials may live at most 31 days");
        }
        if self.start > now_ms + skew.num_milliseconds() {
            return bad("the certificate is not valid yet");
        }
        if self.expiry < now_ms - skew.num_milliseconds() {
            return bad("the certificate has expired");
        }
        let issuer_id = match &self.issuer {
            Some(issuer) if issuer == client_id => {
                return bad("named credentials must differ from their issuer")
            }
            Some(issuer) => issuer.as_str(),
            None => client_id,
        };
        let issuer = clients
            .signing_client(issuer_id)
            .ok_or(HawkError::UnknownClient)?;
        let key = issuer.access_token.as_bytes();
        let expected = hmac_sha256(key, self.signed_text(client_id).as_bytes());
        let presented = decode_base64(&self.signature)
            .ok_or(HawkError::Certificate("the signature is not base64"))?;
        if !bool::from(expected.as_slice().ct_eq(&presented)) {
            return bad("the signature does not match the issuer's access token");
        }
        if self.issuer.is_some()
            && !issuer
                .scopes
                .satisfies(&format!("auth:create-client:{client_id}"))
        {
            return bad("the issuer may not create named credentials with this name");
        }
        if !issuer
            .scopes
            .missing(self.scopes.iter().map(String::as_str))
            .is_empty()
        {
            return bad("the certificate grants scopes its issuer does not hold");
        }
        Ok(Granted {
            access_token: URL_SAFE_NO_PAD.encode(hmac_sha256(key, self.seed.as_bytes())),
            scopes: clients.expand(&self.scopes),
        })
    }

    /// The lines the issuer signs, in Taskcluster's order.
    fn signed_text(&self, client_id: &str) -> String {
        let mut lines = vec![format!("version:{}", self.version)];
        if let Some(issuer) = &self.issuer {
            lines.push(format!("clientId:{client_id}"));
            lines.push(format!("issuer:{issuer}"));
        }
        lines.push(format!("seed:{}", self.seed));
        lines.push(format!("start:{}", self.start));
        lines.push(format!("expiry:{}", self.expiry));
        lines.push("scopes:".to_owned());
        lines.extend(self.scopes.iter().cloned());
        lines.join("\n")
    }
}
