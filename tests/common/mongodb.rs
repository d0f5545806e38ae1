//! The MongoDB-wire test server, as the tests see it.
//!
//! `scripts/services/mongodb.sh` starts one shared SecantusDB and exports
//! `HOOKD_TEST_MONGODB_URI`; each test takes its own database on it, so tests run in parallel
//! without seeing each other. Tests that stop the database (outages) start a private server
//! with [`PrivateServer`] from the command in `HOOKD_TEST_SECANTUSD`.
//!
//! Outside `scripts/test.sh` the variables may be unset; the helpers then return `None` and the
//! caller skips its test.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use mongodb::bson::doc;
use tempfile::TempDir;

use crate::wait::eventually;

/// A URI naming a database no other test uses, on the shared server.
pub fn fresh_database_uri() -> Option<String> {
    let base = std::env::var("HOOKD_TEST_MONGODB_URI").ok()?;
    Some(format!(
        "{}/{}",
        base.trim_end_matches('/'),
        fresh_database_name()
    ))
}

/// A unique database name.
pub fn fresh_database_name() -> String {
    format!("t_{}", uuid::Uuid::new_v4().simple())
}

/// Says that a test is skipped because its server is not configured.
pub fn skipping(test: &str) {
    eprintln!("skipping {test}: HOOKD_TEST_MONGODB_URI is unset (run scripts/test.sh)");
}

/// A SecantusDB process of one test's own, which the test may stop and start again.
pub struct PrivateServer {
    command: PathBuf,
    port: u16,
    storage: TempDir,
    child: Option<Child>,
}

impl PrivateServer {
    /// Starts a server on a free port with a fresh storage dir and waits until it answers.
    pub async fn start() -> Option<Self> {
        let command = PathBuf::from(std::env::var_os("HOOKD_TEST_SECANTUSD")?);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            command,
            port,
            storage: TempDir::new().expect("temp dir"),
            child: None,
        };
        server.resume().await;
        Some(server)
    }

    /// `mongodb://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    /// Kills the server (no clean shutdown, as in a crash) and waits until it is gone.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and storage, and waits until it answers.
    pub async fn resume(&mut self) {
        let child = Command::new(&self.command)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--storage-path")
            .arg(self.storage.path().join("data"))
            .args(["--log-level", "WARNING"])
            // Acknowledged writes must survive the crash; by default SecantusDB does not
            // flush its log on every commit (mongod's journal does, with `j: true`).
            .arg("--sync-on-commit")
            .current_dir(self.storage.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("SecantusDB starts");
        self.child = Some(child);
        wait_for_ping(&self.uri()).await;
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.crash();
    }
}

/// Waits until the server answers `ping`.
async fn wait_for_ping(uri: &str) {
    let options = format!("{uri}/?serverSelectionTimeoutMS=250&connectTimeoutMS=250");
    let client = mongodb::Client::with_uri_str(&options)
        .await
        .expect("client");
    let admin = client.database("admin");
    eventually(&format!("SecantusDB at {uri} answers ping"), || async {
        admin.run_command(doc! { "ping": 1 }).await.ok()
    })
    .await;
}
