//! The checker against the renderer it stands for: on a table of templates covering every
//! operator and expression form, and on random expressions, the `json-e` crate and
//! [`Template::check`] agree on which templates can render. The one direction that must never
//! fail: a template the renderer accepts for some context is never refused.

use serde_json::{json, Value};

use super::expr::{parse_all, ParseError};
use super::Template;

/// A context that defines every name the table uses.
fn context() -> Value {
    json!({
        "payload": {"branch": "main", "items": [1, 2, 3], "names": ["b", "a"], "flag": true,
                    "obj": {"k": "v"}, "n": 2, "text": "a,b"},
        "firedBy": "triggerHook", "taskId": "abc", "x": 1, "s": "str", "a": [1, 2], "o": {"k": 1},
        "t": true, "f": false, "z": null, "_x1": 0
    })
}

/// Templates the renderer renders with [`context`].
fn valid() -> Vec<Value> {
    let mut templates = vec![
        json!(null),
        json!(1),
        json!("plain"),
        json!("a $ sign and $$ and $${escaped}"),
        json!({"a": "${payload.branch}", "b": ["${x}", "x${s}y${x}"]}),
        json!({"$$escaped": 1, "$$${also}": 2, "${s}": "key", "k${x}": 3}),
        json!({"$eval": "payload"}),
        json!({"$flatten": [[1], [2, [3]]]}),
        json!({"$flattenDeep": [[1], [2, [3]]]}),
        json!({"$fromNow": "2 hours"}),
        json!({"$fromNow": "1 day", "from": "2020-01-01T00:00:00.000Z"}),
        json!({"$if": "payload.flag", "then": "yes", "else": "no"}),
        json!({"$if": "f", "then": "yes"}),
        json!({"$json": {"a": "${s}"}}),
        json!({"$let": {"y": "${s}", "w": {"$eval": "x + 1"}}, "in": "${y}${w}"}),
        json!({"$let": {"$eval": "{q: 1}"}, "in": {"$eval": "q"}}),
        json!({"$map": {"$eval": "payload.items"}, "each(i)": "${i}"}),
        json!({"$map": [1, 2], "each(v,i)": {"$eval": "v + i"}}),
        json!({"$map": {"a": 1}, "each(e)": {"${e.key}": "${e.val}"}}),
        json!({"$map": {"a": 1}, "each(v, k)": {"${k}": "${v}"}}),
        json!({"$match": {"x == 1": "one", "t": "t"}}),
        json!({"$switch": {"x == 1": "one", "x == 2": "two", "$default": "other"}}),
        json!({"$merge": [{"a": 1}, {"b": 2}]}),
        json!({"$mergeDeep": [{"a": [1]}, {"a": [2]}]}),
        json!({"$reverse": [1, 2]}),
        json!({"$sort": [3, 1, 2]}),
        json!({"$sort": [{"k": 2}, {"k": 1}], "by(e)": "e.k"}),
        json!({"$reduce": [1, 2], "each(acc, v)": {"$eval": "acc + v"}, "initial": 0}),
        json!({"$reduce": [1, 2], "each(acc,v,i)": {"$eval": "acc + i"}, "initial": 0}),
        json!({"$find": [1, 2], "each(v)": "v == 2"}),
        json!({"$find": [1, 2], "each(v,i)": "i == 0"}),
        // Errors in parts this context skips do not refuse the template.
        json!({"$if": "t", "then": 1, "else": {"$eval": "(("}}),
        json!({"$if": "f", "then": "${", "else": 2}),
        json!({"$map": [], "each(v)": {"$nosuch": 1}}),
        json!({"$match": {"f": {"$eval": "]"}}}),
        json!({"$switch": {"t": 1, "$default": {"$eval": "+"}}}),
        json!({"$sort": [], "by(e)": "(("}),
        json!({"$sort": [], "by(e)": 1}),
        json!({"$find": [], "each(v)": 5}),
        json!({"$reduce": [], "each(a, v)": {"$bad": 1}, "initial": {"$also": "bad"}}),
        json!({"$switch": {"t": 1}, "other": "ignored"}),
    ];
    // Expressions with a string, number, boolean or null value, which can be interpolated.
    for expression in [
        "1",
        "1.5",
        "'single'",
        "\"double\"",
        "true",
        "false",
        "null",
        "x",
        "_x1",
        "true || falsey == null",
        "-x",
        "+x",
        "!t",
        "x + 1 - 2 * 3 / 4",
        "2 ** 3 ** 2",
        "x < 2 && x <= 2 && x > 0 && x >= 0",
        "x == 1 != false",
        "1 in a",
        "'t' in s",
        "'k' in o",
        "a[0]",
        "a[-1]",
        "s[1:2]",
        "s[:1]",
        "s[1:]",
        "s[:]",
        "o.k",
        "o['k']",
        "payload.obj.k",
        "len(a) + len(s)",
        "str(x)",
        "min(1, 2) + max(3, 4) + abs(-1) + sqrt(4) + ceil(1.5) + floor(1.5)",
        "lowercase(s) + uppercase(s) + strip(' s ') + lstrip(' s') + rstrip('s ')",
        "number('12')",
        "join(payload.names, ',')",
        "fromNow('1 hour')",
        "typeof(x)",
        "defined('x')",
        "  x  ",
        "(x)",
        "((x + 1) * 2)",
        "a [0]",
        "true || in == 1",
        "x in[1]",
    ] {
        templates.push(json!({ "$eval": expression }));
        templates.push(json!(format!("<${{{expression}}}>")));
    }
    // Expressions with array or object values.
    for expression in [
        "a[0:1]",
        "a[:1]",
        "a[1:]",
        "a[:]",
        "[1, x, [s]]",
        "[]",
        "{}",
        "{a: 1, 'b c': [x]}",
        "range(0, 3)",
        "range(5, 0, -1)",
        "split(payload.text, ',')",
        "o",
    ] {
        templates.push(json!({ "$eval": expression }));
    }
    templates
}

/// Templates the renderer refuses for every context.
fn invalid() -> Vec<(Value, &'static str)> {
    let mut templates = vec![
        (json!({"$nosuch": 1}), "/$nosuch"),
        (json!({"$": 1}), "/$"),
        (json!({"a": {"$eval": "x", "extra": 1}}), "/a"),
        (json!({"$eval": 1}), "/$eval"),
        (json!({"$if": 1, "then": 1}), "/$if"),
        (json!({"$if": "((", "then": 1}), "/$if"),
        (json!({"$if": "t", "than": 1}), ""),
        (json!({"$let": [1], "in": 1}), "/$let"),
        (json!({"$let": {"a b": 1}, "in": 1}), "/$let/a b"),
        (json!({"$let": {"a": 1}}), ""),
        (json!({"$let": {"a": "${"}, "in": 1}), "/$let/a"),
        (json!({"$map": [1]}), ""),
        (json!({"$map": [1], "each(x,y,z)": 1}), ""),
        (json!({"$map": [1], "each(x)": 1, "each(y)": 2}), ""),
        (
            json!({"$map": {"$eval": "(("}, "each(x)": 1}),
            "/$map/$eval",
        ),
        (json!({"$reduce": [1], "each(x)": 1, "initial": 0}), ""),
        (json!({"$reduce": [1], "each(a,x)": 1}), ""),
        (json!({"$find": [1], "each(x)": "x", "more": 1}), ""),
        (json!({"$match": [1]}), "/$match"),
        (json!({"$match": {"((": 1}}), "/$match/(("),
        (json!({"$switch": "x"}), "/$switch"),
        (json!({"$switch": {"x ==": 1}}), "/$switch/x =="),
        (json!({"$sort": [1], "by(x,y)": "x"}), ""),
        (json!({"$flatten": [1], "x": 1}), ""),
        (json!({"$json": "${(}"}), "/$json"),
        (json!({"$fromNow": "1 day", "form": "x"}), ""),
        (json!({"${(": 1}), "/${("),
        (json!({"a": [1, {"b": "${x"}]}), "/a/1/b"),
        (json!({"a~b/c": {"$eval": ")"}}), "/a~0b~1c/$eval"),
    ];
    for expression in [
        "",
        "(",
        "x +",
        "[ ]",
        "f( )",
        "{ }",
        "--1",
        "1.",
        "1e5",
        "a b",
        "'open",
        "x ? 1 : 2",
        "a[ :1]",
        "a[1: ]",
        "[1,]",
        "{a: 1,}",
        "a.",
        "a..b",
        "a.1",
        "!=x",
        "x ! y",
        "{1: 2}",
        "x == == 1",
        "x ***y",
        "a[]",
    ] {
        templates.push((json!({ "$eval": expression }), "/$eval"));
        templates.push((json!(format!("<${{{expression}}}>")), ""));
    }
    templates
}

#[test]
fn templates_the_renderer_accepts_are_accepted() {
    let mut wrong = Vec::new();
    for template in valid() {
        if let Err(e) = json_e::render(&template, &context()) {
            wrong.push(format!("json-e refuses {template}: {e}"));
        }
        if let Err(e) = Template::check(&template) {
            wrong.push(format!("refused {template}: {e}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn templates_the_renderer_refuses_are_refused_where_they_fail() {
    let mut wrong = Vec::new();
    for (template, pointer) in invalid() {
        for context in [context(), json!({})] {
            if let Ok(v) = json_e::render(&template, &context) {
                wrong.push(format!("json-e renders {template} as {v}"));
            }
        }
        match Template::check(&template) {
            Ok(_) => wrong.push(format!("accepted {template}")),
            Err(e) if e.pointer != pointer => wrong.push(format!("{template}: {e}")),
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_test_suites_hostile_templates_are_accepted() {
    // Rendering these takes minutes or all memory: only the checker sees them.
    for template in [
        json!({"$reduce": {"$eval": "range(0, 64)"}, "initial": "x",
               "each(acc, x)": {"$eval": "acc + acc"}}),
        json!({"$reduce": {"$eval": "range(0, 100000)"}, "initial": 0,
               "each(acc, x)": {"$eval": "acc + len(range(0, 100000))"}}),
        json!({"$map": {"$eval": "range(0, 2000)"}, "each(x)": "item ${x}"}),
    ] {
        Template::check(&template).unwrap();
    }
}

#[test]
fn errors_in_skippable_parts_are_warnings() {
    let template = json!({"$if": "t", "then": 1, "else": {"$eval": "(("}});
    let checked = Template::check(&template).unwrap();
    assert_eq!(checked.warnings()[0].pointer, "/else/$eval");
}

/// Whether json-e's parser refuses `expression` (as opposed to failing to evaluate it).
fn json_e_refuses(expression: &str) -> bool {
    match json_e::render(&json!({ "$eval": expression }), &context()) {
        Ok(_) => false,
        Err(e) => {
            let message = e.to_string();
            message.starts_with("Parse error") || message.starts_with("Unexpected trailing")
        }
    }
}

#[test]
fn random_expressions_parse_exactly_when_json_e_parses_them() {
    const TOKENS: [&str; 40] = [
        "x", "a", "1", "2.5", "'s'", "\"t\"", " ", " ", "(", ")", "[", "]", "{", "}", ",", ":",
        ".", "+", "-", "*", "**", "/", "!", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "in",
        "true", "null", "len", "o", "k", "\n", "_", "1.",
    ];
    // A fixed xorshift sequence: the same cases on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut disagreements = Vec::new();
    for _ in 0..20_000 {
        let len = 1 + next() % 9;
        let expression: String = (0..len)
            .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
            .collect();
        let ours = matches!(parse_all(&expression), Err(ParseError::Syntax(_)));
        if ours != json_e_refuses(&expression) {
            disagreements.push(expression);
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:?}");
}
