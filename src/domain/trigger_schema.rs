//! A hook's `triggerSchema`: the JSON Schema trigger payloads must satisfy, compiled once.
//!
//! A [`TriggerSchema`] can only be made by compiling, so a hook that holds one is known to have
//! a usable schema and checking a payload never compiles. It keeps the schema as given, which
//! is what it serializes back to and what two schemas are compared by.
//!
//! Hooks enter from the store on every read (a fire reads its hook), so compiled validators are
//! shared by schema text (see `memo`): a read of a schema compiled before costs a lookup, not a
//! compile, and the many hooks with the same (usually the default) schema hold one validator.

use std::sync::Arc;

use jsonschema::Validator;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::memo::Memo;

/// Compiled validators by schema text. One per process: compiling is a pure function of the
/// text, so every store, registry and test may share the results. Past 10,000 distinct schemas
/// it starts over.
static COMPILED: Memo<String, Validator> = Memo::new(10_000);

/// A `triggerSchema` that is not a usable JSON Schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("triggerSchema is not a valid JSON Schema: {0}")]
pub struct TriggerSchemaError(String);

/// A trigger payload that breaks the hook's `triggerSchema`; the message lists every violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payload does not match the hook's triggerSchema: {}", .0.join("; "))]
pub struct PayloadError(Vec<String>);

impl PayloadError {
    /// Every violation, each as `<JSON pointer>: <problem>`, in the order they were found.
    pub fn violations(&self) -> &[String] {
        &self.0
    }
}

/// A compiled `triggerSchema`.
#[derive(Clone, Deserialize)]
#[serde(try_from = "Value")]
pub struct TriggerSchema {
    /// The schema as given, for serializing back exactly.
    written: Value,
    validator: Arc<Validator>,
}

impl TryFrom<Value> for TriggerSchema {
    type Error = TriggerSchemaError;

    /// Checks and compiles `schema`; serde goes through here too, so a stored hook is
    /// checked on load.
    fn try_from(schema: Value) -> Result<Self, TriggerSchemaError> {
        let text = schema.to_string();
        let validator =
            COMPILED.get_or_parse(text.as_str(), || text.clone(), || compile(&schema))?;
        Ok(Self {
            written: schema,
            validator,
        })
    }
}

impl TriggerSchema {
    /// Checks and compiles `schema`.
    ///
    /// # Errors
    /// [`TriggerSchemaError`] naming what is wrong.
    pub fn parse(schema: Value) -> Result<Self, TriggerSchemaError> {
        Self::try_from(schema)
    }

    /// The schema as given.
    pub fn as_json(&self) -> &Value {
        &self.written
    }

    /// Checks `payload` against the schema.
    ///
    /// # Errors
    /// [`PayloadError`] listing every violation.
    pub fn validate(&self, payload: &Value) -> Result<(), PayloadError> {
        let violations: Vec<String> = (self.validator.iter_errors(payload))
            .map(|e| describe(&e.instance_path.to_string(), &e.to_string()))
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(PayloadError(violations))
        }
    }
}

impl Serialize for TriggerSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.written.serialize(serializer)
    }
}

impl PartialEq for TriggerSchema {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

impl std::fmt::Debug for TriggerSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.written.fmt(f)
    }
}

fn compile(schema: &Value) -> Result<Validator, TriggerSchemaError> {
    // Meta-validation first: the compiler alone accepts some malformed keywords silently.
    jsonschema::meta::validate(schema)
        .map_err(|e| TriggerSchemaError(describe(&e.instance_path.to_string(), &e.to_string())))?;
    jsonschema::validator_for(schema).map_err(|e| TriggerSchemaError(e.to_string()))
}

/// One violation: where in the document, and what is wrong.
fn describe(location: &str, message: &str) -> String {
    if location.is_empty() {
        message.to_owned()
    } else {
        format!("{location}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_schemas_are_named() {
        assert!(TriggerSchema::parse(json!({"type": "object"})).is_ok());
        let err = TriggerSchema::parse(json!({"type": "no-such-type"})).unwrap_err();
        assert!(err.to_string().contains("triggerSchema"), "{err}");
        assert!(TriggerSchema::parse(json!({"minLength": -1})).is_err());
    }

    #[test]
    fn a_schema_serializes_back_as_given_and_checks_payloads() {
        let given = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        let schema: TriggerSchema = serde_json::from_value(given.clone()).unwrap();
        assert_eq!(serde_json::to_value(&schema).unwrap(), given);
        assert!(schema.validate(&json!({"n": 1})).is_ok());
        let err = schema.validate(&json!({"n": "one"})).unwrap_err();
        assert!(err.to_string().contains("/n"), "{err}");
    }

    #[test]
    fn hooks_with_the_same_schema_share_one_compiled_validator() {
        let schema = json!({"type": "object", "title": "written by two hooks"});
        let a = TriggerSchema::parse(schema.clone()).unwrap();
        let b: TriggerSchema = serde_json::from_value(schema).unwrap();
        assert!(Arc::ptr_eq(&a.validator, &b.validator));
    }

    #[test]
    fn a_stored_schema_that_does_not_compile_does_not_deserialize() {
        let err = serde_json::from_value::<TriggerSchema>(json!({"type": 5})).unwrap_err();
        assert!(err.to_string().contains("triggerSchema"), "{err}");
    }
}
