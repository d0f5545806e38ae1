//! Checking a Hawk request: the MAC over the request line, the time window, the nonce, and the
//! credentials (a client's own or a certificate's) with `authorizedScopes` applied. Parsing the
//! header is [`super::header`]'s.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use hawk::mac::{Mac, MacType};

use super::header::{parse, CertificateField, ParsedHeader};
use super::nonces::NonceCache;
use super::{HawkError, DEFAULT_SKEW};
use crate::api::auth::caller::Caller;
use crate::clients::ClientRegistry;
use crate::clock::Clock;
use crate::domain::ScopeSet;

/// Checks Hawk headers against the clients that may sign.
pub struct HawkVerifier {
    clients: Arc<ClientRegistry>,
    pub(super) clock: Arc<dyn Clock>,
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
    pub(super) fn credentials(
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
    pub(super) fn restrict(
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
pub(super) struct RequestLine<'a> {
    method: &'a str,
    host: String,
    port: u16,
    path: &'a str,
}

impl<'a> RequestLine<'a> {
    /// `req`'s line, with `path` as the signed path.
    pub(super) fn of(req: &'a HttpRequest, path: &'a str) -> Self {
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
pub(super) fn compute_mac(
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
pub(super) fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
