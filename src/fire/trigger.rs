//! What fired a hook, converted at the edge into one shape the fire path understands.
//!
//! Whatever differs between kinds of trigger (the template context, a reserved task id, a body
//! that did not parse, whether a caller hears about a refusal) is settled by the constructors
//! here, so [`super::fire`] never asks which kind it is firing for.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::outcome::FireError;
use uuid::Uuid;

use crate::domain::{
    iso_time, DomainError, FireContext, FireRecord, FiredBy, Hook, ReplayOf, TaskId,
};

/// One request to fire a hook: who fired it, with what payload, at what time.
#[derive(Debug, Clone)]
pub struct Trigger {
    fired_by: FiredBy,
    payload: Option<Value>,
    /// Why the input could not be read as a payload; the fire is refused.
    unreadable: Option<Arc<serde_json::Error>>,
    extra_context: Map<String, Value>,
    time: DateTime<Utc>,
    reserved_task_id: Option<TaskId>,
    /// Whether someone waits for the answer (an HTTP caller). Without one, a refusal is
    /// recorded in the hook's history instead, where its owner can find it.
    has_caller: bool,
    /// For a replay: the fire it fires again, and when its record must not take a fresh id
    /// (a replay under the same task id is recorded once), the task id it is settled under.
    replay: Option<(ReplayOf, Option<TaskId>)>,
}

impl Trigger {
    /// An authenticated `triggerHook` call by `client_id`.
    pub fn api_call(payload: Value, client_id: &str, time: DateTime<Utc>) -> Self {
        let mut extra_context = Map::new();
        extra_context.insert("clientId".into(), Value::String(client_id.into()));
        Self::with_payload(FiredBy::TriggerHook, payload, extra_context, time)
    }

    /// A `triggerHookWithToken` call.
    pub fn token_call(payload: Value, time: DateTime<Utc>) -> Self {
        Self::with_payload(FiredBy::TriggerHookWithToken, payload, Map::new(), time)
    }

    /// A message delivered on a queue bound to `exchange`, with its body parsed as JSON (a body
    /// that is not JSON is refused and recorded). `task_id` is derived from the message, so a
    /// redelivery of it submits the same task; `payload.taskId` still wins when present.
    pub fn pulse_message(
        body: Result<Value, serde_json::Error>,
        exchange: &str,
        routing_key: &str,
        redelivered: bool,
        task_id: TaskId,
        time: DateTime<Utc>,
    ) -> Self {
        let mut extra_context = Map::new();
        extra_context.insert("exchange".into(), exchange.into());
        extra_context.insert("routingKey".into(), routing_key.into());
        extra_context.insert("redelivered".into(), redelivered.into());
        let (payload, unreadable) = match body {
            Ok(payload) => (payload, None),
            Err(e) => (Value::Null, Some(Arc::new(e))),
        };
        let mut trigger = Self::with_payload(FiredBy::PulseMessage, payload, extra_context, time);
        trigger.unreadable = unreadable;
        trigger.reserved_task_id = Some(task_id);
        trigger.has_caller = false;
        trigger
    }

    /// A scheduled slot: no payload, `now` is the slot time, and the task id is the one
    /// reserved for the slot, so every re-fire of the slot submits the same task.
    pub fn schedule(slot: DateTime<Utc>, task_id: TaskId) -> Self {
        Self {
            fired_by: FiredBy::Schedule,
            payload: None,
            unreadable: None,
            extra_context: Map::new(),
            time: slot,
            reserved_task_id: Some(task_id),
            has_caller: false,
            replay: None,
        }
    }

    /// A signed webhook delivery; `headers` are the allow-listed request headers (event type,
    /// delivery id), offered to the template as `headers`.
    pub fn webhook(payload: Value, headers: Map<String, Value>, time: DateTime<Utc>) -> Self {
        let mut extra_context = Map::new();
        extra_context.insert("headers".into(), Value::Object(headers));
        Self::with_payload(FiredBy::Webhook, payload, extra_context, time)
    }

    /// A chat command by the chat user `principal` (`chat:<platform>:<user id>`), who is the
    /// fire's caller: the template sees it as `clientId`, and `chat` holds the platform's room
    /// and the alias that ran.
    pub fn chat(
        payload: Value,
        principal: &str,
        chat: Map<String, Value>,
        time: DateTime<Utc>,
    ) -> Self {
        let mut extra_context = Map::new();
        extra_context.insert("clientId".into(), Value::String(principal.into()));
        extra_context.insert("chat".into(), Value::Object(chat));
        Self::with_payload(FiredBy::Chat, payload, extra_context, time)
    }

    /// The trigger a preview (`render`) stands in for: what `fired_by` would have fired with
    /// `payload` at `time`, by `client_id` for a `triggerHook` call, under `task_id` when given.
    /// A message gets no exchange or routing key, a webhook no headers, a schedule no payload.
    pub fn preview(
        fired_by: FiredBy,
        payload: Value,
        client_id: &str,
        time: DateTime<Utc>,
        task_id: Option<TaskId>,
    ) -> Self {
        let mut trigger = match fired_by {
            FiredBy::TriggerHook => Self::api_call(payload, client_id, time),
            FiredBy::TriggerHookWithToken => Self::token_call(payload, time),
            FiredBy::Webhook => Self::webhook(payload, Map::new(), time),
            FiredBy::Chat => Self::chat(payload, client_id, Map::new(), time),
            FiredBy::PulseMessage => {
                Self::pulse_message(Ok(payload), "", "", false, TaskId::generate(), time)
            }
            FiredBy::Schedule => Self::schedule(time, TaskId::generate()),
        };
        if task_id.is_some() {
            trigger.reserved_task_id = task_id;
        }
        trigger
    }

    /// A replay of a recorded fire, asked for by a caller (`of.client_id`): what fired it
    /// (`fired_by`, the trigger's own context keys `trigger_keys`) with `payload` at `time`,
    /// under `task_id` when it must be the recorded fire's, recorded under the settled id of
    /// `settles_as` when given.
    pub fn replay(
        fired_by: FiredBy,
        payload: Option<Value>,
        trigger_keys: Map<String, Value>,
        time: DateTime<Utc>,
        task_id: Option<TaskId>,
        (of, settles_as): (ReplayOf, Option<TaskId>),
    ) -> Self {
        Self {
            fired_by,
            payload,
            unreadable: None,
            extra_context: trigger_keys,
            time,
            reserved_task_id: task_id,
            has_caller: true,
            replay: Some((of, settles_as)),
        }
    }

    fn with_payload(
        fired_by: FiredBy,
        payload: Value,
        extra_context: Map<String, Value>,
        time: DateTime<Utc>,
    ) -> Self {
        Self {
            fired_by,
            payload: Some(payload),
            unreadable: None,
            extra_context,
            time,
            reserved_task_id: None,
            has_caller: true,
            replay: None,
        }
    }

    /// What fired the hook.
    pub fn fired_by(&self) -> FiredBy {
        self.fired_by
    }

    /// The payload to validate, if this kind of trigger has one.
    pub fn payload(&self) -> Option<&Value> {
        self.payload.as_ref()
    }

    /// Checks that the input was read as a payload at all.
    ///
    /// # Errors
    /// [`FireError::NotJson`] for a message body that is not JSON.
    pub(super) fn check_readable(&self) -> Result<(), FireError> {
        match &self.unreadable {
            Some(e) => Err(FireError::NotJson(Arc::clone(e))),
            None => Ok(()),
        }
    }

    /// Whether a caller hears about this fire's refusal in an answer.
    pub(super) fn has_caller(&self) -> bool {
        self.has_caller
    }

    /// The time of the fire: `now` in the template and the fire record's time.
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// The task id for this fire: `payload.taskId` when given, else the id reserved for this
    /// trigger (a scheduled slot's), else a fresh one.
    ///
    /// # Errors
    /// [`DomainError::InvalidTaskId`] when `payload.taskId` is present but not a slugid.
    pub fn task_id(&self) -> Result<TaskId, DomainError> {
        Ok(self
            .payload_task_id()?
            .unwrap_or_else(|| self.fallback_task_id()))
    }

    /// Checks `payload.taskId`, when given, without choosing a task id.
    ///
    /// # Errors
    /// [`DomainError::InvalidTaskId`] when it is not a slugid.
    pub(super) fn check_task_id(&self) -> Result<(), DomainError> {
        self.payload_task_id().map(drop)
    }

    fn payload_task_id(&self) -> Result<Option<TaskId>, DomainError> {
        match self.payload.as_ref().and_then(|p| p.get("taskId")) {
            Some(Value::String(id)) => TaskId::parse(id.as_str()).map(Some),
            Some(other) => Err(DomainError::InvalidTaskId(other.to_string())),
            None => Ok(None),
        }
    }

    /// The task id a fire goes by in its record: [`Trigger::task_id`], or when `payload.taskId`
    /// is refused, the reserved id or a fresh one.
    pub(super) fn recorded_task_id(&self) -> TaskId {
        self.task_id().unwrap_or_else(|_| self.fallback_task_id())
    }

    /// The fire id under which this trigger's final fire is recorded, when the trigger is one
    /// that may be fired again (a slot, a message, a replay recorded once): derived from the
    /// task id reserved for it, which names the slot or message even when `payload.taskId`
    /// picks the task's id.
    pub fn settled_fire_id(&self) -> Option<Uuid> {
        self.settles_as().map(FireRecord::settled_id)
    }

    /// The fire id builds before time-first task ids recorded that final fire under.
    pub fn earlier_settled_fire_id(&self) -> Option<Uuid> {
        self.settles_as().map(FireRecord::settled_id_by_hash)
    }

    /// The task id its final fire's id derives from: the one reserved for the slot or
    /// message, or the one a replay recorded once is settled under.
    fn settles_as(&self) -> Option<&TaskId> {
        match &self.replay {
            Some((_, settles_as)) => settles_as.as_ref(),
            None => self.reserved_task_id.as_ref(),
        }
    }

    /// What the record of a fire of `hook` keeps of this trigger, at most `limit` bytes of
    /// payload and of template, and which fire it replays.
    pub(super) fn annotate(&self, fire: &mut FireRecord, hook: &Hook, limit: usize) {
        fire.context = Some(FireContext::keep(
            self.payload.as_ref(),
            self.extra_context.clone(),
            hook.task.as_json(),
            hook.capture.as_ref(),
            limit,
        ));
        fire.replay = self.replay.as_ref().map(|(of, _)| of.clone());
    }

    fn fallback_task_id(&self) -> TaskId {
        self.reserved_task_id
            .clone()
            .unwrap_or_else(TaskId::generate)
    }

    /// The JSON-e context: `firedBy`, `taskId`, `now`, the payload and any trigger-specific keys.
    pub fn context(&self, task_id: &TaskId) -> Value {
        let mut context = self.extra_context.clone();
        context.insert("firedBy".into(), self.fired_by.as_str().into());
        context.insert("taskId".into(), task_id.as_str().into());
        context.insert("now".into(), iso_time(self.time).into());
        if let Some(payload) = &self.payload {
            context.insert("payload".into(), payload.clone());
        }
        Value::Object(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn time() -> DateTime<Utc> {
        "2026-01-02T03:04:05.678Z".parse().unwrap()
    }

    #[test]
    fn api_calls_carry_payload_client_and_time_in_the_context() {
        let trigger = Trigger::api_call(json!({"a": 1}), "ci", time());
        let id = TaskId::generate();
        assert_eq!(
            trigger.context(&id),
            json!({
                "firedBy": "triggerHook",
                "taskId": id.as_str(),
                "now": "2026-01-02T03:04:05.678Z",
                "payload": {"a": 1},
                "clientId": "ci",
            })
        );
    }

    #[test]
    fn chat_commands_carry_the_chat_principal_as_client_id() {
        let mut chat = Map::new();
        chat.insert("room".into(), "!ops:example.org".into());
        let trigger = Trigger::chat(json!({}), "chat:matrix:@a:example.org", chat, time());
        let context = trigger.context(&TaskId::generate());
        assert_eq!(context["firedBy"], "chat");
        assert_eq!(context["clientId"], "chat:matrix:@a:example.org");
        assert_eq!(context["chat"]["room"], "!ops:example.org");
    }

    #[test]
    fn token_calls_have_no_client_id() {
        let context = Trigger::token_call(json!({}), time()).context(&TaskId::generate());
        assert_eq!(context["firedBy"], "triggerHookWithToken");
        assert!(context.get("clientId").is_none());
    }

    #[test]
    fn payload_task_id_is_used_when_valid_and_rejected_otherwise() {
        let given = "fN1SbArXTPSVFNUvaOlinQ";
        let ok = Trigger::token_call(json!({ "taskId": given }), time());
        assert_eq!(ok.task_id().unwrap().as_str(), given);
        for bad in [json!("nope"), json!(42), json!(null)] {
            let trigger = Trigger::token_call(json!({ "taskId": bad }), time());
            assert!(
                trigger.task_id().is_err(),
                "taskId {bad} should be rejected"
            );
        }
    }

    #[test]
    fn pulse_messages_carry_exchange_routing_key_and_redelivery_and_reuse_their_task_id() {
        let id = TaskId::derived_from(b"message");
        let trigger = Trigger::pulse_message(
            Ok(json!({"n": 1})),
            "exchange/x",
            "a.b",
            true,
            id.clone(),
            time(),
        );
        assert_eq!(trigger.task_id().unwrap(), id);
        assert_eq!(trigger.task_id().unwrap(), id, "the same id every time");
        let context = trigger.context(&id);
        assert_eq!(context["firedBy"], "pulseMessage");
        assert_eq!(context["payload"], json!({"n": 1}));
        assert_eq!(context["exchange"], "exchange/x");
        assert_eq!(context["routingKey"], "a.b");
        assert_eq!(context["redelivered"], true);
    }

    #[test]
    fn a_message_body_that_is_not_json_is_refused_under_the_message_s_task_id() {
        let id = TaskId::derived_from(b"message");
        let body = serde_json::from_slice::<Value>(b"{not json");
        let trigger = Trigger::pulse_message(body, "exchange/x", "a.b", false, id.clone(), time());
        assert!(matches!(
            trigger.check_readable(),
            Err(FireError::NotJson(_))
        ));
        assert_eq!(trigger.recorded_task_id(), id);
        assert!(!trigger.has_caller(), "nobody waits for a message's answer");
    }

    #[test]
    fn schedule_fires_use_the_slot_time_and_reserved_task_id_without_payload() {
        let id = TaskId::generate();
        let trigger = Trigger::schedule(time(), id.clone());
        assert!(trigger.payload().is_none());
        assert_eq!(trigger.task_id().unwrap(), id);
        assert_eq!(
            trigger.context(&id),
            json!({
                "firedBy": "schedule",
                "taskId": id.as_str(),
                "now": "2026-01-02T03:04:05.678Z",
            })
        );
    }

    #[test]
    fn without_payload_task_id_a_fresh_id_is_chosen_each_time() {
        let trigger = Trigger::token_call(json!({}), time());
        assert_ne!(trigger.task_id().unwrap(), trigger.task_id().unwrap());
    }
}
