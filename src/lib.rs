//! hookd: a hook registry that speaks the Taskcluster hooks v1 API.
//!
//! The layers point inward: `api` → `fire` → `store` and sink traits → `domain`.

pub mod domain;
pub mod store;
pub mod schemas;
