//! Who is calling, and may they: the authentication seam and scope checks.
//!
//! Handlers take a [`Caller`]; how it was established is the [`Authenticator`]'s business.
//! [`ClientAuthenticator`] accepts bearer tokens (`Authorization: Bearer <clientId>:<accessToken>`,
//! for curl), Hawk (`Authorization: Hawk ...`, what Taskcluster's clients send; see
//! [`hawk`]) and, on a GET without that header, a Hawk `bewit` in the query (signed URLs, see
//! [`hawk::bewit`]). Every caller, anonymous or not, holds the anonymous role's scopes.
//!
//! Owns: the [`Authenticator`] seam, [`Caller`] and its scope check (`caller`), Hawk and
//! bewits (`hawk/`). Leaves to others: which clients exist and their scopes (`clients`), which scopes
//! an endpoint needs (each handler), and how a refusal is answered (`api/error.rs`).

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};

mod caller;
pub mod hawk;

pub use caller::{Caller, ANONYMOUS};

use super::error::{ApiError, ErrorCode};
use super::ApiState;
use crate::clients::ClientRegistry;
use crate::clock::Clock;
use hawk::bewit::SignedQuery;
use hawk::HawkVerifier;

/// Establishes who made a request.
pub trait Authenticator: Send + Sync + 'static {
    /// The caller of `req`; anonymous when it carries no credentials.
    ///
    /// # Errors
    /// `AuthenticationFailed` when credentials are present but wrong or malformed.
    fn authenticate(&self, req: &HttpRequest) -> Result<Caller, ApiError>;

    /// The caller holding `client_id` and `access_token`, as a bearer header would give them:
    /// how the UI's sign-in form is checked.
    ///
    /// # Errors
    /// `AuthenticationFailed` for an unknown client or a wrong token.
    fn sign_in(&self, client_id: &str, access_token: &str) -> Result<Caller, ApiError>;
}

/// Bearer tokens and Hawk headers, checked against the configured clients.
pub struct ClientAuthenticator {
    clients: Arc<ClientRegistry>,
    hawk: HawkVerifier,
}

impl ClientAuthenticator {
    /// Authenticates against `clients`; Hawk timestamps are judged by `clock`.
    pub fn new(clients: ClientRegistry, clock: Arc<dyn Clock>) -> Self {
        let clients = Arc::new(clients);
        Self {
            hawk: HawkVerifier::new(Arc::clone(&clients), clock),
            clients,
        }
    }

    fn bearer(&self, credentials: &str) -> Result<Caller, ApiError> {
        let (client_id, token) = credentials
            .trim()
            .split_once(':')
            .ok_or_else(|| failed("bearer credentials must be <clientId>:<accessToken>"))?;
        self.sign_in(client_id, token)
    }

    /// The caller behind an `Authorization` header.
    fn header(&self, req: &HttpRequest, header: &str) -> Result<Caller, ApiError> {
        if let Some(credentials) = header.strip_prefix("Bearer ") {
            self.bearer(credentials)
        } else if let Some(hawk) = header.strip_prefix("Hawk ") {
            self.hawk.verify(req, hawk).map_err(ApiError::from)
        } else {
            Err(failed(
                "expected \"Authorization: Bearer <clientId>:<accessToken>\" or a Hawk header",
            ))
        }
    }

    /// The caller of a request without an `Authorization` header: the bewit's, or anonymous.
    /// Like Taskcluster, a bewit counts only without a header.
    fn without_header(&self, req: &HttpRequest) -> Result<Caller, ApiError> {
        match SignedQuery::find(req.query_string())? {
            Some(signed) => Ok(self.hawk.verify_bewit(req, &signed)?),
            None => Ok(Caller {
                client_id: ANONYMOUS.to_owned(),
                scopes: self.clients.anonymous().clone(),
            }),
        }
    }
}

fn failed(why: &str) -> ApiError {
    ApiError::new(ErrorCode::AuthenticationFailed, why)
}

impl Authenticator for ClientAuthenticator {
    fn sign_in(&self, client_id: &str, access_token: &str) -> Result<Caller, ApiError> {
        let scopes = self
            .clients
            .verify(client_id, access_token)
            .ok_or_else(|| failed("unknown client or wrong access token"))?;
        Ok(Caller {
            client_id: client_id.to_owned(),
            scopes: scopes.clone(),
        })
    }

    fn authenticate(&self, req: &HttpRequest) -> Result<Caller, ApiError> {
        let caller = match req.headers().get(AUTHORIZATION) {
            Some(header) => self.header(req, header.to_str().unwrap_or_default()),
            None => self.without_header(req),
        };
        // Failed attempts are worth an operator's attention; the reason never holds a secret,
        // and neither the header nor the query string (a bewit) is ever logged.
        if let Err(e) = &caller {
            tracing::warn!(reason = %e.message, "authentication failed");
        }
        caller
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = match req.app_data::<web::Data<Arc<dyn Authenticator>>>() {
            Some(auth) => auth.authenticate(req),
            None => Err(ApiError::new(
                ErrorCode::InternalServerError,
                "no authenticator is configured",
            )),
        };
        let limited = |caller: Caller| match req.app_data::<web::Data<ApiState>>() {
            Some(state) if caller.client_id != ANONYMOUS => {
                state.rate_limits.check_client(&caller.client_id)?;
                Ok(caller)
            }
            _ => Ok(caller),
        };
        std::future::ready(caller.and_then(limited))
    }
}
