//! The UI in a real browser: Debian's headless Chromium driven over WebDriver (fantoccini),
//! against the real application on a loopback port, the script and stylesheet included.
//!
//! One walk through the issue's story per theme, saving a screenshot of each page under the
//! target dir (`ui-screenshots/<page>-<theme>.png`). Skipped, saying so, without
//! `HOOKD_TEST_WEBDRIVER` (exported by `scripts/services/chromium.sh`).

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hookd_testkit::app::{hook_body, TestApp};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::app_with_client;

/// How long the browser may take to show what an action produced.
const SHOWS_WITHIN: Duration = Duration::from_secs(20);

/// Where the screenshots go: beside the test binaries, in the target dir.
fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// A headless Chromium session, light or dark.
async fn browser(webdriver: &str, dark: bool) -> Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,1500",
    ];
    if dark {
        // Makes `prefers-color-scheme` answer dark, as a browser set to a dark theme does.
        args.push("--force-dark-mode");
        args.push("--blink-settings=preferredColorScheme=0");
    } else {
        args.push("--blink-settings=preferredColorScheme=1");
    }
    let mut options = json!({ "args": args });
    if let Ok(binary) = std::env::var("HOOKD_TEST_CHROMIUM") {
        options["binary"] = json!(binary);
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(webdriver)
        .await
        .expect("chromedriver starts a session")
}

/// Drives one browser through the UI, saving screenshots named `<page>-<theme>`.
struct Walk {
    browser: Client,
    address: String,
    theme: &'static str,
}

impl Walk {
    async fn open(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.address))
            .await
            .expect("page loads");
    }

    async fn shows(&self, css: &str) -> fantoccini::elements::Element {
        self.browser
            .wait()
            .at_most(SHOWS_WITHIN)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never showed: {e}"))
    }

    async fn text_of(&self, css: &str) -> String {
        self.shows(css).await.text().await.expect("text")
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.shows(css).await;
        field.clear().await.expect("clears");
        field.send_keys(text).await.expect("types");
    }

    async fn click(&self, css: &str) {
        self.shows(css).await.click().await.expect("clicks");
    }

    async fn screenshot(&self, page: &str) {
        // From the top of the page, wherever focus moved it.
        self.browser
            .execute("window.scrollTo(0, 0)", Vec::new())
            .await
            .expect("scrolls");
        let png = self.browser.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{page}-{}.png", self.theme));
        std::fs::write(&path, png).expect("screenshot written");
    }

    async fn path(&self) -> String {
        self.browser
            .current_url()
            .await
            .expect("url")
            .path()
            .to_owned()
    }

    /// Signs in with the keyboard alone: the client id field has the focus when the page
    /// opens, Tab moves it to the token, Enter submits.
    async fn sign_in(&self, client_id: &str, token: &str) {
        self.open("/ui/sign-in").await;
        self.shows("#clientId").await;
        let tab = char::from(Key::Tab).to_string();
        let enter = char::from(Key::Enter).to_string();
        for (field, text, then) in [("clientId", client_id, tab), ("accessToken", token, enter)] {
            let focused = self.browser.active_element().await.expect("focus");
            let id = focused.attr("id").await.expect("id");
            assert_eq!(id.as_deref(), Some(field), "keyboard focus order");
            focused
                .send_keys(&format!("{text}{then}"))
                .await
                .expect("types");
        }
        self.shows("h1").await;
    }

    async fn sign_out(&self) {
        self.click(".signout button").await;
        self.shows("#clientId").await;
    }
}

/// An app where `ci-team` may read, edit, trigger and reset the hooks of group `ci`.
async fn app() -> TestApp {
    app_with_client(
        "ci-team",
        &[
            "hooks:get:ci:*",
            "hooks:status:ci/*",
            "hooks:list-last-fires:ci/*",
            "hooks:modify-hook:ci/*",
            "assume:hook-id:ci/*",
            "hooks:trigger-hook:ci/*",
            "hooks:reset-trigger-token:ci/*",
        ],
    )
    .await
}

/// The task template of the hook the walk creates: the payload's branch in the command.
fn task_template() -> String {
    json!({
        "provisionerId": "builders",
        "workerType": "linux",
        "payload": {"command": ["make", "BRANCH=${payload.branch}"]},
        "metadata": {"name": "build ${payload.branch}", "description": "", "owner": "ci@example.com", "source": "hookd"}
    })
    .to_string()
}

async fn walk(webdriver: &str, dark: bool) {
    let app = app().await;
    app.create_hook("ci/existing", hook_body()).await;
    app.create_hook("payroll/secret", hook_body()).await;
    let walk = Walk {
        browser: browser(webdriver, dark).await,
        address: app.address.clone(),
        theme: if dark { "dark" } else { "light" },
    };

    // Signing in; the sign-in page first.
    walk.open("/ui").await;
    assert_eq!(walk.path().await, "/ui/sign-in");
    walk.screenshot("sign-in").await;
    walk.sign_in("ci-team", "ci-team-token").await;

    // Only the permitted groups.
    let groups = walk.text_of("#groups").await;
    assert!(groups.contains("ci"), "{groups}");
    assert!(!groups.contains("payroll"), "{groups}");
    walk.screenshot("groups").await;
    walk.open("/ui/groups/ci").await;
    walk.shows("#hooks").await;
    walk.screenshot("group").await;

    // A hook with a mistake: the error shows at its field; fixed, it is created.
    walk.open("/ui/new").await;
    walk.fill("#hookGroupId", "ci").await;
    walk.fill("#hookId", "nightly").await;
    walk.fill("#name", "Nightly build").await;
    walk.fill("#owner", "ci@example.com").await;
    walk.fill("#schedule", "every night at nine").await;
    walk.fill("#task", &task_template()).await;
    walk.fill(
        "#triggerSchema",
        r#"{"type": "object", "properties": {"branch": {"type": "string", "description": "Branch to build"}}, "required": ["branch"]}"#,
    )
    .await;
    walk.click("#edit-form button[type=submit]").await;
    let error = walk.text_of("#schedule-error").await;
    assert!(error.contains("every night at nine"), "{error}");
    walk.screenshot("edit-error").await;
    walk.fill("#schedule", "TZ=Europe/Berlin 0 21 * * *").await;
    walk.click("#edit-form button[type=submit]").await;
    walk.shows("#hook-title").await;
    assert_eq!(walk.path().await, "/ui/hooks/ci/nightly");

    // The render preview, shown in place.
    walk.fill("#preview-payload", r#"{"branch": "preview-branch"}"#)
        .await;
    walk.click("#preview-form button").await;
    let preview = walk.text_of("#result .detail").await;
    assert!(preview.contains("BRANCH=preview-branch"), "{preview}");

    // A trigger from the generated form; the fire appears on the timeline without a reload.
    walk.fill("#field-branch", "main").await;
    walk.click("#trigger-form button").await;
    walk.shows("#result-link").await;
    let fire = walk.text_of("#timeline .fire").await;
    assert!(fire.contains("triggerHook"), "{fire}");
    walk.screenshot("hook").await;

    // The submitted task, a click away.
    walk.click("#result-link").await;
    let task = walk.text_of("#task-json").await;
    assert!(task.contains("BRANCH=main"), "{task}");
    walk.screenshot("task").await;

    // A new trigger token, shown once.
    walk.open("/ui/hooks/ci/nightly").await;
    walk.click("#token-form button").await;
    let token = walk.text_of("#result").await;
    assert!(token.contains("New trigger token"), "{token}");

    walk.open("/ui/service").await;
    walk.shows("h1").await;
    walk.screenshot("service").await;
    walk.open("/ui/hooks/ci/nightly/edit").await;
    walk.shows("#edit-form").await;
    walk.screenshot("edit").await;

    // Signed out, pages are refused.
    walk.sign_out().await;
    walk.open("/ui/hooks/ci/nightly").await;
    assert_eq!(walk.path().await, "/ui/sign-in");
    walk.browser.close().await.expect("session closes");
}

#[tokio::test]
async fn the_ui_works_end_to_end_in_a_real_browser_in_both_themes() {
    let Ok(webdriver) = std::env::var("HOOKD_TEST_WEBDRIVER") else {
        eprintln!("skipped: HOOKD_TEST_WEBDRIVER is unset (scripts/services/chromium.sh sets it)");
        return;
    };
    walk(&webdriver, false).await;
    walk(&webdriver, true).await;
}
