//! Extension: declarative apply (`POST /apply`, `GET /apply-sets/{name}`) and the drift rules
//! it gives updateHook and removeHook.

use std::sync::Arc;

use hookd::api::schemas::SchemaId;
use hookd::config::MongoArgs;
use hookd::domain::{ApplySetName, ApplySetRecord, ApplyWrite, HookGroupId, HookId, HookKey};
use hookd::store::Unobserved;
use hookd_testkit::app::{
    assert_matches_schemas, client, hook_body, spawn_app, spawn_app_on, spawn_app_with, Auth,
    Reply, TestApp,
};
use hookd_testkit::mongodb::{fresh_database_uri, skipping};
use reqwest::Method;
use serde_json::{json, Value};

/// A hook of group `g` named `id`, described as `description`.
fn hook(id: &str, description: &str) -> Value {
    let mut body = hook_body();
    body["hookGroupId"] = json!("g");
    body["hookId"] = json!(id);
    body["metadata"]["description"] = json!(description);
    body
}

async fn apply_as(app: &TestApp, auth: Auth<'_>, request: Value) -> Reply {
    let reply = app.call(Method::POST, "/apply", auth, Some(request)).await;
    if reply.status.is_success() {
        assert_matches_schemas(SchemaId::ApplyResponse, &reply.body, true);
    }
    reply
}

async fn apply(app: &TestApp, request: Value) -> Reply {
    apply_as(app, Auth::Root, request).await
}

/// The actions of an apply answer, as `action hookId` strings.
fn actions(answer: &Value) -> Vec<String> {
    answer["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap(),
                c["hookId"].as_str().unwrap()
            )
        })
        .collect()
}

async fn set_status(app: &TestApp, set: &str) -> Value {
    let status = app
        .call(Method::GET, &format!("/apply-sets/{set}"), Auth::Root, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::ApplySetStatus, &status, true);
    status
}

/// An app holding `g/loose`, which no set owns, and `g/theirs` of set `other`.
async fn app_with_neighbours() -> TestApp {
    let app = spawn_app().await;
    app.create_hook("g/loose", hook_body()).await;
    let other = json!({"set": "other", "hooks": [hook("theirs", "x")]});
    apply(&app, other).await.expect(200);
    app
}

#[tokio::test]
async fn a_second_apply_of_the_same_hooks_changes_nothing() {
    let app = spawn_app().await;
    let hooks = json!([hook("a", "first"), hook("b", "first")]);

    let first = apply(&app, json!({"set": "s", "hooks": hooks, "source": "abc"}))
        .await
        .expect(200);
    let second = apply(&app, json!({"set": "s", "hooks": hooks}))
        .await
        .expect(200);

    assert_eq!(actions(&first), ["create a", "create b"]);
    assert_eq!(
        (first["applied"].clone(), first["revision"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(actions(&second), Vec::<String>::new());
    assert_eq!(second["unchanged"], 2);
    assert_eq!(
        (second["applied"].clone(), second["revision"].clone()),
        (json!(false), json!(1))
    );
    // The set's bookkeeping is an extension: the hook itself is Taskcluster-shaped.
    let stored = app
        .call(Method::GET, "/hooks/g/a", Auth::Root, None)
        .await
        .expect(200);
    assert_matches_schemas(SchemaId::HookDefinition, &stored, false);
    let status = set_status(&app, "s").await;
    assert_eq!(
        (status["revision"].clone(), status["source"].clone()),
        (json!(1), json!("abc"))
    );
    assert_eq!(status["drift"], json!([]));
}

#[tokio::test]
async fn a_dry_run_plans_updates_with_their_fields_and_writes_nothing() {
    let app = spawn_app().await;
    apply(&app, json!({"set": "s", "hooks": [hook("a", "old")]}))
        .await
        .expect(200);

    let plan = apply(
        &app,
        json!({"set": "s", "hooks": [hook("a", "new"), hook("b", "x")], "dryRun": true}),
    )
    .await
    .expect(200);

    assert_eq!(actions(&plan), ["update a", "create b"]);
    assert_eq!(plan["changes"][0]["fields"], json!(["metadata"]));
    assert_eq!(
        plan["changes"][0]["before"]["metadata"]["description"],
        "old"
    );
    assert_eq!(plan["applied"], false);
    let stored = app
        .call(Method::GET, "/hooks/g/a", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(stored["metadata"]["description"], "old");
    app.call(Method::GET, "/hooks/g/b", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn an_edit_of_a_set_hook_is_refused_unless_forced_and_then_shown_as_drift() {
    let app = spawn_app().await;
    apply(
        &app,
        json!({"set": "s", "hooks": [hook("a", "git"), hook("b", "git")]}),
    )
    .await
    .expect(200);
    let mut edit = hook_body();
    edit["metadata"]["description"] = json!("ui");

    let refused = app
        .call(Method::POST, "/hooks/g/a", Auth::Root, Some(edit.clone()))
        .await;
    let removal = app
        .call(Method::DELETE, "/hooks/g/b", Auth::Root, None)
        .await;
    assert!(refused
        .expect_error(409, "RequestConflict")
        .contains("apply set s"));
    removal.expect_error(409, "RequestConflict");
    let forced = app
        .raw(Method::POST, "/hooks/g/a")
        .header("X-Hookd-Force", "true")
        .json(&edit);
    app.send(forced).await.expect(200);
    let forced = app
        .raw(Method::DELETE, "/hooks/g/b")
        .header("X-Hookd-Force", "true");
    app.send(forced).await.expect(200);

    let status = set_status(&app, "s").await;
    let drift: Vec<(Value, Value, Value)> = status["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["hookId"].clone(), d["state"].clone(), d["fields"].clone()))
        .collect();
    assert_eq!(
        drift,
        [
            (json!("a"), json!("modified"), json!(["metadata"])),
            (
                json!("b"),
                json!("missing"),
                json!([
                    "bindings",
                    "hookGroupId",
                    "hookId",
                    "metadata",
                    "schedule",
                    "task",
                    "triggerSchema"
                ])
            ),
        ]
    );
    // Applying git over the edit needs force too; the missing hook is simply made again.
    let again = json!({"set": "s", "hooks": [hook("a", "git"), hook("b", "git")]});
    let message = apply(&app, again.clone())
        .await
        .expect_error(409, "RequestConflict");
    assert!(
        message.contains("g/a was changed since this set applied it"),
        "{message}"
    );
    let mut forced = again;
    forced["force"] = json!(true);
    let answer = apply(&app, forced).await.expect(200);
    assert_eq!(actions(&answer), ["update a", "create b"]);
    assert_eq!(answer["changes"][0]["drifted"], true);
    assert_eq!(set_status(&app, "s").await["drift"], json!([]));
}

#[tokio::test]
async fn pruning_deletes_only_hooks_this_set_applied() {
    let app = app_with_neighbours().await;
    apply(
        &app,
        json!({"set": "s", "hooks": [hook("a", "x"), hook("b", "x")]}),
    )
    .await
    .expect(200);

    let kept = apply(&app, json!({"set": "s", "hooks": [hook("a", "x")]}))
        .await
        .expect(200);
    let pruned = apply(
        &app,
        json!({"set": "s", "hooks": [hook("a", "x")], "prune": true}),
    )
    .await
    .expect(200);

    assert_eq!(kept["kept"], json!([{"hookGroupId": "g", "hookId": "b"}]));
    assert_eq!(actions(&kept), Vec::<String>::new());
    assert_eq!(actions(&pruned), ["delete b"]);
    let listed = app
        .call(Method::GET, "/hooks/g", Auth::Root, None)
        .await
        .expect(200);
    let ids: Vec<&str> = listed["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hookId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "loose", "theirs"]);
}

#[tokio::test]
async fn an_empty_set_needs_allow_empty_and_then_prunes_everything_it_owns() {
    let app = spawn_app().await;
    apply(&app, json!({"set": "s", "hooks": [hook("a", "x")]}))
        .await
        .expect(200);

    let refused = apply(&app, json!({"set": "s", "hooks": [], "prune": true})).await;
    let allowed = apply(
        &app,
        json!({"set": "s", "hooks": [], "prune": true, "allowEmpty": true}),
    )
    .await;

    assert!(refused
        .expect_error(400, "InputError")
        .contains("allowEmpty"));
    assert_eq!(actions(&allowed.expect(200)), ["delete a"]);
}

#[tokio::test]
async fn hooks_of_another_set_or_of_none_are_refused_and_nothing_is_applied() {
    let app = app_with_neighbours().await;

    let request =
        json!({"set": "s", "hooks": [hook("new", "x"), hook("loose", "x"), hook("theirs", "x")]});
    let message = apply(&app, request.clone())
        .await
        .expect_error(409, "RequestConflict");
    assert!(
        message.contains("g/theirs belongs to apply set other"),
        "{message}"
    );
    assert!(
        message.contains("g/loose exists outside any apply set"),
        "{message}"
    );
    app.call(Method::GET, "/hooks/g/new", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");

    let adopt = json!({"set": "s", "hooks": [hook("new", "x"), hook("loose", "x")], "force": true});
    assert_eq!(
        actions(&apply(&app, adopt).await.expect(200)),
        ["adopt loose", "create new"]
    );
}

#[tokio::test]
async fn of_two_applies_of_one_set_from_one_revision_one_wins_and_the_other_writes_nothing() {
    let app = spawn_app().await;
    let one = json!({"set": "s", "hooks": [hook("one", "x")], "expectedRevision": 0});
    let two = json!({"set": "s", "hooks": [hook("two", "x")], "expectedRevision": 0});

    let (one, two) = tokio::join!(apply(&app, one), apply(&app, two));

    let statuses = [one.status.as_u16(), two.status.as_u16()];
    assert!(
        statuses == [200, 409] || statuses == [409, 200],
        "{statuses:?}"
    );
    let listed = app
        .call(Method::GET, "/hooks/g", Auth::Root, None)
        .await
        .expect(200);
    assert_eq!(
        listed["hooks"].as_array().unwrap().len(),
        1,
        "only the winner's hook"
    );
}

#[tokio::test]
async fn an_apply_needs_the_set_scope_and_those_of_every_hook() {
    let app = spawn_app_with(|s| {
        s.clients = vec![client(
            "ci",
            &[
                "hooks:apply:s",
                "hooks:modify-hook:g/a",
                "assume:hook-id:g/a",
            ],
        )];
    })
    .await;
    let ci = Auth::Client("ci", "ci-token");

    let too_much = apply_as(
        &app,
        ci,
        json!({"set": "s", "hooks": [hook("a", "x"), hook("b", "x")]}),
    )
    .await;
    let other_set = apply_as(&app, ci, json!({"set": "t", "hooks": [hook("a", "x")]})).await;
    let allowed = apply_as(&app, ci, json!({"set": "s", "hooks": [hook("a", "x")]})).await;

    assert!(too_much
        .expect_error(403, "InsufficientScopes")
        .contains("hooks:modify-hook:g/b"));
    other_set.expect_error(403, "InsufficientScopes");
    assert_eq!(actions(&allowed.expect(200)), ["create a"]);
}

#[tokio::test]
async fn a_task_template_that_does_not_compile_is_refused_naming_hook_and_pointer() {
    let app = spawn_app().await;
    let mut bad = hook("b", "x");
    bad["task"]["payload"] = json!({"cmd": ["echo", "${payload.x"]});
    let mut escaped = hook("c", "x");
    escaped["task"]["payload"] = json!({"$if": "true", "then": {}, "else": {"$eval": "(("}});

    let message = apply(
        &app,
        json!({"set": "s", "hooks": [hook("a", "x"), bad.clone()]}),
    )
    .await
    .expect_error(400, "InputError");
    // A template that renders for some context is applied, and createHook stays as
    // Taskcluster's: it does not check templates.
    let applied = apply(&app, json!({"set": "s", "hooks": [escaped]})).await;
    let mut create = bad;
    let fields = create.as_object_mut().unwrap();
    fields.remove("hookGroupId");
    fields.remove("hookId");
    let created = app
        .call(Method::PUT, "/hooks/g/b", Auth::Root, Some(create))
        .await;

    assert!(
        message.starts_with("hooks[1] (g/b)") && message.contains("/task/payload/cmd/1"),
        "{message}"
    );
    assert_eq!(actions(&applied.expect(200)), ["create c"]);
    created.expect(200);
}

#[tokio::test]
async fn invalid_definitions_are_refused_naming_the_hook() {
    let app = spawn_app().await;
    let mut bad_cron = hook("b", "x");
    bad_cron["schedule"] = json!(["not cron"]);

    let message = apply(
        &app,
        json!({"set": "s", "hooks": [hook("a", "x"), bad_cron]}),
    )
    .await
    .expect_error(400, "InputError");
    let duplicate = apply(
        &app,
        json!({"set": "s", "hooks": [hook("a", "x"), hook("a", "y")]}),
    )
    .await;

    assert!(message.starts_with("hooks[1]"), "{message}");
    assert!(duplicate
        .expect_error(409, "RequestConflict")
        .contains("more than once"));
    app.call(Method::GET, "/apply-sets/s", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}

/// An apply that a crashed process committed but did not finish (on MongoDB the set's document
/// is the commit point and the hook writes follow) is finished by the next reader of the set;
/// the reading process announces those writes, so its hook cache (and scheduler) see them at
/// once rather than at the next resync.
#[tokio::test]
async fn a_crashed_apply_finished_by_a_read_is_announced_in_the_reading_process() {
    let Some(uri) = fresh_database_uri() else {
        return skipping(module_path!());
    };
    let app = spawn_app_on(Some(MongoArgs::options_for(&uri).unwrap()), |_| {}).await;
    apply(&app, json!({"set": "s", "hooks": [hook("a", "first")]}))
        .await
        .expect(200);
    let description = |body: Value| body["metadata"]["description"].clone();
    let read = || app.call(Method::GET, "/hooks/g/a", Auth::Root, None);
    assert_eq!(description(read().await.expect(200)), "first");

    // What a process that stopped right after its commit point leaves behind.
    let store = app.open_store().await;
    let set = ApplySetName::parse("s").unwrap();
    let applied = store.get_apply_set(&set).await.unwrap().unwrap();
    let mut record = store
        .get_hook(&HookKey::new(
            HookGroupId::parse("g").unwrap(),
            HookId::parse("a").unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    record.hook.metadata.description = "second".into();
    let crashed = ApplySetRecord {
        revision: applied.revision + 1,
        hooks: vec![record.hook.clone()],
        pending: vec![ApplyWrite::Put {
            record: Box::new(record),
        }],
        ..applied.clone()
    };
    let made = store
        .commit_apply_set(&crashed, applied.revision, Arc::new(Unobserved))
        .await
        .unwrap();
    assert_eq!(made, [], "MongoDB leaves the writes pending");
    assert_eq!(
        description(read().await.expect(200)),
        "first",
        "the hook cache still holds the hook (the test clock stands still)"
    );

    let status = set_status(&app, "s").await;

    assert_eq!(status["revision"], json!(applied.revision + 1));
    assert_eq!(description(read().await.expect(200)), "second");
}

/// A chat alias `id` firing `g/a`, described as `description`.
fn alias(id: &str, description: &str) -> Value {
    json!({
        "aliasId": id, "hookGroupId": "g", "hookId": "a", "description": description,
        "formats": ["deploy {{branch}}"], "enabled": true,
    })
}

async fn get_alias(app: &TestApp, id: &str) -> Reply {
    app.call(
        Method::GET,
        &format!("/chat-aliases/{id}"),
        Auth::Root,
        None,
    )
    .await
}

#[tokio::test]
async fn a_set_applies_owns_and_prunes_chat_aliases_beside_its_hooks() {
    let app = spawn_app().await;
    let request = |description: &str| json!({"set": "s", "hooks": [hook("a", "git")], "chatAliases": [alias("deploy", description)]});

    let first = apply(&app, request("git")).await.expect(200);
    let again = apply(&app, request("git")).await.expect(200);

    assert_eq!(first["chatAliasChanges"][0]["action"], "create");
    assert_eq!(first["chatAliasChanges"][0]["aliasId"], "deploy");
    let stored = get_alias(&app, "deploy").await.expect(200);
    assert_eq!(
        (stored["description"].clone(), stored["enabled"].clone()),
        (json!("git"), json!(true)),
        "applied as the files say, enabled included"
    );
    assert_eq!(again["chatAliasChanges"], json!([]));
    assert_eq!(again["chatAliasesUnchanged"], 1);
    assert_eq!(again["applied"], false);

    let update = alias("deploy", "edited over the API");
    let refused = app
        .call(
            Method::POST,
            "/chat-aliases/deploy",
            Auth::Root,
            Some(update.clone()),
        )
        .await;
    assert!(refused
        .expect_error(409, "RequestConflict")
        .contains("apply set s"));
    let forced = app
        .raw(Method::POST, "/chat-aliases/deploy")
        .header("X-Hookd-Force", "true")
        .json(&update);
    app.send(forced).await.expect(200);
    let status = set_status(&app, "s").await;
    assert_eq!(status["chatAliases"], json!(["deploy"]));
    assert_eq!(status["chatAliasDrift"][0]["state"], "modified");
    assert_eq!(
        status["chatAliasDrift"][0]["fields"],
        json!(["description"])
    );

    let drifted = apply(&app, request("git2"))
        .await
        .expect_error(409, "RequestConflict");
    assert!(
        drifted.contains("chat alias deploy was changed"),
        "{drifted}"
    );
    let pruned = apply(
        &app,
        json!({"set": "s", "hooks": [hook("a", "git")], "prune": true, "force": true}),
    )
    .await
    .expect(200);
    assert_eq!(pruned["chatAliasChanges"][0]["action"], "delete");
    get_alias(&app, "deploy")
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn chat_aliases_of_another_set_or_of_none_and_bad_ones_refuse_the_whole_apply() {
    let app = spawn_app().await;
    app.create_hook("g/a", hook_body()).await;
    let mut loose = alias("loose", "over the API");
    loose["enabled"] = json!(false);
    app.call(Method::PUT, "/chat-aliases/loose", Auth::Root, Some(loose))
        .await
        .expect(200);
    apply(&app, json!({"set": "other", "hooks": [], "chatAliases": [alias("theirs", "t")], "allowEmpty": true}))
        .await
        .expect(200);

    let message = apply(
        &app,
        json!({"set": "s", "hooks": [hook("b", "new")],
               "chatAliases": [alias("loose", "mine now"), alias("theirs", "mine too")]}),
    )
    .await
    .expect_error(409, "RequestConflict");
    let bad = apply(
        &app,
        json!({"set": "s", "hooks": [hook("b", "new")],
               "chatAliases": [{"aliasId": "bad", "hookGroupId": "g", "hookId": "a", "formats": []}]}),
    )
    .await
    .expect_error(400, "InputValidationError");

    assert!(
        message.contains("chat alias loose exists outside any apply set")
            && message.contains("chat alias theirs belongs to apply set other"),
        "{message}"
    );
    assert!(bad.contains("chatAliases"), "{bad}");
    let mut uncompiled = alias("fresh", "bad payload");
    uncompiled["payload"] = json!({"branch": "${parameters.branch"});
    let template = apply(
        &app,
        json!({"set": "s", "hooks": [hook("b", "new")], "chatAliases": [uncompiled]}),
    )
    .await
    .expect_error(400, "InputError");
    assert!(
        template.starts_with("chatAliases[0] (fresh): the payload template does not compile")
            && template.contains("/payload/branch"),
        "{template}"
    );
    app.call(Method::GET, "/hooks/g/b", Auth::Root, None)
        .await
        .expect_error(404, "ResourceNotFound");
}
