//! Black-box tests of the AMQP listener and task sink against the real RabbitMQ that
//! `scripts/test.sh` starts (`HOOKD_TEST_AMQP_URL`).

// The API tests' helpers; this binary uses only part of them.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../common/mongodb.rs"]
mod mongo_server;
#[path = "../common/taskcluster.rs"]
mod taskcluster;

mod broker;
mod fires;

mod listener;
mod recovery;
mod sink;
