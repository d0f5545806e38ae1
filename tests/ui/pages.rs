//! The UI over plain HTTP: sign-in and sessions, CSRF on every form, the API's scopes, output
//! escaping of everything a hook or a fire holds, and edits that meet a concurrent change.

use hookd::config::Settings;
use hookd_testkit::app::{hook_body, spawn_app_with, Auth, ROOT_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{self, app_with_clients, csrf_of, UiClient};

#[tokio::test]
async fn the_root_redirects_to_the_ui_and_pages_need_a_sign_in() {
    let app = app_with_clients().await;
    let mut ui = UiClient::new(&app);

    let root = ui.get("/").await;
    let groups = ui.get("/ui").await;

    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.location, "/ui");
    assert_eq!(groups.status, StatusCode::SEE_OTHER);
    assert_eq!(groups.location, "/ui/sign-in");
}

#[tokio::test]
async fn pages_carry_a_strict_content_security_policy() {
    let app = app_with_clients().await;
    let response = reqwest::get(format!("{}/ui/sign-in", app.address))
        .await
        .unwrap();

    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert_eq!(
        csp,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_expires() {
    let app = app_with_clients().await;
    let mut ui = UiClient::new(&app);
    let csrf = csrf_of(&ui.get("/ui/sign-in").await.body);

    let cookies = ui
        .set_cookies_of_post(
            "/ui/sign-in",
            &[
                ("csrf", &csrf),
                ("clientId", "root"),
                ("accessToken", ROOT_TOKEN),
            ],
        )
        .await;

    let session = cookies
        .iter()
        .find(|c| c.starts_with("hookd_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(session.contains("Max-Age="), "{session}");
    assert!(!session.contains(ROOT_TOKEN), "{session}");
}

#[tokio::test]
async fn a_wrong_access_token_is_refused_at_sign_in() {
    let app = app_with_clients().await;
    let mut ui = UiClient::new(&app);
    let csrf = csrf_of(&ui.get("/ui/sign-in").await.body);

    let answer = ui
        .post(
            "/ui/sign-in",
            &[
                ("csrf", &csrf),
                ("clientId", "root"),
                ("accessToken", "wrong"),
            ],
        )
        .await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer.body.contains("wrong access token"),
        "{}",
        answer.body
    );
    assert_eq!(ui.get("/ui").await.location, "/ui/sign-in");
}

#[tokio::test]
async fn a_sign_in_without_its_form_token_is_refused() {
    let app = app_with_clients().await;
    let mut ui = UiClient::new(&app);

    let answer = ui
        .post(
            "/ui/sign-in",
            &[("clientId", "root"), ("accessToken", ROOT_TOKEN)],
        )
        .await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.body.contains("CSRF"), "{}", answer.body);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_do_nothing() {
    let app = app_with_clients().await;
    app.create_hook("a/h", hook_body()).await;
    let mut ui = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;

    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "/ui/hooks/a/h/trigger",
            &[("mode", "raw"), ("payload", "{}")],
        ),
        (
            "/ui/hooks/a/h/trigger",
            &[("csrf", "forged"), ("mode", "raw")],
        ),
        ("/ui/hooks/a/h/token", &[]),
        ("/ui/hooks/a/h/webhook-secret", &[]),
        ("/ui/hooks/a/h/delete", &[("confirm", "h")]),
        ("/ui/hooks/a/h/preview", &[("payload", "{}")]),
        ("/ui/hooks/a/h/edit", &[("name", "changed")]),
        ("/ui/new", &[("hookGroupId", "a"), ("hookId", "new")]),
        ("/ui/sign-out", &[]),
    ];
    for (path, fields) in cases {
        let answer = ui.post(path, fields).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "POST {path} {fields:?}"
        );
        assert!(answer.body.contains("CSRF"), "POST {path}: {}", answer.body);
    }

    let fires = app.last_fires("a/h", "").await;
    assert_eq!(fires["lastFires"], json!([]), "no fire was recorded");
    app.call(Method::GET, "/hooks/a/h", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(
        ui.get("/ui").await.status,
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn a_client_sees_only_the_groups_its_scopes_allow() {
    let app = app_with_clients().await;
    app.create_hook("a/one", hook_body()).await;
    app.create_hook("secret-group/two", hook_body()).await;
    let mut reader = UiClient::signed_in(&app, "reader", "reader-token").await;

    let groups = reader.get("/ui").await;
    let other = reader.get("/ui/hooks/secret-group/two").await;
    let listing = reader.get("/ui/groups/secret-group").await;

    assert_eq!(groups.status, StatusCode::OK);
    assert!(groups.body.contains("/ui/groups/a\""), "{}", groups.body);
    assert!(!groups.body.contains("secret-group"), "{}", groups.body);
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.body);
    assert!(other.body.contains("InsufficientScopes"));
    assert!(!listing.body.contains("two"), "{}", listing.body);
}

#[tokio::test]
async fn a_client_without_scopes_sees_nothing() {
    let app = app_with_clients().await;
    app.create_hook("a/one", hook_body()).await;
    let trigger = app.trigger("a/one", json!({})).await.expect(200);
    let task_id = trigger["taskId"].as_str().unwrap().to_owned();
    let mut nobody = UiClient::signed_in(&app, "nobody", "nobody-token").await;

    let groups = nobody.get("/ui").await;
    let service = nobody.get("/ui/service").await;
    let hook = nobody.get("/ui/hooks/a/one").await;
    let task = nobody.get(&format!("/ui/tasks/{task_id}")).await;
    let edit = nobody.get("/ui/hooks/a/one/edit").await;
    let csrf = csrf_of(&groups.body);
    let fire = nobody
        .post(
            "/ui/hooks/a/one/trigger",
            &[("csrf", &csrf), ("mode", "raw"), ("payload", "{}")],
        )
        .await;

    assert!(groups.body.contains("id=\"no-groups\""), "{}", groups.body);
    assert!(!groups.body.contains("one"), "{}", groups.body);
    assert!(!service.body.contains("a/one"), "{}", service.body);
    for (what, page) in [("hook", &hook), ("task", &task), ("edit", &edit)] {
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}: {}", page.body);
    }
    assert!(fire.body.contains("InsufficientScopes"), "{}", fire.body);
    assert_eq!(
        app.last_fires("a/one", "").await["lastFires"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Text that would run as script if a template printed it unescaped.
const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

#[tokio::test]
async fn hostile_names_descriptions_payloads_and_errors_are_shown_as_text() {
    let app = app_with_clients().await;
    let mut body = hook_body();
    body["metadata"]["name"] = json!(HOSTILE);
    body["metadata"]["description"] = json!(HOSTILE);
    body["triggerSchema"] = json!({
        "type": "object",
        "properties": { HOSTILE: {"type": "string", "description": HOSTILE} }
    });
    // The task asks for a scope the hook lacks, named by the payload: the fire fails with an
    // error message that quotes it.
    body["task"]["scopes"] = json!([{"$eval": "payload.scope"}]);
    body["task"]["metadata"]["name"] = json!(HOSTILE);
    app.create_hook("a/h", body).await;
    app.trigger("a/h", json!({ "scope": HOSTILE })).await;
    let mut ui = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;

    let mut pages = vec![
        ui.get("/ui").await,
        ui.get("/ui/groups/a").await,
        ui.get("/ui/hooks/a/h").await,
        ui.get("/ui/hooks/a/h/edit").await,
        ui.get("/ui/service").await,
    ];
    let csrf = csrf_of(&pages[2].body);
    pages.push(
        ui.post(
            "/ui/hooks/a/h/preview",
            &[
                ("csrf", &csrf),
                ("payload", &json!({ "scope": HOSTILE }).to_string()),
            ],
        )
        .await,
    );
    pages.push(
        ui.post(
            "/ui/hooks/a/h/trigger",
            &[
                ("csrf", &csrf),
                ("mode", "raw"),
                ("payload", &json!({ "scope": HOSTILE }).to_string()),
            ],
        )
        .await,
    );

    let hook_page = &pages[2].body;
    assert!(
        hook_page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{hook_page}"
    );
    assert!(
        hook_page.contains("InsufficientScopes"),
        "the error fire is shown: {hook_page}"
    );
    for page in &pages {
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
        assert!(!page.body.contains("<img src=x"), "{}", page.body);
        // The only script element of any page is the UI's own.
        assert_eq!(
            page.body.matches("<script").count(),
            page.body
                .matches("<script src=\"/ui/static/ui.js\"")
                .count(),
            "{}",
            page.body
        );
    }
}

#[tokio::test]
async fn an_edit_over_a_concurrent_change_is_a_conflict_and_keeps_both() {
    let app = app_with_clients().await;
    app.create_hook("a/h", hook_body()).await;
    let mut ui = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;
    let form = ui.get("/ui/hooks/a/h/edit").await.body;
    let fingerprint = {
        let marker = "name=\"fingerprint\" value=\"";
        let start = form.find(marker).unwrap() + marker.len();
        form[start..].split('"').next().unwrap().to_owned()
    };
    let mut meanwhile = hook_body();
    meanwhile["metadata"]["name"] = json!("changed meanwhile");
    app.call(Method::POST, "/hooks/a/h", Auth::Root, Some(meanwhile))
        .await
        .expect(200);

    let task = hook_body()["task"].to_string();
    let answer = ui
        .post(
            "/ui/hooks/a/h/edit",
            &[
                ("csrf", &csrf_of(&form)),
                ("fingerprint", &fingerprint),
                ("name", "my edit"),
                ("description", "d"),
                ("owner", "me@example.com"),
                ("schedule", ""),
                ("task", &task),
                ("triggerSchema", "{\"type\": \"object\"}"),
                ("bindings", "[]"),
            ],
        )
        .await;

    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
    assert!(
        answer.body.contains("changed by someone else"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("value=\"my edit\""),
        "the edit stays in the form"
    );
    let stored = app
        .call(Method::GET, "/hooks/a/h", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(stored["metadata"]["name"], "changed meanwhile");
}

#[tokio::test]
async fn a_create_with_a_mistake_shows_the_error_at_its_field() {
    let app = app_with_clients().await;
    let mut ui = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;
    let csrf = csrf_of(&ui.get("/ui/new").await.body);
    let task = hook_body()["task"].to_string();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("hookGroupId", "a"),
        ("hookId", "new"),
        ("name", "New"),
        ("description", "d"),
        ("owner", "me@example.com"),
        ("schedule", "not a cron entry"),
        ("task", task.as_str()),
        ("triggerSchema", "{\"type\": \"object\""),
        ("bindings", "[]"),
    ];

    let refused = ui.post("/ui/new", &fields).await;
    fields[6].1 = "0 9 * * 1";
    fields[8].1 = "{\"type\": \"object\"}";
    let created = ui.post("/ui/new", &fields).await;

    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("id=\"schedule-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("id=\"triggerSchema-error\""),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains("id=\"task-error\""),
        "{}",
        refused.body
    );
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location, "/ui/hooks/a/new");
    app.call(Method::GET, "/hooks/a/new", Auth::Root, None)
        .await
        .expect(200);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = app_with_clients().await;
    let mut ui = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;
    let csrf = csrf_of(&ui.get("/ui").await.body);
    let session = ui.get("/ui").await;
    assert_eq!(session.status, StatusCode::OK);

    let out = ui.post("/ui/sign-out", &[("csrf", &csrf)]).await;

    assert_eq!(out.location, "/ui/sign-in");
    assert_eq!(ui.get("/ui").await.location, "/ui/sign-in");
}

#[tokio::test]
async fn sessions_expire() {
    let app = spawn_app_with(|s: &mut Settings| {
        s.ui.as_mut().unwrap().session_lifetime = std::time::Duration::from_secs(60);
    })
    .await;
    let mut ui = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;
    assert_eq!(ui.get("/ui").await.status, StatusCode::OK);

    app.clock.advance(chrono::Duration::seconds(61));

    assert_eq!(ui.get("/ui").await.location, "/ui/sign-in");
}

#[tokio::test]
async fn the_ui_can_be_turned_off() {
    let app = spawn_app_with(|s: &mut Settings| s.ui = None).await;

    let answer = reqwest::get(format!("{}/ui", app.address)).await.unwrap();

    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_token_and_webhook_secret_are_shown_once_and_work() {
    let app = app_with_clients().await;
    app.create_hook("a/h", hook_body()).await;
    let mut ui = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;
    let csrf = csrf_of(&ui.get("/ui/hooks/a/h").await.body);

    let token_page = ui.post("/ui/hooks/a/h/token", &[("csrf", &csrf)]).await;
    let secret_page = ui
        .post("/ui/hooks/a/h/webhook-secret", &[("csrf", &csrf)])
        .await;

    let token = app.root_string("/hooks/a/h/token", "token").await;
    assert!(token_page.body.contains(&token), "{}", token_page.body);
    assert!(
        secret_page.body.contains("New webhook secret"),
        "{}",
        secret_page.body
    );
    let again = ui.get("/ui/hooks/a/h").await;
    assert!(!again.body.contains(&token), "the token is not shown again");
}

/// The id of the newest fire on a hook page's timeline, from its replay form.
fn newest_fire_id(page: &str) -> String {
    let (_, after) = page
        .split_once("/fires/")
        .expect("a fire with replay forms");
    after.split('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_dry_run_of_a_past_fire_shows_its_differences_and_a_replay_fires_again() {
    let app = app_with_clients().await;
    app.create_hook("a/h", hook_body()).await;
    app.trigger("a/h", json!({})).await.expect(200);
    let mut changed = hook_body();
    changed["task"]["payload"] = json!({"n": 2});
    app.call(Method::POST, "/hooks/a/h", Auth::Root, Some(changed))
        .await
        .expect(200);
    let mut ui = UiClient::signed_in(&app, "reader", "reader-token").await;
    let page = ui.get("/ui/hooks/a/h").await;
    let fire_id = newest_fire_id(&page.body);
    let replay_path = format!("/ui/hooks/a/h/fires/{fire_id}/replay");
    assert!(page.body.contains(&replay_path), "{}", page.body);
    let csrf = csrf_of(&page.body);
    let (_, replay_form) = page.body.split_once(&replay_path).unwrap();
    let replay_form = replay_form.split("</form>").next().unwrap();
    assert!(replay_form.contains(&csrf), "the form carries the token");

    let dry_run = ui
        .post(
            &format!("/ui/hooks/a/h/fires/{fire_id}/dry-run"),
            &[("csrf", &csrf), ("template", "current")],
        )
        .await;
    let fires_after_dry_run = app.last_fires("a/h", "").await;
    let replayed = ui
        .post(&replay_path, &[("csrf", &csrf), ("template", "recorded")])
        .await;

    assert_eq!(dry_run.status, StatusCode::OK, "{}", dry_run.body);
    assert!(
        dry_run.body.contains("Differences from the submitted task")
            && dry_run.body.contains("/payload/n"),
        "the diff names the changed field: {}",
        dry_run.body
    );
    assert_eq!(
        fires_after_dry_run["lastFires"].as_array().unwrap().len(),
        1
    );
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert!(replayed.body.contains("Replayed"), "{}", replayed.body);
    let timeline = ui.get("/ui/hooks/a/h/timeline").await;
    assert_eq!(timeline.body.matches("class=\"fire ").count(), 2);
}

#[tokio::test]
async fn a_client_without_the_trigger_scope_cannot_replay_or_dry_run() {
    let app =
        helpers::app_with_client("viewer", &["hooks:get:a:*", "hooks:list-last-fires:a/*"]).await;
    app.create_hook("a/h", hook_body()).await;
    app.trigger("a/h", json!({})).await.expect(200);
    let mut viewer = UiClient::signed_in(&app, "viewer", "viewer-token").await;
    let page = viewer.get("/ui/hooks/a/h").await.body;
    let (fire_id, csrf) = (newest_fire_id(&page), csrf_of(&page));

    for action in ["replay", "dry-run"] {
        let refused = viewer
            .post(
                &format!("/ui/hooks/a/h/fires/{fire_id}/{action}"),
                &[("csrf", &csrf), ("template", "recorded")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{action}");
        assert!(
            refused.body.contains("InsufficientScopes"),
            "{}",
            refused.body
        );
    }
    let forged = viewer
        .post(
            &format!("/ui/hooks/a/h/fires/{fire_id}/replay"),
            &[("csrf", "forged"), ("template", "recorded")],
        )
        .await;
    assert_ne!(forged.status, StatusCode::OK);
    assert_eq!(
        app.last_fires("a/h", "").await["lastFires"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// A hook of group `a` whose fires fail: its task asks for a scope the hook lacks.
fn failing_hook() -> serde_json::Value {
    let mut body = hook_body();
    body["task"]["scopes"] = json!(["not-held"]);
    body
}

#[tokio::test]
async fn a_groups_listing_pages_by_id_and_puts_failing_hooks_first_on_the_page_shown() {
    let app = app_with_clients().await;
    // 50 hooks fill the first page; "zz" is on the second and failing, "h07" fails on the first.
    for n in 0..50 {
        let body = if n == 7 { failing_hook() } else { hook_body() };
        app.create_hook(&format!("a/h{n:02}"), body).await;
    }
    app.create_hook("a/zz", failing_hook()).await;
    app.trigger("a/h07", json!({})).await;
    app.trigger("a/zz", json!({})).await;
    app.create_hook("b/ok", hook_body()).await;
    let mut ui = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;

    let first = ui.get("/ui/groups/a").await;
    let second = ui.get("/ui/groups/a?page=1").await;
    let groups = ui.get("/ui").await;

    let rows: Vec<&str> = first.body.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 50, "{}", first.body);
    assert!(rows[0].contains("/ui/hooks/a/h07"), "{}", rows[0]);
    assert!(
        !first.body.contains("/ui/hooks/a/zz"),
        "zz is on the next page"
    );
    assert!(second.body.contains("/ui/hooks/a/zz"), "{}", second.body);
    assert!(groups.body.contains("2 failing"), "{}", groups.body);
}

/// The rows of the groups page: each group link's text and its row's text, in order.
fn group_rows(body: &str) -> Vec<String> {
    body.split("<tr")
        .skip(2)
        .map(|row| {
            let row = row.split("</tr>").next().unwrap_or_default();
            let text: String = row
                .split('<')
                .filter_map(|part| part.split_once('>'))
                .map(|(_, t)| t.trim())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            text
        })
        .collect()
}

#[tokio::test]
async fn the_groups_page_counts_only_readable_hooks_puts_failing_groups_first_and_searches() {
    let app = helpers::app_with_client(
        "lister",
        &[
            "hooks:get:a:*",
            "hooks:get:z:bad",
            "hooks:get:y:h*",
            "hooks:status:*",
        ],
    )
    .await;
    for key in ["a/h1", "a/h2", "b/h1", "y/h1", "y/other", "z/ok", "z/fixed"] {
        app.create_hook(key, hook_body()).await;
    }
    app.create_hook("z/bad", failing_hook()).await;
    app.create_hook("b/bad", failing_hook()).await;
    app.create_hook("z/fixed-later", failing_hook()).await;
    for key in ["z/bad", "b/bad", "z/fixed-later"] {
        app.trigger(key, json!({})).await;
    }
    // Fails, then succeeds: healthy again.
    app.call(
        Method::POST,
        "/hooks/z/fixed-later",
        Auth::Root,
        Some(hook_body()),
    )
    .await
    .expect(200);
    app.trigger("z/fixed-later", json!({})).await.expect(200);
    let mut root = UiClient::signed_in(&app, "root", ROOT_TOKEN).await;
    let mut lister = UiClient::signed_in(&app, "lister", "lister-token").await;

    let all = group_rows(&root.get("/ui").await.body);
    let readable = group_rows(&lister.get("/ui").await.body);
    let searched = group_rows(&root.get("/ui?q=BAD").await.body);
    let service = root.get("/ui/service").await.body;

    assert_eq!(
        all,
        ["b 2 1 failing", "z 4 1 failing", "a 2 none", "y 2 none"],
        "failing first, then by id"
    );
    assert_eq!(
        readable,
        ["z 1 1 failing", "a 2 none", "y 1 none"],
        "only hooks it may read are counted"
    );
    assert_eq!(searched, ["b 1 1 failing", "z 1 1 failing"]);
    let listed = ["z/fixed-later", "b/bad", "z/bad"].map(|k| service.find(&format!(">{k}<")));
    assert!(
        listed.iter().all(Option::is_some) && listed.is_sorted(),
        "recent error fires, newest first: {service}"
    );
}
