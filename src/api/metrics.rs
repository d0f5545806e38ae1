//! The HTTP side of metrics: `GET /metrics` for Prometheus, and the middleware that counts
//! every request by route pattern and status and notes when it arrived.
//!
//! Requests are counted by the pattern they matched (`/api/hooks/v1/hooks/{hookGroupId}/{hookId}`),
//! never by their raw path: ids in paths would make a new series per hook, and trigger tokens in
//! paths are secrets. Requests that match no route count as `unmatched`.
//!
//! `/metrics` needs no credentials, as Prometheus scrapers expect: it shows counts and
//! timings, never ids or secrets.

use std::future::{ready, Ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};

use crate::metrics::{Metrics, CONTENT_TYPE};

/// The route label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// `GET /metrics`: the Prometheus scrape.
pub async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(metrics.encode())
}

/// When the request arrived, as seen by [`count`]; handlers take it as an extractor to time
/// the whole request, body reading and authentication included.
#[derive(Debug, Clone, Copy)]
pub struct Arrival(pub Instant);

impl FromRequest for Arrival {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Without the middleware (never in the service), the handler's start is the best guess.
        let arrival = req.extensions().get::<Self>().copied();
        ready(Ok(arrival.unwrap_or_else(|| Self(Instant::now()))))
    }
}

/// Middleware: notes the request's [`Arrival`], then counts its answer by method, route
/// pattern and status, errors included.
///
/// # Errors
/// Passes on errors of the inner service unchanged (and counts them by their status).
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    req.extensions_mut().insert(Arrival(Instant::now()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = method_label(req.method()).to_owned();
    let res = next.call(req).await;
    if let Some(metrics) = metrics {
        // Read after routing, which notes the resource that matched: a lookup, where asking
        // before would match the path against the route table a second time. An error answer
        // of a handler or extractor still holds its request; an `Err` (raised by a middleware
        // inside this one: none of hookd's raises its own) does not, and counts as unmatched.
        let (route, status) = match &res {
            Ok(res) => (res.request().match_pattern(), res.status()),
            Err(e) => (None, e.as_response_error().status_code()),
        };
        let route = route.as_deref().unwrap_or(UNMATCHED);
        metrics.http_request(&method, route, status.as_u16());
    }
    res
}

/// The method label: a standard method's name, else `OTHER`, so made-up methods add no series.
fn method_label(method: &Method) -> &str {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if STANDARD.contains(method) {
        method.as_str()
    } else {
        "OTHER"
    }
}
