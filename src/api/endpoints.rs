//! The route table: every endpoint hookd serves, declared once.
//!
//! [`ENDPOINTS`] is both what [`routes`] registers with actix and what the OpenAPI
//! reference is checked against (see `tests/api/openapi.rs`), so a route cannot be added to
//! one without the other noticing. Adding an endpoint is adding one row here and its operation
//! to `api-reference/openapi.yaml`.

use actix_web::web::{self, ServiceConfig};
use actix_web::Route;

use super::error::{ApiError, ErrorCode};
use super::{
    apply, chat_aliases, chat_commands, fire_records, fires, health, hooks, metrics, openapi,
    render, replay_jobs, replays, tasks, triggers, webhooks,
};

/// Prefixes a path with the API's base, `/api/hooks/v1`.
macro_rules! v1 {
    ($path:literal) => {
        concat!("/api/hooks/v1", $path)
    };
}

/// The HTTP methods hookd's endpoints use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET`
    Get,
    /// `PUT`
    Put,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
}

impl Verb {
    /// The method in lower case, as OpenAPI's path items name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Put => "put",
            Self::Post => "post",
            Self::Delete => "delete",
        }
    }

    fn route(self) -> Route {
        match self {
            Self::Get => web::get(),
            Self::Put => web::put(),
            Self::Post => web::post(),
            Self::Delete => web::delete(),
        }
    }
}

/// Which processes serve an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// Every process, whatever its roles: liveness and version.
    Always,
    /// Only processes that run the API role.
    Api,
}

/// One endpoint: method, full path (actix and OpenAPI share the `{name}` syntax) and handler.
pub struct Endpoint {
    /// The HTTP method.
    pub verb: Verb,
    /// The path from the server's root, e.g. `/api/hooks/v1/hooks/{hookGroupId}`.
    pub path: &'static str,
    /// Which processes serve it.
    pub serving: Serving,
    /// Attaches the handler to a route that already carries the method guard.
    handler: fn(Route) -> Route,
}

/// Builds [`ENDPOINTS`], one line per endpoint: `Verb path, Serving => handler;`.
macro_rules! endpoints {
    ($($verb:ident $path:expr, $serving:ident => $handler:path;)*) => {
        &[$(Endpoint {
            verb: Verb::$verb,
            path: $path,
            serving: Serving::$serving,
            handler: |route| route.to($handler),
        }),*]
    };
}

/// A path under one hook, `/api/hooks/v1/hooks/{hookGroupId}/{hookId}<suffix>`.
macro_rules! hook {
    ($suffix:literal) => {
        concat!("/api/hooks/v1/hooks/{hookGroupId}/{hookId}", $suffix)
    };
}

/// Every endpoint, in registration order. The Dockerflow trio answers both at the root, where
/// load balancers look, and under the API prefix, where Taskcluster's reference puts them.
///
/// No two paths match the same request, so the order decides only how fast a request finds its
/// route: actix tries the paths in this order, running a regular expression with captures for
/// each path with `{names}`, so the ways to fire a hook, the hot paths, come first among those.
#[rustfmt::skip]
pub const ENDPOINTS: &[Endpoint] = endpoints![
    Get v1!("/ping"), Always => health::ping;
    Get v1!("/__heartbeat__"), Always => health::heartbeat;
    Get v1!("/__lbheartbeat__"), Always => health::lb_heartbeat;
    Get v1!("/__version__"), Always => health::version;
    Get "/__heartbeat__", Always => health::heartbeat;
    Get "/__lbheartbeat__", Always => health::lb_heartbeat;
    Get "/__version__", Always => health::version;
    Get "/metrics", Always => metrics::scrape;
    Get v1!("/openapi.json"), Api => openapi::serve;
    Get v1!("/hooks"), Api => hooks::list_groups;
    Post hook!("/trigger/{token}"), Api => triggers::trigger_hook_with_token;
    Post hook!("/trigger"), Api => triggers::trigger_hook;
    Post hook!("/webhook"), Api => webhooks::receive;
    Get v1!("/hooks/{hookGroupId}"), Api => hooks::list_hooks;
    Get hook!(""), Api => hooks::get_hook;
    Put hook!(""), Api => hooks::create_hook;
    Post hook!(""), Api => hooks::update_hook;
    Delete hook!(""), Api => hooks::remove_hook;
    Get hook!("/status"), Api => fires::hook_status;
    Get hook!("/last-fires"), Api => fires::list_last_fires;
    Get hook!("/token"), Api => triggers::get_token;
    Post hook!("/token"), Api => triggers::reset_token;
    Get hook!("/webhook-secret"), Api => webhooks::get_secret;
    Post hook!("/webhook-secret"), Api => webhooks::rotate_secret;
    Get v1!("/tasks/{taskId}"), Api => tasks::get_task;
    Post hook!("/render"), Api => render::render_hook;
    Post v1!("/render"), Api => render::render_candidate;
    Get v1!("/chat-aliases"), Api => chat_aliases::list_aliases;
    Get v1!("/chat-aliases/{aliasId}"), Api => chat_aliases::get_alias;
    Put v1!("/chat-aliases/{aliasId}"), Api => chat_aliases::create_alias;
    Post v1!("/chat-aliases/{aliasId}"), Api => chat_aliases::update_alias;
    Delete v1!("/chat-aliases/{aliasId}"), Api => chat_aliases::remove_alias;
    Post v1!("/chat/slack"), Api => chat_commands::slack;
    Post v1!("/chat/mattermost"), Api => chat_commands::mattermost;
    Post v1!("/apply"), Api => apply::apply;
    Get v1!("/apply-sets/{name}"), Api => apply::get_apply_set;
    Get hook!("/fires"), Api => fire_records::list_fires;
    Get hook!("/fires/{fireId}"), Api => fire_records::get_fire;
    Post hook!("/fires/{fireId}/replay"), Api => replays::replay_fire;
    Get hook!("/refusals"), Api => fire_records::list_refusals;
    Post hook!("/replays"), Api => replay_jobs::create_replay;
    Get hook!("/replays"), Api => replay_jobs::list_replays;
    Get hook!("/replays/{jobId}"), Api => replay_jobs::get_replay;
    Delete hook!("/replays/{jobId}"), Api => replay_jobs::cancel_replay;
];

/// Registers the endpoints a process serves: all of them with the API role, else only
/// [`Serving::Always`] ones. The methods of one path share one actix resource, so a request
/// matches each path's pattern once, not once per method; a method the path does not serve
/// gets the same answer as an unknown path.
pub fn register(cfg: &mut ServiceConfig, with_api: bool) {
    let served: Vec<&Endpoint> = ENDPOINTS
        .iter()
        .filter(|e| with_api || e.serving == Serving::Always)
        .collect();
    let mut paths: Vec<&str> = served.iter().map(|e| e.path).collect();
    // Keeps each path at its first place in the table.
    let mut seen = std::collections::HashSet::new();
    paths.retain(|path| seen.insert(*path));
    for path in paths {
        let resource = served
            .iter()
            .filter(|e| e.path == path)
            .fold(web::resource(path), |resource, e| {
                resource.route((e.handler)(e.verb.route()))
            });
        cfg.service(resource.default_service(web::to(not_found)));
    }
}

/// Registers every route of [`ENDPOINTS`].
pub fn routes(cfg: &mut ServiceConfig) {
    register(cfg, true);
    cfg.default_service(web::to(not_found));
}

/// Only the health endpoints, for a process that does not run the API role.
pub fn health_routes(cfg: &mut ServiceConfig) {
    register(cfg, false);
    cfg.default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::ResourceNotFound,
        "no such endpoint",
    ))
}
