//! Hawk request authentication, as Taskcluster's own clients send it.
//!
//! A Hawk header carries a MAC over the method, path, host, port, timestamp, nonce and `ext`,
//! keyed with the client's access token. Taskcluster adds two things in `ext` (base64 JSON):
//! `certificate` (temporary credentials, [`certificate`]) and `authorizedScopes` (the request
//! runs with only those scopes). Replays are refused with a timestamp window read from the
//! injectable [`Clock`] and a nonce cache ([`nonces`]).
//!
//! A GET may carry the same credentials in a `bewit` query parameter instead ([`bewit`]).
//!
//! Like Taskcluster, the optional payload hash is covered by the MAC but not compared with the
//! body: the body is read later, by the handler, and the MAC already binds the request line.

pub mod bewit;
pub mod certificate;
pub mod nonces;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::HttpRequest;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hawk::mac::{Mac, MacType};
use serde::Deserialize;

use self::certificate::Certificate;
use self::nonces::NonceCache;
use super::caller::Caller;
use crate::clients::ClientRegistry;
use crate::clock::Clock;
use crate::domain::ScopeSet;

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

/// What Taskcluster clients put in `ext`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ext {
    certificate: Option<CertificateField>,
    authorized_scopes: Option<Vec<String>>,
}

/// Clients send the certificate as an object, some as a JSON string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CertificateField {
    Object(Certificate),
    Text(String),
}

/// Checks Hawk headers against the clients that may sign.
pub struct HawkVerifier {
    clients: Arc<ClientRegistry>,
    clock: Arc<dyn Clock>,
    nonces: NonceCache,
}

impl HawkVerifier {
    /// A verifier over `clients`, reading the time from `clock`.
    pub fn new(clients: Arc<ClientRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            clients,
            clock,
            nonces: NonceCache::default(),
        }
    }

    /// The caller behind `header` (the part after `Hawk `) on `req`.
    ///
    /// # Errors
    /// [`HawkError`] saying what is wrong.
    pub fn verify(&self, req: &HttpRequest, header: &str) -> Result<Caller, HawkError> {
        let ParsedHeader { header, ext } = parse(header)?;
        let (Some(id), Some(ts), Some(nonce), Some(mac)) =
            (&header.id, header.ts, &header.nonce, &header.mac)
        else {
            return Err(HawkError::Malformed);
        };
        let now = self.clock.now();
        let (access_token, scopes) = self.credentials(id, ext.certificate, now)?;
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let expected = compute_mac(
            MacType::Header,
            &access_token,
            (ts, nonce),
            &RequestLine::of(req, path),
            header.hash.as_deref(),
            header.ext.as_deref(),
        )?;
        if &expected != mac {
            return Err(HawkError::BadMac);
        }
        let ts = unix_seconds(ts);
        let now_secs = now.timestamp();
        let skew = DEFAULT_SKEW.num_seconds();
        if (ts - now_secs).abs() > skew {
            return Err(HawkError::Stale);
        }
        if !self.nonces.first_use(id, ts, nonce, now_secs - skew) {
            return Err(HawkError::Replayed);
        }
        Ok(Caller {
            client_id: id.clone(),
            scopes: self.restrict(scopes, ext.authorized_scopes)?,
        })
    }

    /// The MAC key and scopes of Hawk id `id`: its own, or those of the temporary credentials
    /// in `certificate`.
    fn credentials(
        &self,
        id: &str,
        certificate: Option<CertificateField>,
        now: DateTime<Utc>,
    ) -> Result<(String, ScopeSet), HawkError> {
        match certificate {
            Some(field) => {
                let granted =
                    field
                        .into_certificate()?
                        .verify(id, &self.clients, now, DEFAULT_SKEW)?;
                Ok((granted.access_token, granted.scopes))
            }
            None => {
                let client = self
                    .clients
                    .signing_client(id)
                    .ok_or(HawkError::UnknownClient)?;
                Ok((client.access_token.to_owned(), client.scopes.clone()))
            }
        }
    }

    /// `scopes`, or only `authorized` (expanded) when the request asks for that and `scopes`
    /// hold all of it.
    fn restrict(
        &self,
        scopes: ScopeSet,
        authorized: Option<Vec<String>>,
    ) -> Result<ScopeSet, HawkError> {
        let Some(authorized) = authorized else {
            return Ok(scopes);
        };
        if !scopes
            .missing(authorized.iter().map(String::as_str))
            .is_empty()
        {
            return Err(HawkError::ScopesNotAuthorized);
        }
        Ok(self.clients.expand(&authorized))
    }
}

/// What a Hawk MAC covers of the request: method, host, port and path (with query).
struct RequestLine<'a> {
    method: &'a str,
    host: String,
    port: u16,
    path: &'a str,
}

impl<'a> RequestLine<'a> {
    /// `req`'s line, with `path` as the signed path.
    fn of(req: &'a HttpRequest, path: &'a str) -> Self {
        let (host, port) = host_and_port(req);
        Self {
            method: req.method().as_str(),
            host,
            port,
            path,
        }
    }
}

/// The MAC of `line` at `(ts, nonce)` under `access_token`.
fn compute_mac(
    kind: MacType,
    access_token: &str,
    (ts, nonce): (SystemTime, &str),
    line: &RequestLine<'_>,
    hash: Option<&[u8]>,
    ext: Option<&str>,
) -> Result<Mac, HawkError> {
    let key = hawk::Key::new(access_token.as_bytes(), hawk::DigestAlgorithm::Sha256)
        .map_err(|_| HawkError::Crypto)?;
    Mac::new(
        kind,
        &key,
        ts,
        nonce,
        line.method,
        &line.host,
        line.port,
        line.path,
        hash,
        ext,
    )
    .map_err(|_| HawkError::Crypto)
}

/// Seconds since the epoch; times before it count as 0.
fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl CertificateField {
    fn into_certificate(self) -> Result<Certificate, HawkError> {
        match self {
            Self::Object(certificate) => Ok(certificate),
            Self::Text(text) => serde_json::from_str(&text).map_err(|_| HawkError::BadExt),
        }
    }
}

/// A Hawk header with its `ext` decoded, not yet verified.
pub struct ParsedHeader {
    header: hawk::Header,
    ext: Ext,
}

/// Parses the part of an `Authorization` header after `Hawk `, decoding `ext` and a certificate
/// given as text. The fuzz target `hawk_header` drives this with arbitrary input.
///
/// # Errors
/// [`HawkError::Malformed`] or [`HawkError::BadExt`].
pub fn parse(header: &str) -> Result<ParsedHeader, HawkError> {
    if !timestamps_in_range(header) {
        return Err(HawkError::Malformed);
    }
    let header = hawk::Header::from_str(header).map_err(|_| HawkError::Malformed)?;
    let mut ext = parse_ext(header.ext.as_deref())?;
    if let Some(field) = ext.certificate.take() {
        ext.certificate = Some(CertificateField::Object(field.into_certificate()?));
    }
    Ok(ParsedHeader { header, ext })
}

/// Timestamps past this are refused before the `hawk` crate sees them: far beyond any real
/// clock (year 33658), far below where its time arithmetic overflows.
const MAX_TS: u64 = 1_000_000_000_000;

/// Whether every `ts="…"` in the header is a time the standard library can represent.
///
/// The `hawk` crate adds the parsed seconds to the epoch without a check and panics on
/// overflow (found by the `hawk_header` fuzz target), so huge values are refused first.
/// Attribute values cannot contain `"`, so `ts="` only ever starts the `ts` attribute.
fn timestamps_in_range(header: &str) -> bool {
    header.match_indices("ts=\"").all(|(i, _)| {
        let digits = header[i + 4..].split('"').next().unwrap_or_default();
        digits.parse::<u64>().map_or(true, |ts| ts <= MAX_TS)
    })
}

fn parse_ext(ext: Option<&str>) -> Result<Ext, HawkError> {
    match ext {
        None | Some("") => Ok(Ext::default()),
        Some(ext) => {
            let json = decode_base64(ext).ok_or(HawkError::BadExt)?;
            serde_json::from_slice(&json).map_err(|_| HawkError::BadExt)
        }
    }
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

/// The host and port the client addressed, from the `Host` header, as the MAC covers them.
fn host_and_port(req: &HttpRequest) -> (String, u16) {
    let info = req.connection_info();
    let default_port = if info.scheme() == "https" { 443 } else { 80 };
    let host = info.host();
    let split = match host.rfind(':') {
        // "[::1]" has colons but no port; "[::1]:8080" and "h:8080" have one.
        Some(i) if !host[i..].contains(']') => Some((&host[..i], &host[i + 1..])),
        _ => None,
    };
    match split.and_then(|(h, p)| Some((h, p.parse().ok()?))) {
        Some((h, port)) => (h.to_owned(), port),
        None => (host.to_owned(), default_port),
    }
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

    #[test]
    fn timestamps_that_would_overflow_the_clock_are_malformed() {
        let crash = r#"id="ot", ts="17000000001700000000", mac="AAAA""#;
        assert!(matches!(parse(crash), Err(HawkError::Malformed)));
        let fine = r#"id="ot", ts="1700000000", nonce="n", mac="AAAA""#;
        assert!(parse(fine).is_ok());
    }

    #[test]
    fn ext_without_fields_is_empty_and_garbage_is_refused() {
        assert!(parse_ext(None).unwrap().certificate.is_none());
        assert!(parse_ext(Some("e30")).unwrap().authorized_scopes.is_none());
        assert!(matches!(parse_ext(Some("!!")), Err(HawkError::BadExt)));
    }
}
