//! The route table: every endpoint hookd serves, declared once.
//!
//! [`ENDPOINTS`] is both what [`super::routes`] registers with actix and what the OpenAPI
//! reference is checked against (see `tests/api/openapi.rs`), so a route cannot be added to
//! one without the other noticing. Adding an endpoint is adding one row.

use actix_web::web::{self, ServiceConfig};
use actix_web::Route;

use super::{fires, health, hooks, openapi, tasks, triggers, webhooks};

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

const fn endpoint(
    verb: Verb,
    path: &'static str,
    serving: Serving,
    handler: fn(Route) -> Route,
) -> Endpoint {
    Endpoint {
        verb,
        path,
        serving,
        handler,
    }
}

use Serving::{Always, Api};
use Verb::{Delete, Get, Post, Put};

/// Every endpoint, in registration order. The Dockerflow trio answers both at the root, where
/// load balancers look, and under the API prefix, where Taskcluster's reference puts them.
pub const ENDPOINTS: &[Endpoint] = &[
    endpoint(Get, v1!("/ping"), Always, |r| r.to(health::ping)),
    endpoint(Get, v1!("/__heartbeat__"), Always, |r| {
        r.to(health::heartbeat)
    }),
    endpoint(Get, v1!("/__lbheartbeat__"), Always, |r| {
        r.to(health::lb_heartbeat)
    }),
    endpoint(Get, v1!("/__version__"), Always, |r| r.to(health::version)),
    endpoint(Get, v1!("/openapi.json"), Api, |r| r.to(openapi::serve)),
    endpoint(Get, v1!("/hooks"), Api, |r| r.to(hooks::list_groups)),
    endpoint(Get, v1!("/hooks/{hookGroupId}"), Api, |r| {
        r.to(hooks::list_hooks)
    }),
    endpoint(Get, v1!("/hooks/{hookGroupId}/{hookId}"), Api, |r| {
        r.to(hooks::get_hook)
    }),
    endpoint(Put, v1!("/hooks/{hookGroupId}/{hookId}"), Api, |r| {
        r.to(hooks::create_hook)
    }),
    endpoint(Post, v1!("/hooks/{hookGroupId}/{hookId}"), Api, |r| {
        r.to(hooks::update_hook)
    }),
    endpoint(Delete, v1!("/hooks/{hookGroupId}/{hookId}"), Api, |r| {
        r.to(hooks::remove_hook)
    }),
    endpoint(Get, v1!("/hooks/{hookGroupId}/{hookId}/status"), Api, |r| {
        r.to(fires::hook_status)
    }),
    endpoint(
        Get,
        v1!("/hooks/{hookGroupId}/{hookId}/last-fires"),
        Api,
        |r| r.to(fires::list_last_fires),
    ),
    endpoint(
        Post,
        v1!("/hooks/{hookGroupId}/{hookId}/trigger"),
        Api,
        |r| r.to(triggers::trigger_hook),
    ),
    endpoint(
        Post,
        v1!("/hooks/{hookGroupId}/{hookId}/trigger/{token}"),
        Api,
        |r| r.to(triggers::trigger_hook_with_token),
    ),
    endpoint(Get, v1!("/hooks/{hookGroupId}/{hookId}/token"), Api, |r| {
        r.to(triggers::get_token)
    }),
    endpoint(Post, v1!("/hooks/{hookGroupId}/{hookId}/token"), Api, |r| {
        r.to(triggers::reset_token)
    }),
    endpoint(
        Post,
        v1!("/hooks/{hookGroupId}/{hookId}/webhook"),
        Api,
        |r| r.to(webhooks::receive),
    ),
    endpoint(
        Get,
        v1!("/hooks/{hookGroupId}/{hookId}/webhook-secret"),
        Api,
        |r| r.to(webhooks::get_secret),
    ),
    endpoint(
        Post,
        v1!("/hooks/{hookGroupId}/{hookId}/webhook-secret"),
        Api,
        |r| r.to(webhooks::rotate_secret),
    ),
    endpoint(Get, v1!("/tasks/{taskId}"), Api, |r| r.to(tasks::get_task)),
    endpoint(Get, "/__heartbeat__", Always, |r| r.to(health::heartbeat)),
    endpoint(Get, "/__lbheartbeat__", Always, |r| {
        r.to(health::lb_heartbeat)
    }),
    endpoint(Get, "/__version__", Always, |r| r.to(health::version)),
];

/// Registers the endpoints a process serves: all of them with the API role, else only
/// [`Serving::Always`] ones.
pub fn register(cfg: &mut ServiceConfig, with_api: bool) {
    for e in ENDPOINTS {
        if with_api || e.serving == Serving::Always {
            cfg.route(e.path, (e.handler)(e.verb.route()));
        }
    }
}
