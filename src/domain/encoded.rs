//! A record together with its JSON text, written once when the record is made.
//!
//! A burst's fires are made ready up to a lead ahead of their slot, and at the slot only their
//! writes should be left. Turning each task and fire record into JSON text there took a fifth
//! of the scheduler thread's first second at a slot of 100,000 fires (BENCHMARKS.md, issue
//! 15's twelfth round), so a fire made ready ahead carries its text, and a store that writes
//! JSON text takes it instead of encoding at the slot.
//!
//! The value cannot change once encoded (there is no `&mut` to it), so the text always says
//! what the value says; [`Encoded::into_inner`] gives the value back and drops the text.

use std::sync::Arc;

use serde::Serialize;

/// A value and its JSON text (`serde_json`'s compact form), made together.
#[derive(Debug, Clone)]
pub struct Encoded<T> {
    value: T,
    /// `None` when the value could not be encoded: whoever writes it encodes it again and
    /// reports the failure where it writes.
    json: Option<Arc<str>>,
}

impl<T: Serialize> Encoded<T> {
    /// `value` with its JSON text.
    pub fn new(value: T) -> Self {
        let json = serde_json::to_string(&value).ok().map(Arc::from);
        Self { value, json }
    }
}

impl<T> Encoded<T> {
    /// The value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The value's JSON text, when it could be encoded.
    pub fn json(&self) -> Option<&Arc<str>> {
        self.json.as_ref()
    }

    /// The value, without its text.
    pub fn into_inner(self) -> T {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use serde::ser::Error as _;
    use serde::{Serialize, Serializer};
    use serde_json::json;

    use super::Encoded;

    #[test]
    fn the_text_is_what_serde_json_writes_of_the_value() {
        let value = json!({"taskId": "abc", "payload": {"n": 1, "s": "é\"\n"}});
        let encoded = Encoded::new(value.clone());
        assert_eq!(
            encoded.json().map(|json| json.to_string()),
            Some(serde_json::to_string(&value).unwrap())
        );
        assert_eq!(encoded.get(), &value);
        assert_eq!(encoded.into_inner(), value);
    }

    /// A value whose encoding fails, as a map with a non-text key would.
    struct Unwritable;

    impl Serialize for Unwritable {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(S::Error::custom("cannot be written"))
        }
    }

    #[test]
    fn a_value_that_cannot_be_encoded_is_kept_without_text() {
        assert!(Encoded::new(Unwritable).json().is_none());
    }
}
