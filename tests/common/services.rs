//! Where the services `scripts/services.sh` starts can be reached, read from the environment
//! it exports. (The MongoDB-wire server has its own module, [`crate::mongodb`].)
//!
//! `scripts/test.sh` always starts every service. Run outside it, a test whose service is
//! missing is skipped (`None`) or, where skipping would hide a broken setup, fails with a
//! message that says what to run.

use std::path::PathBuf;

/// The RabbitMQ broker's URL; `None` skips the test outside `scripts/test.sh`, which always
/// sets it.
pub fn amqp_url() -> Option<String> {
    match std::env::var("HOOKD_TEST_AMQP_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("HOOKD_TEST_RUN_DIR").is_some() => {
            panic!("scripts/test.sh must start RabbitMQ and set HOOKD_TEST_AMQP_URL")
        }
        Err(_) => {
            eprintln!("skipped: HOOKD_TEST_AMQP_URL is not set (run scripts/test.sh)");
            None
        }
    }
}

/// Where the SMTP server listens, and the maildir it delivers to.
pub fn smtp() -> (String, PathBuf) {
    let url = std::env::var("HOOKD_TEST_SMTP_URL")
        .expect("HOOKD_TEST_SMTP_URL: run the tests through scripts/test.sh");
    let maildir = std::env::var("HOOKD_TEST_MAILDIR").expect("HOOKD_TEST_MAILDIR");
    (url, maildir.into())
}
