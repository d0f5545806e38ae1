//! Validated identifiers. Each one is parsed once at the edge; holding one proves it is valid.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DomainError;

const MAX_ID_LEN: usize = 1000;

fn is_group_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_hook_char(c: char) -> bool {
    is_group_char(c) || c == '/'
}

fn valid_id(s: &str, allowed: fn(char) -> bool) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len()) && s.chars().all(allowed)
}

/// Declares a string newtype that can only be built through its `parse` function.
macro_rules! validated_id {
    ($(#[$doc:meta])* $name:ident, $check:expr, $err:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value`.
            ///
            /// # Errors
            /// Returns the matching [`DomainError`] when the value breaks the identifier rules.
            pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
                let value = value.into();
                if $check(&value) {
                    Ok(Self(value))
                } else {
                    Err($err(value))
                }
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_id!(
    /// A hook group: 1-1000 characters from `[a-zA-Z0-9-_]`.
    HookGroupId,
    |s: &str| valid_id(s, is_group_char),
    DomainError::InvalidHookGroupId
);

validated_id!(
    /// A hook id within its group: 1-1000 characters from `[a-zA-Z0-9-_/]`.
    HookId,
    |s: &str| valid_id(s, is_hook_char),
    DomainError::InvalidHookId
);

validated_id!(
    /// A Taskcluster task id: a v4 slugid (22 URL-safe base64 characters of a version-4 UUID).
    TaskId,
    is_slugid,
    DomainError::InvalidTaskId
);

impl TaskId {
    /// A fresh task id: a version-7 UUID (the current millisecond, then a randomly seeded
    /// counter and random bits) shaped as a version-4 UUID in slugid's "nice" form. The time first keeps the ids of a store's newest tasks side by
    /// side in its task-id index, where random ids would each rewrite a page of their own.
    pub fn generate() -> Self {
        Self::shaped(*uuid::Uuid::now_v7().as_bytes())
    }

    /// A task id that depends only on `bytes`: the same input always gives the same id, so a
    /// redelivered message or a re-fired slot submits the same task. The first 128 bits of the
    /// input's SHA-256 are shaped into a version-4 UUID in slugid's "nice" form.
    pub fn derived_from(bytes: &[u8]) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(bytes);
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&digest[..16]);
        Self::shaped(uuid)
    }

    /// The 16 bytes the id encodes.
    pub fn to_bytes(&self) -> [u8; 16] {
        use base64::Engine;
        // Room for the decoder's estimate of 22 characters; every task id was checked to be 22
        // characters of URL-safe base64 whose spare bits are zero, so it decodes to 16 bytes.
        let mut decoded = [0u8; 18];
        let _sixteen = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(self.0.as_bytes(), &mut decoded);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&decoded[..16]);
        bytes
    }

    /// `uuid` with the bits Taskcluster's task-id pattern fixes set: never a leading `-`,
    /// version 4, variant 1.
    fn shaped(mut uuid: [u8; 16]) -> Self {
        use base64::Engine;
        uuid[0] &= 0x7f;
        uuid[6] = (uuid[6] & 0x0f) | 0x40;
        uuid[8] = (uuid[8] & 0x3f) | 0x80;
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid))
    }

    /// The task id of one scheduled slot of a hook: the slot's millisecond, then bits of a
    /// hash of the hook's name and the slot, so every replica and every re-fire of the slot
    /// submits the same id, and a slot's ids sit together in the store's task-id index.
    pub fn for_slot(key: &HookKey, slot: DateTime<Utc>) -> Self {
        let mut uuid = [0u8; 16];
        uuid[..6].copy_from_slice(&slot.timestamp_millis().to_be_bytes()[2..]);
        uuid[6..].copy_from_slice(&slot_digest(key, slot)[..10]);
        Self::shaped(uuid)
    }

    /// The task id builds before time-first ids gave a slot: its hash alone. Kept to recognise
    /// a claim such a build left behind when it stopped between recording the slot's fire and
    /// releasing the claim (see `Slots::refire`); it can go once no store holds such claims.
    pub fn for_slot_by_hash(key: &HookKey, slot: DateTime<Utc>) -> Self {
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&slot_digest(key, slot)[..16]);
        Self::shaped(uuid)
    }
}

/// The SHA-256 of a hook's name and a slot time, to the millisecond.
fn slot_digest(key: &HookKey, slot: DateTime<Utc>) -> [u8; 32] {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    // The NUL separators keep ("a", "b/c") and ("a/b", "c") apart.
    hash.update(key.group.as_str().as_bytes());
    hash.update([0]);
    hash.update(key.id.as_str().as_bytes());
    hash.update([0]);
    hash.update(slot.timestamp_millis().to_be_bytes());
    hash.finalize().into()
}

/// Checks the shape Taskcluster's schemas require of a task id: 22 URL-safe base64 characters
/// that encode a version-4, variant-1 UUID.
fn is_slugid(s: &str) -> bool {
    let b = s.as_bytes();
    let url_safe = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_';
    b.len() == 22
        && b.iter().all(url_safe)
        && (b'Q'..=b'T').contains(&b[8])
        && b"CGKOSWaeimquy26-".contains(&b[10])
        && b"AQgw".contains(&b[21])
}

/// The full name of a hook: its group and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HookKey {
    /// The group the hook belongs to.
    pub group: HookGroupId,
    /// The hook's id within the group.
    pub id: HookId,
}

impl HookKey {
    /// Joins a group and an id.
    pub fn new(group: HookGroupId, id: HookId) -> Self {
        Self { group, id }
    }
}

impl fmt::Display for HookKey {
    /// `group/id`, the form used in scopes and role names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.group, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_accept_the_documented_alphabet_and_length() {
        assert!(HookGroupId::parse("project-a_B9").is_ok());
        assert!(HookGroupId::parse("x".repeat(1000)).is_ok());
        for bad in ["", "a/b", "a b", "é", "a.b"] {
            assert!(
                HookGroupId::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!(HookGroupId::parse("x".repeat(1001)).is_err());
    }

    #[test]
    fn hook_ids_also_accept_slashes() {
        assert!(HookId::parse("nightly/linux-64").is_ok());
        for bad in ["", "a%2Fb", "a?b", "a b"] {
            assert!(HookId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn generated_task_ids_are_valid_slugids() {
        for _ in 0..1000 {
            let id = TaskId::generate();
            assert!(TaskId::parse(id.as_str()).is_ok(), "{id} should parse");
            assert!(!id.as_str().starts_with('-'));
        }
    }

    /// The first 48 bits of the id, where a time-first id keeps its milliseconds.
    fn millis_of(id: &TaskId) -> i64 {
        let bytes = id.to_bytes();
        let mut millis = [0u8; 8];
        millis[2..].copy_from_slice(&bytes[..6]);
        i64::from_be_bytes(millis)
    }

    #[test]
    fn generated_task_ids_begin_with_the_millisecond_they_were_made_in() {
        let before = Utc::now().timestamp_millis();
        let ids: Vec<TaskId> = (0..1000).map(|_| TaskId::generate()).collect();
        let after = Utc::now().timestamp_millis();
        for id in &ids {
            assert!((before..=after).contains(&millis_of(id)), "{id}");
        }
        let distinct: std::collections::HashSet<&TaskId> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn a_task_id_decodes_to_the_bytes_it_encodes() {
        use base64::Engine;
        let id = TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").unwrap();
        let bytes = id.to_bytes();
        assert_eq!(uuid::Uuid::from_bytes(bytes).get_version_num(), 4);
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(encoded, id.as_str());
    }

    #[test]
    fn derived_task_ids_are_valid_stable_and_distinct() {
        let inputs: Vec<Vec<u8>> = (0..1000u32).map(|n| n.to_be_bytes().to_vec()).collect();
        let ids: std::collections::HashSet<TaskId> =
            inputs.iter().map(|b| TaskId::derived_from(b)).collect();
        assert_eq!(ids.len(), inputs.len(), "distinct inputs give distinct ids");
        for id in &ids {
            assert!(TaskId::parse(id.as_str()).is_ok(), "{id} should parse");
            assert!(!id.as_str().starts_with('-'));
        }
        assert_eq!(TaskId::derived_from(b"m-1"), TaskId::derived_from(b"m-1"));
    }

    #[test]
    fn slot_task_ids_are_valid_stable_and_distinct() {
        let key = |g: &str, h: &str| {
            HookKey::new(HookGroupId::parse(g).unwrap(), HookId::parse(h).unwrap())
        };
        let slot: DateTime<Utc> = "2026-05-01T10:00:00Z".parse().unwrap();
        let id = TaskId::for_slot(&key("g", "h"), slot);
        assert!(TaskId::parse(id.as_str()).is_ok(), "{id} should parse");
        assert_eq!(id, TaskId::for_slot(&key("g", "h"), slot));
        assert_ne!(
            id,
            TaskId::for_slot(&key("g", "h"), slot + chrono::Duration::seconds(1))
        );
        assert_ne!(
            TaskId::for_slot(&key("a", "b/c"), slot),
            TaskId::for_slot(&key("a-b", "c"), slot)
        );
        assert_eq!(millis_of(&id), slot.timestamp_millis());
        assert_eq!(
            millis_of(&TaskId::for_slot(&key("other", "hook"), slot)),
            slot.timestamp_millis(),
            "every hook's id of a slot begins with the slot's time"
        );
        for second in 0..1000 {
            let id = TaskId::for_slot(&key("g", "h"), slot + chrono::Duration::seconds(second));
            assert!(TaskId::parse(id.as_str()).is_ok(), "{id} should parse");
            assert!(!id.as_str().starts_with('-'));
        }
    }

    #[test]
    fn a_slots_task_id_by_hash_is_the_one_earlier_builds_gave_it() {
        let key = HookKey::new(
            HookGroupId::parse("g").unwrap(),
            HookId::parse("h").unwrap(),
        );
        let slot = "2026-05-01T10:15:00Z".parse().unwrap();
        // What builds before time-first ids stored as this slot's task id.
        let earlier = TaskId::for_slot_by_hash(&key, slot);
        assert_eq!(earlier.as_str(), "PjqLhrTqRaqlST4SrRMm3A");
        assert_ne!(earlier, TaskId::for_slot(&key, slot));
    }

    #[test]
    fn task_ids_reject_other_shapes() {
        for bad in [
            "",
            "short",
            "fN1SbArXTPSVFNUvaOlinQ=",
            "fN1SbArXTPSVFNUvaOlin!",
            "fN1SbArXAPSVFNUvaOlinQ",
        ] {
            assert!(TaskId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(TaskId::parse("fN1SbArXTPSVFNUvaOlinQ").is_ok());
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: Result<HookId, _> = serde_json::from_value(serde_json::json!("a/b"));
        assert!(ok.is_ok());
        let bad: Result<HookId, _> = serde_json::from_value(serde_json::json!("a b"));
        assert!(bad.is_err());
    }
}
