//! hookd's allow/deny decisions against Taskcluster's scope library, through the API.
//!
//! A generated table of clients (random scope sets with stars, `assume:` of plain, star and
//! parameterized roles) and required scopes is configured into a running hookd and asked over
//! HTTP: `GET /hooks/{g}/{h}` needs `hooks:get:{g}:{h}` and `GET /hooks/{g}` needs
//! `hooks:list-hooks:{g}`, and no hook exists, so 404 means allowed and 403 denied. The same
//! table goes to `scopes_oracle.js`, which decides with `taskcluster-lib-scopes`
//! (`scripts/services/taskcluster_js.sh`); every answer must agree.

use std::process::{Command, Stdio};

use hookd::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

use hookd_testkit::app::{client, role, spawn_app_with, Auth};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/scopes_oracle.js");
const GROUPS: [&str; 4] = ["a", "ab", "b", "pub"];
const HOOKS: [&str; 3] = ["x", "xy", "y"];
const CLIENTS: usize = 48;

/// `node` and the directory holding the npm packages, or `None` (skip) outside
/// `scripts/test.sh`.
pub fn node() -> Option<(String, String)> {
    match (
        std::env::var("HOOKD_TEST_NODE"),
        std::env::var("HOOKD_TEST_NODE_PATH"),
    ) {
        (Ok(node), Ok(path)) => Some((node, path)),
        _ if std::env::var_os("HOOKD_TEST_RUN_DIR").is_none() => {
            eprintln!("skipped: HOOKD_TEST_NODE(_PATH) is unset (run scripts/test.sh)");
            None
        }
        _ => panic!("scripts/test.sh must export HOOKD_TEST_NODE and HOOKD_TEST_NODE_PATH"),
    }
}

/// Plain, star, recursive and parameterized roles, acyclic as Taskcluster requires.
fn roles() -> Vec<Role> {
    vec![
        role("anonymous", &["hooks:get:pub:x"]),
        role("project:*", &["hooks:get:<..>:*", "assume:team:<..>"]),
        role("team:a*", &["hooks:list-hooks:a<..>"]),
        role("team:b", &["hooks:get:b:x"]),
        role("reader:*", &["hooks:get:<..>"]),
        role("group:*", &["assume:project:<..>b"]),
        role("deep:*", &["assume:reader:<..>:x"]),
        role("exact", &["hooks:get:a*"]),
        role("lister", &["hooks:list-hooks:*"]),
        role("project:ab", &["hooks:list-hooks:pub"]),
    ]
}

/// A small deterministic generator (xorshift), so every run asks the same table.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A held scope: a concrete one, or (often) a prefix of one with a star.
    fn scope(&mut self) -> String {
        let (g, h) = (self.pick(&GROUPS), self.pick(&HOOKS));
        let concrete = match self.below(11) {
            0 => format!("assume:project:{g}"),
            1 => format!("assume:team:{g}"),
            2 => format!("assume:reader:{g}:{h}"),
            3 => format!("assume:group:{g}"),
            4 => format!("assume:deep:{g}"),
            5 => "assume:exact".to_owned(),
            6 => "assume:lister".to_owned(),
            7 => format!("hooks:get:{g}:{h}"),
            8 => format!("hooks:list-hooks:{g}"),
            9 => "assume:anonymous".to_owned(),
            _ => format!("assume:project:{g}{h}"),
        };
        if self.below(5) < 2 {
            let cut = self.below(concrete.len() + 1);
            format!("{}*", &concrete[..cut])
        } else {
            concrete
        }
    }
}

/// Every path asked, with the scope it needs.
fn endpoints() -> Vec<(String, String)> {
    let mut all = Vec::new();
    for g in GROUPS {
        all.push((format!("/hooks/{g}"), format!("hooks:list-hooks:{g}")));
        for h in HOOKS {
            all.push((format!("/hooks/{g}/{h}"), format!("hooks:get:{g}:{h}")));
        }
    }
    all
}

/// The oracle's answer for each case.
fn oracle(node: &str, node_path: &str, table: &Value) -> Vec<bool> {
    let mut child = Command::new(node)
        .arg(SCRIPT)
        .env("NODE_PATH", node_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    serde_json::to_writer(child.stdin.take().expect("stdin"), table).expect("table written");
    let output = child.wait_with_output().expect("node finishes");
    assert!(
        output.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the oracle prints JSON")
}

#[tokio::test]
async fn allow_and_deny_decisions_match_taskclusters_scope_library() {
    let Some((node, node_path)) = node() else {
        return;
    };
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    // Client 0 holds nothing and stands for anonymous callers (no credentials at all).
    let scope_sets: Vec<Vec<String>> = (0..CLIENTS)
        .map(|i| match i {
            0 => Vec::new(),
            _ => (0..1 + rng.below(3)).map(|_| rng.scope()).collect(),
        })
        .collect();
    let endpoints = endpoints();
    let cases: Vec<Value> = scope_sets
        .iter()
        .flat_map(|scopes| {
            endpoints
                .iter()
                .map(move |(_, required)| json!({"scopes": scopes, "required": [required]}))
        })
        .collect();
    let table = json!({"roles": roles(), "cases": cases});
    let expected = tokio::task::spawn_blocking(move || oracle(&node, &node_path, &table))
        .await
        .expect("the oracle thread finishes");

    let configured = scope_sets.clone();
    let app = spawn_app_with(move |s| {
        s.roles = roles();
        s.clients = configured
            .iter()
            .enumerate()
            .map(|(i, scopes)| {
                let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                client(&format!("c{i}"), &scopes)
            })
            .collect();
    })
    .await;
    let mut mismatches = Vec::new();
    let mut allowed = 0;
    for (i, scopes) in scope_sets.iter().enumerate() {
        let (id, token) = (format!("c{i}"), format!("c{i}-token"));
        let auth = match i {
            0 => Auth::Anonymous,
            _ => Auth::Client(&id, &token),
        };
        for (j, (path, required)) in endpoints.iter().enumerate() {
            let reply = app.call(Method::GET, path, auth, None).await;
            let hookd = match reply.status.as_u16() {
                404 => true,
                403 => false,
                other => panic!("{path} as {id}: unexpected {other}: {}", reply.body),
            };
            allowed += usize::from(hookd);
            if hookd != expected[i * endpoints.len() + j] {
                mismatches.push(format!("{scopes:?} -> {required}: hookd allows: {hookd}"));
            }
        }
    }
    let total = scope_sets.len() * endpoints.len();
    assert!(
        mismatches.is_empty(),
        "{} of {total} decisions differ from taskcluster-lib-scopes:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // A table where everything is allowed or denied would prove little.
    assert!(
        allowed > total / 10 && allowed < total * 9 / 10,
        "{allowed} of {total} allowed"
    );
}
