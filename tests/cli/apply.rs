//! `hookd apply` against a real `hookd serve`: the printed plan (golden), exit statuses, and
//! `kill -9` at the exact steps of an apply of 1,000 hooks (failpoints), on both backends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use super::{hookd, serve, serve_with_env, Server};

const TOKEN: &str = "apply-test-token";

fn definition(group: &str, id: &str, description: &str) -> Value {
    json!({
        "hookGroupId": group, "hookId": id,
        "metadata": {"name": id, "description": description, "owner": "ci@example.com"},
        "task": {"provisionerId": "p", "workerType": "w", "payload": {}, "metadata": {"name": "t"}},
    })
}

/// Runs `hookd apply <args>` as root against the server on `port`.
fn apply(port: u16, args: &[&str]) -> Output {
    hookd()
        .arg("apply")
        .args(args)
        .env("TASKCLUSTER_ROOT_URL", format!("http://127.0.0.1:{port}"))
        .env("TASKCLUSTER_CLIENT_ID", "root")
        .env("TASKCLUSTER_ACCESS_TOKEN", TOKEN)
        .output()
        .expect("hookd apply runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `GET` as root; the status and the JSON body.
fn get(port: u16, path: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("hookd accepts");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer root:{TOKEN}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// How many hooks group `group` holds.
fn hooks_in(port: u16, group: &str) -> usize {
    match get(port, &format!("/api/hooks/v1/hooks/{group}")) {
        (404, _) => 0,
        (200, body) => body["hooks"].as_array().map_or(0, Vec::len),
        other => panic!("listing {group}: {other:?}"),
    }
}

fn write(dir: &Path, name: &str, value: &Value) {
    std::fs::write(dir.join(name), serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// A fresh hookd (and its data dir) and a folder of files holding hook `ci/a`.
fn hookd_and_a_hook_file() -> (tempfile::TempDir, tempfile::TempDir, Server) {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let server = serve(data.path(), &["--root-access-token", TOKEN]);
    write(files.path(), "a.json", &definition("ci", "a", "first"));
    (data, files, server)
}

#[test]
fn apply_prints_the_plan_applies_it_once_and_prunes_on_request() {
    let (_data, files, server) = hookd_and_a_hook_file();
    let dir = files.path().to_str().unwrap();
    std::fs::write(
        files.path().join("b.yaml"),
        "hookGroupId: ci\nhookId: b\nmetadata: {name: b, description: d, owner: ci@example.com}\n\
         task: {provisionerId: p, workerType: w}\n",
    )
    .unwrap();

    let first = apply(
        server.port,
        &["-f", dir, "--set", "team", "--source", "abc123"],
    );
    let again = apply(server.port, &["-f", dir, "--set", "team", "--exit-code"]);
    write(files.path(), "a.json", &definition("ci", "a", "second"));
    std::fs::remove_file(files.path().join("b.yaml")).unwrap();
    let planned = apply(
        server.port,
        &[
            "-f",
            dir,
            "--set",
            "team",
            "--prune",
            "--dry-run",
            "--exit-code",
        ],
    );
    let pruned = apply(server.port, &["-f", dir, "--set", "team", "--prune"]);
    let diff = apply(server.port, &["--set", "team", "--diff", "--exit-code"]);

    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        stdout(&first),
        "apply set team at revision 0:\n\
         + create ci/a\n\
         + create ci/b\n\
         2 to create, 0 to update, 0 to adopt, 0 to delete, 0 unchanged\n\
         applied: set team is at revision 1\n"
    );
    assert_eq!(again.status.code(), Some(0), "no changes: {again:?}");
    assert_eq!(
        stdout(&again),
        "apply set team at revision 1:\n\
         0 to create, 0 to update, 0 to adopt, 0 to delete, 2 unchanged\n"
    );
    assert_eq!(
        planned.status.code(),
        Some(2),
        "changes with --exit-code: {planned:?}"
    );
    assert_eq!(
        stdout(&planned),
        "apply set team at revision 1:\n\
         ~ update ci/a\n\
         \x20   metadata.description: \"first\" -> \"second\"\n\
         - delete ci/b\n\
         0 to create, 1 to update, 0 to adopt, 1 to delete, 0 unchanged\n"
    );
    assert!(pruned.status.success(), "{pruned:?}");
    assert!(stdout(&pruned).ends_with("applied: set team is at revision 2\n"));
    assert_eq!(hooks_in(server.port, "ci"), 1);
    assert_eq!(diff.status.code(), Some(0), "{diff:?}");
    assert!(
        stdout(&diff).ends_with("0 of 1 hooks drifted\n"),
        "{}",
        stdout(&diff)
    );
}

#[test]
fn chat_alias_files_are_applied_with_the_hooks_and_shown_in_plan_and_diff() {
    let (_data, files, server) = hookd_and_a_hook_file();
    let dir = files.path().to_str().unwrap();
    std::fs::write(
        files.path().join("chat.yaml"),
        "- aliasId: deploy\n  hookGroupId: ci\n  hookId: a\n  formats: ['deploy {{branch}}']\n",
    )
    .unwrap();

    let first = apply(server.port, &["-f", dir, "--set", "team"]);
    std::fs::remove_file(files.path().join("chat.yaml")).unwrap();
    let planned = apply(
        server.port,
        &["-f", dir, "--set", "team", "--prune", "--dry-run"],
    );
    let diff = apply(server.port, &["--set", "team", "--diff"]);

    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        stdout(&first),
        "apply set team at revision 0:\n\
         + create ci/a\n\
         + create chat alias deploy\n\
         2 to create, 0 to update, 0 to adopt, 0 to delete, 0 unchanged\n\
         applied: set team is at revision 1\n"
    );
    assert_eq!(
        stdout(&planned),
        "apply set team at revision 1:\n\
         - delete chat alias deploy\n\
         0 to create, 0 to update, 0 to adopt, 1 to delete, 1 unchanged\n"
    );
    assert!(
        stdout(&diff).ends_with("0 of 1 hooks and 1 chat aliases drifted\n"),
        "{}",
        stdout(&diff)
    );
}

#[test]
fn an_empty_set_is_refused_without_allow_empty() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let server = serve(data.path(), &["--root-access-token", TOKEN]);
    let dir = files.path().to_str().unwrap();

    let refused = apply(server.port, &["-f", dir, "--set", "team", "--prune"]);
    let allowed = apply(
        server.port,
        &["-f", dir, "--set", "team", "--prune", "--allow-empty"],
    );

    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("InputError") && stderr.contains("allowEmpty"),
        "{stderr}"
    );
    assert!(allowed.status.success(), "{allowed:?}");
}

#[test]
fn a_task_template_that_does_not_compile_is_refused_before_the_plan() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let server = serve(data.path(), &["--root-access-token", TOKEN]);
    let dir = files.path().to_str().unwrap();
    let mut bad = definition("ci", "a", "first");
    bad["task"]["payload"] = json!({"$map": [1], "each(x)": "${x}", "extra": 1});
    write(files.path(), "a.json", &bad);

    let refused = apply(server.port, &["-f", dir, "--set", "team"]);

    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).is_empty(), "no plan is printed");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("hooks[0] (ci/a): the task template does not compile: at /task/payload:")
            && stderr.contains("undefined properties: extra"),
        "{stderr}"
    );
    assert_eq!(hooks_in(server.port, "ci"), 0);
}

/// Applies 1,000 hooks to a hookd that stops itself at `failpoint`, starts it again, and
/// returns how many of the hooks exist then. `backend` is extra `serve` flags.
fn hooks_after_a_crash_at(failpoint: &str, backend: &[String]) -> usize {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let hooks: Vec<Value> = (0..1000)
        .map(|i| definition("big", &format!("h{i:04}"), "d"))
        .collect();
    write(files.path(), "hooks.json", &Value::Array(hooks));
    let mut args: Vec<&str> = vec!["--root-access-token", TOKEN];
    args.extend(backend.iter().map(String::as_str));
    let file = files.path().join("hooks.json");
    let file = file.to_str().unwrap();

    let mut crashing = serve_with_env(data.path(), &args, &[("HOOKD_FAILPOINT", failpoint)]);
    let interrupted = apply(crashing.port, &["-f", file, "--set", "big"]);
    let exit = crashing.child.wait().unwrap();
    assert!(!exit.success(), "the failpoint stopped hookd: {exit:?}");
    assert!(!interrupted.status.success(), "{interrupted:?}");

    let restarted = serve(data.path(), &args);
    let count = hooks_in(restarted.port, "big");
    // Whatever survived, applying the files again completes the set.
    let again = apply(restarted.port, &["-f", file, "--set", "big"]);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(hooks_in(restarted.port, "big"), 1000);
    count
}

fn mongodb_backend() -> Option<Vec<String>> {
    let uri = hookd_testkit::mongodb::fresh_database_uri()?;
    Some(vec!["--mongodb-uri".into(), uri, "--migrate".into()])
}

#[test]
fn sqlite_a_crash_mid_writes_leaves_none_and_after_the_commit_all() {
    assert_eq!(hooks_after_a_crash_at("apply-mid-writes", &[]), 0);
    assert_eq!(hooks_after_a_crash_at("apply-after-commit", &[]), 1000);
}

#[test]
fn mongodb_a_crash_after_the_commit_point_or_mid_writes_is_rolled_forward_to_all() {
    let Some(backend) = mongodb_backend() else {
        eprintln!("skipping: HOOKD_TEST_MONGODB_URI is not set");
        return;
    };
    assert_eq!(hooks_after_a_crash_at("apply-after-commit", &backend), 1000);
    let Some(backend) = mongodb_backend() else {
        return;
    };
    assert_eq!(hooks_after_a_crash_at("apply-mid-writes", &backend), 1000);
}
