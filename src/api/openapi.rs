//! The OpenAPI reference, served at `/api/hooks/v1/openapi.json` as one self-contained document.
//!
//! `api-reference/openapi.yaml` refers to the body schemas in `schemas/v1/` by relative file
//! path, so it reads well in an editor and file-based tools resolve it. A tool that fetches the
//! served document by URL cannot follow such paths, so [`OpenApiDocument::build`] bundles every
//! schema file into `components/schemas` (named after the file: `hook-status.json` becomes
//! `HookStatus`) and rewrites each `$ref` to point there. The JSON is built once at start-up;
//! every request gets the same bytes.

use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use serde_json::{Map, Value};

use super::ApiState;
use crate::api::schemas;

/// The reference as written.
pub const SPEC_YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/api-reference/openapi.yaml"
));

/// How the YAML's `$ref`s reach the schema files, relative to `api-reference/`.
const SCHEMA_DIR: &str = "../schemas/v1/";

/// Where bundled schemas live in the served document.
const COMPONENT_PREFIX: &str = "#/components/schemas/";

/// Why the embedded reference could not be bundled (a build defect, caught at start-up).
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// The YAML does not parse.
    #[error("api-reference/openapi.yaml is not valid YAML")]
    Yaml(#[source] serde_norway::Error),
    /// A schema file does not parse.
    #[error("schema {file} is not valid JSON")]
    Schema {
        /// The file name.
        file: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The YAML lacks a `components.schemas` object to bundle into.
    #[error("api-reference/openapi.yaml has no components.schemas object")]
    NoComponents,
    /// A bundled schema's name is already taken by a schema written in the YAML.
    #[error("components.schemas.{0} is both written in the YAML and a bundled schema file")]
    NameClash(String),
    /// A `$ref` names a file that is not one of the embedded schemas.
    #[error("$ref {0:?} names no schema file in schemas/v1")]
    UnknownRef(String),
}

/// The bundled reference, ready to serve.
pub struct OpenApiDocument {
    json: Bytes,
}

impl OpenApiDocument {
    /// Parses the embedded YAML and bundles the schema files into it.
    ///
    /// # Errors
    /// [`OpenApiError`] when an embedded file is malformed or a `$ref` dangles.
    pub fn build() -> Result<Self, OpenApiError> {
        let document = bundle()?;
        Ok(Self {
            json: Bytes::from(document.to_string()),
        })
    }
}

/// `GET /api/hooks/v1/openapi.json`
pub async fn serve(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi.json.clone())
}

/// The reference with every schema file bundled in and every `$ref` pointing inside it.
///
/// # Errors
/// As [`OpenApiDocument::build`].
pub fn bundle() -> Result<Value, OpenApiError> {
    let mut document: Value = serde_norway::from_str(SPEC_YAML).map_err(OpenApiError::Yaml)?;
    rewrite_refs(&mut document, &|r| yaml_ref(r))?;
    let mut bundled = Map::new();
    for (file, text) in schemas::sources() {
        let mut schema: Value =
            serde_json::from_str(text).map_err(|source| OpenApiError::Schema { file, source })?;
        let name = component_name(file);
        if let Value::Object(members) = &mut schema {
            // Without `$id`, refs resolve against the served document rather than the file's URI.
            members.remove("$id");
            members.remove("$schema");
        }
        rewrite_refs(&mut schema, &|r| schema_ref(&name, r))?;
        bundled.insert(name, schema);
    }
    let components = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or(OpenApiError::NoComponents)?;
    for (name, schema) in bundled {
        if components.insert(name.clone(), schema).is_some() {
            return Err(OpenApiError::NameClash(name));
        }
    }
    Ok(document)
}

/// `hook-status.json` → `HookStatus`.
fn component_name(file: &str) -> String {
    file.trim_end_matches(".json")
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `<file>[#fragment]` → the bundled component, if `file` is an embedded schema.
fn file_ref(reference: &str, file_and_fragment: &str) -> Result<String, OpenApiError> {
    let (file, fragment) = file_and_fragment
        .split_once('#')
        .unwrap_or((file_and_fragment, ""));
    if !schemas::sources().any(|(embedded, _)| embedded == file) {
        return Err(OpenApiError::UnknownRef(reference.to_owned()));
    }
    Ok(format!(
        "{COMPONENT_PREFIX}{}{fragment}",
        component_name(file)
    ))
}

/// A `$ref` in the YAML: `../schemas/v1/<file>` goes to the bundle, local ones stay.
fn yaml_ref(reference: &str) -> Result<String, OpenApiError> {
    if reference.starts_with('#') {
        return Ok(reference.to_owned());
    }
    let file = reference
        .strip_prefix(SCHEMA_DIR)
        .ok_or_else(|| OpenApiError::UnknownRef(reference.to_owned()))?;
    file_ref(reference, file)
}

/// A `$ref` in schema file `name`: a sibling file, or a fragment of the file itself.
fn schema_ref(name: &str, reference: &str) -> Result<String, OpenApiError> {
    match reference.strip_prefix('#') {
        Some(fragment) => Ok(format!("{COMPONENT_PREFIX}{name}{fragment}")),
        None => file_ref(reference, reference),
    }
}

/// Replaces every string-valued `$ref` member in `value` by `rewrite` of it.
fn rewrite_refs(
    value: &mut Value,
    rewrite: &dyn Fn(&str) -> Result<String, OpenApiError>,
) -> Result<(), OpenApiError> {
    match value {
        Value::Object(members) => {
            for (key, member) in members.iter_mut() {
                match member {
                    Value::String(reference) if key == "$ref" => {
                        *reference = rewrite(reference)?;
                    }
                    _ => rewrite_refs(member, rewrite)?,
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_refs(item, rewrite)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names_are_the_file_names_in_pascal_case() {
        assert_eq!(component_name("hook-status.json"), "HookStatus");
        assert_eq!(component_name("error.json"), "Error");
    }

    #[test]
    fn refs_to_unknown_files_are_refused() {
        assert!(matches!(
            yaml_ref("../schemas/v1/no-such.json"),
            Err(OpenApiError::UnknownRef(_))
        ));
        assert!(matches!(
            yaml_ref("elsewhere/hook-id.json"),
            Err(OpenApiError::UnknownRef(_))
        ));
    }

    #[test]
    fn local_refs_of_a_schema_file_point_into_its_component() {
        assert_eq!(
            schema_ref("HookStatus", "#/$defs/noFire").ok().as_deref(),
            Some("#/components/schemas/HookStatus/$defs/noFire")
        );
        assert_eq!(
            schema_ref("HookStatus", "task-id.json").ok().as_deref(),
            Some("#/components/schemas/TaskId")
        );
    }
}
