//! A UI client for the HTTP tests: keeps the session cookie like a browser, reads the CSRF
//! token out of the pages it loads, and posts forms.

use hookd::config::Settings;
use hookd_testkit::app::{client, spawn_app_with, TestApp};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

/// An app with root, a client `nobody` without scopes, and `id` holding `scopes`.
pub async fn app_with_client(id: &'static str, scopes: &'static [&'static str]) -> TestApp {
    spawn_app_with(move |s: &mut Settings| {
        s.clients = vec![client(id, scopes), client("nobody", &[])];
    })
    .await
}

/// An app with clients `reader` (reads and triggers group `a` only), `nobody` and root.
pub async fn app_with_clients() -> TestApp {
    app_with_client(
        "reader",
        &[
            "hooks:get:a:*",
            "hooks:status:a/*",
            "hooks:list-last-fires:a/*",
            "hooks:trigger-hook:a/*",
        ],
    )
    .await
}

/// One answer: status, `Location` and body text.
pub struct Page {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
}

/// A browser stand-in signed in (or not) to one app.
pub struct UiClient {
    address: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl UiClient {
    /// A client with no cookies.
    pub fn new(app: &TestApp) -> Self {
        Self {
            address: app.address.clone(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client builds"),
            cookies: Vec::new(),
        }
    }

    /// Signs in as `client_id` with the test kit's token for it (`<id>-token`, root's own).
    pub async fn signed_in(app: &TestApp, client_id: &str, token: &str) -> Self {
        let mut ui = Self::new(app);
        let form = ui.get("/ui/sign-in").await;
        let csrf = csrf_of(&form.body);
        let answer = ui
            .post(
                "/ui/sign-in",
                &[
                    ("csrf", &csrf),
                    ("clientId", client_id),
                    ("accessToken", token),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        ui
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header(COOKIE, self.cookie_header())
        };
        let response = request.send().await.expect("answered");
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            self.cookies.retain(|(k, _)| k != name);
            let removed = text.contains("Max-Age=0") || value.is_empty();
            if !removed {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body: response.text().await.expect("body"),
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.address));
        self.send(request).await
    }

    /// `POST path` with `fields` urlencoded.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(format!("{}{path}", self.address))
            .form(fields);
        self.send(request).await
    }

    /// The raw `Set-Cookie` headers of `POST path`, for checking cookie attributes.
    pub async fn set_cookies_of_post(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Vec<String> {
        let response = self
            .http
            .post(format!("{}{path}", self.address))
            .header(COOKIE, self.cookie_header())
            .form(fields)
            .send()
            .await
            .expect("answered");
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// The CSRF token in a page's first form.
pub fn csrf_of(body: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = body
        .find(marker)
        .expect("the page has a form with a CSRF token")
        + marker.len();
    body[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}
