//! Black-box tests of the HTTP API: one binary, one module per resource.

mod helpers;
#[path = "../common/mongodb.rs"]
mod mongo_server;
#[path = "../common/taskcluster.rs"]
mod taskcluster;

mod errors;
mod fire;
mod fires;
mod health;
mod hooks;
mod mongodb_outage;
mod schedule;
mod scopes;
mod tokens;
