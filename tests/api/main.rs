//! Black-box tests of the HTTP API: one binary, one module per resource. The app they start
//! and its typed client are `hookd_testkit::app`.

mod anonymous_role;
mod apply;
mod bulk_replay;
mod cache;
mod chat;
mod connections;
mod errors;
mod fire;
mod fires;
mod hawk;
mod hawk_python;
mod hawk_rust;
mod health;
mod hooks;
mod hostile;
mod limits;
mod matrix;
mod metrics;
mod mongodb_outage;
mod openapi;
mod refusals;
mod render;
mod render_limits;
mod replay;
mod request_ids;
mod schedule;
mod scopes;
mod scopes_oracle;
mod secrets;
mod slow_clients;
mod store_outage;
mod taskcluster_js;
mod tokens;
mod webhooks;
