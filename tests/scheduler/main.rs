//! Tests of the cron scheduler below the API: several replicas on one store, crashes between
//! claim and submit, bursts claimed ahead of their slot, transient and permanent fire failures,
//! and a cross-check of the schedule parser against Python's croniter.

mod ahead;
mod catch_up;
mod crash;
mod croniter;
mod earlier_ids;
mod failures;
mod harness;
mod lateness;
mod replicas;
mod resync;
