//! The differences between two JSON values, as a list of changes at JSON pointers: what a
//! replay's dry run shows between the task that was submitted and the one it would submit.

use serde::Serialize;
use serde_json::Value;

/// One difference: at `path`, `before` became `after` (a side is absent where the value was
/// added or removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonChange {
    /// JSON pointer of the changed value.
    pub path: String,
    /// The value before, absent when added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after, absent when removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Every change from `before` to `after`, objects compared member by member (in key order),
/// arrays element by element; any other difference is one change of the whole value.
pub fn json_diff(before: &Value, after: &Value) -> Vec<JsonChange> {
    let mut changes = Vec::new();
    walk(String::new(), Some(before), Some(after), &mut changes);
    changes
}

fn walk(path: String, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<JsonChange>) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                walk(format!("{path}/{escaped}"), b.get(key), a.get(key), out);
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) => {
            for i in 0..b.len().max(a.len()) {
                walk(format!("{path}/{i}"), b.get(i), a.get(i), out);
            }
        }
        (b, a) if b != a => out.push(JsonChange {
            path,
            before: b.cloned(),
            after: a.cloned(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_have_no_changes() {
        let v = json!({"a": [1, {"b": null}]});
        assert!(json_diff(&v, &v).is_empty());
    }

    #[test]
    fn changes_name_their_pointer_and_leave_out_a_missing_side() {
        let before = json!({"a": 1, "gone": true, "list": [1, 2], "x/y": "old"});
        let after = json!({"a": 2, "new": {"n": 1}, "list": [1], "x/y": "new"});
        let paths: Vec<(String, Option<Value>, Option<Value>)> = json_diff(&before, &after)
            .into_iter()
            .map(|c| (c.path, c.before, c.after))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("/a".into(), Some(json!(1)), Some(json!(2))),
                ("/gone".into(), Some(json!(true)), None),
                ("/list/1".into(), Some(json!(2)), None),
                ("/new".into(), None, Some(json!({"n": 1}))),
                ("/x~1y".into(), Some(json!("old")), Some(json!("new"))),
            ]
        );
    }
}
