//! A `POST /api/v1/logs` body → `normalize::parse_json_body` (NDJSON, or a JSON array when it
//! starts with `[`), and the text as one object → `normalize_json_object`. What normalises
//! must rebuild to itself from what the index stores, and is indexed as the collector
//! indexes it. Errors and rejections are answers; a panic, an abort or a slow input is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pharos_collector::normalize::{normalize_json_object, parse_json_body, JsonLimits};
use pharos_fuzz::{check_parsed, index_records, OBSERVED_NS};

fuzz_target!(|data: &[u8]| {
    // A small line limit, so that short inputs reach the over-the-limit path too.
    let limits = JsonLimits {
        max_line_bytes: 2048,
    };
    if let Ok(parsed) = parse_json_body(data, OBSERVED_NS, &limits) {
        check_parsed(&parsed);
        index_records(data, &parsed.records);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = normalize_json_object(text, OBSERVED_NS);
    }
});
