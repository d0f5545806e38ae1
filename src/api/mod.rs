//! The HTTP API: routes, extractors, authentication and the error mapping.
//!
//! Handlers are thin: they parse and check the request, call the registry, the store or the
//! fire path, and shape the answer. Paths follow Taskcluster's hooks v1 API under
//! `/api/hooks/v1`.
//!
//! Owns: one file per resource (`hooks`, `apply`, `fires`, `fire_records`, `replays`,
//! `triggers`, `webhooks`, `tasks`, `render`, `health`, `metrics`, `openapi`, `chat_aliases`,
//! `chat_commands`), the route table ([`endpoints`]), the shared [`ApiState`], request
//! plumbing (`extract`, `framework_errors`, `json_depth`, `request_id`, `request_info`,
//! `rate_limit`, `schemas`),
//! `auth/` (bearer tokens and Hawk) and the one HTTP error mapping (`error`). Leaves to others:
//! what a hook is (`domain`), storing it (`registry`, `store`), firing it (`fire`) and building
//! the state (`startup`). This file only names the parts; the parts import each other and never
//! this file's children through it, so it closes no cycle.

mod apply;
pub mod auth;
mod chat_aliases;
pub mod chat_commands;
pub mod endpoints;
pub mod error;
pub mod extract;
pub(crate) mod fire_records;
pub(crate) mod fires;
pub mod framework_errors;
pub(crate) mod health;
pub(crate) mod hooks;
pub mod json_depth;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod render;
mod replay_jobs;
pub(crate) mod replays;
pub mod request_id;
pub mod request_info;
pub mod schemas;
mod state;
pub(crate) mod tasks;
pub(crate) mod triggers;
pub mod unread_body;
pub mod webhooks;

pub use endpoints::{health_routes, routes};
pub use state::ApiState;
