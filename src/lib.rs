//! hookd: a hook registry that speaks the Taskcluster hooks v1 API.
//!
//! The layers point inward: `api` → `registry` and `fire` → the `store` and sink traits →
//! `domain`. `startup` wires them together from `config`.

pub mod amqp;
pub mod api;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod data_dir;
pub mod domain;
pub mod fire;
pub mod listener;
pub mod metrics;
pub mod notify;
pub mod registry;
pub mod scheduler;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhook;
