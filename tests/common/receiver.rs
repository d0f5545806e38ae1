//! A real HTTP server on loopback that records every request and answers from a script.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A scripted answer: status, extra headers, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A status with a JSON body.
pub fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: body.to_string(),
    }
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    /// Answers for `GET` requests, by path, served every time.
    fixed: Vec<(String, Answer)>,
}

/// The running receiver.
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Log>>,
    handle: ServerHandle,
}

impl Receiver {
    /// Starts a receiver on a free loopback port. Unscripted requests get 200 `{}`.
    pub async fn start() -> Self {
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = web::Data::from(Arc::clone(&log));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(record))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            log,
            handle,
        }
    }

    /// Queues answers for the next requests, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.log.lock().unwrap().script.extend(answers);
    }

    /// Answers every `GET path` with `answer`.
    pub fn serve(&self, path: &str, answer: Answer) {
        self.log
            .lock()
            .unwrap()
            .fixed
            .push((path.to_owned(), answer));
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().received.clone()
    }

    /// Stops the receiver.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn record(req: HttpRequest, body: web::Bytes, log: web::Data<Mutex<Log>>) -> HttpResponse {
    let mut log = log.lock().unwrap();
    let path = req.uri().path().to_owned();
    let fixed = log
        .fixed
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, a)| a.clone());
    log.received.push(Received {
        method: req.method().to_string(),
        path,
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: body.to_vec(),
    });
    let answer = fixed
        .or_else(|| log.script.pop_front())
        .unwrap_or_else(|| answer(200, serde_json::json!({})));
    let mut response = HttpResponse::build(StatusCode::from_u16(answer.status).unwrap());
    for (name, value) in answer.headers {
        response.insert_header((name, value));
    }
    response.content_type("application/json").body(answer.body)
}
