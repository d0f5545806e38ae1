//! hookd: a hook registry that speaks the Taskcluster hooks v1 API.
//!
//! This file owns the module list and the rule they follow; every module and folder opens with
//! what it owns and what it leaves to others.
//!
//! The layers point inward: the ways in (`api`, `ui`, `scheduler`, `listener`, `chat`) →
//! `registry`, `apply` and `fire` → the `store` and sink traits → `domain`. The web UI (`ui`)
//! reaches the rest through `api`'s operations, so it checks the same scopes and fails with the
//! same error. `cli` is the command line; `startup` wires the parts together from `config`, and
//! `config` assembles the settings structs each part declares for itself. Small leaves any
//! layer may use: `clock`, `crypto`, `telemetry`,
//! `metrics`, `amqp` (the connection), `webhook` (signatures), `clients`, `data_dir`; and
//! `allocator`, the process's global allocator, which nothing imports but the render worker.
//!
//! `cargo test --test layout` checks this (tests/layout.rs):
//! - no import cycle between files: a file depends on the module files its `use` lines and
//!   `crate::`/`super::`/`self::` paths name; `mod x;` and a folder's `pub use` of its own
//!   children are its public face, not dependencies, and `#[cfg(test)]` code does not count;
//! - `domain` imports no sibling module; `store` imports only `domain` and `clock`;
//! - `fire` imports none of the ways into it (`api`, `scheduler`, `listener`, `chat`);
//! - only `api`, `ui`, `config`, `cli` and `startup` import `api` (`config` only an `api`
//!   settings struct), and `api` does not import `ui`;
//! - only `cli` and `startup` import `config`, `cli` and `startup`.

pub mod allocator;
pub mod amqp;
pub mod api;
pub mod apply;
pub mod chat;
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
pub mod replayer;
pub mod scheduler;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod ui;
pub mod webhook;
