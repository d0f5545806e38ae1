//! `hookd-testkit`: the one home of what hookd's integration test binaries share.
//!
//! - [`app`]: `spawn_app()` and `TestApp`, the real `Application` on a loopback port with a
//!   typed client that checks every answer against the schemas; `HOOKD_TEST_LOG=<filter>` puts
//!   the apps' log into the test's captured output, shown when the test fails;
//! - [`wait`]: [`wait::eventually`], the one bounded polling helper;
//! - [`receiver`]: a scripted HTTP server on loopback that records what it receives;
//! - [`services`]: where the services of `scripts/services.sh` are (RabbitMQ, SMTP), from the
//!   environment; [`mongodb`] the MongoDB-wire server, shared or private;
//! - [`taskcluster`]: Taskcluster's published schemas, compiled for cross-checks.
//!
//! Why a crate and not a `mod common;` in every binary: a module compiled into each test binary
//! is compiled into binaries that use only part of it, and the rest trips `dead_code` (which
//! the old `#[path]` includes silenced with `#[allow(dead_code)]`). The items of a library are
//! `pub`, so nothing here is dead for being unused by one binary, and each binary imports
//! exactly what it needs with `use hookd_testkit::...`. The crate lives at `tests/common/` with
//! this file as its root, is a `[dev-dependencies]` path crate of hookd (the dev-dependency
//! cycle is one cargo allows) and a workspace member, so clippy and rustfmt see it.
//!
//! What only one binary needs stays in that binary (the API tests' resources, the scheduler's
//! nodes, the AMQP fixtures).

pub mod app;
pub mod mongodb;
pub mod receiver;
pub mod services;
pub mod taskcluster;
pub mod wait;
