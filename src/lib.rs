//! hookd: a hook registry that speaks the Taskcluster hooks v1 API.
//!
//! The layers point inward: `api` → `registry` and `fire` → the `store` and sink traits →
//! `domain`. `startup` wires them together from `config`.

pub mod amqp;
pub mod api;
pub mod client_command;
pub mod client_file;
pub mod client_tokens;
pub mod clients;
pub mod clock;
pub mod config;
pub mod config_check;
pub mod config_layers;
pub mod data_dir;
pub mod domain;
pub mod fire;
pub mod listener;
pub mod metrics;
pub mod notify;
pub mod registry;
pub mod scheduler;
pub mod schemas;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod token_cipher;
pub mod webhook;
pub mod webhook_signature;
