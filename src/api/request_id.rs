//! Request ids: every request gets one, every response carries it, every log line of the
//! request shows it.
//!
//! A caller's (or proxy's) `X-Request-Id` is kept when it is short and made of safe characters,
//! so one id can follow a request across services; anything else is replaced by a fresh UUID.
//! The id is not added to error bodies: `requestInfo` in `schemas/v1/error.json` allows only
//! Taskcluster's `method`, `params`, `payload` and `time`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use uuid::Uuid;

/// The header, both ways.
pub const HEADER: &str = "x-request-id";

/// The longest id accepted from a caller.
pub const MAX_LEN: usize = 128;

/// Middleware: settles the request's id, runs the request inside a `request` span that carries
/// it, and puts it on the response, errors included.
///
/// # Errors
/// Passes on errors of the inner service, their answer completed with the id.
pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(accepted)
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method());
    // Always valid: a fresh UUID, or a caller's id that passed `accepted`.
    let value = HeaderValue::from_str(&id).ok();
    let with_id = |headers: &mut HeaderMap| {
        if let Some(value) = &value {
            headers.insert(HeaderName::from_static(HEADER), value.clone());
        }
    };
    match next.call(req).instrument(span).await {
        Ok(mut res) => {
            with_id(res.headers_mut());
            Ok(res.map_into_boxed_body())
        }
        // An error that escaped the handlers: keep its answer, add the id.
        Err(e) => {
            let mut answer = e.error_response();
            with_id(answer.headers_mut());
            Err(InternalError::from_response(e, answer).into())
        }
    }
}

/// A caller's id, if it is 1 to [`MAX_LEN`] characters of letters, digits and `-_.:`, which
/// are safe in headers, log lines and log queries alike.
fn accepted(value: &HeaderValue) -> Option<&str> {
    let id = value.to_str().ok()?;
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"-_.:".contains(&b);
    ((1..=MAX_LEN).contains(&id.len()) && id.bytes().all(safe)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_ids_of_safe_characters_are_kept() {
        let ok = |s: &str| accepted(&HeaderValue::from_str(s).unwrap()).is_some();
        assert!(ok("abc-123_X.y:z"), "a typical id is kept");
        assert!(ok(&"a".repeat(MAX_LEN)), "the longest id is kept");
        assert!(!ok(&"a".repeat(MAX_LEN + 1)), "a longer one is not");
        assert!(!ok(""), "an empty one is not");
        assert!(!ok("a b"), "spaces are not safe");
        assert!(!ok("a\"b"), "quotes are not safe");
        assert!(!ok("a/b"), "slashes are not safe");
    }
}
