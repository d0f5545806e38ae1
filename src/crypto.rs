//! hookd's cryptography in one place: HMAC-SHA256, random bytes, 256-bit keys and the
//! trigger-token cipher (generation, sealing at rest and constant-time checking).
//!
//! getTriggerToken must hand the token back, so it cannot be hashed; instead it is encrypted
//! with AES-256-GCM under a key kept outside the store (in the data dir or the config). The
//! hook's name is bound in as associated data, so a sealed token copied onto another hook does
//! not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::{HookKey, SealedToken};

/// Length of a key in bytes: the token cipher's, the client token deriver's.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Random bytes per trigger token: 256 bits, far beyond guessing.
const TOKEN_BYTES: usize = 32;

/// HMAC-SHA256 of `data` under `key`; any key length is valid for HMAC.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A key written as hex is not exactly [`KEY_LEN`] bytes.
#[derive(Debug, thiserror::Error)]
#[error("a key must be {} hex digits", KEY_LEN * 2)]
pub struct BadKey;

/// Parses a key written as hex (surrounding whitespace allowed).
///
/// # Errors
/// [`BadKey`] unless it is exactly 64 hex digits.
pub fn parse_key(hex_key: &str) -> Result<[u8; KEY_LEN], BadKey> {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(BadKey)
}

/// Why a sealed token could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The stored value is not what [`TokenCipher::seal`] produces, or another key sealed it.
    #[error("the stored trigger token cannot be opened with the configured key")]
    Unreadable,
    /// The cipher refused to encrypt.
    #[error("the trigger token could not be encrypted")]
    Unsealable,
}

/// Seals and opens trigger tokens with one key.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(..)")
    }
}

impl TokenCipher {
    /// A cipher for `key`.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        }
    }

    /// A fresh random key.
    pub fn generate_key() -> [u8; KEY_LEN] {
        random_bytes()
    }

    /// A fresh random trigger token, URL-safe.
    pub fn generate_token() -> String {
        URL_SAFE_NO_PAD.encode(random_bytes::<TOKEN_BYTES>())
    }

    /// Encrypts `token` for the hook `key`.
    ///
    /// # Errors
    /// [`TokenError::Unsealable`] if the cipher refuses the input (only for gigabyte inputs).
    pub fn seal(&self, hook: &HookKey, token: &str) -> Result<SealedToken, TokenError> {
        let nonce = random_bytes::<NONCE_LEN>();
        let aad = hook.to_string();
        let payload = Payload {
            msg: token.as_bytes(),
            aad: aad.as_bytes(),
        };
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| TokenError::Unsealable)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(SealedToken(URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// Decrypts a token sealed for the hook `key`.
    ///
    /// # Errors
    /// [`TokenError::Unreadable`] when it was sealed with another key or for another hook.
    pub fn open(&self, hook: &HookKey, sealed: &SealedToken) -> Result<String, TokenError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&sealed.0)
            .map_err(|_| TokenError::Unreadable)?;
        if bytes.len() <= NONCE_LEN {
            return Err(TokenError::Unreadable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let aad = hook.to_string();
        let payload = Payload {
            msg: ciphertext,
            aad: aad.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| TokenError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| TokenError::Unreadable)
    }

    /// True when `presented` is the token sealed in `sealed`, compared in constant time.
    pub fn matches(&self, hook: &HookKey, sealed: &SealedToken, presented: &str) -> bool {
        match self.open(hook, sealed) {
            Ok(token) => bool::from(token.as_bytes().ct_eq(presented.as_bytes())),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HookGroupId, HookId};

    fn key(group: &str, id: &str) -> HookKey {
        HookKey::new(
            HookGroupId::parse(group).unwrap(),
            HookId::parse(id).unwrap(),
        )
    }

    #[test]
    fn a_sealed_token_opens_to_itself_and_is_not_stored_in_clear() {
        let cipher = TokenCipher::new(&TokenCipher::generate_key());
        let token = TokenCipher::generate_token();
        let sealed = cipher.seal(&key("g", "h"), &token).unwrap();
        assert!(!sealed.0.contains(&token));
        assert_eq!(cipher.open(&key("g", "h"), &sealed).unwrap(), token);
        assert!(cipher.matches(&key("g", "h"), &sealed, &token));
        assert!(!cipher.matches(&key("g", "h"), &sealed, "wrong"));
    }

    #[test]
    fn a_token_sealed_for_one_hook_does_not_open_for_another() {
        let cipher = TokenCipher::new(&TokenCipher::generate_key());
        let sealed = cipher.seal(&key("g", "h"), "secret").unwrap();
        assert!(cipher.open(&key("g", "other"), &sealed).is_err());
    }

    #[test]
    fn another_key_cannot_open_a_token() {
        let sealed = TokenCipher::new(&TokenCipher::generate_key())
            .seal(&key("g", "h"), "s")
            .unwrap();
        let other = TokenCipher::new(&TokenCipher::generate_key());
        assert!(other.open(&key("g", "h"), &sealed).is_err());
        assert!(other
            .open(&key("g", "h"), &SealedToken("garbage!".into()))
            .is_err());
    }

    #[test]
    fn generated_tokens_are_distinct_and_url_safe() {
        let a = TokenCipher::generate_token();
        assert_ne!(a, TokenCipher::generate_token());
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
