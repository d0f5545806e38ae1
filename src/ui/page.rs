//! What every page shares: rendering a template into a response, the navigation bar's data,
//! fragments for the progressive-enhancement script, and [`UiError`], the API's one error
//! type shown as a page.
//!
//! Failures are the API's [`ApiError`] with its code and message, so a refusal reads the same
//! in the UI as over HTTP; only the presentation differs (an HTML page instead of JSON, and a
//! trip to the sign-in page instead of `401` when no one is signed in).

use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::api::error::ApiError;

/// The header the UI's script sends when it wants only the fragment an action changed.
pub const FRAGMENT_HEADER: &str = "x-hookd-fragment";

/// Whether the request came from the UI's script and wants a fragment, not a page.
pub fn wants_fragment(req: &HttpRequest) -> bool {
    req.headers().contains_key(FRAGMENT_HEADER)
}

/// What the navigation bar shows and every form carries.
pub struct Nav {
    /// The signed-in client, or empty on the sign-in page.
    pub client_id: String,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: String,
}

impl Nav {
    /// The bar when no one is signed in.
    pub fn anonymous() -> Self {
        Self {
            client_id: String::new(),
            csrf: String::new(),
        }
    }
}

/// Renders `template` as an HTML answer with `status`.
///
/// # Errors
/// `UiError` when the template fails to render (a defect: askama checked it at compile time).
pub fn html(status: StatusCode, template: &impl Template) -> Result<HttpResponse, UiError> {
    let body = template.render().map_err(UiError::Render)?;
    Ok(HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(body))
}

/// Renders `template` as a `200` page.
///
/// # Errors
/// As [`html`].
pub fn ok(template: &impl Template) -> Result<HttpResponse, UiError> {
    html(StatusCode::OK, template)
}

/// A `303 See Other` to `location`: where a form that succeeded sends the browser.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}

/// What an action did, shown in place.
#[derive(Template)]
#[template(path = "result.html")]
pub struct ActionResult {
    /// A one-line summary.
    pub title: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Details, shown preformatted (a rendered task, a new token, an error message).
    pub detail: String,
    /// A link to follow up, `(href, text)`; empty href for none.
    pub link: (String, String),
}

impl ActionResult {
    /// A success.
    pub fn ok(title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ok: true,
            detail: detail.into(),
            link: (String::new(), String::new()),
        }
    }

    /// A failure, with the API's error.
    pub fn failed(title: impl Into<String>, error: &ApiError) -> Self {
        Self {
            title: title.into(),
            ok: false,
            detail: format!("{}: {}", error.code.as_str(), error.message),
            link: (String::new(), String::new()),
        }
    }

    /// The same result, with a link to follow up.
    pub fn linking(mut self, href: String, text: &str) -> Self {
        self.link = (href, text.to_owned());
        self
    }
}

/// A failed UI request.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No one is signed in (or the session expired): off to the sign-in page.
    #[error("sign-in required")]
    SignIn,
    /// What the API would have answered.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A template failed to render.
    #[error("a page failed to render")]
    Render(#[source] askama::Error),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    status: u16,
    code: &'a str,
    message: &'a str,
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn => StatusCode::SEE_OTHER,
            Self::Api(e) => e.code.status(),
            Self::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message) = match self {
            Self::SignIn => return see_other("/ui/sign-in"),
            Self::Api(e) => (e.code.as_str(), e.message.as_str()),
            Self::Render(e) => {
                tracing::error!(error = %e, "a UI page failed to render");
                (
                    "InternalServerError",
                    "hookd hit an internal error; the cause is in its log.",
                )
            }
        };
        let page = ErrorPage {
            nav: Nav::anonymous(),
            status: self.status_code().as_u16(),
            code,
            message,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "hookd could not render this error".to_owned());
        HttpResponse::build(self.status_code())
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(body)
    }
}
