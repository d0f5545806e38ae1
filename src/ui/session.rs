//! Who is signed in to the UI: server-side sessions behind a cookie, and the CSRF tokens that
//! every form carries.
//!
//! A session holds the [`Caller`] that the sign-in form's `clientId` and `accessToken` gave
//! (checked by the API's own authenticator), so every page asks the API's scope checks with
//! that caller's scopes. The cookie holds only a random session id: `HttpOnly` (no script
//! reads it), `SameSite=Strict` (no other site sends it), `Secure` when the request came over
//! TLS, and it expires with the session. The access token is never kept, shown or logged.
//!
//! Sessions live in this process's memory: a restart signs everyone out, and several replicas
//! behind one address need sticky sessions. That keeps secrets out of the store.
//!
//! Every POST is read through [`Posted`], which refuses a form whose `csrf` field is not the
//! session's token, so no handler can forget the check. The sign-in form, before any session,
//! is checked the same way against a short-lived pre-session cookie.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::web;
use actix_web::{FromRequest, HttpRequest};
use chrono::{DateTime, Duration, Utc};
use subtle::ConstantTimeEq;

use super::page::{Nav, UiError};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::read_bounded;
use crate::api::ApiState;
use crate::clock::Clock;
use crate::crypto::random_bytes;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hookd_session";
/// The cookie that ties the sign-in form to the browser that loaded it.
pub const SIGN_IN_COOKIE: &str = "hookd_sign_in";

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    /// Who signed in, with the scopes every page is checked against.
    pub caller: Caller,
    /// The token every form of this session carries.
    pub csrf: String,
    expires: DateTime<Utc>,
}

impl Session {
    /// The navigation bar of this session's pages.
    pub fn nav(&self) -> Nav {
        Nav {
            client_id: self.caller.client_id.clone(),
            csrf: self.csrf.clone(),
        }
    }
}

/// The sessions of this process.
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
}

fn random_token() -> String {
    hex::encode(random_bytes::<32>())
}

impl Sessions {
    /// Sessions lasting `lifetime` from sign-in, timed by `clock`.
    pub fn new(lifetime: std::time::Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            by_id: Mutex::new(HashMap::new()),
            lifetime: Duration::from_std(lifetime).unwrap_or(Duration::hours(8)),
            clock,
        }
    }

    /// Starts a session for `caller`; its id, for the cookie.
    pub fn start(&self, caller: Caller) -> String {
        let id = random_token();
        let now = self.clock.now();
        let session = Session {
            caller,
            csrf: random_token(),
            expires: now + self.lifetime,
        };
        let mut sessions = self.lock();
        // Sign-ins are rare next to page views: sweeping expired sessions here bounds the map.
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(id.clone(), session);
        id
    }

    /// The live session of `id`.
    fn find(&self, id: &str) -> Option<Session> {
        let now = self.clock.now();
        self.lock().get(id).filter(|s| s.expires > now).cloned()
    }

    /// Ends the session of `id`, if any.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// How long a new session lasts.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A cookie the UI sets: `HttpOnly`, `SameSite=Strict`, scoped to `/ui`, `Secure` over TLS.
pub fn cookie(
    req: &HttpRequest,
    name: &'static str,
    value: String,
    max_age: Duration,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(actix_web::cookie::time::Duration::seconds(
            max_age.num_seconds(),
        ))
        .finish()
}

/// A fresh sign-in form token, for the form and its cookie.
pub fn sign_in_token() -> String {
    random_token()
}

/// Whether `given` is `expected`, compared in constant time.
pub fn tokens_match(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

fn sessions(req: &HttpRequest) -> Result<&Sessions, UiError> {
    req.app_data::<web::Data<Sessions>>()
        .map(|sessions| sessions.get_ref())
        .ok_or_else(|| {
            UiError::Api(ApiError::new(
                ErrorCode::InternalServerError,
                "the UI is not configured",
            ))
        })
}

/// The signed-in session of a request; a request without one is sent to the sign-in page.
pub struct Signed(pub Session);

impl Signed {
    fn of(req: &HttpRequest) -> Result<Self, UiError> {
        let id = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or(UiError::SignIn)?;
        let session = sessions(req)?.find(&id).ok_or(UiError::SignIn)?;
        // The UI counts against the same per-client rate limit as the API.
        if let Some(state) = req.app_data::<web::Data<ApiState>>() {
            state.rate_limits.check_client(&session.caller.client_id)?;
        }
        Ok(Self(session))
    }
}

impl FromRequest for Signed {
    type Error = UiError;
    type Future = std::future::Ready<Result<Self, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::of(req))
    }
}

/// The id of the request's session cookie, live or not.
pub fn session_id(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

/// A POSTed form of a signed-in session whose CSRF token matched: the only way UI handlers
/// read a form, so none can skip the check.
pub struct Posted {
    /// The session that posted it.
    pub session: Session,
    /// The form's fields in order, `csrf` included.
    pub fields: Vec<(String, String)>,
}

impl Posted {
    /// The first value of `name`, or empty.
    pub fn field(&self, name: &str) -> &str {
        field(&self.fields, name)
    }
}

/// The first value of `name` in `fields`, or empty.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Reads an urlencoded form body, bounded like every request body of the API.
///
/// # Errors
/// What [`read_bounded`] refuses, or `MalformedPayload` for a body that is not a form.
pub async fn read_form(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Result<Vec<(String, String)>, ApiError> {
    let body = read_bounded(req, payload).await?;
    serde_urlencoded::from_bytes(&body).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedPayload,
            format!("the form is not urlencoded: {e}"),
        )
    })
}

fn csrf_refused() -> UiError {
    UiError::Api(ApiError::new(
        ErrorCode::AuthenticationFailed,
        "the form's CSRF token is missing or stale; reload the page and try again",
    ))
}

impl FromRequest for Posted {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, UiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let Signed(session) = Signed::of(&req)?;
            let fields = read_form(&req, &mut payload).await?;
            if !tokens_match(field(&fields, "csrf"), &session.csrf) {
                return Err(csrf_refused());
            }
            Ok(Self { session, fields })
        })
    }
}

/// Checks a sign-in form's token against its pre-session cookie.
///
/// # Errors
/// `AuthenticationFailed` when they differ or either is missing.
pub fn check_sign_in_token(req: &HttpRequest, fields: &[(String, String)]) -> Result<(), UiError> {
    let expected = req
        .cookie(SIGN_IN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if tokens_match(field(fields, "csrf"), &expected) {
        Ok(())
    } else {
        Err(csrf_refused())
    }
}
