//! Error answers that actix-http writes on its own, rewritten into hookd's JSON error shape.
//!
//! Some requests never reach hookd's code: a head with a control byte in a header or a garbled
//! request line (actix answers 400), a head larger than its buffer (431), a head that does not
//! arrive in time (408). actix-http writes those answers itself, with an empty body, and offers
//! no way to change them. Clients of hookd expect `{code, message, requestInfo}` on every
//! error, so each connection's socket is wrapped in [`JsonFrameworkErrors`], which watches what
//! the server writes: an error answer with `content-length: 0` at the start of a write is
//! replaced, on the wire, by the same status and headers with a JSON body. hookd's own error
//! answers always carry a body (the one mapping in [`super::error`]), so an empty error answer
//! can only come from the framework. actix writes such an answer alone and then closes the
//! connection, which is why looking at the start of a write is enough.

use std::future::{ready as ready_now, Ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use actix_http::error::DispatchError;
use chrono::Utc;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::error::{ApiError, ErrorCode};
use crate::domain::iso_time;

/// A connection's socket whose framework-written error answers get JSON bodies.
pub struct JsonFrameworkErrors<IO> {
    io: IO,
    rewrite: Option<Rewrite>,
}

/// An answer being written in place of the framework's.
struct Rewrite {
    /// The answer hookd sends instead.
    bytes: Vec<u8>,
    /// How much of it is written.
    written: usize,
    /// The length of the framework's answer, reported as written once `bytes` is.
    replaces: usize,
}

impl<IO> JsonFrameworkErrors<IO> {
    /// Wraps one connection's socket.
    pub fn new(io: IO) -> Self {
        Self { io, rewrite: None }
    }
}

/// What actix-http's HTTP/1 service takes for one connection: its socket and the peer's address.
pub type Connection = (JsonFrameworkErrors<TcpStream>, Option<SocketAddr>);

/// Takes an accepted connection to actix-http's HTTP/1 service, its socket wrapped.
pub fn accept(io: TcpStream) -> Ready<Result<Connection, DispatchError>> {
    let peer = io.peer_addr().ok();
    ready_now(Ok((JsonFrameworkErrors::new(io), peer)))
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonFrameworkErrors<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonFrameworkErrors<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.rewrite.is_none() {
            match with_json_body(buf) {
                Some(bytes) => {
                    this.rewrite = Some(Rewrite {
                        bytes,
                        written: 0,
                        replaces: buf.len(),
                    })
                }
                None => return Pin::new(&mut this.io).poll_write(cx, buf),
            }
        }
        let Some(rewrite) = this.rewrite.as_mut() else {
            unreachable!("a rewrite was set above");
        };
        // The connection closes after this answer; whatever the framework writes after it
        // (nothing, in practice) is passed through once the replacement is out.
        if rewrite.written == rewrite.bytes.len() {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        while rewrite.written < rewrite.bytes.len() {
            let n =
                ready!(Pin::new(&mut this.io).poll_write(cx, &rewrite.bytes[rewrite.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            rewrite.written += n;
        }
        Poll::Ready(Ok(rewrite.replaces))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The answer to send instead of `written`, when `written` is a framework error answer: an
/// HTTP/1.1 head alone, with an error status and `content-length: 0`.
fn with_json_body(written: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(written.strip_suffix(b"\r\n\r\n")?).ok()?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let (code, message) = explain(status)?;
    let headers: Vec<&str> = lines.collect();
    let empty = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"));
    if !empty {
        return None;
    }
    let body = ApiError::new(code, message)
        .body(json!({
            "method": "",
            "params": {},
            "payload": {},
            "time": iso_time(Utc::now()),
        }))
        .to_string();
    let mut answer = format!("{status_line}\r\n");
    for header in headers
        .iter()
        .filter(|h| !h.eq_ignore_ascii_case("content-length: 0"))
    {
        answer.push_str(header);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some(answer.into_bytes())
}

/// The error code and message for a status the framework answers on its own.
fn explain(status: u16) -> Option<(ErrorCode, &'static str)> {
    Some(match status {
        400 => (
            ErrorCode::MalformedRequest,
            "The request is not valid HTTP/1.1: its request line is garbled, or a header holds \
             a control character or is malformed.",
        ),
        408 => (
            ErrorCode::RequestTimeout,
            "The request head did not arrive in time.",
        ),
        431 => (
            ErrorCode::HeadersTooLarge,
            "The request head is larger than hookd accepts.",
        ),
        500 => (
            ErrorCode::InternalServerError,
            "hookd hit an internal error; the cause is in its log.",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(answer: &[u8]) -> serde_json::Value {
        let text = std::str::from_utf8(answer).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn an_empty_framework_400_gets_a_json_body_and_keeps_its_headers() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\
                     date: Mon, 30 Nov 2026 07:55:20 GMT\r\n\r\n";
        let answer = with_json_body(bare).expect("rewritten");
        let text = std::str::from_utf8(&answer).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("\r\nconnection: close\r\n"), "{text}");
        assert!(
            text.contains("\r\ndate: Mon, 30 Nov 2026 07:55:20 GMT\r\n"),
            "{text}"
        );
        assert!(!text.contains("content-length: 0"), "{text}");
        let body = body_of(&answer);
        assert_eq!(body["code"], "MalformedRequest");
        let (_, raw_body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            text.contains(&format!("content-length: {}\r\n", raw_body.len())),
            "{text}"
        );
    }

    #[test]
    fn answers_with_a_body_or_a_success_status_pass_unchanged() {
        for written in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"{\"part\": \"of a body\"}",
        ] {
            assert!(with_json_body(written).is_none(), "{written:?}");
        }
    }

    #[tokio::test]
    async fn the_replacement_is_what_reaches_the_peer() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let (client, server) = tokio::io::duplex(16);
        let mut wrapped = JsonFrameworkErrors::new(server);
        let bare =
            b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut seen = Vec::new();
            client.read_to_end(&mut seen).await.unwrap();
            seen
        });
        // A small pipe forces the replacement out in several partial writes.
        let n = wrapped.write(bare).await.unwrap();
        assert_eq!(n, bare.len());
        wrapped.shutdown().await.unwrap();
        drop(wrapped);
        let seen = reader.await.unwrap();
        assert_eq!(body_of(&seen)["code"], "RequestTimeout");
    }
}
