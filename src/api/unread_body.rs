//! A request body refused before its end closes the connection after the answer.
//!
//! Once an extractor stops reading (too large, too slow, compressed), actix would read the rest
//! of a chunked body and throw it away before taking the next request on the connection: a
//! client that keeps the body open, or sends it slowly, then holds the connection for as long
//! as it likes. Actix closes instead when the body's reader is still alive while the answer is
//! written, so [`close_after_answer`] parks the reader in the request and the [`hold`]
//! middleware moves it into the answer's body, which lives until the answer is sent.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest};

/// The reader of a body an extractor stopped reading, parked in the request's extensions.
struct UnreadBody(Payload);

/// Makes the connection close after this request's answer, because `payload` was not read to
/// its end.
pub fn close_after_answer(req: &HttpRequest, payload: Payload) {
    req.extensions_mut().insert(UnreadBody(payload));
}

/// Middleware: keeps a parked body reader alive until the answer has been written.
///
/// # Errors
/// Passes on errors of the inner service unchanged.
pub async fn hold(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let unread = res.request().extensions_mut().remove::<UnreadBody>();
    Ok(match unread {
        Some(UnreadBody(payload)) => res.map_body(|_, body| {
            BoxBody::new(Holding {
                body: body.boxed(),
                _payload: payload,
            })
        }),
        None => res.map_into_boxed_body(),
    })
}

/// An answer's body that owns the unread request body's reader until it is dropped.
struct Holding {
    body: BoxBody,
    _payload: Payload,
}

impl MessageBody for Holding {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}
