//! The OpenAPI reference: served self-contained, and in step with the router.

use std::collections::{BTreeSet, HashSet};

use hookd::api::endpoints::ENDPOINTS;
use hookd_testkit::app::{spawn_app, Auth};
use reqwest::Method;
use serde_json::Value;

/// The methods an OpenAPI 3.1 path item may describe.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn served_reference() -> Value {
    let app = spawn_app().await;
    app.call(Method::GET, "/openapi.json", Auth::Anonymous, None)
        .await
        .expect(200)
}

/// Every `(method, path, operation)` the reference describes.
fn operations(reference: &Value) -> Vec<(String, String, &Value)> {
    let paths = reference["paths"].as_object().expect("paths is an object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter_map(move |method| {
                item.get(*method)
                    .map(|op| ((*method).to_owned(), path.clone(), op))
            })
        })
        .collect()
}

/// Every string-valued `$ref` in `value`.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                match member {
                    Value::String(r) if key == "$ref" => found.push(r.clone()),
                    _ => refs(member, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_route_is_in_the_reference_and_every_operation_is_routed() {
    let reference = served_reference().await;

    let routed: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.verb.as_str().to_owned(), e.path.to_owned()))
        .collect();
    let described: BTreeSet<(String, String)> = operations(&reference)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();

    let undocumented: Vec<_> = routed.difference(&described).collect();
    let unrouted: Vec<_> = described.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from api-reference/openapi.yaml: {undocumented:?}; \
         operations in it that no route serves: {unrouted:?}"
    );
}

#[tokio::test]
async fn every_ref_in_the_served_reference_resolves_inside_it() {
    let reference = served_reference().await;
    let mut found = Vec::new();
    refs(&reference, &mut found);

    assert!(
        found.len() > 50,
        "only {} refs: nothing bundled?",
        found.len()
    );
    for r in found {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r} points outside the served document"));
        assert!(reference.pointer(pointer).is_some(), "{r} does not resolve");
    }
    assert_eq!(reference["openapi"], "3.1.0");
    assert!(
        reference["components"]["schemas"]["HookDefinition"].is_object(),
        "the body schemas are bundled under their names"
    );
}

#[tokio::test]
async fn every_operation_has_a_unique_id_its_scopes_and_a_success_answer() {
    let reference = served_reference().await;
    let mut ids = HashSet::new();

    for (method, path, op) in operations(&reference) {
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(
            ids.insert(id.to_owned()),
            "{method} {path}: operationId {id:?} is not unique"
        );
        let scopes = op["x-scopes"].as_array();
        assert!(
            scopes.is_some_and(|s| s.iter().all(Value::is_string)),
            "{method} {path}: x-scopes must list the scopes it needs"
        );
        assert!(
            op["responses"]["200"].is_object(),
            "{method} {path}: no 200 answer"
        );
    }
}
