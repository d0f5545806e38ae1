//! Signing in and out: the form, its check by the API's authenticator, and the session cookie.

use std::sync::Arc;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Duration;

use super::page::{self, Nav, UiError};
use super::session::{self, Posted, Sessions, SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::api::auth::Authenticator;
use crate::api::error::{ApiError, ErrorCode};

/// How long a sign-in form stays valid.
const FORM_LIFETIME_MINUTES: i64 = 30;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    nav: Nav,
    csrf: String,
    client_id: String,
    error: String,
}

/// Renders the form with a fresh token, set in its cookie too.
fn form_page(
    req: &HttpRequest,
    status: StatusCode,
    client_id: String,
    error: String,
) -> Result<HttpResponse, UiError> {
    let csrf = session::sign_in_token();
    let cookie = session::cookie(
        req,
        SIGN_IN_COOKIE,
        csrf.clone(),
        Duration::minutes(FORM_LIFETIME_MINUTES),
    );
    let mut response = page::html(
        status,
        &SignInPage {
            nav: Nav::anonymous(),
            csrf,
            client_id,
            error,
        },
    )?;
    response
        .add_cookie(&cookie)
        .map_err(|e| ApiError::new(ErrorCode::InternalServerError, e.to_string()))?;
    Ok(response)
}

/// `GET /ui/sign-in`
pub async fn form(req: HttpRequest) -> Result<HttpResponse, UiError> {
    form_page(&req, StatusCode::OK, String::new(), String::new())
}

/// `POST /ui/sign-in`: checks the credentials like a bearer header and starts a session.
pub async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    sessions: web::Data<Sessions>,
    auth: web::Data<Arc<dyn Authenticator>>,
) -> Result<HttpResponse, UiError> {
    let mut payload = payload.into_inner();
    let fields = session::read_form(&req, &mut payload).await?;
    session::check_sign_in_token(&req, &fields)?;
    let client_id = session::field(&fields, "clientId").trim().to_owned();
    let access_token = session::field(&fields, "accessToken").trim();
    let caller = match auth.sign_in(&client_id, access_token) {
        Ok(caller) => caller,
        Err(e) => {
            // Logged like the API's failed authentications; never the token.
            tracing::warn!(reason = %e.message, "UI sign-in failed");
            return form_page(&req, e.code.status(), client_id, e.message);
        }
    };
    let id = sessions.start(caller);
    let cookie = session::cookie(&req, SESSION_COOKIE, id, sessions.lifetime());
    let mut response = page::see_other("/ui");
    response
        .add_cookie(&cookie)
        .map_err(|e| ApiError::new(ErrorCode::InternalServerError, e.to_string()))?;
    response
        .add_removal_cookie(&Cookie::build(SIGN_IN_COOKIE, "").path("/ui").finish())
        .map_err(|e| ApiError::new(ErrorCode::InternalServerError, e.to_string()))?;
    Ok(response)
}

/// `POST /ui/sign-out`: ends the session and clears its cookie.
pub async fn sign_out(
    req: HttpRequest,
    _checked: Posted,
    sessions: web::Data<Sessions>,
) -> Result<HttpResponse, UiError> {
    if let Some(id) = session::session_id(&req) {
        sessions.end(&id);
    }
    let mut response = page::see_other("/ui/sign-in");
    response
        .add_removal_cookie(&Cookie::build(SESSION_COOKIE, "").path("/ui").finish())
        .map_err(|e| ApiError::new(ErrorCode::InternalServerError, e.to_string()))?;
    Ok(response)
}
