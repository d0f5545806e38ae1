//! Liveness and version endpoints: `ping` and the Dockerflow trio.

use actix_web::web;
use actix_web::HttpResponse;
use serde_json::json;

use super::error::ApiError;
use super::ApiState;

/// `{alive: true, uptime}`, uptime in seconds.
pub async fn ping(state: web::Data<ApiState>) -> HttpResponse {
    let uptime = state.started.elapsed().as_secs_f64();
    HttpResponse::Ok().json(json!({ "alive": true, "uptime": uptime }))
}

/// 200 when the store answers, 503 when it does not. The AMQP listener's state is reported
/// but does not fail the check: it reconnects by itself, and restarting hookd would not help.
pub async fn heartbeat(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    store_answers(&state).await?;
    Ok(HttpResponse::Ok().json(json!({
        "store": "ok",
        "listener": {
            "state": state.listener.state().as_str(),
            "reconnects": state.listener.reconnects(),
        },
    })))
}

/// The heartbeat's store check, for every way in.
///
/// # Errors
/// What the store's ping fails with.
pub(crate) async fn store_answers(state: &ApiState) -> Result<(), ApiError> {
    Ok(state.store.ping().await?)
}

/// Always 200: the process is up and serving.
pub async fn lb_heartbeat() -> HttpResponse {
    HttpResponse::Ok().json(json!({}))
}

/// What is running.
pub async fn version() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "source": "https://github.com/hookd/hookd",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("HOOKD_COMMIT").unwrap_or("unknown"),
        "build": option_env!("HOOKD_BUILD").unwrap_or("local"),
    }))
}
