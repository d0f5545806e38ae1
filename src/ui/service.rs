//! The service page (`/ui/service`): version, the roles this process runs, store and broker
//! health, and the newest error fires among the hooks the client may read.
//!
//! Finding them costs one last-fire read per hook, so a view reads at most
//! [`HEALTH_READS`] hooks' (the first readable ones by group and id) and says how many it
//! checked of how many; the group pages show every hook's health, a page at a time.

use actix_web::{web, HttpResponse};
use askama::Template;
use futures_util::{stream, StreamExt};

use super::groups::{in_order, HEALTH_READS};
use super::hook::hook_path;
use super::page::{self, Nav, UiError};
use super::session::Signed;
use super::state::UiState;
use crate::api::{fires, health, hooks, ApiState};
use crate::domain::iso_time;

/// Error fires listed at most.
const RECENT_ERRORS: usize = 20;

/// One hook whose last fire failed.
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
    /// Hooks whose last fire was read, of `readable`.
    checked: usize,
    readable: usize,
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
    let caller = &session.caller;
    let state = &state;
    let mut records = in_order(hooks::readable(state, caller, None).await?);
    let readable = records.len();
    records.truncate(HEALTH_READS);
    let checked = records.len();
    let mut errors: Vec<(chrono::DateTime<chrono::Utc>, ErrorFire)> = stream::iter(records)
        .map(|record| async move {
            let key = record.hook.key();
            let fire = fires::last_fire(state, caller, &key).await.ok().flatten()?;
            let failure = fire.failure?;
            Some((
                fire.task_create_time,
                ErrorFire {
                    hook: key.to_string(),
                    href: hook_path(&key),
                    time: iso_time(fire.task_create_time),
                    error: format!("{}: {}", failure.code, failure.message),
                },
            ))
        })
        .buffer_unordered(16)
        .filter_map(std::future::ready)
        .collect()
        .await;
    errors.sort_by_key(|e| std::cmp::Reverse(e.0));
    errors.truncate(RECENT_ERRORS);
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
        errors: errors.into_iter().map(|(_, e)| e).collect(),
        checked,
        readable,
    })
}
