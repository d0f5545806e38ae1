//! Integration tests of the storage layer: the backend-independent contract suite, run against
//! every backend, plus tests of what only one backend has (files, WAL, replicas, migrations).

mod apply_contract;
mod chat;
mod contract;
mod listing;
mod metered;
mod mongo;
mod schedules;
mod sqlite;
