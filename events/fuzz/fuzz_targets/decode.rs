//! Any bytes, as a ring-buffer record: decoding must return an event or an
//! error, never panic or read out of bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|record: &[u8]| {
    if let Ok(event) = cradle_events::decode::decode(record) {
        // Serialising touches every decoded field.
        let _ = serde_json::to_string(&event);
    }
});
