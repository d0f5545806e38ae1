//! Access tokens hookd can reproduce, so that their clients can sign with Hawk.
//!
//! Hawk uses a client's access token as its MAC key, so the server needs the token itself,
//! while clients are stored with only a hash of it. hookd squares this by deriving the token:
//! `token = base64url(HMAC-SHA256(client key, "<clientId>\n<salt>"))`. The client record keeps
//! the hash and the random salt; the 256-bit client key lives in its own file in the data dir
//! ([`TokenDeriver::open`]).
//! A leaked clients file alone yields no token; the client key plus the clients file yield
//! all of them, so the key file gets the same care as the trigger-token key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::crypto::{hmac_sha256, random_bytes, KEY_LEN};
use crate::data_dir::{DataDir, DataDirError};

const SALT_BYTES: usize = 16;

/// The client key's file in the data dir.
const CLIENT_KEY_FILE: &str = "client-token.key";

/// Derives access tokens from one client key.
pub struct TokenDeriver {
    key: [u8; KEY_LEN],
}

impl TokenDeriver {
    /// A deriver for `key`.
    pub fn new(key: [u8; KEY_LEN]) -> Self {
        Self { key }
    }

    /// A deriver for the client key of `data_dir`, created on first use.
    ///
    /// # Errors
    /// [`DataDirError`] when the key file cannot be read, written or parsed.
    pub fn open(data_dir: &DataDir) -> Result<Self, DataDirError> {
        data_dir.key(CLIENT_KEY_FILE).map(Self::new)
    }

    /// A fresh random salt; a new salt means a new token.
    pub fn generate_salt() -> String {
        hex::encode(random_bytes::<SALT_BYTES>())
    }

    /// The access token of `client_id` with `salt`.
    pub fn token(&self, client_id: &str, salt: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(
            &self.key,
            format!("{client_id}\n{salt}").as_bytes(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_key_client_and_salt() {
        let one = TokenDeriver::new([1; KEY_LEN]);
        let two = TokenDeriver::new([2; KEY_LEN]);
        let token = one.token("ci", "s");
        assert_eq!(token, one.token("ci", "s"));
        assert_eq!(token.len(), 43);
        assert_ne!(token, one.token("cd", "s"));
        assert_ne!(token, one.token("ci", "t"));
        assert_ne!(token, two.token("ci", "s"));
        assert_ne!(TokenDeriver::generate_salt(), TokenDeriver::generate_salt());
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
