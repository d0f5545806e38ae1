//! hookd's JSON Schemas: the files themselves, and agreement with Taskcluster's published schemas.
//!
//! Taskcluster's schemas are read at test time from `../shared/reference/` and are never copied
//! into the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hookd::api::schemas::{fragments, SchemaId, SchemaSet, BASE_URI};
use hookd_testkit::taskcluster::{read_dir, taskcluster_file, Taskcluster, TASKCLUSTER_DIR};
use serde_json::{json, Value};

const HOOKD_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/v1");

const TASK_ID: &str = "fN1SbArXTPSVFNUvaOlinQ";
const OTHER_TASK_ID: &str = "dSlITZ4yQgmvxxAi4A8fHQ";

fn hookd_files() -> BTreeMap<String, Value> {
    read_dir(HOOKD_DIR)
}

fn load() -> SchemaSet {
    SchemaSet::load().unwrap_or_else(|e| panic!("hookd's schemas do not load: {e}"))
}

/// Every `$ref` value anywhere in a schema.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                match (key.as_str(), member) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => refs(member, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

/// Every `description` string anywhere in a schema.
fn descriptions(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                match (key.as_str(), member) {
                    ("description", Value::String(text)) => out.push(text.clone()),
                    _ => descriptions(member, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| descriptions(item, out)),
        _ => {}
    }
}

#[test]
fn every_schema_file_is_json_with_its_own_absolute_id_and_draft_2020_12() {
    let files = hookd_files();
    assert!(!files.is_empty(), "no schema files in {HOOKD_DIR}");
    for (name, schema) in &files {
        assert_eq!(
            schema["$id"],
            json!(format!("{BASE_URI}{name}")),
            "$id of {name}"
        );
        assert_eq!(
            schema["$schema"],
            json!("https://json-schema.org/draft/2020-12/schema"),
            "$schema of {name}"
        );
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name} documents itself with a description"
        );
    }
}

#[test]
fn the_schema_set_loads_from_the_embedded_files() {
    load();
}

#[test]
fn every_schema_id_names_an_existing_file_and_every_other_file_is_a_declared_fragment() {
    let on_disk: BTreeSet<String> = hookd_files().into_keys().collect();
    let mut declared = BTreeSet::new();
    for id in SchemaId::ALL {
        assert!(
            on_disk.contains(id.file_name()),
            "{id:?} names {} which is missing",
            id.file_name()
        );
        assert!(declared.insert(id.file_name().to_owned()), "{id:?} repeats");
    }
    for fragment in fragments() {
        assert!(on_disk.contains(fragment), "fragment {fragment} is missing");
        assert!(
            declared.insert(fragment.to_owned()),
            "{fragment} is both a SchemaId and a fragment"
        );
    }
    assert_eq!(
        on_disk, declared,
        "every file in schemas/v1 must be embedded (as a body schema or a fragment)"
    );
}

#[test]
fn every_ref_points_at_a_sibling_file_and_every_fragment_is_referenced() {
    let files = hookd_files();
    let mut referenced = BTreeSet::new();
    for (name, schema) in &files {
        let mut found = Vec::new();
        refs(schema, &mut found);
        for target in found {
            if target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            assert!(
                files.contains_key(file),
                "{name} refers to {target}, which is not a sibling"
            );
            referenced.insert(file.to_owned());
        }
    }
    for fragment in fragments() {
        assert!(
            referenced.contains(fragment),
            "fragment {fragment} is never referenced"
        );
    }
}

#[test]
fn no_description_is_copied_from_taskcluster() {
    let mut theirs = Vec::new();
    for schema in read_dir(TASKCLUSTER_DIR).values() {
        descriptions(schema, &mut theirs);
    }
    let normalize = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let theirs: BTreeSet<String> = theirs.iter().map(|d| normalize(d)).collect();
    for (name, schema) in hookd_files() {
        let mut ours = Vec::new();
        descriptions(&schema, &mut ours);
        for description in ours {
            assert!(
                !theirs.contains(&normalize(&description)),
                "{name} repeats a Taskcluster description: {description}"
            );
        }
    }
}

/// A sample document and the verdict both hookd and Taskcluster must give it.
struct Case {
    what: &'static str,
    schema: SchemaId,
    valid: bool,
    instance: Value,
}

fn case(what: &'static str, schema: SchemaId, valid: bool, instance: Value) -> Case {
    Case {
        what,
        schema,
        valid,
        instance,
    }
}

fn metadata() -> Value {
    json!({
        "name": "Nightly build",
        "description": "Builds the tree every night.",
        "owner": "release@example.com",
        "emailOnError": true
    })
}

fn request() -> Value {
    json!({"metadata": metadata(), "task": {"provisionerId": "p", "workerType": "w"}})
}

fn full_request() -> Value {
    json!({
        "hookGroupId": "project-releng",
        "hookId": "nightly/linux_64",
        "metadata": metadata(),
        "task": {"$if": "firedBy == 'schedule'", "then": {"created": {"$fromNow": "0 seconds"}}},
        "schedule": ["0 0 * * *", "0 0 12 * * *"],
        "triggerSchema": {"type": "object", "additionalProperties": true},
        "bindings": [{"exchange": "exchange/pushes", "routingKeyPattern": "primary.#"}]
    })
}

fn definition() -> Value {
    json!({
        "hookGroupId": "project-releng",
        "hookId": "nightly/linux_64",
        "metadata": metadata(),
        "task": {"provisionerId": "p", "workerType": "w"},
        "schedule": ["0 0 * * *"],
        "triggerSchema": {"type": "object", "additionalProperties": false},
        "bindings": []
    })
}

/// `base` with `path` (object keys, `/`-separated) set to `value`, or removed when `None`.
fn with(base: Value, path: &str, value: Option<Value>) -> Value {
    let mut doc = base;
    let keys: Vec<&str> = path.split('/').collect();
    let (last, parents) = keys.split_last().expect("a non-empty path");
    let mut target = &mut doc;
    for key in parents {
        target = target.get_mut(*key).expect("path exists");
    }
    let members = target.as_object_mut().expect("an object");
    match value {
        Some(value) => {
            members.insert((*last).to_owned(), value);
        }
        None => {
            members.remove(*last);
        }
    }
    doc
}

fn fire() -> Value {
    json!({
        "hookGroupId": "project-releng",
        "hookId": "nightly/linux_64",
        "firedBy": "schedule",
        "taskId": TASK_ID,
        "taskCreateTime": "2024-05-01T00:00:00.000Z",
        "result": "success",
        "error": "",
        "taskState": "unknown"
    })
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use SchemaId::*;
    vec![
        // create-hook-request
        case("a minimal request (metadata and task)", CreateHookRequest, true, request()),
        case("a request with every Taskcluster field", CreateHookRequest, true, full_request()),
        case("a request without metadata.description", CreateHookRequest, false,
            with(request(), "metadata/description", None)),
        case("a request without metadata.emailOnError", CreateHookRequest, true,
            with(request(), "metadata/emailOnError", None)),
        case("a request without task", CreateHookRequest, false, with(request(), "task", None)),
        case("a request whose task is an array", CreateHookRequest, false,
            with(request(), "task", Some(json!([])))),
        case("a request with bad hookId characters", CreateHookRequest, false,
            with(request(), "hookId", Some(json!("nightly:linux")))),
        case("a request with a space in hookId", CreateHookRequest, false,
            with(request(), "hookId", Some(json!("night ly")))),
        case("a request with a slash in hookGroupId", CreateHookRequest, false,
            with(request(), "hookGroupId", Some(json!("project/releng")))),
        case("a request with an empty hookId", CreateHookRequest, false,
            with(request(), "hookId", Some(json!("")))),
        case("a request with a 1001-character hookGroupId", CreateHookRequest, false,
            with(request(), "hookGroupId", Some(json!("g".repeat(1001))))),
        case("a request with a 1000-character hookGroupId", CreateHookRequest, true,
            with(request(), "hookGroupId", Some(json!("g".repeat(1000))))),
        case("a request with a 1001-character hookId", CreateHookRequest, false,
            with(request(), "hookId", Some(json!("h/".repeat(500) + "h")))),
        case("a request with duplicate schedule entries", CreateHookRequest, false,
            with(request(), "schedule", Some(json!(["0 0 * * *", "0 0 * * *"])))),
        case("a request with a non-string schedule entry", CreateHookRequest, false,
            with(request(), "schedule", Some(json!([5])))),
        case("a request with a binding whose exchange is empty", CreateHookRequest, false,
            with(request(), "bindings",
                Some(json!([{"exchange": "", "routingKeyPattern": "#"}])))),
        case("a request with a binding without routingKeyPattern", CreateHookRequest, false,
            with(request(), "bindings", Some(json!([{"exchange": "e"}])))),
        case("a request with a binding carrying an extra property", CreateHookRequest, false,
            with(request(), "bindings",
                Some(json!([{"exchange": "e", "routingKeyPattern": "#", "queue": "q"}])))),
        case("a request with duplicate bindings", CreateHookRequest, false,
            with(request(), "bindings", Some(json!([
                {"exchange": "e", "routingKeyPattern": "#"},
                {"exchange": "e", "routingKeyPattern": "#"}
            ])))),
        case("a request with an extra top-level property", CreateHookRequest, false,
            with(request(), "expires", Some(json!("2030-01-01T00:00:00Z")))),
        case("a request with an extra metadata property", CreateHookRequest, false,
            with(request(), "metadata/team", Some(json!("releng")))),
        case("a request with a 255-character name", CreateHookRequest, true,
            with(request(), "metadata/name", Some(json!("n".repeat(255))))),
        case("a request with a 256-character name", CreateHookRequest, false,
            with(request(), "metadata/name", Some(json!("n".repeat(256))))),
        case("a request with a 32768-character description", CreateHookRequest, true,
            with(request(), "metadata/description", Some(json!("d".repeat(32768))))),
        case("a request with a 32769-character description", CreateHookRequest, false,
            with(request(), "metadata/description", Some(json!("d".repeat(32769))))),
        case("a request whose owner is not an email address", CreateHookRequest, false,
            with(request(), "metadata/owner", Some(json!("release team")))),
        case("a request whose owner is longer than 255 characters", CreateHookRequest, false,
            with(request(), "metadata/owner",
                Some(json!(format!("r@{}.example.com", "a".repeat(250)))))),
        case("a request whose emailOnError is a string", CreateHookRequest, false,
            with(request(), "metadata/emailOnError", Some(json!("yes")))),
        case("a request whose triggerSchema is a string", CreateHookRequest, false,
            with(request(), "triggerSchema", Some(json!("object")))),
        case("a request that is an array", CreateHookRequest, false, json!([request()])),
        // hook-definition
        case("a complete hook definition", HookDefinition, true, definition()),
        case("a hook definition without schedule", HookDefinition, false,
            with(definition(), "schedule", None)),
        case("a hook definition without triggerSchema", HookDefinition, false,
            with(definition(), "triggerSchema", None)),
        case("a hook definition without hookId", HookDefinition, false,
            with(definition(), "hookId", None)),
        case("a hook definition without metadata.owner", HookDefinition, false,
            with(definition(), "metadata/owner", None)),
        case("a hook definition with an extra property", HookDefinition, false,
            with(definition(), "lastModified", Some(json!("2024-05-01T00:00:00Z")))),
        case("a hook definition with bad hookGroupId characters", HookDefinition, false,
            with(definition(), "hookGroupId", Some(json!("project.releng")))),
        // hook-status
        case("a status of a hook that never fired", HookStatus, true,
            json!({"lastFire": {"result": "no-fire"}})),
        case("a status with a successful fire and a next date", HookStatus, true,
            json!({
                "lastFire": {"result": "success", "taskId": TASK_ID,
                             "time": "2024-05-01T00:00:00.000Z"},
                "nextScheduledDate": "2024-05-02T00:00:00.000Z"
            })),
        case("a status with a failed fire", HookStatus, true,
            json!({"lastFire": {"result": "error",
                                "error": {"code": "InputError", "message": "bad template"},
                                "time": "2024-05-01T00:00:00.000Z"}})),
        case("a status with a bad taskId", HookStatus, false,
            json!({"lastFire": {"result": "success", "taskId": "not-a-slugid",
                                "time": "2024-05-01T00:00:00.000Z"}})),
        case("a status with a successful fire without time", HookStatus, false,
            json!({"lastFire": {"result": "success", "taskId": TASK_ID}})),
        case("a status whose time is not a date-time", HookStatus, false,
            json!({"lastFire": {"result": "success", "taskId": TASK_ID, "time": "yesterday"}})),
        case("a status with a failed fire without error", HookStatus, false,
            json!({"lastFire": {"result": "error", "time": "2024-05-01T00:00:00.000Z"}})),
        case("a status with a failed fire whose error is a string", HookStatus, false,
            json!({"lastFire": {"result": "error", "error": "boom",
                                "time": "2024-05-01T00:00:00.000Z"}})),
        case("a status with a no-fire carrying a taskId", HookStatus, false,
            json!({"lastFire": {"result": "no-fire", "taskId": TASK_ID}})),
        case("a status with an unknown result", HookStatus, false,
            json!({"lastFire": {"result": "declined"}})),
        case("a status without result", HookStatus, false,
            json!({"lastFire": {"taskId": TASK_ID, "time": "2024-05-01T00:00:00.000Z"}})),
        case("a status without lastFire", HookStatus, false,
            json!({"nextScheduledDate": "2024-05-02T00:00:00.000Z"})),
        case("a status whose nextScheduledDate is not a date-time", HookStatus, false,
            json!({"lastFire": {"result": "no-fire"}, "nextScheduledDate": "tomorrow"})),
        case("a status with an extra property", HookStatus, false,
            json!({"lastFire": {"result": "no-fire"}, "fires": 0})),
        // list-last-fires-response
        case("a page of fires with a continuation token", ListLastFiresResponse, true,
            json!({"lastFires": [fire(), with(fire(), "taskId", Some(json!(OTHER_TASK_ID)))],
                   "continuationToken": "abc"})),
        case("an empty page of fires", ListLastFiresResponse, true, json!({"lastFires": []})),
        case("a page with a failed fire", ListLastFiresResponse, true,
            json!({"lastFires": [with(with(fire(), "result", Some(json!("error"))),
                                      "error", Some(json!("InputError: bad template")))]})),
        case("a page listing the same fire twice", ListLastFiresResponse, true,
            json!({"lastFires": [fire(), fire()]})),
        case("a fire with a bad firedBy", ListLastFiresResponse, false,
            json!({"lastFires": [with(fire(), "firedBy", Some(json!("cron")))]})),
        case("a fire with a bad taskState", ListLastFiresResponse, false,
            json!({"lastFires": [with(fire(), "taskState", Some(json!("done")))]})),
        case("a fire with result no-fire", ListLastFiresResponse, false,
            json!({"lastFires": [with(fire(), "result", Some(json!("no-fire")))]})),
        case("a fire without error", ListLastFiresResponse, false,
            json!({"lastFires": [with(fire(), "error", None)]})),
        case("a fire with a bad taskId", ListLastFiresResponse, false,
            json!({"lastFires": [with(fire(), "taskId", Some(json!("fN1SbArXTPSVFNUvaOlinB")))]})),
        case("a fire with a bad taskCreateTime", ListLastFiresResponse, false,
            json!({"lastFires": [with(fire(), "taskCreateTime", Some(json!("now")))]})),
        case("a fire with an extra property", ListLastFiresResponse, false,
            json!({"lastFires": [with(fire(), "fireId", Some(json!("x")))]})),
        case("a page with a numeric continuation token", ListLastFiresResponse, false,
            json!({"lastFires": [], "continuationToken": 5})),
        case("a page without lastFires", ListLastFiresResponse, false, json!({})),
        // trigger-hook
        case("an empty trigger payload", TriggerHook, true, json!({})),
        case("a trigger payload with members", TriggerHook, true,
            json!({"taskId": TASK_ID, "branch": "main"})),
        case("a trigger payload that is an array", TriggerHook, false, json!([])),
        // trigger-hook-response
        case("a trigger response with taskId and status", TriggerHookResponse, true,
            json!({"taskId": TASK_ID, "status": {"taskId": TASK_ID}})),
        case("a trigger response with only taskId", TriggerHookResponse, true,
            json!({"taskId": TASK_ID})),
        case("an empty trigger response (declined fire)", TriggerHookResponse, true, json!({})),
        case("a trigger response with only status", TriggerHookResponse, false,
            json!({"status": {"taskId": TASK_ID}})),
        case("a trigger response with a bad taskId", TriggerHookResponse, false,
            json!({"taskId": "abc"})),
        case("a trigger response with a bad status.taskId", TriggerHookResponse, false,
            json!({"taskId": TASK_ID, "status": {"taskId": "abc"}})),
        case("a trigger response with an extra property", TriggerHookResponse, false,
            json!({"taskId": TASK_ID, "task": {}})),
        case("a trigger response that is null", TriggerHookResponse, false, json!(null)),
        // trigger-token-response
        case("a token response", TriggerTokenResponse, true, json!({"token": "s3cr3t"})),
        case("a token response without token", TriggerTokenResponse, false, json!({})),
        case("a token response with a numeric token", TriggerTokenResponse, false,
            json!({"token": 5})),
        case("a token response with an extra property", TriggerTokenResponse, false,
            json!({"token": "s3cr3t", "expires": "never"})),
        // list-hooks-response
        case("a list of hooks", ListHooksResponse, true, json!({"hooks": [definition()]})),
        case("an empty list of hooks", ListHooksResponse, true, json!({"hooks": []})),
        case("a list of hooks with a duplicate", ListHooksResponse, false,
            json!({"hooks": [definition(), definition()]})),
        case("a list of hooks with an incomplete hook", ListHooksResponse, false,
            json!({"hooks": [with(definition(), "metadata", None)]})),
        case("a list of hooks without hooks", ListHooksResponse, false, json!({})),
        // list-hook-groups-response
        case("a list of groups", ListHookGroupsResponse, true,
            json!({"groups": ["project-releng", "garbage"]})),
        case("an empty list of groups", ListHookGroupsResponse, true, json!({"groups": []})),
        case("a list of groups with a duplicate", ListHookGroupsResponse, false,
            json!({"groups": ["a", "a"]})),
        case("a list of groups with a number", ListHookGroupsResponse, false,
            json!({"groups": [1]})),
        case("a list of groups with an extra property", ListHookGroupsResponse, false,
            json!({"groups": [], "count": 0})),
        case("a list of groups without groups", ListHookGroupsResponse, false, json!({})),
    ]
}

/// Bodies Taskcluster has no schema for: ping, errors and the submitted-task extension.
#[rustfmt::skip]
fn hookd_only_cases() -> Vec<Case> {
    use SchemaId::*;
    let error = json!({
        "code": "ResourceNotFound",
        "message": "no such hook",
        "requestInfo": {
            "method": "hook",
            "params": {"hookGroupId": "g", "hookId": "a/b"},
            "payload": {},
            "time": "2024-05-01T00:00:00.000Z"
        }
    });
    let render_request = json!({
        "payload": {"branch": "main"},
        "firedBy": "triggerHook",
        "now": "2024-05-01T00:00:00.000Z",
        "taskId": "fN1SbArXTPSVFNUvaOlinQ",
    });
    let named_request = with(
        with(request(), "hookGroupId", Some(json!("ci"))),
        "hookId",
        Some(json!("nightly")),
    );
    let named_apply_hook = named_request.clone();
    let apply_request = json!({
        "set": "releng.prod", "hooks": [named_request.clone()], "prune": true,
        "allowEmpty": false, "force": false, "dryRun": true, "source": "abc123",
        "expectedRevision": 3,
    });
    let render_response = json!({
        "task": {"provisionerId": "p"},
        "declined": false,
        "schemaErrors": [],
        "missingScopes": ["queue:route:x"],
        "taskBytes": 22,
    });
    let submitted = json!({
        "taskId": TASK_ID,
        "hookGroupId": "g",
        "hookId": "a/b",
        "fireId": "01890a5d-ac96-774b-bcce-b302099a8057",
        "firedBy": "triggerHook",
        "submitted": "2024-05-01T00:00:00.000Z",
        "task": {"created": "2024-05-01T00:00:00.000Z"}
    });
    vec![
        case("a ping response", PingResponse, true, json!({"alive": true, "uptime": 0})),
        case("a ping response with fractional uptime", PingResponse, true,
            json!({"alive": true, "uptime": 1.5})),
        case("a ping response that is not alive", PingResponse, false,
            json!({"alive": false, "uptime": 1})),
        case("a ping response with negative uptime", PingResponse, false,
            json!({"alive": true, "uptime": -1})),
        case("a ping response without uptime", PingResponse, false, json!({"alive": true})),
        case("an error body", Error, true, error.clone()),
        case("an error body with a null payload", Error, true,
            with(error.clone(), "requestInfo/payload", Some(Value::Null))),
        case("an error body without requestInfo.time", Error, false,
            with(error.clone(), "requestInfo/time", None)),
        case("an error body with a numeric param", Error, false,
            with(error.clone(), "requestInfo/params", Some(json!({"limit": 5})))),
        case("an error body without code", Error, false, with(error.clone(), "code", None)),
        case("an error body with an extra property", Error, false,
            with(error, "stack", Some(json!("...")))),
        case("a submitted task", SubmittedTask, true, submitted.clone()),
        case("a submitted task whose fireId is not a UUID", SubmittedTask, false,
            with(submitted.clone(), "fireId", Some(json!("fire-1")))),
        case("a submitted task with a bad firedBy", SubmittedTask, false,
            with(submitted.clone(), "firedBy", Some(json!("manual")))),
        case("a submitted task with a bad taskId", SubmittedTask, false,
            with(submitted.clone(), "taskId", Some(json!("task-1")))),
        case("a submitted task without task", SubmittedTask, false,
            with(submitted, "task", None)),
        case("a render request with only a payload", RenderHookRequest, true,
            json!({"payload": {}})),
        case("a render request with every field", RenderHookRequest, true,
            render_request.clone()),
        case("a render request without payload", RenderHookRequest, false,
            with(render_request.clone(), "payload", None)),
        case("a render request with a bad firedBy", RenderHookRequest, false,
            with(render_request.clone(), "firedBy", Some(json!("manual")))),
        case("a render request with a hook", RenderHookRequest, false,
            with(render_request.clone(), "hook", Some(named_request.clone()))),
        case("a definition render request", RenderRequest, true,
            with(render_request.clone(), "hook", Some(named_request.clone()))),
        case("a definition render request without hookId", RenderRequest, false,
            with(render_request.clone(), "hook", Some(with(named_request, "hookId", None)))),
        case("a definition render request without hook", RenderRequest, false, render_request),
        case("a render answer", RenderResponse, true, render_response.clone()),
        case("a declined render answer", RenderResponse, true,
            with(with(render_response.clone(), "task", Some(Value::Null)), "declined", Some(json!(true)))),
        case("a render answer without missingScopes", RenderResponse, false,
            with(render_response, "missingScopes", None)),
        case("an apply request", ApplyRequest, true, apply_request.clone()),
        case("an apply request with a slash in its set", ApplyRequest, false,
            with(apply_request.clone(), "set", Some(json!("team/a")))),
        case("an apply request whose hook names no hookId", ApplyRequest, false,
            with(apply_request.clone(), "hooks", Some(json!([with(named_apply_hook, "hookId", None)])))),
        case("an apply request with a negative expectedRevision", ApplyRequest, false,
            with(apply_request, "expectedRevision", Some(json!(-1)))),
    ]
}

#[test]
fn hookd_and_taskcluster_give_the_same_verdict_on_every_sample_document() {
    let hookd = load();
    let taskcluster = Taskcluster::load();
    let mut checked = BTreeSet::new();
    for Case {
        what,
        schema,
        valid,
        instance,
    } in cases()
    {
        let ours = hookd.validate(schema, &instance);
        let theirs = taskcluster.is_valid(taskcluster_file(schema), &instance);
        assert_eq!(
            theirs,
            valid,
            "{what}: Taskcluster's {} says valid={theirs}",
            taskcluster_file(schema)
        );
        assert_eq!(
            ours.is_ok(),
            valid,
            "{what}: hookd's {} says {ours:?}",
            schema.file_name()
        );
        checked.insert(schema.file_name());
    }
    // Every body that Taskcluster also publishes is covered by the table.
    for id in SchemaId::ALL {
        let published = Path::new(TASKCLUSTER_DIR)
            .join(taskcluster_file(id))
            .exists();
        assert_eq!(
            checked.contains(id.file_name()),
            published,
            "{id:?} is covered by the cross-check exactly when Taskcluster publishes it"
        );
    }
}

/// A sample document on which hookd and Taskcluster deliberately disagree.
struct Difference {
    what: &'static str,
    schema: SchemaId,
    hookd_valid: bool,
    instance: Value,
}

#[test]
fn hookd_differs_from_taskcluster_only_where_deliberate() {
    let hookd = load();
    let taskcluster = Taskcluster::load();
    let differences = [
        // The extension: owner scopes on a hook.
        Difference {
            what: "a request with the scopes extension is accepted by hookd only",
            schema: SchemaId::CreateHookRequest,
            hookd_valid: true,
            instance: with(request(), "scopes", Some(json!(["queue:create-task:*"]))),
        },
        Difference {
            what: "a definition with the scopes extension is accepted by hookd only",
            schema: SchemaId::HookDefinition,
            hookd_valid: true,
            instance: with(definition(), "scopes", Some(json!(["queue:create-task:*"]))),
        },
        // The extension: the AMQP listener's view of a hook with bindings.
        Difference {
            what: "a status with the bindingStatus extension is accepted by hookd only",
            schema: SchemaId::HookStatus,
            hookd_valid: true,
            instance: json!({"lastFire": {"result": "no-fire"},
                             "bindingStatus": {"state": "active", "errors": []}}),
        },
        // The webhook extension adds a firedBy value.
        Difference {
            what: "a fire by a signed webhook is accepted by hookd only",
            schema: SchemaId::ListLastFiresResponse,
            hookd_valid: true,
            instance: json!({"lastFires": [with(fire(), "firedBy", Some(json!("webhook")))]}),
        },
        // Limits that keep one hook from costing the scheduler or the listener too much.
        Difference {
            what: "a request with more than 100 schedule patterns is refused by hookd only",
            schema: SchemaId::CreateHookRequest,
            hookd_valid: false,
            instance: with(
                request(),
                "schedule",
                Some(json!((0..101)
                    .map(|m| format!("{m} * * * * *"))
                    .collect::<Vec<_>>())),
            ),
        },
        Difference {
            what: "a request with more than 100 bindings is refused by hookd only",
            schema: SchemaId::CreateHookRequest,
            hookd_valid: false,
            instance: with(
                request(),
                "bindings",
                Some(json!((0..101)
                    .map(|i| json!({"exchange": format!("e{i}"), "routingKeyPattern": "#"}))
                    .collect::<Vec<_>>())),
            ),
        },
        // Response schemas that state more precisely what hookd emits.
        Difference {
            what: "hookd always returns bindings in a definition",
            schema: SchemaId::HookDefinition,
            hookd_valid: false,
            instance: with(definition(), "bindings", None),
        },
        Difference {
            what: "hookd's fire errors are always {code, message}",
            schema: SchemaId::HookStatus,
            hookd_valid: false,
            instance: json!({"lastFire": {"result": "error", "error": {},
                                          "time": "2024-05-01T00:00:00.000Z"}}),
        },
    ];
    for Difference {
        what,
        schema,
        hookd_valid,
        instance,
    } in differences
    {
        let ours = hookd.validate(schema, &instance);
        assert_eq!(ours.is_ok(), hookd_valid, "{what}: hookd says {ours:?}");
        assert_eq!(
            taskcluster.is_valid(taskcluster_file(schema), &instance),
            !hookd_valid,
            "{what}: Taskcluster agrees with hookd, so this is no longer a difference"
        );
    }
}

#[test]
fn the_scopes_extension_must_be_unique_strings() {
    let hookd = load();
    for (what, scopes) in [
        ("a number among the scopes", json!(["a", 1])),
        ("a duplicate scope", json!(["a", "a"])),
        ("scopes given as a string", json!("a")),
    ] {
        let body = with(request(), "scopes", Some(scopes));
        assert!(
            hookd.validate(SchemaId::CreateHookRequest, &body).is_err(),
            "{what} is rejected"
        );
    }
}

#[test]
fn violations_list_every_error_with_its_location() {
    let hookd = load();
    let body = json!({
        "metadata": {"name": "n", "owner": format!("{}@example.com", "x".repeat(300))},
        "task": [],
        "hookId": "bad id",
        "colour": "blue"
    });
    let violations = hookd
        .validate(SchemaId::CreateHookRequest, &body)
        .expect_err("the body is invalid in several ways");
    let messages = violations.messages();
    for (location, fragment) in [
        ("/metadata: ", "\"description\" is a required property"),
        ("/metadata/owner: ", "is longer than 255 characters"),
        ("/task: ", "is not of type \"object\""),
        ("/hookId: ", "does not match"),
        ("(root): ", "'colour' was unexpected"),
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with(location) && m.contains(fragment)),
            "expected `{location}…{fragment}` among {messages:#?}"
        );
    }
    assert_eq!(violations.to_string(), messages.join("; "));
    assert!(
        !violations.to_string().contains(&"x".repeat(300)),
        "long values are abbreviated: {violations}"
    );
}

#[test]
fn a_valid_instance_has_no_violations() {
    let hookd = load();
    assert_eq!(
        hookd.validate(SchemaId::CreateHookRequest, &full_request()),
        Ok(())
    );
    assert_eq!(
        hookd.validate(
            SchemaId::PingResponse,
            &json!({"alive": true, "uptime": 1.5})
        ),
        Ok(())
    );
}

#[test]
fn hookd_only_bodies_have_the_shape_the_spec_describes() {
    let hookd = load();
    for Case {
        what,
        schema,
        valid,
        instance,
    } in hookd_only_cases()
    {
        let verdict = hookd.validate(schema, &instance);
        assert_eq!(verdict.is_ok(), valid, "{what}: {verdict:?}");
    }
}
