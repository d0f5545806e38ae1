//! Cron patterns: parsing and asking for the next fire time must never panic.
#![no_main]

use chrono::DateTime;
use hookd::domain::Schedule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let entries: Vec<&str> = text.split('\n').collect();
    if let Ok(schedule) = Schedule::parse(&entries) {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let _ = schedule.next_after(start);
    }
});
