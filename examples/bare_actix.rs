//! The framework ceiling for `scripts/bench.sh`: an actix-web server (the same actix-web as
//! hookd, the same worker count) whose only handler answers every request with a fixed JSON
//! body about as large as a trigger's answer. hookd's figures divided by this server's say how
//! much of the framework's speed hookd's own work leaves.
//!
//! Usage: `cargo run --release --example bare_actix -- <listen address> <workers>`.

use std::net::SocketAddr;

use actix_web::{web, App, HttpResponse, HttpServer};

/// The answer of every request: shaped like `triggerHookWithToken`'s, with a fixed task id.
const ANSWER: &str =
    r#"{"taskId":"fN1SbonDQMiLzhTE4bLmyQ","status":{"taskId":"fN1SbonDQMiLzhTE4bLmyQ"}}"#;

async fn answer(body: web::Bytes) -> HttpResponse {
    // The body is read (as hookd reads a trigger payload) and dropped.
    drop(body);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ANSWER)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(workers)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_actix <listen address> <workers>");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let workers: usize = workers
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| App::new().default_service(web::to(answer)))
            .workers(workers)
            .bind(listen)?
            .run(),
    )
}
