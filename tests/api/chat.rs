//! Chat aliases over the API, and chat commands through Slack and Mattermost slash commands:
//! signed or refused, under each chat user's scopes, the ack at once and the result posted to
//! `response_url`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hookd::api::schemas::SchemaId;
use hookd::chat::slash::slack_signature;
use hookd::config::TaskQueue;
use hookd::fire::sink::RetryPolicy;
use hookd::webhook::WebhookSecret;
use reqwest::Method;
use serde_json::{json, Value};

use hookd_testkit::app::{
    assert_matches_schemas, client, hook_body, role, spawn_app_with, Auth, TestApp,
};
use hookd_testkit::receiver::Receiver;
use hookd_testkit::wait::eventually;

const SLACK_SECRET: &str = "slack-signing-secret-for-tests";
const MATTERMOST_TOKEN: &str = "mattermostcommandtoken";

fn deploy_alias() -> Value {
    json!({
        "hookGroupId": "ci", "hookId": "deploy",
        "description": "Deploys a branch",
        "formats": ["deploy {{branch}} to {{env=staging}}"],
        "ackVisibility": "inChannel",
    })
}

/// A hook whose trigger schema types `count`, and whose task shows the caller.
fn deploy_hook() -> Value {
    let mut body = hook_body();
    body["triggerSchema"] = json!({
        "type": "object",
        "properties": {
            "branch": {"type": "string"}, "env": {"type": "string"}, "count": {"type": "integer"}
        },
        "required": ["branch"],
        "additionalProperties": false,
    });
    body["task"]["payload"] = json!({"by": "${clientId}", "branch": "${payload.branch}"});
    body
}

async fn chat_app() -> TestApp {
    let app = spawn_app_with(|s| {
        s.chat.slack_signing_secret = Some(SLACK_SECRET.into());
        s.chat.mattermost_command_token = Some(MATTERMOST_TOKEN.into());
        s.roles = vec![
            role(
                "chat-user:slack:U_ALICE",
                &["hooks:trigger-hook:ci/*", "hooks:status:ci/*"],
            ),
            role("chat-user:slack:U_BOB", &["hooks:trigger-hook:ci/*"]),
            role("chat-user:mattermost:*", &["hooks:trigger-hook:ci/*"]),
        ];
    })
    .await;
    app.create_hook("ci/deploy", deploy_hook()).await;
    app
}

async fn put_alias(app: &TestApp, id: &str, body: Value) -> Value {
    app.call(
        Method::PUT,
        &format!("/chat-aliases/{id}"),
        Auth::Root,
        Some(body),
    )
    .await
    .expect(200)
}

async fn enable(app: &TestApp, id: &str, mut body: Value) {
    body["enabled"] = json!(true);
    app.call(
        Method::POST,
        &format!("/chat-aliases/{id}"),
        Auth::Root,
        Some(body),
    )
    .await
    .expect(200);
}

/// A slash command's form; each carries a fresh `trigger_id`, as Slack's do, so two commands
/// with the same text in the same second are two requests, not a replay.
fn form(user: &str, text: &str, response_url: &str) -> String {
    static TRIGGER_IDS: AtomicU64 = AtomicU64::new(0);
    let trigger_id = TRIGGER_IDS.fetch_add(1, Ordering::Relaxed);
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!(
        "token={}&trigger_id={trigger_id}&user_id={}&channel_id=C_OPS&text={}&response_url={}",
        encode(MATTERMOST_TOKEN),
        encode(user),
        encode(text),
        encode(response_url)
    )
}

async fn slack(app: &TestApp, body: &str, timestamp: i64, signature: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/hooks/v1/chat/slack", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("answered")
}

async fn signed_slack(app: &TestApp, user: &str, text: &str, response_url: &str) -> Value {
    let body = form(user, text, response_url);
    let at = app.now().timestamp();
    let answer = slack(
        app,
        &body,
        at,
        &slack_signature(SLACK_SECRET, at, body.as_bytes()),
    )
    .await;
    assert_eq!(answer.status(), 200);
    answer.json().await.expect("JSON")
}

/// The hook's fires; read without the test kit's Taskcluster schema check, since `chat` is an
/// extension's `firedBy`.
async fn fires(app: &TestApp) -> Vec<Value> {
    app.call(Method::GET, "/hooks/ci/deploy/last-fires", Auth::Root, None)
        .await
        .expect(200)["lastFires"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn aliases_are_created_disabled_read_listed_updated_and_removed() {
    let app = chat_app().await;
    let created = put_alias(&app, "deploy", deploy_alias()).await;
    assert_eq!(created["enabled"], false);
    assert_eq!(created["aliasId"], "deploy");
    assert_matches_schemas(SchemaId::ChatAlias, &created, true);
    put_alias(&app, "deploy", deploy_alias()).await;
    let mut different = deploy_alias();
    different["description"] = json!("something else");
    app.call(
        Method::PUT,
        "/chat-aliases/deploy",
        Auth::Root,
        Some(different),
    )
    .await
    .expect_error(409, "RequestConflict");
    let mut enabled = deploy_alias();
    enabled["enabled"] = json!(true);
    app.call(
        Method::PUT,
        "/chat-aliases/other",
        Auth::Root,
        Some(enabled.clone()),
    )
    .await
    .expect_error(400, "InputError");
    app.call(
        Method::POST,
        "/chat-aliases/deploy",
        Auth::Root,
        Some(enabled),
    )
    .await
    .expect(200);
    let got = app
        .call(Method::GET, "/chat-aliases/deploy", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(got["enabled"], true);
    let list = app
        .call(Method::GET, "/chat-aliases", Auth::Root, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ListChatAliasesResponse, &list, true);
    assert_eq!(list["aliases"].as_array().map(Vec::len), Some(1));
    app.call(Method::DELETE, "/chat-aliases/deploy", Auth::Root, None)
        .await
        .expect(200);
    app.call(Method::GET, "/chat-aliases/deploy", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn alias_writes_need_their_own_scope_and_the_hooks_trigger_scope() {
    let app = spawn_app_with(|s| {
        s.clients = vec![
            client("writer", &["hooks:modify-chat-alias:*"]),
            client(
                "deployer",
                &["hooks:modify-chat-alias:*", "hooks:trigger-hook:ci/*"],
            ),
        ];
    })
    .await;
    let writer = Auth::Client("writer", "writer-token");
    let deployer = Auth::Client("deployer", "deployer-token");
    app.call(Method::PUT, "/chat-aliases/d", writer, Some(deploy_alias()))
        .await
        .expect_error(403, "InsufficientScopes");
    app.call(
        Method::PUT,
        "/chat-aliases/d",
        deployer,
        Some(deploy_alias()),
    )
    .await
    .expect(200);
    app.call(Method::GET, "/chat-aliases/d", deployer, None)
        .await
        .expect_error(403, "InsufficientScopes");
    app.call(Method::GET, "/chat-aliases", Auth::Anonymous, None)
        .await
        .expect_error(403, "InsufficientScopes");
}

#[tokio::test]
async fn bad_alias_bodies_are_refused() {
    let app = chat_app().await;
    let cases = [
        (json!({"formats": ["deploy"]}), "no hook"),
        (
            json!({"hookGroupId": "ci", "hookId": "deploy", "formats": []}),
            "no formats",
        ),
        (
            json!({"hookGroupId": "ci", "hookId": "deploy", "formats": ["{{x}}"]}),
            "no command word",
        ),
        (
            json!({"hookGroupId": "ci", "hookId": "deploy", "formats": ["d"], "aliasId": "other"}),
            "another id",
        ),
        (
            json!({"hookGroupId": "ci", "hookId": "deploy", "formats": ["d"], "confirmation": {"mode": "maybe"}}),
            "bad mode",
        ),
    ];
    for (body, why) in cases {
        let reply = app
            .call(Method::PUT, "/chat-aliases/a", Auth::Root, Some(body))
            .await;
        assert_eq!(reply.status, 400, "{why}: {}", reply.body);
    }
    app.call(
        Method::PUT,
        "/chat-aliases/a%20b",
        Auth::Root,
        Some(deploy_alias()),
    )
    .await
    .expect_error(400, "InvalidRequestArguments");
}

#[tokio::test]
async fn a_mapped_slack_user_runs_an_alias_as_their_principal_and_the_result_reaches_response_url()
{
    let app = chat_app().await;
    let results = Receiver::start().await;
    put_alias(&app, "deploy", deploy_alias()).await;
    enable(&app, "deploy", deploy_alias()).await;

    let ack = signed_slack(&app, "U_ALICE", "deploy main to prod", &results.url).await;

    assert_eq!(ack["response_type"], "in_channel");
    let ack_text = ack["text"].as_str().unwrap();
    assert!(ack_text.contains("chat:slack:U_ALICE"), "{ack_text}");
    let posted = eventually("the result is posted", || async {
        results.received().into_iter().next()
    })
    .await;
    let result = posted.json()["text"].as_str().unwrap().to_owned();
    assert!(result.contains("fired: task"), "{result}");
    let fire = &fires(&app).await[0];
    assert_eq!(fire["firedBy"], "chat");
    let task = app.submitted_task(fire["taskId"].as_str().unwrap()).await;
    assert_eq!(task["task"]["payload"]["by"], "chat:slack:U_ALICE");
    assert_eq!(task["task"]["payload"]["branch"], "main");
    let status = signed_slack(&app, "U_ALICE", "status ci/deploy", &results.url).await;
    let status = status["text"].as_str().unwrap();
    assert!(
        status.contains("last fire") && status.contains("by chat"),
        "{status}"
    );
    let last = signed_slack(&app, "U_ALICE", "last ci/deploy", &results.url).await;
    assert!(last["text"]
        .as_str()
        .unwrap()
        .contains("lack the scope hooks:list-last-fires:ci/deploy"));
}

#[tokio::test]
async fn an_unmapped_user_is_refused_and_nothing_fires_and_help_differs() {
    let app = chat_app().await;
    let results = Receiver::start().await;
    put_alias(&app, "deploy", deploy_alias()).await;
    enable(&app, "deploy", deploy_alias()).await;

    let refused = signed_slack(&app, "U_EVE", "deploy main", &results.url).await;
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("may not run deploy"),
        "{refused}"
    );
    assert_eq!(refused["response_type"], "ephemeral");
    let eve_help = signed_slack(&app, "U_EVE", "help", &results.url).await;
    let alice_help = signed_slack(&app, "U_ALICE", "help", &results.url).await;
    assert!(!eve_help["text"]
        .as_str()
        .unwrap()
        .contains("deploy {{branch}}"));
    assert!(alice_help["text"]
        .as_str()
        .unwrap()
        .contains("deploy {{branch}}"));
    let whoami = signed_slack(&app, "U_ALICE", "whoami", &results.url).await;
    assert!(whoami["text"]
        .as_str()
        .unwrap()
        .contains("hooks:trigger-hook:ci/*"));
    let status = signed_slack(&app, "U_EVE", "status ci/deploy", &results.url).await;
    assert!(
        status["text"].as_str().unwrap().contains("lack the scope"),
        "{status}"
    );

    assert!(fires(&app).await.is_empty(), "nothing fired");
    assert!(results.received().is_empty());
}

#[tokio::test]
async fn a_disabled_alias_or_one_for_another_channel_does_nothing() {
    let app = chat_app().await;
    let results = Receiver::start().await;
    put_alias(&app, "deploy", deploy_alias()).await;
    let mut elsewhere = deploy_alias();
    elsewhere["formats"] = json!(["ship {{branch}}"]);
    elsewhere["channels"] = json!(["C_OTHER"]);
    put_alias(&app, "ship", elsewhere.clone()).await;
    enable(&app, "ship", elsewhere).await;

    for text in ["deploy main", "ship main"] {
        let answer = signed_slack(&app, "U_ALICE", text, &results.url).await;
        assert!(
            answer["text"].as_str().unwrap().contains("unknown command"),
            "{text}: {answer}"
        );
    }
    assert!(fires(&app).await.is_empty());
}

#[tokio::test]
async fn a_self_confirmation_fires_only_after_the_user_repeats_the_code() {
    let app = chat_app().await;
    let results = Receiver::start().await;
    let mut alias = deploy_alias();
    alias["confirmation"] = json!({"mode": "self", "timeoutSecs": 60});
    put_alias(&app, "deploy", alias.clone()).await;
    enable(&app, "deploy", alias).await;

    let asked = signed_slack(&app, "U_ALICE", "deploy main", &results.url).await;
    let text = asked["text"].as_str().unwrap();
    let code = text
        .split("confirm ")
        .nth(1)
        .unwrap()
        .split('`')
        .next()
        .unwrap()
        .to_owned();
    assert!(fires(&app).await.is_empty());
    let by_bob = signed_slack(&app, "U_BOB", &format!("confirm {code}"), &results.url).await;
    assert!(by_bob["text"]
        .as_str()
        .unwrap()
        .contains("only the user who asked"));
    signed_slack(&app, "U_ALICE", &format!("confirm {code}"), &results.url).await;
    eventually("the confirmed command fires", || async {
        (fires(&app).await.len() == 1).then_some(())
    })
    .await;
    let again = signed_slack(&app, "U_ALICE", &format!("confirm {code}"), &results.url).await;
    assert!(
        again["text"].as_str().unwrap().contains("no command waits"),
        "once only"
    );
}

#[tokio::test]
async fn an_other_confirmation_needs_a_second_permitted_user_within_the_timeout() {
    let app = chat_app().await;
    let results = Receiver::start().await;
    let mut alias = deploy_alias();
    alias["confirmation"] = json!({"mode": "other", "timeoutSecs": 60});
    put_alias(&app, "deploy", alias.clone()).await;
    enable(&app, "deploy", alias).await;

    let code_of = |answer: &Value| {
        let text = answer["text"].as_str().unwrap().to_owned();
        text.split("approve ")
            .nth(1)
            .unwrap()
            .split('`')
            .next()
            .unwrap()
            .to_owned()
    };
    let asked = signed_slack(&app, "U_ALICE", "deploy main", &results.url).await;
    let code = code_of(&asked);
    let own = signed_slack(&app, "U_ALICE", &format!("approve {code}"), &results.url).await;
    assert!(own["text"].as_str().unwrap().contains("another user"));
    let stranger = signed_slack(&app, "U_EVE", &format!("approve {code}"), &results.url).await;
    assert!(stranger["text"]
        .as_str()
        .unwrap()
        .contains("only a user who may run"));
    signed_slack(&app, "U_BOB", &format!("approve {code}"), &results.url).await;
    eventually("the approved command fires", || async {
        (fires(&app).await.len() == 1).then_some(())
    })
    .await;
    let task = app
        .submitted_task(fires(&app).await[0]["taskId"].as_str().unwrap())
        .await;
    assert_eq!(
        task["task"]["payload"]["by"], "chat:slack:U_ALICE",
        "the asker is the caller"
    );

    let late = code_of(&signed_slack(&app, "U_ALICE", "deploy main", &results.url).await);
    app.clock.advance(chrono::Duration::seconds(61));
    let expired = signed_slack(&app, "U_BOB", &format!("approve {late}"), &results.url).await;
    assert!(
        expired["text"]
            .as_str()
            .unwrap()
            .contains("no command waits"),
        "{expired}"
    );
    assert_eq!(fires(&app).await.len(), 1);
}

#[tokio::test]
async fn stale_replayed_wrongly_signed_and_unsigned_slack_requests_are_refused_and_fire_nothing() {
    let app = chat_app().await;
    put_alias(&app, "deploy", deploy_alias()).await;
    enable(&app, "deploy", deploy_alias()).await;
    let body = form("U_ALICE", "deploy main", "http://127.0.0.1:9/");
    let now = app.now().timestamp();

    let stale = now - 301;
    let answer = slack(
        &app,
        &body,
        stale,
        &slack_signature(SLACK_SECRET, stale, body.as_bytes()),
    )
    .await;
    assert_eq!(answer.status(), 401, "stale");
    let answer = slack(
        &app,
        &body,
        now,
        &slack_signature("wrong", now, body.as_bytes()),
    )
    .await;
    assert_eq!(answer.status(), 401, "wrong secret");
    let answer = slack(&app, &body, now, "v0=00").await;
    assert_eq!(answer.status(), 401, "garbage");
    let signature = slack_signature(SLACK_SECRET, now, body.as_bytes());
    let answer = slack(&app, &body, now, &signature).await;
    assert_eq!(answer.status(), 200, "signed");
    let answer = slack(&app, &body, now, &signature).await;
    assert_eq!(answer.status(), 401, "replayed");
    let text = answer.text().await.unwrap();
    assert!(
        !text.contains(SLACK_SECRET) && !text.contains(MATTERMOST_TOKEN),
        "{text}"
    );

    eventually("the one signed request fires", || async {
        (fires(&app).await.len() == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn mattermost_commands_need_the_command_token() {
    let app = chat_app().await;
    let results = Receiver::start().await;
    put_alias(&app, "deploy", deploy_alias()).await;
    enable(&app, "deploy", deploy_alias()).await;
    let post = |body: String| {
        reqwest::Client::new()
            .post(format!("{}/api/hooks/v1/chat/mattermost", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    let wrong = form("u1", "deploy main", &results.url).replace(MATTERMOST_TOKEN, "nope");
    assert_eq!(post(wrong).await.unwrap().status(), 401);
    let answer = post(form("u1", "deploy main", &results.url)).await.unwrap();
    assert_eq!(answer.status(), 200);
    eventually("the result is posted", || async {
        results.received().into_iter().next()
    })
    .await;
    let task = app
        .submitted_task(fires(&app).await[0]["taskId"].as_str().unwrap())
        .await;
    assert_eq!(task["task"]["payload"]["by"], "chat:mattermost:u1");
}

#[tokio::test]
async fn the_config_file_s_aliases_are_in_the_store_as_written() {
    let mut alias = deploy_alias();
    alias["aliasId"] = json!("from-file");
    alias["enabled"] = json!(true);
    let configured: hookd::domain::ChatAlias = serde_json::from_value(alias).unwrap();
    let app = spawn_app_with(move |s| s.chat.aliases = vec![configured.clone()]).await;
    let got = app
        .call(Method::GET, "/chat-aliases/from-file", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(
        got["enabled"], true,
        "the operator who writes the file decides"
    );
}

#[tokio::test]
async fn platforms_are_off_unless_configured() {
    let app = spawn_app_with(|_| {}).await;
    for platform in ["slack", "mattermost"] {
        app.call(
            Method::POST,
            &format!("/chat/{platform}"),
            Auth::Anonymous,
            Some(json!({})),
        )
        .await
        .expect_error(404, "ResourceNotFound");
    }
}

#[tokio::test]
async fn a_slow_task_queue_does_not_delay_the_ack() {
    // A task queue that accepts connections and never answers: the fire waits for it.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tasks", black_hole.local_addr().unwrap());
    let app = spawn_app_with(move |s| {
        s.chat.slack_signing_secret = Some(SLACK_SECRET.into());
        s.roles = vec![role(
            "chat-user:slack:U_ALICE",
            &["hooks:trigger-hook:ci/*"],
        )];
        s.task_queue = TaskQueue::Http {
            url: url.clone(),
            secret: WebhookSecret::parse("whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=").unwrap(),
        };
        s.sink_retry = RetryPolicy::new(1, Duration::from_secs(2));
    })
    .await;
    app.create_hook("ci/deploy", deploy_hook()).await;
    put_alias(&app, "deploy", deploy_alias()).await;
    enable(&app, "deploy", deploy_alias()).await;
    let results = Receiver::start().await;

    let ack = signed_slack(&app, "U_ALICE", "deploy main", &results.url).await;

    assert!(
        ack["text"]
            .as_str()
            .unwrap()
            .contains("firing hook ci/deploy"),
        "{ack}"
    );
    assert!(
        results.received().is_empty(),
        "the ack came before the fire ended"
    );
    let posted = eventually("the failed fire's result is posted", || async {
        results.received().into_iter().next()
    })
    .await;
    assert!(posted.json()["text"]
        .as_str()
        .unwrap()
        .contains("did not fire"));
    drop(black_hole);
}
