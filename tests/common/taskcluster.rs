//! Taskcluster's published hooks schemas, read at test time from `../shared/reference/` (never
//! copied into the repository) and compiled in memory, so tests can check that hookd's bodies
//! are ones Taskcluster's clients accept.

use std::collections::BTreeMap;
use std::fs;

use hookd::api::schemas::SchemaId;
use jsonschema::{Draft, Validator};
use serde_json::Value;

/// Where the reference schemas live.
pub const TASKCLUSTER_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/taskcluster-hooks-v1/schemas"
);
/// Where Taskcluster's schemas are registered; their own `$id`s are host-relative.
const TASKCLUSTER_BASE: &str = "https://taskcluster.invalid";

/// Every `*.json` file in a directory, parsed, by file name.
pub fn read_dir(dir: &str) -> BTreeMap<String, Value> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {dir}: {e}")) {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name")
            .to_owned();
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {name}: {e}"));
        let value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
        files.insert(name, value);
    }
    files
}

/// Taskcluster's published schemas, compiled: `$id`s made absolute under [`TASKCLUSTER_BASE`],
/// and their private `$schema` dropped in favour of draft 6, on which Taskcluster's metaschema
/// is based.
pub struct Taskcluster {
    validators: BTreeMap<String, Validator>,
}

impl Taskcluster {
    /// Loads and compiles every reference schema.
    pub fn load() -> Self {
        let mut documents = Vec::new();
        for (name, mut schema) in read_dir(TASKCLUSTER_DIR) {
            let members = schema.as_object_mut().expect("a schema object");
            members.remove("$schema");
            let id = members
                .get("$id")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("Taskcluster's {name} has no $id"));
            let absolute = format!("{TASKCLUSTER_BASE}{}", id.trim_end_matches('#'));
            members.insert("$id".into(), Value::String(absolute.clone()));
            documents.push((name, absolute, schema));
        }
        let mut validators = BTreeMap::new();
        for (name, _, schema) in &documents {
            let resources = documents
                .iter()
                .map(|(_, uri, doc)| (uri.clone(), Draft::Draft6.create_resource(doc.clone())));
            let validator = jsonschema::options()
                .with_draft(Draft::Draft6)
                .should_validate_formats(true)
                .with_resources(resources)
                .build(schema)
                .unwrap_or_else(|e| panic!("Taskcluster's {name} does not compile: {e}"));
            validators.insert(name.clone(), validator);
        }
        Self { validators }
    }

    /// Whether `instance` is valid against Taskcluster's `file`.
    pub fn is_valid(&self, file: &str, instance: &Value) -> bool {
        self.validators
            .get(file)
            .unwrap_or_else(|| panic!("Taskcluster has no {file}"))
            .is_valid(instance)
    }
}

/// Taskcluster's file name for the same body as a hookd schema.
pub fn taskcluster_file(id: SchemaId) -> &'static str {
    match id {
        SchemaId::ListLastFiresResponse => "list-lastFires-response.json",
        other => other.file_name(),
    }
}
