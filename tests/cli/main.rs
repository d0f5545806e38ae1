//! The `hookd` binary as an operator meets it: first start, restart, flags and shutdown.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod apply;
mod render;

/// How long a start may take before the test gives up.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A line of output: whether it came from stdout (else stderr), and the line.
type Line = (bool, String);

/// A running `hookd serve`, with the lines it printed so far.
struct Server {
    child: Child,
    stdout: Vec<String>,
    stderr: Vec<String>,
    /// Lines printed since.
    received: mpsc::Receiver<Line>,
    port: u16,
}

fn hookd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hookd"))
}

/// Starts `hookd serve` on a free port and waits until it says where it listens.
fn serve(data_dir: &std::path::Path, extra: &[&str]) -> Server {
    serve_with_env(data_dir, extra, &[])
}

/// [`serve`] with extra environment variables (failpoints).
fn serve_with_env(data_dir: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let child = hookd()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .envs(env.iter().copied())
        .env_remove("HOOKD_ROOT_ACCESS_TOKEN")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hookd starts");
    let (lines, received) = mpsc::channel::<Line>();
    // Owned from here on, so a failing assertion below still stops the process.
    let mut server = Server {
        child,
        stdout: Vec::new(),
        stderr: Vec::new(),
        received,
        port: 0,
    };
    let stdout_lines = lines.clone();
    let stdout = server.child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = stdout_lines.send((true, line));
        }
    });
    let stderr = server.child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send((false, line));
        }
    });
    loop {
        let (is_stdout, line) = server
            .received
            .recv_timeout(START_LIMIT)
            .expect("hookd reports that it listens");
        let port = listening_port(&line).filter(|_| !is_stdout);
        server.keep((is_stdout, line));
        if let Some(port) = port {
            server.port = port;
            // The banner is written to stdout before this line goes to stderr, but the two
            // pipes are read by different threads: collect what is already in flight.
            while let Ok(line) = server.received.recv_timeout(Duration::from_millis(500)) {
                server.keep(line);
            }
            return server;
        }
    }
}

/// The port in the "listening on http://<ip>:<port>" line, in either log format.
fn listening_port(line: &str) -> Option<u16> {
    let rest = line.split("listening on http://").nth(1)?;
    // The address ends where a JSON line's closing quote (or the human line) does.
    let address = rest.split(['"', ' ']).next()?;
    address.rsplit_once(':')?.1.parse().ok()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Status of `GET /api/hooks/v1/hooks` with a bearer token for root.
    fn list_groups_status(&self, token: &str) -> u16 {
        self.list_groups_status_as("root", token)
    }

    /// Status of `GET /api/hooks/v1/hooks` with a bearer token for `client_id`.
    fn list_groups_status_as(&self, client_id: &str, token: &str) -> u16 {
        let auth = format!("Authorization: Bearer {client_id}:{token}\r\n");
        self.request("GET", "/api/hooks/v1/hooks", &auth, "")
    }

    /// Status of a request with extra `headers` (each line ending in CRLF) and a JSON `body`.
    fn request(&self, method: &str, path: &str, headers: &str, body: &str) -> u16 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("hookd accepts");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut status_line = String::new();
        BufReader::new(stream).read_line(&mut status_line).unwrap();
        status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    /// Files a line of output under stdout or stderr.
    fn keep(&mut self, (is_stdout, line): Line) {
        if is_stdout {
            self.stdout.push(line);
        } else {
            self.stderr.push(line);
        }
    }

    /// Stops the server with SIGTERM; returns whether it exited successfully and everything it
    /// wrote to stderr.
    fn stop(mut self) -> (bool, Vec<String>) {
        let success = self.terminate();
        // The reader threads end, and the channel closes, when the pipes do.
        while let Ok(line) = self.received.recv_timeout(START_LIMIT) {
            self.keep(line);
        }
        (success, std::mem::take(&mut self.stderr))
    }

    /// Sends SIGTERM and returns whether the process exited successfully.
    fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().expect("hookd exits").success()
    }
}

/// The generated token from the first-start banner.
fn printed_token(stdout: &[String]) -> Option<String> {
    let banner = stdout.join("\n");
    banner
        .split("Bearer root:")
        .nth(1)
        .map(|rest| rest.split('\'').next().unwrap().to_owned())
}

#[test]
fn first_start_creates_and_prints_a_root_token_once_with_a_curl_example() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path(), &[]);
    let token = printed_token(&server.stdout).expect("the first start prints the token");
    assert!(server
        .stdout
        .iter()
        .any(|l| l.trim_start().starts_with("curl ")));
    assert_eq!(server.list_groups_status(&token), 200);
    assert_eq!(server.list_groups_status("wrong"), 401);
    assert!(server.terminate(), "SIGTERM stops hookd with exit status 0");

    let mut again = serve(dir.path(), &[]);
    assert_eq!(
        printed_token(&again.stdout),
        None,
        "the token is printed only once"
    );
    assert_eq!(
        again.list_groups_status(&token),
        200,
        "the stored token still works"
    );
    assert!(again.terminate());
}

#[test]
fn an_explicit_root_token_replaces_the_stored_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = serve(dir.path(), &[]);
    let generated = printed_token(&first.stdout).unwrap();
    assert!(first.terminate());

    let mut chosen = serve(dir.path(), &["--root-access-token", "chosen-token"]);
    assert_eq!(printed_token(&chosen.stdout), None);
    assert_eq!(chosen.list_groups_status("chosen-token"), 200);
    assert_eq!(chosen.list_groups_status(&generated), 401);
    assert!(chosen.terminate());
}

#[test]
fn serve_help_lists_every_flag_with_its_environment_variable() {
    let output = hookd().args(["serve", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, env) in [
        ("--listen", "HOOKD_LISTEN"),
        ("--data-dir", "HOOKD_DATA_DIR"),
        ("--config", "HOOKD_CONFIG"),
        ("--root-access-token", "HOOKD_ROOT_ACCESS_TOKEN"),
        ("--body-limit", "HOOKD_BODY_LIMIT"),
        ("--workers", "HOOKD_WORKERS"),
        ("--render-timeout-ms", "HOOKD_RENDER_TIMEOUT_MS"),
        ("--max-task-bytes", "HOOKD_MAX_TASK_BYTES"),
        ("--client-rate-limit", "HOOKD_CLIENT_RATE_LIMIT"),
        ("--hook-rate-limit", "HOOKD_HOOK_RATE_LIMIT"),
        (
            "--webhook-secret-grace-secs",
            "HOOKD_WEBHOOK_SECRET_GRACE_SECS",
        ),
        ("--log-format", "HOOKD_LOG_FORMAT"),
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
        assert!(help.contains(env), "{env} missing from:\n{help}");
    }
}

#[test]
fn a_bad_config_file_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookd.toml");
    std::fs::write(&config, "[[clients]]\nclientId = \"ci\"\n").unwrap();
    let output = hookd()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hookd.toml") && stderr.contains("accessTokenHash"),
        "{stderr}"
    );
}

#[test]
fn json_logs_are_one_object_per_line_and_a_fire_is_one_line_with_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &["--log-format", "json", "--root-access-token", "tok"],
    );
    let auth = "Authorization: Bearer root:tok\r\n";
    let hook = r#"{"metadata": {"name": "n", "description": "d", "owner": "o@example.com"},
        "task": {"provisionerId": "p", "workerType": "w", "payload": {}, "metadata": {"name": "t"}}}"#;
    let path = "/api/hooks/v1/hooks/g/h";
    assert_eq!(server.request("PUT", path, auth, hook), 200);
    let traced = format!("{auth}X-Request-Id: cli-fire-1\r\n");
    assert_eq!(
        server.request("POST", &format!("{path}/trigger"), &traced, "{}"),
        200
    );
    let (stopped, stderr) = server.stop();

    assert!(stopped);
    let events = json_events(&stderr);
    assert!(
        events.len() >= 3,
        "start, fire and stop are logged: {stderr:?}"
    );
    let fires: Vec<_> = events
        .iter()
        .filter(|e| e["message"] == "hook fired")
        .collect();
    assert_eq!(fires.len(), 1, "{stderr:?}");
    let fire = fires[0];
    assert_eq!(fire["hook"], "g/h", "{fire}");
    assert_eq!(fire["fired_by"], "triggerHook", "{fire}");
    assert_eq!(fire["result"], "success", "{fire}");
    assert_eq!(fire["task_id"].as_str().map(str::len), Some(22), "{fire}");
    assert!(fire["duration_ms"].as_f64().is_some(), "{fire}");
    let spans = fire["spans"].as_array().expect("the fire's spans");
    assert!(
        spans.iter().any(|s| s["request_id"] == "cli-fire-1"),
        "{fire}"
    );
}

/// Each log line as a JSON object; panics on a line that is not one.
fn json_events(stderr: &[String]) -> Vec<serde_json::Value> {
    stderr
        .iter()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(event.is_object(), "not an object: {line}");
            event
        })
        .collect()
}

#[test]
fn a_render_worker_that_runs_out_of_memory_is_reported_in_the_json_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            "--log-format",
            "json",
            "--root-access-token",
            "tok",
            "--render-memory-mb",
            "32",
        ],
    );
    let auth = "Authorization: Bearer root:tok\r\n";
    // A string doubled 64 times: far more than 32 MiB.
    let hook = r#"{"metadata": {"name": "n", "description": "d", "owner": "o@example.com"},
        "task": {"payload": {"$reduce": {"$eval": "range(0, 64)"}, "initial": "x",
                             "each(acc, x)": {"$eval": "acc + acc"}}}}"#;
    let path = "/api/hooks/v1/hooks/g/h";
    assert_eq!(server.request("PUT", path, auth, hook), 200);
    assert_eq!(
        server.request("POST", &format!("{path}/trigger"), auth, "{}"),
        400
    );
    let (stopped, stderr) = server.stop();

    assert!(stopped);
    let events = json_events(&stderr);
    assert!(
        events.iter().any(|e| e["message"] == "render worker stderr"
            && e["output"]
                .as_str()
                .is_some_and(|o| o.contains("memory allocation"))),
        "the worker's abort message is relayed as a log event: {stderr:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "hook fired" && e["result"] == "error"),
        "{stderr:?}"
    );
}

/// Runs `hookd client <args> --data-dir <dir>` and returns its stdout; asserts success.
fn client_command(data_dir: &std::path::Path, args: &[&str]) -> String {
    let output = hookd()
        .arg("client")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "hookd client {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The token line of `client create` or `client reset` output.
fn shown_token(output: &str) -> String {
    output
        .lines()
        .nth(2)
        .map(|line| line.trim().to_owned())
        .expect("the token is printed on the third line")
}

#[test]
fn client_commands_create_list_reset_and_delete_clients_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let created = client_command(
        dir.path(),
        &[
            "create",
            "ci",
            "--scopes",
            "hooks:list-hooks:",
            "hooks:get:*",
        ],
    );
    let token = shown_token(&created);
    let listed = client_command(dir.path(), &["list"]);
    assert_eq!(listed, "ci\thooks:list-hooks: hooks:get:*\n");
    let on_disk = std::fs::read_to_string(dir.path().join("clients.toml")).unwrap();
    assert!(!on_disk.contains(&token), "only the hash is stored");

    let mut server = serve(dir.path(), &[]);
    assert_eq!(server.list_groups_status_as("ci", &token), 200);
    assert!(server.terminate());

    let reset = shown_token(&client_command(dir.path(), &["reset", "ci"]));
    let mut server = serve(dir.path(), &[]);
    assert_eq!(server.list_groups_status_as("ci", &token), 401);
    assert_eq!(server.list_groups_status_as("ci", &reset), 200);
    assert!(server.terminate());

    client_command(dir.path(), &["delete", "ci"]);
    assert_eq!(client_command(dir.path(), &["list"]), "");
    let mut server = serve(dir.path(), &[]);
    assert_eq!(server.list_groups_status_as("ci", &reset), 401);
    assert!(server.terminate());
}

#[test]
fn client_commands_refuse_duplicates_and_unknown_clients() {
    let dir = tempfile::tempdir().unwrap();
    client_command(dir.path(), &["create", "ci"]);
    for args in [["create", "ci"], ["delete", "nobody"], ["reset", "nobody"]] {
        let output = hookd()
            .arg("client")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("ci") || stderr.contains("nobody"),
            "{stderr}"
        );
    }
}
