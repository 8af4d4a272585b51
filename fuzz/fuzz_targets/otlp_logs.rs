//! An OTLP/HTTP (or gRPC) logs body → `ExportLogsServiceRequest`, decoded as protobuf and
//! as OTLP/JSON (the collector's two encodings), → `normalize::otlp_to_records` and the
//! reply (`export_response`). What normalises must rebuild to itself from what the index
//! stores (`raw`), render as OTLP/JSON, and is indexed as the collector indexes it. Errors and
//! rejections are answers; a panic, an abort or a slow input is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pharos_collector::ingest::http::export_response;
use pharos_collector::normalize::{otlp_raw_json, otlp_to_records};
use pharos_fuzz::{check_parsed, index_records, OBSERVED_NS};
use prost::Message;

fn convert(data: &[u8], req: &ExportLogsServiceRequest) {
    let parsed = otlp_to_records(req, OBSERVED_NS);
    check_parsed(&parsed);
    for r in &parsed.records {
        if let Err(e) = otlp_raw_json(&r.raw) {
            panic!("a stored OTLP record does not render as OTLP/JSON: {e}");
        }
    }
    let _ = export_response(&parsed.rejected).encode_to_vec();
    index_records(data, &parsed.records);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = ExportLogsServiceRequest::decode(data) {
        convert(data, &req);
    }
    if let Ok(req) = serde_json::from_slice::<ExportLogsServiceRequest>(data) {
        convert(data, &req);
    }
});
