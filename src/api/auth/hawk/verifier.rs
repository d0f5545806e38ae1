//! Checks a parsed Hawk header: the client or certificate behind it, the MAC over the request,
//! the time window and the nonce, and `authorizedScopes`. What a header says is
//! [`super::header`]'s; the scopes the caller then needs are the handler's.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use actix_web::HttpRequest;
use hawk::mac::{Mac, MacType};

use super::header::{parse, ParsedHeader};
use super::nonces::NonceCache;
use super::{HawkError, DEFAULT_SKEW};
use crate::api::auth::Caller;
use crate::clients::ClientRegistry;
use crate::clock::Clock;

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
        let (access_token, mut scopes) = match ext.certificate {
            Some(field) => {
                let granted =
                    field
                        .into_certificate()?
                        .verify(id, &self.clients, now, DEFAULT_SKEW)?;
                (granted.access_token, granted.scopes)
            }
            None => {
                let client = self
                    .clients
                    .signing_client(id)
                    .ok_or(HawkError::UnknownClient)?;
                (client.access_token.to_owned(), client.scopes.clone())
            }
        };
        let (host, port) = host_and_port(req);
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let key = hawk::Key::new(access_token.as_bytes(), hawk::DigestAlgorithm::Sha256)
            .map_err(|_| HawkError::Crypto)?;
        let expected = Mac::new(
            MacType::Header,
            &key,
            ts,
            nonce,
            req.method().as_str(),
            &host,
            port,
            path,
            header.hash.as_deref(),
            header.ext.as_deref(),
        )
        .map_err(|_| HawkError::Crypto)?;
        if &expected != mac {
            return Err(HawkError::BadMac);
        }
        let ts = ts
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let now_secs = now.timestamp();
        let skew = DEFAULT_SKEW.num_seconds();
        if (ts - now_secs).abs() > skew {
            return Err(HawkError::Stale);
        }
        if !self.nonces.first_use(id, ts, nonce, now_secs - skew) {
            return Err(HawkError::Replayed);
        }
        if let Some(authorized) = ext.authorized_scopes {
            if !scopes
                .missing(authorized.iter().map(String::as_str))
                .is_empty()
            {
                return Err(HawkError::ScopesNotAuthorized);
            }
            scopes = self.clients.expand(&authorized);
        }
        Ok(Caller {
            client_id: id.clone(),
            scopes,
        })
    }
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
