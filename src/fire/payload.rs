//! Checking trigger payloads against each hook's `triggerSchema`.
//!
//! Compiling a JSON Schema costs far more than applying it, so compiled validators are cached
//! per hook and reused until the hook's stored version changes.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use jsonschema::Validator;
use serde_json::Value;

use crate::domain::{HookKey, HookRecord};

/// Why a payload or a trigger schema was refused.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The payload breaks the hook's `triggerSchema`; the message lists every violation.
    #[error("the payload does not match the hook's triggerSchema: {0}")]
    Invalid(String),
    /// The hook's `triggerSchema` is not a usable JSON Schema.
    #[error("triggerSchema is not a valid JSON Schema: {0}")]
    BadSchema(String),
}

/// Past this many cached validators the cache starts over; a service with more hooks than
/// this that are all triggered constantly pays one compile per hook per refill.
const CACHE_LIMIT: usize = 10_000;

/// Compiled `triggerSchema` validators, keyed by hook and version.
#[derive(Default)]
pub struct TriggerSchemas {
    cache: RwLock<HashMap<HookKey, (u64, Arc<Validator>)>>,
}

impl TriggerSchemas {
    /// Checks `payload` against the hook's trigger schema.
    ///
    /// # Errors
    /// [`PayloadError::Invalid`] listing every violation, or [`PayloadError::BadSchema`].
    pub fn check(&self, record: &HookRecord, payload: &Value) -> Result<(), PayloadError> {
        let validator = self.validator(record)?;
        let violations: Vec<String> = validator
            .iter_errors(payload)
            .map(|e| describe(&e.instance_path.to_string(), &e.to_string()))
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(PayloadError::Invalid(violations.join("; ")))
        }
    }

    fn validator(&self, record: &HookRecord) -> Result<Arc<Validator>, PayloadError> {
        let key = record.hook.key();
        let cached = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        if let Some((version, validator)) = cached.get(&key) {
            if *version == record.version {
                return Ok(Arc::clone(validator));
            }
        }
        drop(cached);
        let validator = Arc::new(compile(&record.hook.trigger_schema)?);
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, (record.version, Arc::clone(&validator)));
        Ok(validator)
    }
}

/// Checks that `schema` is a JSON Schema that can validate payloads; used when a hook is written.
///
/// # Errors
/// [`PayloadError::BadSchema`] naming what is wrong.
pub fn check_schema(schema: &Value) -> Result<(), PayloadError> {
    compile(schema).map(drop)
}

fn compile(schema: &Value) -> Result<Validator, PayloadError> {
    // Meta-validation first: the compiler alone accepts some malformed keywords silently.
    jsonschema::meta::validate(schema).map_err(|e| {
        PayloadError::BadSchema(describe(&e.instance_path.to_string(), &e.to_string()))
    })?;
    jsonschema::validator_for(schema).map_err(|e| PayloadError::BadSchema(e.to_string()))
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
        assert!(check_schema(&json!({"type": "object"})).is_ok());
        let err = check_schema(&json!({"type": "no-such-type"})).unwrap_err();
        assert!(matches!(err, PayloadError::BadSchema(_)), "{err}");
        assert!(check_schema(&json!({"minLength": -1})).is_err());
    }
}
