//! Black-box tests of the HTTP API: one binary, one module per resource.

mod helpers;
#[path = "../common/mongodb.rs"]
mod mongo_server;
#[path = "../common/taskcluster.rs"]
mod taskcluster;

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
mod metrics;
mod mongodb_outage;
mod openapi;
mod render_limits;
mod request_ids;
mod schedule;
mod scopes;
mod secrets;
mod slow_clients;
mod store_outage;
mod tokens;
mod webhooks;
