//! Completes error bodies with `requestInfo`: method, path parameters, payload and time.
//!
//! The payload is the raw body the [`super::extract::JsonBody`] extractor kept in the request's
//! extensions; it is parsed again only when an error is answered, so successful requests pay
//! nothing for it. Trigger tokens in the path are secrets and are redacted.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use chrono::Utc;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use crate::domain::iso_time;

/// Path parameters whose values never appear in error bodies.
const SECRET_PARAMS: &[&str] = &["token"];

/// The raw request body, kept so an error body can echo it.
#[derive(Clone)]
pub struct RawBody(pub Bytes);

/// Middleware: rebuilds the body of every [`ApiError`] response with the request's details.
///
/// # Errors
/// Passes on errors of the inner service unchanged.
pub async fn attach(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let Some(error) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .cloned()
    else {
        return Ok(res.map_into_boxed_body());
    };
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(old.status());
    for (name, value) in old.headers() {
        if name != actix_web::http::header::CONTENT_LENGTH {
            new.insert_header((name.clone(), value.clone()));
        }
    }
    let body = error.body(describe(&req));
    Ok(ServiceResponse::new(req, new.json(body)))
}

/// `{method, params, payload, time}` for one request.
fn describe(req: &HttpRequest) -> Value {
    let params: Map<String, Value> = req
        .match_info()
        .iter()
        .map(|(name, value)| {
            let shown = if SECRET_PARAMS.contains(&name) {
                "<redacted>".to_owned()
            } else {
                // Router matches keep `%2F` encoded so it cannot split a segment.
                percent_decode_str(value).decode_utf8_lossy().into_owned()
            };
            (name.to_owned(), Value::String(shown))
        })
        .collect();
    let payload = req
        .extensions()
        .get::<RawBody>()
        .map(|raw| {
            serde_json::from_slice(&raw.0)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw.0).into_owned()))
        })
        .unwrap_or_else(|| json!({}));
    json!({
        "method": req.method().as_str().to_ascii_lowercase(),
        "params": params,
        "payload": payload,
        "time": iso_time(Utc::now()),
    })
}
