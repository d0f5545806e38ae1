//! Clients that send one byte a second: however many there are (here a bounded few dozen, on
//! loopback), the others are still served, and each slow one is cut off with a 408 once the
//! configured request timeout has passed, whether it dribbles the head or the body.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::connections::{answer_then_close, app_with_hook, request_head, RawAnswer};

/// How many slow connections are open at once.
const SLOW_CLIENTS: usize = 24;

/// The pace of a slow client.
const ONE_BYTE_EVERY: Duration = Duration::from_secs(1);

/// Connects and sends `at_once` now, then `dribbled` one byte per [`ONE_BYTE_EVERY`] in the
/// background until the server closes the connection; the task added to `slow` ends with the
/// server's answer.
async fn dribble(address: &str, at_once: &[u8], dribbled: Vec<u8>, slow: &mut JoinSet<RawAnswer>) {
    let stream = TcpStream::connect(address).await.expect("connects");
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(at_once).await.unwrap();
    let sending = tokio::spawn(async move {
        let mut pace = tokio::time::interval(ONE_BYTE_EVERY);
        pace.tick().await;
        for byte in dribbled {
            pace.tick().await;
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
        }
    });
    slow.spawn(async move {
        let answer = answer_then_close(&mut reader).await;
        sending.abort();
        answer
    });
}

#[tokio::test]
async fn clients_sending_a_byte_a_second_do_not_stop_others_and_are_cut_off_with_408() {
    let app = app_with_hook(|s| s.request_timeout = Duration::from_secs(2)).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let body = json!({"padding": "0123456789012345678"}).to_string();
    let head = request_head(
        "POST",
        "/hooks/g/h/trigger",
        &[&format!("Content-Length: {}", body.len())],
    );
    let head = format!("{head}\r\n\r\n").into_bytes();
    let mut slow = JoinSet::new();
    for i in 0..SLOW_CLIENTS {
        let (at_once, dribbled) = if i % 2 == 0 {
            // The head itself arrives slowly.
            (&head[..1], [&head[1..], body.as_bytes()].concat())
        } else {
            // The head at once, then the body slowly.
            (&head[..], body.clone().into_bytes())
        };
        dribble(&address, at_once, dribbled, &mut slow).await;
    }

    // Every slow connection is open, and others are served meanwhile.
    for _ in 0..10 {
        app.trigger("g/h", json!({})).await.expect(200);
    }

    let mut answers = Vec::new();
    while let Some(answer) = slow.join_next().await {
        answers.push(answer.expect("a slow client ran to its end"));
    }
    assert_eq!(answers.len(), SLOW_CLIENTS);
    for answer in &answers {
        assert_eq!(answer.status, 408, "{answers:?}");
    }
}
