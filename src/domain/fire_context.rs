//! What a fire was fired with, kept with its record (extension): the payload as the hook's
//! capture option allows, the trigger's own context keys and the template that rendered it.
//!
//! A kept context is what makes a fire readable after the fact and replayable. What is kept is
//! decided here, once, before anything is stored: the hook's [`Capture`] option (keep no payload,
//! or remove listed JSON pointers first), then the service's size bound per fire, beyond which a
//! payload or template is kept truncated (a payload) or not at all (a template), and marked so.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A hook's capture option (extension field `capture` of a hook definition): what of a fire's
/// payload is kept with its record. Without it, the whole payload is kept (up to the size bound).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capture {
    /// Whether the payload is kept at all.
    #[serde(default)]
    pub payload: CapturePayload,
    /// JSON pointers into the payload removed before it is stored (secrets in webhook bodies).
    /// An object member is removed; an array element becomes `null`, so that the pointers to
    /// its siblings still name what they named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<String>,
}

/// Whether a hook's fires keep their payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CapturePayload {
    /// Keep it, after redaction, up to the size bound.
    #[default]
    Keep,
    /// Keep none of it.
    None,
}

/// How much of a fire's payload its record kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PayloadKept {
    /// All of it, as it came.
    Whole,
    /// All of it but the hook's redacted pointers.
    Redacted,
    /// Only the start of its JSON text: it was larger than the size bound.
    Truncated,
    /// None: the hook's capture option says so.
    None,
    /// The trigger had no payload (a scheduled slot).
    Absent,
}

impl PayloadKept {
    /// Why a fire kept this way cannot be fired again from its record without a new payload;
    /// `None` when it can.
    pub fn why_not_replayable(self) -> Option<&'static str> {
        match self {
            Self::Whole | Self::Absent => None,
            Self::Redacted => Some("its payload was kept with fields redacted"),
            Self::Truncated => Some("its payload was larger than the size kept per fire"),
            Self::None => Some("its hook's capture option keeps no payloads"),
        }
    }
}

/// The trigger context a fire was fired with, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FireContext {
    /// How much of the payload was kept.
    pub payload_kept: PayloadKept,
    /// The payload as kept, when [`PayloadKept::Whole`] or [`PayloadKept::Redacted`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// The start of the payload's JSON text, when [`PayloadKept::Truncated`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated_payload: Option<String>,
    /// The size of the payload's compact JSON text as it came, before redaction.
    pub payload_bytes: usize,
    /// The pointers that were redacted (those of the hook's list the payload had).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
    /// The trigger's own context keys: `clientId` of an API caller, `exchange`, `routingKey`
    /// and `redelivered` of a message, `headers` of a webhook.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub trigger: Map<String, Value>,
    /// The task template that was rendered, when it fit the size bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
}

impl FireContext {
    /// What a record keeps of a fire with `payload` (none for a slot), the trigger's own
    /// context keys and the hook's `template`, under the hook's `capture` option, keeping at
    /// most `limit` bytes of payload JSON and of template JSON.
    pub fn keep(
        payload: Option<&Value>,
        trigger: Map<String, Value>,
        template: &Value,
        capture: Option<&Capture>,
        limit: usize,
    ) -> Self {
        let default = Capture::default();
        let capture = capture.unwrap_or(&default);
        let mut context = Self {
            payload_kept: PayloadKept::Absent,
            payload: None,
            truncated_payload: None,
            payload_bytes: 0,
            redacted: Vec::new(),
            trigger,
            template: (json_len(template) <= limit).then(|| template.clone()),
        };
        let Some(payload) = payload else {
            return context;
        };
        context.payload_bytes = json_len(payload);
        if capture.payload == CapturePayload::None {
            context.payload_kept = PayloadKept::None;
            return context;
        }
        let mut kept = payload.clone();
        context.redacted = redact(&mut kept, &capture.redact);
        let text = serde_json::to_string(&kept).unwrap_or_default();
        if text.len() > limit {
            context.payload_kept = PayloadKept::Truncated;
            context.truncated_payload = Some(prefix(&text, limit).to_owned());
        } else {
            context.payload_kept = if context.redacted.is_empty() {
                PayloadKept::Whole
            } else {
                PayloadKept::Redacted
            };
            context.payload = Some(kept);
        }
        context
    }
}

/// Removes what each of `pointers` names in `value`; answers the pointers that named something.
fn redact(value: &mut Value, pointers: &[String]) -> Vec<String> {
    let mut redacted = Vec::new();
    for pointer in pointers {
        let Some((parent, last)) = pointer.rsplit_once('/') else {
            continue;
        };
        let key = last.replace("~1", "/").replace("~0", "~");
        let removed = match value.pointer_mut(parent) {
            Some(Value::Object(members)) => members.remove(&key).is_some(),
            Some(Value::Array(items)) => {
                match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(item) => {
                        *item = Value::Null;
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if removed {
            redacted.push(pointer.clone());
        }
    }
    redacted
}

/// The size of `value`'s compact JSON text.
fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |json| json.len())
}

/// The longest start of `text` of at most `limit` bytes that ends on a character boundary.
fn prefix(text: &str, limit: usize) -> &str {
    let mut end = limit.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keep(payload: Value, capture: Option<Capture>, limit: usize) -> FireContext {
        FireContext::keep(
            Some(&payload),
            Map::new(),
            &json!({}),
            capture.as_ref(),
            limit,
        )
    }

    #[test]
    fn a_payload_within_the_bound_is_kept_whole() {
        let context = keep(json!({"a": 1}), None, 100);
        assert_eq!(context.payload_kept, PayloadKept::Whole);
        assert_eq!(context.payload, Some(json!({"a": 1})));
        assert_eq!(context.payload_bytes, 7);
    }

    #[test]
    fn a_larger_payload_is_kept_truncated_on_a_character_boundary() {
        let context = keep(json!({"a": "ééé"}), None, 9);
        assert_eq!(context.payload_kept, PayloadKept::Truncated);
        assert_eq!(context.payload, None);
        assert_eq!(context.truncated_payload.as_deref(), Some("{\"a\":\"é"));
    }

    #[test]
    fn redaction_removes_members_nulls_elements_and_lists_what_it_found() {
        let capture = Capture {
            payload: CapturePayload::Keep,
            redact: vec![
                "/secret".into(),
                "/list/1".into(),
                "/a~1b".into(),
                "/none".into(),
            ],
        };
        let context = keep(
            json!({"secret": "s", "list": [1, 2, 3], "a/b": 1, "keep": true}),
            Some(capture),
            1000,
        );
        assert_eq!(context.payload_kept, PayloadKept::Redacted);
        assert_eq!(
            context.payload,
            Some(json!({"list": [1, null, 3], "keep": true}))
        );
        assert_eq!(context.redacted, ["/secret", "/list/1", "/a~1b"]);
    }

    #[test]
    fn capture_none_keeps_no_payload_and_a_slot_has_none_to_keep() {
        let none = Capture {
            payload: CapturePayload::None,
            redact: Vec::new(),
        };
        let context = keep(json!({"a": 1}), Some(none), 1000);
        assert_eq!(context.payload_kept, PayloadKept::None);
        assert_eq!(context.payload, None);
        let slot = FireContext::keep(None, Map::new(), &json!({}), None, 1000);
        assert_eq!(slot.payload_kept, PayloadKept::Absent);
        assert_eq!(slot.payload_kept.why_not_replayable(), None);
    }

    #[test]
    fn a_template_larger_than_the_bound_is_not_kept() {
        let big = json!({"x": "0123456789"});
        let context = FireContext::keep(None, Map::new(), &big, None, 5);
        assert_eq!(context.template, None);
    }
}
