//! Graceful shutdown of the real binary on SIGTERM: it stops accepting, finishes a fire in
//! flight to a slow HTTP receiver and records it, stops consuming AMQP, exits 0, and gives up
//! on stuck work after the configured grace.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hookd_testkit::wait::eventually_blocking;

use crate::hookd;

/// Longest any step may take before the test gives up (not a timing assertion).
const LIMIT: Duration = Duration::from_secs(60);
/// How long a stop with a one-second grace may take. Generous, but well under the 30 s that
/// actix-web would wait for a stuck request without the setting.
const SHORT_GRACE_LIMIT: Duration = Duration::from_secs(20);
const ROOT_TOKEN: &str = "lifecycle-root-token";
/// `whsec_` and the base64 of "lifecycle-signing-key".
const SINK_SECRET: &str = "whsec_bGlmZWN5Y2xlLXNpZ25pbmcta2V5";

/// A running `hookd serve` and the lines it writes to stderr.
struct Server {
    child: Child,
    port: u16,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `hookd serve --config <config>` plus `flags` and waits until it listens.
    fn start(config: &Path, flags: &[&str]) -> Self {
        let mut child = hookd()
            .env_clear()
            .env("RUST_LOG", "info")
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hookd starts");
        let (lines, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut server = Self {
            child,
            port: 0,
            stderr,
        };
        let line = server.await_line("listening on http://");
        server.port = line.rsplit(':').next().unwrap().trim().parse().unwrap();
        server
    }

    /// Waits for a stderr line containing `needle` and returns it.
    fn await_line(&self, needle: &str) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(LIMIT)
                .unwrap_or_else(|_| panic!("hookd never logged {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to end and returns whether it exited with status 0.
    /// Whether hookd exits 0; it must exit within `limit`.
    fn exit_success(&mut self, limit: Duration) -> bool {
        let child = &mut self.child;
        eventually_blocking(limit, "hookd exits", || child.try_wait().unwrap()).success()
    }
}

/// One HTTP/1.1 request as root; returns the status and the body.
fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("hookd accepts");
    write!(
        stream,
        "{method} /api/hooks/v1{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer root:{ROOT_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

const HOOK: &str = r#"{"metadata": {"name": "n", "description": "d", "owner": "o@example.com"},
    "task": {"provisionerId": "p", "workerType": "w", "payload": {}, "metadata": {"name": "t"}}}"#;

/// An HTTP task receiver on loopback that reports each request, then answers 200 only when
/// the test releases it.
struct SlowReceiver {
    port: u16,
    received: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

impl SlowReceiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (received_tx, received) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                read_request(&mut stream);
                let _ = received_tx.send(());
                if release_rx.recv().is_err() {
                    return;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Self {
            port,
            received,
            release,
        }
    }
}

/// Reads one request's head and its `Content-Length` body.
fn read_request(stream: &mut TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
}

/// A config file with a data dir in `dir`, the root token and `settings`.
fn config(dir: &Path, settings: &str) -> std::path::PathBuf {
    let path = dir.join("hookd.toml");
    let data = dir.join("data");
    let text = format!("dataDir = {data:?}\nrootAccessToken = \"{ROOT_TOKEN}\"\n{settings}");
    std::fs::write(&path, text).unwrap();
    path
}

/// A config file sending tasks to `receiver`, with `grace` seconds of shutdown grace.
fn http_sink_config(dir: &Path, receiver: u16, grace: u64) -> std::path::PathBuf {
    config(
        dir,
        &format!(
            "taskQueue = \"http://127.0.0.1:{receiver}/tasks\"\nsinkSecret = \"{SINK_SECRET}\"\n\
             sinkTimeout = 600\nshutdownGraceSecs = {grace}\n"
        ),
    )
}

/// Creates a hook and fires it on another thread; returns when the receiver holds the task.
fn fire_in_flight(
    server: &Server,
    receiver: &SlowReceiver,
) -> std::thread::JoinHandle<(u16, String)> {
    assert_eq!(request(server.port, "PUT", "/hooks/g/slow", HOOK).0, 200);
    let port = server.port;
    let trigger = std::thread::spawn(move || request(port, "POST", "/hooks/g/slow/trigger", "{}"));
    receiver
        .received
        .recv_timeout(LIMIT)
        .expect("the fire reaches the receiver");
    trigger
}

#[test]
fn sigterm_finishes_a_fire_in_flight_records_it_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = SlowReceiver::start();
    let config = http_sink_config(dir.path(), receiver.port, 60);
    let mut server = Server::start(&config, &[]);
    let trigger = fire_in_flight(&server, &receiver);

    server.sigterm();
    server.await_line("hookd is stopping");
    let port = server.port;
    eventually_blocking(LIMIT, "a stopping hookd accepts no new connections", || {
        TcpStream::connect(("127.0.0.1", port)).err()
    });
    receiver.release.send(()).unwrap();

    let (status, body) = trigger.join().unwrap();
    assert_eq!(status, 200, "the fire in flight completes: {body}");
    assert!(server.exit_success(LIMIT), "hookd exits 0 after SIGTERM");

    // The fire was recorded: a new process over the same data dir lists it.
    let again = Server::start(&config, &[]);
    let (status, fires) = request(again.port, "GET", "/hooks/g/slow/last-fires", "");
    assert_eq!(status, 200);
    let fires: serde_json::Value = serde_json::from_str(&fires).unwrap();
    assert_eq!(fires["lastFires"][0]["result"], "success", "{fires}");
    let task_id: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(fires["lastFires"][0]["taskId"], task_id["taskId"]);
}

#[test]
fn sigterm_gives_up_on_stuck_work_after_the_grace_and_still_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = SlowReceiver::start();
    let config = http_sink_config(dir.path(), receiver.port, 1);
    let mut server = Server::start(&config, &[]);
    let _trigger = fire_in_flight(&server, &receiver);

    // The receiver never answers; the sink would wait for it for ten minutes.
    server.sigterm();
    assert!(
        server.exit_success(SHORT_GRACE_LIMIT),
        "hookd exits 0 once the grace is over"
    );
}

/// The broker's URL and a `rabbitmqctl` for it; `None` skips the test outside
/// `scripts/test.sh`, which always sets them.
fn broker() -> Option<(String, String)> {
    match (
        std::env::var("HOOKD_TEST_AMQP_URL"),
        std::env::var("HOOKD_TEST_RABBITMQ_CTL"),
    ) {
        (Ok(url), Ok(ctl)) => Some((url, ctl)),
        _ if std::env::var_os("HOOKD_TEST_RUN_DIR").is_some() => {
            panic!("scripts/test.sh must start RabbitMQ and set HOOKD_TEST_AMQP_URL")
        }
        _ => {
            eprintln!("skipped: HOOKD_TEST_AMQP_URL is not set (run scripts/test.sh)");
            None
        }
    }
}

/// How many consumers the broker has on queues whose name starts with `prefix`.
fn consumers(ctl: &str, prefix: &str) -> usize {
    let output = std::process::Command::new(ctl)
        .args(["-q", "list_consumers", "queue_name"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(output.status.success(), "rabbitmqctl list_consumers failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with(prefix))
        .count()
}

/// Runs `work` on a channel of a fresh connection to the test broker.
fn with_channel<T>(url: &str, work: impl AsyncFnOnce(&lapin::Channel) -> T) -> T {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let handle = tokio::runtime::Handle::current();
        let connection = hookd::amqp::connect(url, "lifecycle test", &handle)
            .await
            .expect("the test broker accepts connections");
        let channel = connection.create_channel().await.expect("channel");
        let result = work(&channel).await;
        let _ = connection.close(200, "done").await;
        result
    })
}

/// Publishes `{}` to `amq.topic` with `routing_key`.
fn publish(url: &str, routing_key: &str) {
    with_channel(url, async |channel| {
        channel
            .basic_publish(
                "amq.topic",
                routing_key,
                lapin::options::BasicPublishOptions::default(),
                b"{}",
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("published")
            .await
            .expect("the broker took it");
    });
}

/// Whether `queue` holds a message (taken off it to find out).
fn holds_a_message(url: &str, queue: &str) -> bool {
    with_channel(url, async |channel| {
        let options = lapin::options::BasicGetOptions { no_ack: true };
        channel
            .basic_get(queue, options)
            .await
            .expect("basic.get")
            .is_some()
    })
}

#[test]
fn sigterm_stops_consuming_amqp_finishes_the_fire_in_flight_and_acknowledges_it() {
    let Some((url, ctl)) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let receiver = SlowReceiver::start();
    let prefix = format!("lifecycle-{}", uuid::Uuid::new_v4().simple());
    let config = config(
        dir.path(),
        &format!(
            "amqpUrl = \"{url}\"\namqpQueuePrefix = \"{prefix}\"\n\
             taskQueue = \"http://127.0.0.1:{}/tasks\"\nsinkSecret = \"{SINK_SECRET}\"\n",
            receiver.port
        ),
    );
    let mut server = Server::start(&config, &[]);
    let hook = HOOK.replacen(
        '{',
        r#"{"bindings": [{"exchange": "amq.topic", "routingKeyPattern": "lifecycle.#"}], "#,
        1,
    );
    assert_eq!(request(server.port, "PUT", "/hooks/g/bound", &hook).0, 200);
    eventually_blocking(LIMIT, "hookd consumes its hook's queue", || {
        (consumers(&ctl, &prefix) > 0).then_some(())
    });
    publish(&url, &format!("lifecycle.{prefix}"));
    receiver
        .received
        .recv_timeout(LIMIT)
        .expect("the message's fire reaches the receiver");

    server.sigterm();
    eventually_blocking(LIMIT, "hookd stops consuming", || {
        (consumers(&ctl, &prefix) == 0).then_some(())
    });
    receiver.release.send(()).unwrap();
    assert!(server.exit_success(LIMIT), "hookd exits 0 after SIGTERM");
    assert!(
        !holds_a_message(&url, &format!("{prefix}/g/bound")),
        "the fire finished after the consumer stopped, and its message was acknowledged"
    );
}
