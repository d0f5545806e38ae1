//! Hawk request authentication, as Taskcluster's own clients send it.
//!
//! A Hawk header carries a MAC over the method, path, host, port, timestamp, nonce and `ext`,
//! keyed with the client's access token. Taskcluster adds two things in `ext` (base64 JSON):
//! `certificate` (temporary credentials, [`certificate`]) and `authorizedScopes` (the request
//! runs with only those scopes). Replays are refused with a timestamp window read from the
//! injectable [`crate::clock::Clock`] and a nonce cache ([`nonces`]).
//!
//! A GET may carry the same credentials in a `bewit` query parameter instead ([`bewit`]).
//!
//! Like Taskcluster, the optional payload hash is covered by the MAC but not compared with the
//! body: the body is read later, by the handler, and the MAC already binds the request line.
//!
//! This file owns what every step shares: [`HawkError`], the clock skew and Taskcluster's
//! lenient base64. Parsing the header is [`header`]'s, checking it [`verifier`]'s, signed URLs
//! [`bewit`]'s; what the refusal answers over HTTP is `api/error.rs`'s.

pub mod bewit;
pub mod certificate;
mod header;
pub mod nonces;
mod verifier;

pub use header::{parse, ParsedHeader};
pub use verifier::HawkVerifier;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use chrono::Duration;

/// Taskcluster's tolerance for clock differences, both ways.
pub const DEFAULT_SKEW: Duration = Duration::minutes(15);

/// Why a Hawk header was refused. Messages never include keys, MACs or tokens.
#[derive(Debug, thiserror::Error)]
pub enum HawkError {
    /// The header does not parse, or lacks `id`, `ts`, `nonce` or `mac`.
    #[error("the Hawk header is malformed or lacks id, ts, nonce or mac")]
    Malformed,
    /// `ext` is not base64 JSON of the expected shape.
    #[error("the Hawk ext is not base64 JSON with certificate and authorizedScopes")]
    BadExt,
    /// No such client, or it may not sign with Hawk.
    #[error("unknown client, or the client cannot sign with Hawk")]
    UnknownClient,
    /// The MAC is wrong.
    #[error("the Hawk MAC does not match")]
    BadMac,
    /// The timestamp is outside the window.
    #[error("the Hawk timestamp is more than {} minutes off", DEFAULT_SKEW.num_minutes())]
    Stale,
    /// The nonce was seen before.
    #[error("this Hawk nonce was already used")]
    Replayed,
    /// The temporary-credentials certificate is invalid.
    #[error("invalid certificate: {0}")]
    Certificate(&'static str),
    /// `authorizedScopes` asks for more than the credentials hold.
    #[error("authorizedScopes are not satisfied by the credentials' scopes")]
    ScopesNotAuthorized,
    /// The `bewit` query parameter does not decode to `id\exp\mac\ext`, or appears twice.
    #[error("the bewit is malformed: expected one url-safe base64 id\\exp\\mac\\ext")]
    MalformedBewit,
    /// The bewit's expiry has passed.
    #[error("the bewit has expired")]
    BewitExpired,
    /// A bewit was sent with a method other than GET.
    #[error("a bewit authorizes only GET requests")]
    BewitNotGet,
    /// The HMAC implementation failed.
    #[error("the Hawk MAC could not be computed")]
    Crypto,
}

/// Decodes base64 in either alphabet, padded or not: Taskcluster's clients differ.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let standard: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    LENIENT.decode(standard).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_read_in_both_alphabets_with_or_without_padding() {
        let expected = b"{\"a\":\"?>\"}".to_vec();
        for text in ["eyJhIjoiPz4ifQ==", "eyJhIjoiPz4ifQ", "eyJhIjoiPz4ifQ=="] {
            assert_eq!(decode_base64(text), Some(expected.clone()), "{text}");
        }
        assert_eq!(decode_base64("Pz4-"), decode_base64("Pz4+"));
        assert!(decode_base64("not base64!").is_none());
    }
}
