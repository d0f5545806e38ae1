//! The service page (`/ui/service`): version, the roles this process runs, store and broker
//! health, and the newest error fires across the hooks whose status the client may read.
//!
//! The error fires come from the store's index of failed fires, with the client's scopes as a
//! key filter: one bounded read, however many hooks and fires there are.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::hook::hook_path;
use super::page::{self, Nav, UiError};
use super::session::Signed;
use super::state::UiState;
use crate::api::{fires, health, ApiState};
use crate::domain::iso_time;

/// Error fires listed at most.
const RECENT_ERRORS: usize = 20;

/// One failed fire.
struct ErrorFire {
    hook: String,
    href: String,
    time: String,
    error: String,
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    nav: Nav,
    version: &'static str,
    roles: String,
    store: String,
    broker: String,
    errors: Vec<ErrorFire>,
}

/// `GET /ui/service`
pub async fn service(
    state: web::Data<ApiState>,
    ui: web::Data<UiState>,
    Signed(session): Signed,
) -> Result<HttpResponse, UiError> {
    let store = match health::store_answers(&state).await {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("unavailable: {}", e.message),
    };
    let errors = fires::error_fires(&state, &session.caller, RECENT_ERRORS)
        .await?
        .into_iter()
        .filter_map(|fire| {
            let key = fire.key();
            let failure = fire.failure?;
            Some(ErrorFire {
                hook: key.to_string(),
                href: hook_path(&key),
                time: iso_time(fire.task_create_time),
                error: format!("{}: {}", failure.code, failure.message),
            })
        })
        .collect();
    page::ok(&ServicePage {
        nav: session.nav(),
        version: env!("CARGO_PKG_VERSION"),
        roles: ui.roles.clone(),
        store,
        broker: format!(
            "{} ({} reconnects)",
            state.listener.state().as_str(),
            state.listener.reconnects()
        ),
        errors,
    })
}
