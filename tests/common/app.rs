//! `spawn_app()` and a typed client for the black-box tests.
//!
//! Each app is the real `Application` on a random port with its own temp data dir and a
//! `ManualClock`. The store is the embedded SQLite one, or, with `HOOKD_TEST_BACKEND=mongodb`,
//! a fresh database on the MongoDB test server (`HOOKD_TEST_MONGODB_URI`). Every answer is
//! checked against hookd's own schemas, and, for bodies that use no extension, against
//! Taskcluster's published ones.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use hookd::api::schemas::{SchemaId, SchemaSet};
use hookd::clients::{hash_token, ClientConfig};
use hookd::clock::ManualClock;
use hookd::config::{MongoArgs, Settings};
use hookd::data_dir::DataDir;
use hookd::domain::Role;
use hookd::scheduler::Scheduler;
use hookd::startup::Application;
use hookd::store::{HookStore, MongoOptions, MongoStore, SqliteStore};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tracing_subscriber::fmt::TestWriter;

use crate::mongodb::fresh_database_uri;
use crate::taskcluster::{taskcluster_file, Taskcluster};

/// The root client's token in every test app.
pub const ROOT_TOKEN: &str = "test-root-token";
/// The start time of every test app's clock.
pub const START: &str = "2026-05-01T10:00:00Z";

/// A running test app.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The app's clock.
    pub clock: ManualClock,
    /// The app's scheduler, when its settings run one.
    pub scheduler: Option<Arc<Scheduler>>,
    client: reqwest::Client,
    data_dir: Arc<TempDir>,
    mongodb: Option<MongoOptions>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    customize: Customize,
}

/// Adjusts the settings of a test app; kept to start the same app again after a restart.
type Customize = Arc<dyn Fn(&mut Settings) + Send + Sync>;

/// Who makes a request.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// No `Authorization` header.
    Anonymous,
    /// The root client (`*`).
    Root,
    /// A configured client with this id and token.
    Client(&'a str, &'a str),
}

/// A status and a JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {:#}",
            self.body
        );
        self.body
    }

    /// Asserts an error status and code and returns the message.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> String {
        let body = self.expect(status);
        assert_eq!(body["code"], code, "unexpected error: {body:#}");
        body["message"].as_str().unwrap_or_default().to_owned()
    }
}

/// Starts an app with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_: &mut Settings| {}).await
}

/// Starts an app after `customize` adjusts its settings.
pub async fn spawn_app_with(customize: impl Fn(&mut Settings) + Send + Sync + 'static) -> TestApp {
    spawn_app_on(test_backend(), customize).await
}

/// Starts an app on the given MongoDB store (`None`: SQLite in the data dir).
pub async fn spawn_app_on(
    mongodb: Option<MongoOptions>,
    customize: impl Fn(&mut Settings) + Send + Sync + 'static,
) -> TestApp {
    let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let clock = ManualClock::new(START.parse().unwrap());
    start(data_dir, mongodb, clock, Arc::new(customize)).await
}

/// With `HOOKD_TEST_LOG=<filter>` (e.g. `hookd::listener=debug,info`), hookd's log goes to
/// the test's captured output, which the harness shows when the test fails: a flaky test's
/// failing run then comes with what the app did. Off by default; a binary that installs its
/// own subscriber first (the API tests' log capture) keeps it.
fn log_to_test_output() {
    if let Ok(filter) = std::env::var("HOOKD_TEST_LOG") {
        let format = hookd::telemetry::LogFormat::Human;
        hookd::telemetry::init(&filter, format, false, TestWriter::new);
    }
}

/// The store `HOOKD_TEST_BACKEND` asks for: unset or `sqlite` for the embedded store,
/// `mongodb` for a fresh database on the test server.
fn test_backend() -> Option<MongoOptions> {
    match std::env::var("HOOKD_TEST_BACKEND").as_deref() {
        Err(_) | Ok("" | "sqlite") => None,
        Ok("mongodb") => {
            let uri = fresh_database_uri()
                .expect("HOOKD_TEST_BACKEND=mongodb needs HOOKD_TEST_MONGODB_URI");
            // The test clock starts in 2026; without a long retention the TTL monitor would
            // delete the test's fires once the real date is a year past that.
            Some(MongoOptions {
                fire_retention: chrono::Duration::days(365 * 200),
                ..MongoArgs::options_for(&uri).expect("the test URI parses")
            })
        }
        Ok(other) => panic!("HOOKD_TEST_BACKEND={other:?}; expected sqlite or mongodb"),
    }
}

async fn start(
    data_dir: Arc<TempDir>,
    mongodb: Option<MongoOptions>,
    clock: ManualClock,
    customize: Customize,
) -> TestApp {
    log_to_test_output();
    let mut settings = Settings::new(data_dir.path());
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.root_access_token = Some(ROOT_TOKEN.into());
    settings.workers = Some(2);
    settings.mongodb = mongodb.clone();
    settings.migrate = true;
    settings.render_limits.worker_program = hookd_binary();
    customize(&mut settings);
    let app = Application::build(settings, Arc::new(clock.clone()))
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let scheduler = app.scheduler();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        clock,
        scheduler,
        client: reqwest::Client::new(),
        data_dir,
        mongodb,
        stop: Some(stop),
        server: Some(server),
        customize,
    }
}

/// The `hookd` binary of this test run, which render workers are started from.
///
/// Cargo names it in `CARGO_BIN_EXE_hookd` at run time as well as at compile time; a library
/// cannot use the compile-time `env!`, which only the test binaries themselves see.
pub fn hookd_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_hookd") {
        return path.into();
    }
    // A test binary run directly, not through cargo: it sits in `target/<profile>/deps/`,
    // hookd in `target/<profile>/`.
    let test_binary = std::env::current_exe().expect("the test binary's path");
    test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps/")
        .join("hookd")
}

/// A client `id` with token `id-token` holding `scopes`, for `Settings::clients`.
pub fn client(id: &str, scopes: &[&str]) -> ClientConfig {
    ClientConfig {
        client_id: id.into(),
        access_token_hash: hash_token(&format!("{id}-token")),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        token_salt: None,
    }
}

/// A role for `Settings::roles`.
pub fn role(id: &str, scopes: &[&str]) -> Role {
    Role {
        role_id: id.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

/// A minimal valid hook body, Taskcluster-shaped.
pub fn hook_body() -> Value {
    json!({
        "metadata": {"name": "nightly", "description": "Builds every night", "owner": "ci@example.com"},
        "task": {"provisionerId": "p", "workerType": "w", "payload": {}, "metadata": {"name": "t"}},
    })
}

fn schemas() -> &'static SchemaSet {
    static SET: OnceLock<SchemaSet> = OnceLock::new();
    SET.get_or_init(|| SchemaSet::load().expect("schemas load"))
}

fn taskcluster() -> &'static Taskcluster {
    static TC: OnceLock<Taskcluster> = OnceLock::new();
    TC.get_or_init(Taskcluster::load)
}

/// Checks a successful body against hookd's schema and, unless it uses an extension,
/// Taskcluster's.
#[track_caller]
pub fn assert_matches_schemas(id: SchemaId, body: &Value, uses_extension: bool) {
    if let Err(v) = schemas().validate(id, body) {
        panic!("{} breaks hookd's {}: {v}", body, id.file_name());
    }
    if !uses_extension
        && !matches!(
            id,
            SchemaId::PingResponse | SchemaId::SubmittedTask | SchemaId::Error
        )
    {
        let file = taskcluster_file(id);
        assert!(
            taskcluster().is_valid(file, body),
            "{body} breaks Taskcluster's {file}"
        );
    }
}

impl TestApp {
    /// Sends a request to `/api/hooks/v1<path>`. Error bodies are checked against `error.json`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}/api/hooks/v1{path}", self.address));
        request = match auth {
            Auth::Anonymous => request,
            Auth::Root => request.bearer_auth(format!("root:{ROOT_TOKEN}")),
            Auth::Client(id, token) => request.bearer_auth(format!("{id}:{token}")),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Sends a prepared request; checks error bodies against `error.json`.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request is answered");
        let status = response.status();
        let text = response.text().await.expect("body is readable");
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("answer {status} is not JSON ({e}): {text:?}"));
        if !status.is_success() {
            assert_matches_schemas(SchemaId::Error, &body, true);
        }
        Reply { status, body }
    }

    /// A raw request builder for `/api/hooks/v1<path>`, for tests of headers and bodies.
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/api/hooks/v1{path}", self.address))
            .bearer_auth(format!("root:{ROOT_TOKEN}"))
    }

    /// createHook as root; asserts 200 and the response schemas.
    pub async fn create_hook(&self, path: &str, body: Value) -> Value {
        let extension = ["scopes", "missedFires", "capture"]
            .iter()
            .any(|field| body.get(field).is_some());
        let hook = self
            .call(
                Method::PUT,
                &format!("/hooks/{path}"),
                Auth::Root,
                Some(body),
            )
            .await
            .expect(200);
        assert_matches_schemas(SchemaId::HookDefinition, &hook, extension);
        hook
    }

    /// triggerHook as root; returns the reply unchecked.
    pub async fn trigger(&self, path: &str, payload: Value) -> Reply {
        let reply = self
            .call(
                Method::POST,
                &format!("/hooks/{path}/trigger"),
                Auth::Root,
                Some(payload),
            )
            .await;
        if reply.status.is_success() {
            assert_matches_schemas(SchemaId::TriggerHookResponse, &reply.body, false);
        }
        reply
    }

    /// listLastFires as root with a query string; asserts 200 and the schemas.
    pub async fn last_fires(&self, path: &str, query: &str) -> Value {
        let body = self
            .call(
                Method::GET,
                &format!("/hooks/{path}/last-fires{query}"),
                Auth::Root,
                None,
            )
            .await
            .expect(200);
        assert_matches_schemas(SchemaId::ListLastFiresResponse, &body, false);
        body
    }

    /// getHookStatus as root; asserts 200 and the schemas (Taskcluster's unless the hook has
    /// bindings, which adds the `bindingStatus` extension).
    pub async fn status(&self, path: &str) -> Value {
        let body = self
            .call(
                Method::GET,
                &format!("/hooks/{path}/status"),
                Auth::Root,
                None,
            )
            .await
            .expect(200);
        let extension = body.get("bindingStatus").is_some();
        assert_matches_schemas(SchemaId::HookStatus, &body, extension);
        body
    }

    /// The task submitted under `task_id`, via the extension endpoint.
    pub async fn submitted_task(&self, task_id: &str) -> Value {
        let body = self
            .call(Method::GET, &format!("/tasks/{task_id}"), Auth::Root, None)
            .await
            .expect(200);
        assert_matches_schemas(SchemaId::SubmittedTask, &body, true);
        body
    }

    /// The Prometheus scrape at `/metrics`; asserts 200 and the OpenMetrics content type.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics are answered");
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert!(
            content_type
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text"),
            "{content_type:?}"
        );
        response.text().await.expect("metrics are text")
    }

    /// The value of one series (its full name and labels, as exposed) in a fresh scrape, or
    /// `None` when the series does not exist.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        metric_value(&self.metrics().await, series)
    }

    /// Runs everything the scheduler has due at the current test time, to completion.
    pub async fn tick(&self) {
        self.scheduler
            .as_ref()
            .expect("the app runs a scheduler")
            .tick()
            .await;
    }

    /// The current test time.
    pub fn now(&self) -> DateTime<Utc> {
        use hookd::clock::Clock;
        self.clock.now()
    }

    /// One string field of a successful root `GET /api/hooks/v1<path>`, e.g. a token.
    pub async fn root_string(&self, path: &str, field: &str) -> String {
        let body = self
            .call(Method::GET, path, Auth::Root, None)
            .await
            .expect(200);
        body[field].as_str().expect("a string field").to_owned()
    }

    /// The app's data directory, e.g. for a second app on the same store.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// A second handle on the app's store, as another replica opens it, e.g. to leave behind
    /// what a crash would.
    pub async fn open_store(&self) -> Arc<dyn HookStore> {
        match &self.mongodb {
            Some(options) => Arc::new(MongoStore::connect(options).await.expect("MongoDB store")),
            None => {
                let path = DataDir::open(self.data_dir())
                    .expect("data dir")
                    .store_path();
                Arc::new(SqliteStore::open(&path).expect("SQLite store"))
            }
        }
    }

    /// Starts a second app on the same store, clock and settings: another replica.
    pub async fn replica(&self) -> TestApp {
        start(
            Arc::clone(&self.data_dir),
            self.mongodb.clone(),
            self.clock.clone(),
            Arc::clone(&self.customize),
        )
        .await
    }

    /// Stops the server and starts a new one on the same data dir and clock.
    pub async fn restart(mut self) -> TestApp {
        // Close pooled keep-alive connections first: a graceful stop waits for open ones.
        self.client = reqwest::Client::new();
        self.stop_server().await;
        self.replica().await
    }

    /// Stops the server (and its scheduler and listener) for good.
    pub async fn stop(mut self) {
        self.client = reqwest::Client::new();
        self.stop_server().await;
    }

    async fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }
}

/// The value of `series` (e.g. `hookd_fires_total{fired_by="schedule",result="success"}`) in
/// `scrape`, or `None` when it is not there.
pub fn metric_value(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(value.parse().expect("a sample value is a number"))
    })
}
