//! The web UI at `/ui`: hooks, schedules and fire history in the browser, served by the binary.
//!
//! Pages are rendered on the server from askama templates (`templates/`, checked at compile
//! time, HTML auto-escaped), styled by one hand-written stylesheet and enhanced by one small
//! script of our own (`static/`); all three are compiled into the binary, and every page reads
//! and works without the script.
//!
//! The UI is one more way in, like `api`: each page or action calls the API's own operation for
//! it (`api::hooks::read`, `api::triggers::trigger`, `api::render::preview_stored`, ...), with
//! the signed-in session's [`Caller`](crate::api::auth::Caller), so it checks the same scopes
//! and fails with the same [`ApiError`](crate::api::error::ApiError); it never reaches the store
//! itself.
//!
//! Owns: the routes under `/ui` and the `/` redirect ([`routes`]), the response headers every
//! UI answer carries (CSP and friends), sessions and CSRF (`session`), the shared page parts
//! (`page`), one file per page (`groups`, `hook`, `edit`, `actions`, `task`, `service`,
//! `sign_in`) and the embedded assets. Leaves to others: authentication (`api::auth`), what
//! each operation checks and does (`api`, `registry`, `fire`).

use std::sync::Arc;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::middleware::DefaultHeaders;
use actix_web::web::{self, ServiceConfig};
use actix_web::HttpResponse;

use crate::clock::Clock;

mod actions;
mod edit;
mod groups;
mod hook;
mod page;
mod service;
pub mod session;
mod sign_in;
mod state;
mod task;

pub use state::{UiSettings, UiState};

/// The UI's shared parts, built once by `startup` and registered with its routes.
#[derive(Clone)]
pub struct Ui {
    state: web::Data<UiState>,
    sessions: web::Data<session::Sessions>,
}

impl Ui {
    /// The UI for `settings` in a process running `roles`, timing sessions by `clock`.
    pub fn new(settings: &UiSettings, roles: String, clock: Arc<dyn Clock>) -> Self {
        Self {
            state: web::Data::new(UiState { roles }),
            sessions: web::Data::new(session::Sessions::new(settings.session_lifetime, clock)),
        }
    }
}

/// The Content-Security-Policy of every UI answer: only this origin's script, style and
/// images, no inline code, no framing, forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("static/ui.css");
const SCRIPT: &str = include_str!("static/ui.js");
const ICON: &[u8] = include_bytes!("static/icon.svg");

/// Registers `ui`'s state, `/ui` and the redirect of `/` to it; before the API's routes, whose
/// default service answers everything else.
pub fn routes(cfg: &mut ServiceConfig, ui: &Ui) {
    cfg.app_data(ui.state.clone());
    cfg.app_data(ui.sessions.clone());
    cfg.route("/", web::get().to(to_ui));
    cfg.service(
        web::scope("/ui")
            .wrap(
                DefaultHeaders::new()
                    .add(("Content-Security-Policy", CSP))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("X-Frame-Options", "DENY"))
                    // Pages show what one client may see: no shared cache keeps them.
                    .add((CACHE_CONTROL, "no-store")),
            )
            .route("", web::get().to(groups::groups))
            .route("/", web::get().to(groups::groups))
            .route("/static/ui.css", web::get().to(stylesheet))
            .route("/static/ui.js", web::get().to(script))
            .route("/static/icon.svg", web::get().to(icon))
            .route("/sign-in", web::get().to(sign_in::form))
            .route("/sign-in", web::post().to(sign_in::submit))
            .route("/sign-out", web::post().to(sign_in::sign_out))
            .route("/service", web::get().to(service::service))
            .route("/groups/{hookGroupId}", web::get().to(groups::group))
            .route("/new", web::get().to(edit::new_form))
            .route("/new", web::post().to(edit::create))
            .route("/tasks/{taskId}", web::get().to(task::task))
            .route("/hooks/{hookGroupId}/{hookId}", web::get().to(hook::hook))
            .route(
                "/hooks/{hookGroupId}/{hookId}/timeline",
                web::get().to(hook::timeline_fragment),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/edit",
                web::get().to(edit::edit_form),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/edit",
                web::post().to(edit::update),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/preview",
                web::post().to(actions::preview),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/trigger",
                web::post().to(actions::trigger),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/fires/{fireId}/replay",
                web::post().to(actions::replay),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/fires/{fireId}/dry-run",
                web::post().to(actions::dry_run),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/token",
                web::post().to(actions::reset_token),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/webhook-secret",
                web::post().to(actions::rotate_webhook_secret),
            )
            .route(
                "/hooks/{hookGroupId}/{hookId}/delete",
                web::post().to(actions::delete),
            ),
    );
}

async fn to_ui() -> HttpResponse {
    page::see_other("/ui")
}

fn asset(content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET.as_bytes())
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT.as_bytes())
}

async fn icon() -> HttpResponse {
    asset("image/svg+xml", ICON)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::STYLESHEET;

    /// The colour variables of the stylesheet's first `:root` block after `marker`.
    fn palette(marker: &str) -> HashMap<String, [f64; 3]> {
        let start = STYLESHEET.find(marker).expect("the theme block") + marker.len();
        let root = &STYLESHEET[start..];
        let block = &root[root.find(":root {").expect(":root") + ":root {".len()..];
        let block = &block[..block.find('}').expect("end of :root")];
        block
            .split(';')
            .filter_map(|decl| {
                let (name, value) = decl.trim().split_once(':')?;
                let hex = value.trim().strip_prefix('#')?;
                let channel = |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
                let name = name.trim().trim_start_matches("--").to_owned();
                Some((name, [channel(0), channel(2), channel(4)]))
            })
            .collect()
    }

    /// WCAG 2 relative luminance.
    fn luminance([r, g, b]: [f64; 3]) -> f64 {
        let linear = |c: f64| {
            let c = c / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }

    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let (l1, l2) = (luminance(a), luminance(b));
        (l1.max(l2) + 0.05) / (l1.min(l2) + 0.05)
    }

    /// Every text colour the stylesheet puts on a background, in both themes, keeps WCAG AA
    /// contrast (4.5:1); the focus ring, a non-text indicator, keeps 3:1.
    #[test]
    fn both_themes_keep_aa_contrast_for_every_pair_the_stylesheet_uses() {
        let text_pairs = [
            ("fg", "bg"),
            ("fg", "card"),
            ("fg", "code"),
            ("muted", "bg"),
            ("muted", "card"),
            ("accent", "bg"),
            ("accent", "card"),
            ("accent-fg", "accent"),
            ("ok", "ok-bg"),
            ("bad", "bad-bg"),
            ("bg", "bad"),
        ];
        for (theme, marker) in [("light", ""), ("dark", "prefers-color-scheme: dark")] {
            let colours = palette(marker);
            let pairs = text_pairs.iter().map(|pair| (pair, 4.5));
            let focus = [(&("focus", "bg"), 3.0), (&("focus", "card"), 3.0)];
            for (&(fg, bg), needed) in pairs.chain(focus) {
                let ratio = contrast(colours[fg], colours[bg]);
                assert!(
                    ratio >= needed,
                    "{theme}: {fg} on {bg} is {ratio:.2}:1, under {needed}:1"
                );
            }
        }
    }
}
