//! Secrets never reach the log or an error body: access tokens, trigger tokens, webhook
//! secrets, Authorization headers and Hawk MACs. The log is captured by installing the
//! service's own subscriber with a writer into memory, at debug level.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::Duration;
use hookd_testkit::app::{hook_body, spawn_app, Auth, ROOT_TOKEN};
use reqwest::Method;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::hawk::{header, list_groups};

/// Everything logged in this test binary since the capture was installed.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// The log so far.
    pub(crate) fn text(&self) -> String {
        let log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&log).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        log.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

/// Captures this test binary's log (also used by the request id tests).
pub(crate) fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        hookd::telemetry::init(
            "debug",
            hookd::telemetry::LogFormat::Human,
            false,
            capture.clone(),
        );
        capture
    })
}

#[tokio::test]
async fn logs_and_error_bodies_never_contain_tokens_or_authorization_headers() {
    let log = capture();
    let app = spawn_app().await;
    app.create_hook("g/h", hook_body()).await;
    let trigger_token = app.root_string("/hooks/g/h/token", "token").await;
    let webhook_secret = app.root_string("/hooks/g/h/webhook-secret", "secret").await;
    let good_hawk = header(&app, "n1", ROOT_TOKEN, Duration::zero());
    let bad_hawk = header(&app, "n2", "guessed-access-token", Duration::zero());
    let mut bodies = Vec::new();

    app.call(
        Method::POST,
        &format!("/hooks/g/h/trigger/{trigger_token}"),
        Auth::Anonymous,
        Some(json!({})),
    )
    .await;
    for reply in [
        app.call(
            Method::POST,
            "/hooks/g/h/trigger/guessed-trigger-token",
            Auth::Anonymous,
            Some(json!({})),
        )
        .await,
        app.call(
            Method::GET,
            "/hooks",
            Auth::Client("root", "guessed-access-token"),
            None,
        )
        .await,
        list_groups(&app, good_hawk.clone()).await,
        list_groups(&app, good_hawk.clone()).await,
        list_groups(&app, bad_hawk.clone()).await,
        app.send(
            app.raw(Method::POST, "/hooks/g/h/webhook")
                .header("X-Gitlab-Token", format!("{webhook_secret}x")),
        )
        .await,
    ] {
        bodies.push(reply.body.to_string());
    }

    let logged = log.text();
    for event in ["authentication failed", "webhook delivery refused"] {
        assert!(logged.contains(event), "{event:?} is logged: {logged}");
    }
    let mac = |h: &str| {
        h.split("mac=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    for secret in [
        ROOT_TOKEN.to_owned(),
        trigger_token,
        webhook_secret,
        "guessed-trigger-token".to_owned(),
        "guessed-access-token".to_owned(),
        "Bearer".to_owned(),
        "Hawk id=".to_owned(),
        mac(&good_hawk),
        mac(&bad_hawk),
    ] {
        assert!(
            !logged.contains(&secret),
            "the log holds {secret:?}:\n{logged}"
        );
        for body in &bodies {
            assert!(
                !body.contains(&secret),
                "an error body holds {secret:?}: {body}"
            );
        }
    }
}
