//! Connections a client cannot hold hostage: a body that stops arriving is answered 408, an
//! oversized chunked body 413, a body the endpoint does not read is not waited for, and each
//! time the connection closes; compressed bodies are refused with 415. Raw sockets, because an
//! HTTP client library would not send these.

use std::time::Duration;

use hookd::config::Settings;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use hookd_testkit::app::{hook_body, spawn_app_with, TestApp, ROOT_TOKEN};

/// How long a test waits for the server to answer and close before it calls the connection
/// held: far above the timeouts the tests configure, far below "held for as long as the
/// client likes".
const PATIENCE: Duration = Duration::from_secs(20);

/// The request timeout of tests about a body that stops: the head and the body are each
/// bounded by it, so it is long enough that a loaded machine still reads the head in time.
const BODY_TIMEOUT: Duration = Duration::from_secs(2);

/// One HTTP answer read off a raw connection.
#[derive(Debug)]
pub struct RawAnswer {
    /// The status code.
    pub status: u16,
    /// The body, parsed as JSON (`Null` when there is none).
    pub body: Value,
}

/// Opens a connection to `app` and sends `head` (the request line and headers, without the
/// blank line that ends them) followed by `body_start`.
pub async fn open(app: &TestApp, head: &str, body_start: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("the server accepts connections");
    stream
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // The server may answer (and stop reading) before all of it is sent: a refused write is
    // that answer's business, which the test reads next.
    let _ = stream.write_all(body_start).await;
    stream
}

/// The head of an authenticated root request `method path` with `headers` (one per line).
pub fn request_head(method: &str, path: &str, headers: &[&str]) -> String {
    let mut head = format!(
        "{method} /api/hooks/v1{path} HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer root:{ROOT_TOKEN}\r\nContent-Type: application/json"
    );
    for header in headers {
        head.push_str("\r\n");
        head.push_str(header);
    }
    head
}

/// Reads what the server sends until it closes the connection; panics when it does not close
/// within [`PATIENCE`].
pub async fn answer_then_close(stream: &mut (impl AsyncRead + Unpin)) -> RawAnswer {
    let mut raw = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        // A reset after the answer (the client kept sending) ends the reading like a close.
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            raw.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the server closes the connection after answering");
    parse(&raw)
}

fn parse(raw: &[u8]) -> RawAnswer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    let body = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
    };
    RawAnswer { status, body }
}

/// An app with the hook `g/h`, after `customize` adjusts its settings.
pub async fn app_with_hook(customize: impl Fn(&mut Settings) + Send + Sync + 'static) -> TestApp {
    let app = spawn_app_with(customize).await;
    app.create_hook("g/h", hook_body()).await;
    app
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_answered_408_and_the_connection_closed() {
    let app = app_with_hook(|s| s.request_timeout = BODY_TIMEOUT).await;
    let head = request_head("POST", "/hooks/g/h/trigger", &["Content-Length: 500000"]);
    let mut body = b"{\"padding\": \"".to_vec();
    body.resize(1024, b'x');

    let mut stream = open(&app, &head, &body).await;
    let answer = answer_then_close(&mut stream).await;

    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.body["code"], "RequestTimeout", "{answer:?}");
    assert_eq!(answer.body["requestInfo"]["method"], "post", "{answer:?}");
}

#[tokio::test]
async fn a_chunked_body_that_stops_is_answered_408_and_the_connection_closed() {
    let app = app_with_hook(|s| s.request_timeout = BODY_TIMEOUT).await;
    let head = request_head(
        "POST",
        "/hooks/g/h/trigger",
        &["Transfer-Encoding: chunked"],
    );

    let mut stream = open(&app, &head, b"a\r\n{\"padding\"\r\n").await;
    let answer = answer_then_close(&mut stream).await;

    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.body["code"], "RequestTimeout", "{answer:?}");
    assert_eq!(answer.body["requestInfo"]["method"], "post", "{answer:?}");
}

#[tokio::test]
async fn an_oversized_chunked_body_is_answered_413_and_the_connection_closed() {
    // A request timeout far beyond the test's patience: only the 413 may close the connection.
    let app = app_with_hook(|s| {
        s.body_limit = 1000;
        s.request_timeout = 10 * PATIENCE;
    })
    .await;
    let head = request_head(
        "POST",
        "/hooks/g/h/trigger",
        &["Transfer-Encoding: chunked"],
    );
    let mut chunk = format!("{:x}\r\n", 2000).into_bytes();
    chunk.resize(chunk.len() + 2000, b' ');
    chunk.extend_from_slice(b"\r\n");

    // The chunk is more than the limit, and the body never ends.
    let mut stream = open(&app, &head, &chunk).await;
    let answer = answer_then_close(&mut stream).await;

    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(answer.body["code"], "PayloadTooLarge", "{answer:?}");
}

#[tokio::test]
async fn a_chunked_body_an_endpoint_does_not_read_closes_the_connection_after_the_answer() {
    // As above: only the server's own decision may close the connection in time.
    let app = app_with_hook(|s| s.request_timeout = 10 * PATIENCE).await;
    let head = request_head("GET", "/hooks/g/h", &["Transfer-Encoding: chunked"]);

    let mut stream = open(&app, &head, b"5\r\nnever\r\n").await;
    let answer = answer_then_close(&mut stream).await;

    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["hookId"], "h", "{answer:?}");
}

/// `{}` compressed with gzip.
const GZIPPED_EMPTY_OBJECT: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0xae, 0x05, 0x00, 0x43, 0xbf,
    0xa6, 0xa3, 0x02, 0x00, 0x00, 0x00,
];

#[tokio::test]
async fn a_compressed_body_is_refused_with_415_and_no_fire() {
    let app = app_with_hook(|_| {}).await;
    // Plain JSON that claims to be compressed: it must not be taken at face value either.
    let plain = b"{}".to_vec();

    for (what, body) in [("gzip", GZIPPED_EMPTY_OBJECT.to_vec()), ("plain", plain)] {
        let request = app
            .raw(reqwest::Method::POST, "/hooks/g/h/trigger")
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(body);
        let reply = app.send(request).await;
        assert_eq!(
            (reply.status.as_u16(), reply.body["code"].as_str()),
            (415, Some("UnsupportedMediaType")),
            "{what} body: {}",
            reply.body
        );
    }
    let fires = app.last_fires("g/h", "").await;
    assert_eq!(fires["lastFires"], serde_json::json!([]), "{fires}");
}

/// Sends `raw` as it is on a new connection and reads the answer.
async fn send_raw(app: &TestApp, raw: &[u8]) -> RawAnswer {
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("the server accepts connections");
    stream.write_all(raw).await.unwrap();
    answer_then_close(&mut stream).await
}

#[tokio::test]
async fn requests_the_framework_cannot_parse_get_json_errors() {
    let app = app_with_hook(|_| {}).await;
    let huge_header = format!("X-Padding: {}", "a".repeat(200_000));
    let cases: [(&str, Vec<u8>, u16, &str); 4] = [
        (
            "a NUL byte in a header",
            b"GET /api/hooks/v1/ping HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n".to_vec(),
            400,
            "MalformedRequest",
        ),
        (
            "a control byte in a header",
            b"GET /api/hooks/v1/ping HTTP/1.1\r\nHost: x\r\nX-A: a\x07b\r\n\r\n".to_vec(),
            400,
            "MalformedRequest",
        ),
        (
            "a garbled request line",
            b"GARBAGE\r\n\r\n".to_vec(),
            400,
            "MalformedRequest",
        ),
        (
            "a head larger than accepted",
            format!("GET /api/hooks/v1/ping HTTP/1.1\r\nHost: x\r\n{huge_header}\r\n\r\n")
                .into_bytes(),
            431,
            "HeadersTooLarge",
        ),
    ];
    for (what, raw, status, code) in cases {
        let answer = send_raw(&app, &raw).await;
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        assert_eq!(answer.body["code"], code, "{what}: {answer:?}");
        assert!(answer.body["message"].is_string(), "{what}: {answer:?}");
        assert!(
            answer.body["requestInfo"]["time"].is_string(),
            "{what}: {answer:?}"
        );
    }
}

#[tokio::test]
async fn a_head_that_stops_arriving_gets_a_json_408() {
    let app = app_with_hook(|s| s.request_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("the server accepts connections");
    stream
        .write_all(b"GET /api/hooks/v1/ping HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = answer_then_close(&mut stream).await;
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.body["code"], "RequestTimeout", "{answer:?}");
}
