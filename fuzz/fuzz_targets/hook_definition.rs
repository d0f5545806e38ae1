//! A createHook body: schema validation, then the parses createHook makes of its schedule and
//! its trigger schema (compiled as a JSON Schema), must never panic.
#![no_main]

use std::sync::OnceLock;

use hookd::domain::{Schedule, TriggerSchema};
use hookd::api::schemas::{SchemaId, SchemaSet};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn schemas() -> &'static SchemaSet {
    static SET: OnceLock<SchemaSet> = OnceLock::new();
    SET.get_or_init(|| SchemaSet::load().expect("the embedded schemas load"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if schemas().validate(SchemaId::CreateHookRequest, &body).is_ok() {
        let entries: Vec<&str> = body["schedule"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = Schedule::parse(&entries);
        if let Some(trigger_schema) = body.get("triggerSchema") {
            let _ = TriggerSchema::parse(trigger_schema.clone());
        }
    }
});
