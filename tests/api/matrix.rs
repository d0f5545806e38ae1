//! The Matrix bot against a real homeserver (Synapse, started by `scripts/services/synapse.sh`):
//! users registered by the test speak in a room, the bot answers as notices, and fires carry
//! the chat user's principal.

use reqwest::Method;
use serde_json::{json, Value};

use hookd::chat::matrix::MatrixSettings;
use hookd_testkit::app::{hook_body, role, spawn_app_with, Auth, TestApp};
use hookd_testkit::wait::eventually;

/// The homeserver, its registration secret and registration command; `None` skips the test
/// outside `scripts/test.sh`.
fn synapse() -> Option<(String, String, String)> {
    let var = |name| std::env::var(name).ok();
    match (
        var("HOOKD_TEST_SYNAPSE_URL"),
        var("HOOKD_TEST_SYNAPSE_SECRET"),
        var("HOOKD_TEST_SYNAPSE_REGISTER"),
    ) {
        (Some(url), Some(secret), Some(register)) => Some((url, secret, register)),
        _ if std::env::var_os("HOOKD_TEST_RUN_DIR").is_some() => {
            panic!("scripts/test.sh must start Synapse and set HOOKD_TEST_SYNAPSE_URL")
        }
        _ => {
            eprintln!("skipped: HOOKD_TEST_SYNAPSE_URL is not set (run scripts/test.sh)");
            None
        }
    }
}

/// A user of the homeserver, as the test speaks for them.
struct User {
    id: String,
    token: String,
}

struct Homeserver {
    url: String,
    secret: String,
    register: String,
    http: reqwest::Client,
}

impl Homeserver {
    /// Registers a fresh user through the shared secret, and logs them in.
    async fn user(&self, name: &str) -> User {
        let name = format!("{name}{}", uuid::Uuid::new_v4().simple());
        let status = std::process::Command::new(&self.register)
            .args([
                "-u",
                &name,
                "-p",
                "pw",
                "--no-admin",
                "-k",
                &self.secret,
                &self.url,
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("register_new_matrix_user runs");
        assert!(status.success(), "registering {name}");
        let login: Value = self
            .http
            .post(format!("{}/_matrix/client/v3/login", self.url))
            .json(&json!({
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": name},
                "password": "pw",
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        User {
            id: login["user_id"].as_str().unwrap().to_owned(),
            token: login["access_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn call(&self, method: Method, user: &User, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/_matrix/client/v3{path}", self.url))
            .bearer_auth(&user.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn say(&self, user: &User, room: &str, text: &str) {
        let path = format!(
            "/rooms/{}/send/m.room.message/{}",
            encode(room),
            uuid::Uuid::new_v4().simple()
        );
        let body = json!({"msgtype": "m.text", "body": text});
        self.call(Method::PUT, user, &path, Some(body)).await;
    }

    /// The bot's notices in the room, oldest first.
    async fn notices(&self, user: &User, room: &str) -> Vec<String> {
        let path = format!("/rooms/{}/messages?dir=b&limit=200", encode(room));
        let page = self.call(Method::GET, user, &path, None).await;
        let mut notices: Vec<String> = page["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["content"]["msgtype"] == "m.notice")
            .map(|e| e["content"]["body"].as_str().unwrap_or_default().to_owned())
            .collect();
        notices.reverse();
        notices
    }

    /// Says `text` and waits for the next notice after the `seen` ones; returns it.
    async fn ask(&self, user: &User, room: &str, text: &str, seen: usize) -> String {
        self.say(user, room, text).await;
        eventually(&format!("the bot answers {text:?}"), || async {
            self.notices(user, room).await.get(seen).cloned()
        })
        .await
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn chat_fires(app: &TestApp) -> Vec<Value> {
    app.call(Method::GET, "/hooks/ci/deploy/last-fires", Auth::Root, None)
        .await
        .expect(200)["lastFires"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A room on the homeserver with two users, `alice` (who made it) and `other`, and an app whose
/// Matrix bot listens to it, with the roles `roles` gives for alice's user id, and the hook
/// `ci/deploy` whose tasks show their caller.
struct Scene {
    hs: Homeserver,
    app: TestApp,
    room: String,
    alice: User,
    other: User,
}

async fn scene(roles: fn(&str) -> Vec<hookd::domain::Role>) -> Option<Scene> {
    let (url, secret, register) = synapse()?;
    let hs = Homeserver {
        url: url.clone(),
        secret,
        register,
        http: reqwest::Client::new(),
    };
    let (bot, alice, other) = (
        hs.user("bot").await,
        hs.user("alice").await,
        hs.user("other").await,
    );
    let create = json!({"preset": "public_chat"});
    let room = hs
        .call(Method::POST, &alice, "/createRoom", Some(create))
        .await["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let join = format!("/join/{}", encode(&room));
    hs.call(Method::POST, &other, &join, Some(json!({}))).await;
    let settings = MatrixSettings {
        homeserver: url,
        access_token: bot.token.clone(),
        rooms: vec![room.clone()],
        prefix: "!hookd".into(),
    };
    let roles = roles(&alice.id);
    let app = spawn_app_with(move |s| {
        s.chat.matrix = Some(settings.clone());
        s.roles = roles.clone();
    })
    .await;
    let mut hook = hook_body();
    hook["triggerSchema"] = json!({"type": "object"});
    hook["task"]["payload"] = json!({"by": "${clientId}"});
    app.create_hook("ci/deploy", hook).await;
    Some(Scene {
        hs,
        app,
        room,
        alice,
        other,
    })
}

/// Waits until the bot answers; returns how many notices the room holds then.
async fn listening(hs: &Homeserver, alice: &User, room: &str) -> usize {
    // The bot answers only what comes after its first sync: say hello until it does.
    eventually("the bot listens", || async {
        hs.say(alice, room, "!hookd whoami").await;
        (!hs.notices(alice, room).await.is_empty()).then_some(())
    })
    .await;
    // Answers come in order: once this one is in, so is every hello before it.
    hs.say(alice, room, "!hookd status ci/deploy").await;
    eventually("the hellos are answered", || async {
        let notices = hs.notices(alice, room).await;
        let last = notices.last()?;
        last.contains("hooks:status").then_some(notices.len())
    })
    .await
}

#[tokio::test]
async fn matrix_users_run_what_their_roles_allow_and_a_restart_neither_loses_nor_repeats() {
    let Some(Scene {
        hs,
        app,
        room,
        alice,
        other: eve,
    }) = scene(|alice| {
        vec![role(
            &format!("chat-user:matrix:{alice}"),
            &["hooks:trigger-hook:ci/*"],
        )]
    })
    .await
    else {
        return;
    };
    let alias = json!({
        "hookGroupId": "ci", "hookId": "deploy", "formats": ["deploy {{branch}}"],
        "description": "Deploys a branch",
    });
    app.call(
        Method::PUT,
        "/chat-aliases/deploy",
        Auth::Root,
        Some(alias.clone()),
    )
    .await
    .expect(200);
    let mut seen = listening(&hs, &alice, &room).await;

    let answer = hs.ask(&alice, &room, "!hookd deploy main", seen).await;
    seen += 1;
    assert!(
        answer.contains("unknown command"),
        "a disabled alias does nothing: {answer}"
    );
    let mut enabled = alias;
    enabled["enabled"] = json!(true);
    app.call(
        Method::POST,
        "/chat-aliases/deploy",
        Auth::Root,
        Some(enabled),
    )
    .await
    .expect(200);

    let help = hs.ask(&eve, &room, "!hookd help", seen).await;
    seen += 1;
    assert!(!help.contains("deploy {{branch}}"), "{help}");
    let refused = hs.ask(&eve, &room, "!hookd deploy main", seen).await;
    seen += 1;
    assert!(refused.contains("may not run deploy"), "{refused}");
    assert!(
        chat_fires(&app).await.is_empty(),
        "an unmapped user fires nothing"
    );
    let help = hs.ask(&alice, &room, "!hookd help", seen).await;
    seen += 1;
    assert!(help.contains("deploy {{branch}}"), "{help}");

    let ack = hs.ask(&alice, &room, "!hookd deploy main", seen).await;
    assert!(ack.contains(&format!("chat:matrix:{}", alice.id)), "{ack}");
    let result = eventually("the result", || async {
        hs.notices(&alice, &room).await.get(seen + 1).cloned()
    })
    .await;
    seen += 2;
    assert!(result.contains("fired: task"), "{result}");
    let fire = &chat_fires(&app).await[0];
    assert_eq!(fire["firedBy"], "chat");
    let task = app.submitted_task(fire["taskId"].as_str().unwrap()).await;
    assert_eq!(
        task["task"]["payload"]["by"],
        format!("chat:matrix:{}", alice.id)
    );

    // Restarted while a command is on its way: it is answered once, and nothing before it again.
    let (app, ()) = tokio::join!(app.restart(), hs.say(&alice, &room, "!hookd deploy dev"));
    eventually("the command sent during the restart fires", || async {
        (chat_fires(&app).await.len() == 2).then_some(())
    })
    .await;
    let last = hs.ask(&alice, &room, "!hookd whoami", seen + 2).await;
    assert!(last.starts_with("you are"), "{last}");
    assert_eq!(chat_fires(&app).await.len(), 2, "nothing fired twice");
    assert_eq!(
        hs.notices(&alice, &room).await.len(),
        seen + 3,
        "nothing answered twice"
    );
}

#[tokio::test]
async fn matrix_commands_wait_for_a_self_or_an_other_confirmation() {
    let Some(Scene {
        hs,
        app,
        room,
        alice,
        other: bob,
    }) = scene(|_| {
        vec![role(
            "chat-user:matrix:*:localhost",
            &["hooks:trigger-hook:ci/*"],
        )]
    })
    .await
    else {
        return;
    };
    for (id, format, mode) in [
        ("mine", "mine {{b}}", "self"),
        ("theirs", "theirs {{b}}", "other"),
    ] {
        let mut alias = json!({
            "hookGroupId": "ci", "hookId": "deploy", "formats": [format],
            "confirmation": {"mode": mode, "timeoutSecs": 60},
        });
        let path = format!("/chat-aliases/{id}");
        app.call(Method::PUT, &path, Auth::Root, Some(alias.clone()))
            .await
            .expect(200);
        alias["enabled"] = json!(true);
        app.call(Method::POST, &path, Auth::Root, Some(alias))
            .await
            .expect(200);
    }
    let mut seen = listening(&hs, &alice, &room).await;
    let code_after = |text: &str, word: &str| {
        text.split(&format!("{word} "))
            .nth(1)
            .unwrap()
            .split('`')
            .next()
            .unwrap()
            .to_owned()
    };

    let asked = hs.ask(&alice, &room, "!hookd mine main", seen).await;
    seen += 1;
    let code = code_after(&asked, "confirm");
    assert!(chat_fires(&app).await.is_empty());
    let by_bob = hs
        .ask(&bob, &room, &format!("!hookd confirm {code}"), seen)
        .await;
    seen += 1;
    assert!(by_bob.contains("only the user who asked"), "{by_bob}");
    hs.ask(&alice, &room, &format!("!hookd confirm {code}"), seen)
        .await;
    seen += 2;
    eventually("the confirmed command fires", || async {
        (chat_fires(&app).await.len() == 1).then_some(())
    })
    .await;

    // The confirmed command's ack and result come before the next answer.
    let asked = hs.ask(&alice, &room, "!hookd theirs main", seen).await;
    seen += 1;
    let code = code_after(&asked, "approve");
    let own = hs
        .ask(&alice, &room, &format!("!hookd approve {code}"), seen)
        .await;
    seen += 1;
    assert!(own.contains("another user"), "{own}");
    hs.ask(&bob, &room, &format!("!hookd approve {code}"), seen)
        .await;
    eventually("the approved command fires", || async {
        (chat_fires(&app).await.len() == 2).then_some(())
    })
    .await;
}
