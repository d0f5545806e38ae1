//! The plan and the drift of an apply, written for a person reading CI output: one line per
//! changed hook or chat alias, then the changed leaves of its definition,
//! `path: before -> after`.

use std::fmt::Write;

use serde_json::Value;

/// The plan in an `applyHookSet` answer, as text.
pub fn plan(answer: &Value) -> String {
    let mut out = String::new();
    let set = answer["set"].as_str().unwrap_or_default();
    let from = answer["previousRevision"].as_u64().unwrap_or_default();
    let _ = writeln!(out, "apply set {set} at revision {from}:");
    let mut counts = [0usize; 4];
    for change in items(answer, "changes").chain(items(answer, "chatAliasChanges")) {
        let action = change["action"].as_str().unwrap_or_default();
        let (mark, slot) = match action {
            "create" => ('+', 0),
            "update" => ('~', 1),
            "adopt" => ('*', 2),
            _ => ('-', 3),
        };
        counts[slot] += 1;
        let drifted = if change["drifted"].as_bool().unwrap_or(false) {
            " (drifted since the set applied it; forced)"
        } else {
            ""
        };
        let _ = writeln!(out, "{mark} {action} {}{drifted}", member_name(change));
        if matches!(action, "update" | "adopt") {
            leaves(&mut out, "", &change["before"], &change["after"]);
        }
    }
    let unchanged = answer["unchanged"].as_u64().unwrap_or_default()
        + answer["chatAliasesUnchanged"].as_u64().unwrap_or_default();
    let _ = writeln!(
        out,
        "{} to create, {} to update, {} to adopt, {} to delete, {unchanged} unchanged",
        counts[0], counts[1], counts[2], counts[3]
    );
    let kept: Vec<String> = items(answer, "kept")
        .map(member_name)
        .chain(
            items(answer, "chatAliasesKept")
                .map(|id| format!("chat alias {}", id.as_str().unwrap_or_default())),
        )
        .collect();
    if !kept.is_empty() {
        let _ = writeln!(
            out,
            "{} no longer in the files and kept (--prune deletes them):",
            kept.len()
        );
        for name in kept {
            let _ = writeln!(out, "    {name}");
        }
    }
    out
}

/// The drift in a `getApplySet` answer, as text.
pub fn drift(status: &Value) -> String {
    let mut out = String::new();
    let source = status["source"]
        .as_str()
        .map(|s| format!(" from {s}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "apply set {} at revision {}{source}, applied {} by {}:",
        status["set"].as_str().unwrap_or_default(),
        status["revision"],
        status["appliedAt"].as_str().unwrap_or_default(),
        status["appliedBy"].as_str().unwrap_or_default(),
    );
    let mut drifted = 0;
    for member in items(status, "drift").chain(items(status, "chatAliasDrift")) {
        drifted += 1;
        let state = member["state"].as_str().unwrap_or_default();
        let _ = writeln!(out, "! {state} {}", member_name(member));
        if state == "modified" {
            leaves(&mut out, "", &member["applied"], &member["stored"]);
        }
    }
    let hooks = items(status, "hooks").count();
    let _ = match items(status, "chatAliases").count() {
        0 => writeln!(out, "{drifted} of {hooks} hooks drifted"),
        aliases => writeln!(
            out,
            "{drifted} of {hooks} hooks and {aliases} chat aliases drifted"
        ),
    };
    out
}

/// The items of the array `field` of `answer` (none when it is absent).
fn items<'a>(answer: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    answer[field].as_array().into_iter().flatten()
}

/// A hook as `group/id`, a chat alias as `chat alias id`.
fn member_name(member: &Value) -> String {
    match member["aliasId"].as_str() {
        Some(alias) => format!("chat alias {alias}"),
        None => format!(
            "{}/{}",
            member["hookGroupId"].as_str().unwrap_or_default(),
            member["hookId"].as_str().unwrap_or_default()
        ),
    }
}

/// Writes each leaf where `before` and `after` differ, objects walked key by key in order;
/// arrays and scalars are compared whole.
fn leaves(out: &mut String, path: &str, before: &Value, after: &Value) {
    if before == after {
        return;
    }
    if let (Value::Object(b), Value::Object(a)) = (before, after) {
        let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let missing = Value::Null;
            leaves(
                out,
                &child,
                b.get(key).unwrap_or(&missing),
                a.get(key).unwrap_or(&missing),
            );
        }
        return;
    }
    let show = |v: &Value| match v {
        Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    };
    let _ = writeln!(out, "    {path}: {} -> {}", show(before), show(after));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(id: &str, description: &str, schedule: Value) -> Value {
        json!({
            "hookGroupId": "ci", "hookId": id,
            "metadata": {"name": "n", "description": description, "owner": "o@example.com", "emailOnError": true},
            "schedule": schedule, "task": {"payload": {"command": ["make"]}},
            "triggerSchema": {}, "bindings": []
        })
    }

    #[test]
    fn a_plan_reads_as_one_line_per_hook_and_one_per_changed_leaf() {
        let answer = json!({
            "set": "team", "previousRevision": 3, "unchanged": 5,
            "changes": [
                {"action": "create", "hookGroupId": "ci", "hookId": "new", "drifted": false,
                 "after": hook("new", "d", json!([]))},
                {"action": "update", "hookGroupId": "ci", "hookId": "build", "drifted": false,
                 "before": hook("build", "old", json!(["0 0 * * *"])),
                 "after": hook("build", "new", json!([]))},
                {"action": "delete", "hookGroupId": "ci", "hookId": "gone", "drifted": true,
                 "before": hook("gone", "d", json!([]))},
            ],
            "kept": [{"hookGroupId": "ci", "hookId": "left"}],
        });

        assert_eq!(
            plan(&answer),
            "apply set team at revision 3:\n\
             + create ci/new\n\
             ~ update ci/build\n\
             \x20   metadata.description: \"old\" -> \"new\"\n\
             \x20   schedule: [\"0 0 * * *\"] -> []\n\
             - delete ci/gone (drifted since the set applied it; forced)\n\
             1 to create, 1 to update, 0 to adopt, 1 to delete, 5 unchanged\n\
             1 no longer in the files and kept (--prune deletes them):\n\
             \x20   ci/left\n"
        );
    }

    #[test]
    fn drift_names_each_hook_and_what_changed() {
        let status = json!({
            "set": "team", "revision": 2, "source": "abc123", "appliedAt": "2026-11-30T08:00:00.000Z",
            "appliedBy": "ci", "hooks": [{}, {}, {}],
            "drift": [
                {"hookGroupId": "ci", "hookId": "edited", "state": "modified",
                 "applied": hook("edited", "git", json!([])),
                 "stored": hook("edited", "ui", json!([]))},
                {"hookGroupId": "ci", "hookId": "removed", "state": "missing",
                 "applied": hook("removed", "d", json!([]))},
            ],
        });

        assert_eq!(
            drift(&status),
            "apply set team at revision 2 from abc123, applied 2026-11-30T08:00:00.000Z by ci:\n\
             ! modified ci/edited\n\
             \x20   metadata.description: \"git\" -> \"ui\"\n\
             ! missing ci/removed\n\
             2 of 3 hooks drifted\n"
        );
    }
}
