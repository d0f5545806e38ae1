//! JSON-e rendering of a random template with a random context (input: two JSON documents
//! separated by a NUL byte) must never panic. Slow or huge renders show up as libFuzzer
//! timeouts and out-of-memory reports, which is what the service's render limits are for.
#![no_main]

use chrono::DateTime;
use hookd::domain::TaskId;
use hookd::fire::render;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == 0);
    let (Some(template), Some(context)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(template), Ok(context)) = (
        serde_json::from_slice::<Value>(template),
        serde_json::from_slice::<Value>(context),
    ) else {
        return;
    };
    if !context.is_object() {
        return;
    }
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    if let Ok(task_id) = TaskId::parse("fN1SbArXTPSVFNUvaOlinQ") {
        let _ = render::task(&template, &context, &task_id, now);
    }
});
