//! A request body not read to its end closes the connection after the answer.
//!
//! When a handler answers without reading the whole body (an extractor refused it as too
//! large, too slow or compressed, or the endpoint takes no body), actix reads the rest of a
//! chunked body and throws it away before it takes the next request on the connection: a
//! client that keeps such a body open, or sends it slowly, holds the connection for as long as
//! it likes. Actix closes the connection instead when the body's reader is still alive while
//! the answer is written. So the [`hold`] middleware hands the handler the body through a
//! stream that notes whether it reached its end, and when it did not, moves the reader into
//! the answer's body, which lives until the answer is sent.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

/// A request body's reader, and whether the handler read it to its end.
struct BodyReader {
    payload: Payload,
    ended: bool,
}

/// Middleware: closes the connection after an answer that left the request body unread.
///
/// # Errors
/// Passes on errors of the inner service unchanged.
pub async fn hold(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let payload = req.take_payload();
    if matches!(payload, Payload::None) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let reader = Rc::new(RefCell::new(BodyReader {
        payload,
        ended: false,
    }));
    let tracked: Pin<Box<dyn Stream<Item = _>>> = Box::pin(Tracked(Rc::clone(&reader)));
    req.set_payload(Payload::from(tracked));
    let res = next.call(req).await?;
    if reader.borrow().ended {
        return Ok(res.map_into_boxed_body());
    }
    Ok(res.map_body(|_, body| {
        BoxBody::new(Holding {
            body: body.boxed(),
            _reader: reader,
        })
    }))
}

/// The request body as the handler sees it.
struct Tracked(Rc<RefCell<BodyReader>>);

impl Stream for Tracked {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut reader = self.0.borrow_mut();
        let next = Pin::new(&mut reader.payload).poll_next(cx);
        if matches!(next, Poll::Ready(None)) {
            reader.ended = true;
        }
        next
    }
}

/// An answer's body that keeps the unread request body's reader alive until it is dropped.
struct Holding {
    body: BoxBody,
    _reader: Rc<RefCell<BodyReader>>,
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
