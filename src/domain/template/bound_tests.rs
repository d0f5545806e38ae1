//! The bound estimate: every construct whose cost data can drive without limit gets no bound
//! or one over any in-process budget, and the common shapes fit one.

use serde_json::{json, Value};

use super::Template;

/// A budget like the fire path's: a quarter of the default 1 MiB task limit, and work of a few
/// milliseconds.
const OUTPUT: u64 = 256 * 1024;
const WORK: u64 = 1 << 22;

/// Whether `template` may render in-process with a context of `context_bytes`.
fn fits(template: &Value, context_bytes: u64) -> bool {
    let checked = Template::check(template).unwrap();
    checked
        .bound(context_bytes, &[("now", 30)])
        .is_some_and(|b| b.within(OUTPUT, WORK))
}

/// A realistic fire context: 1 KiB of payload and trigger data.
const CONTEXT: u64 = 1024;

#[test]
fn the_common_shapes_fit() {
    for template in [
        json!({"provisionerId": "p", "workerType": "w", "payload": {"command": ["make", "BRANCH=${payload.branch}"]},
               "metadata": {"name": "build ${payload.branch}", "description": "fired at ${now}"}}),
        json!({"$let": {"b": "${payload.branch}", "n": {"$eval": "len(payload.items)"}},
               "in": {"name": "${b}-${n}"}}),
        json!({"$if": "payload.flag && firedBy == 'triggerHook'", "then": {"a": 1}, "else": {"b": "${taskId}"}}),
        json!({"x": {"$eval": "payload.obj"}, "y": {"$eval": "lowercase(payload.s) + '-' + str(payload.n)"}}),
        json!({"deadline": {"$fromNow": "1 day"}, "expires": {"$fromNow": "1 year", "from": "${now}"}}),
        json!({"env": {"$json": {"$eval": "payload"}}}),
        json!({"args": {"$map": {"$eval": "payload.items"}, "each(x)": "--item=${x}"}}),
        json!({"args": {"$map": {"$eval": "payload.items"}, "each(x, i)": {"n": "${i}", "v": {"$eval": "x"}}}}),
        json!({"$match": {"payload.flag": "a", "!payload.flag": "b"}}),
        json!({"$switch": {"payload.n == 1": "a", "$default": "b"}}),
        json!({"$merge": [{"a": 1}, {"$eval": "payload.obj"}]}),
        json!({"$sort": {"$eval": "payload.names"}}),
        json!({"$eval": "range(0, 10)"}),
        json!({"$eval": "join(payload.names, ',')"}),
    ] {
        assert!(fits(&template, CONTEXT), "{template}");
    }
}

#[test]
fn range_over_computed_numbers_is_unbounded() {
    assert!(!fits(&json!({"$eval": "range(0, payload.n)"}), CONTEXT));
    assert!(!fits(&json!({"$eval": "range(0, 100000000)"}), CONTEXT));
    assert!(!fits(
        &json!({"$eval": "range(0, 1e9)".replace("1e9", "1000000000")}),
        CONTEXT
    ));
}

#[test]
fn reduce_is_unbounded() {
    let doubling = json!({"$reduce": {"$eval": "range(0, 64)"}, "initial": "x",
                          "each(acc, x)": {"$eval": "acc + acc"}});
    assert!(!fits(&doubling, CONTEXT));
    assert!(!fits(
        &json!({"$reduce": [], "each(a, x)": 1, "initial": 0}),
        CONTEXT
    ));
}

#[test]
fn let_chains_that_double_do_not_fit() {
    let mut template = json!("${v}");
    for _ in 0..24 {
        template = json!({"$let": {"v": "${v}${v}"}, "in": template});
    }
    let template = json!({"$let": {"v": "${payload.s}"}, "in": template});
    assert!(!fits(&template, CONTEXT));
}

#[test]
fn nested_maps_over_data_are_unbounded() {
    let template = json!({"$map": {"$eval": "payload.rows"},
                          "each(row)": {"$map": {"$eval": "row"}, "each(c)": "${c}"}});
    assert!(!fits(&template, CONTEXT));
    let over_context = json!({"$map": {"$eval": "payload.rows"},
                              "each(row)": {"$map": {"$eval": "payload.cols"}, "each(c)": "${c}${row}"}});
    assert!(!fits(&over_context, CONTEXT));
}

#[test]
fn join_split_and_in_over_data_inside_a_map_are_unbounded() {
    for body in [
        json!({"$eval": "join(payload.names, x)"}),
        json!({"$eval": "split(payload.text, x)"}),
        json!({"$eval": "x in payload.names"}),
    ] {
        let template = json!({"$map": {"$eval": "payload.items"}, "each(x)": body});
        assert!(!fits(&template, CONTEXT), "{template}");
    }
}

#[test]
fn a_join_whose_separator_comes_from_data_does_not_fit() {
    let template = json!({"$eval": "join(payload.names, payload.sep)"});
    assert!(!fits(&template, 64 * 1024));
}

#[test]
fn find_renders_data_as_a_template_so_is_unbounded() {
    assert!(!fits(
        &json!({"$find": {"$eval": "payload.items"}, "each(x)": "x == 1"}),
        CONTEXT
    ));
}

#[test]
fn iterations_inside_a_map_body_are_unbounded() {
    for body in [
        json!({"$sort": {"$eval": "payload.items"}}),
        json!({"$find": [1], "each(y)": "y == x"}),
    ] {
        let template = json!({"$map": {"$eval": "payload.items"}, "each(x)": body});
        assert!(!fits(&template, CONTEXT), "{template}");
    }
}

#[test]
fn merge_deep_of_data_does_not_fit() {
    let template = json!({"$mergeDeep": {"$eval": "payload.objects"}});
    assert!(!fits(&template, 64 * 1024));
}

#[test]
fn deeply_nested_expressions_do_not_fit() {
    // The renderer's parser backtracks: each nested bracket doubles its time.
    let nested = format!("{}x{}", "(".repeat(30), ")".repeat(30));
    assert!(!fits(&json!({ "$eval": nested }), CONTEXT));
    let too_deep = format!("{}x{}", "(".repeat(200), ")".repeat(200));
    assert!(!fits(&json!({ "$eval": too_deep }), CONTEXT));
}

#[test]
fn calls_of_anything_but_a_builtin_are_unbounded() {
    let template = json!({"$let": {"f": {"$eval": "len"}}, "in": {"$eval": "f(payload)"}});
    assert!(!fits(&template, CONTEXT));
}

#[test]
fn skipped_parts_with_errors_are_unbounded() {
    let template = json!({"$if": "payload.flag", "then": 1, "else": {"$eval": "(("}});
    assert!(!fits(&template, CONTEXT));
}

#[test]
fn the_bound_is_above_what_renders() {
    let payload: Value =
        json!({"items": [1e300, "a\u{1}b", [1, 2], {"k": "v"}], "s": "İİİ", "names": ["x"]});
    let context = json!({"payload": payload});
    let bytes = super::json_size(&context) as u64;
    for template in [
        json!({"a": {"$map": {"$eval": "payload.items"}, "each(x, i)": "${i}:${str(i)}"}}),
        json!({"u": {"$eval": "uppercase(payload.s) + lowercase(payload.s)"}}),
        json!({"j": {"$json": {"$eval": "payload"}}, "n": "${payload.items[0]}"}),
        json!({"$merge": [{"$eval": "payload"}, {"x": {"$eval": "split(payload.s, '')"}}]}),
    ] {
        let rendered = json_e::render(&template, &context).unwrap();
        let bound = Template::check(&template)
            .unwrap()
            .bound(bytes, &[])
            .unwrap();
        assert!(
            super::json_size(&rendered) as u64 <= bound.output,
            "{template}: {rendered} over {bound:?}"
        );
    }
}
