//! The part of an `Authorization: Hawk …` header that hookd parses before any key is looked
//! up (attributes, base64 `ext`, certificate JSON) must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data) {
        let _ = hookd::api::auth::hawk::parse(header);
    }
});
