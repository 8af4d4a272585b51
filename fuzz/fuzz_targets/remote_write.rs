//! A Prometheus remote-write body → `remote_write::decode` (snappy block format, then
//! `prometheus.WriteRequest`) and, when it decodes, `remote_write::to_batch`. The input is
//! tried as sent (the snappy path) and snappy-compressed first (so that mutations reach the
//! protobuf decoding and the conversion). Errors and rejections are answers; a panic, an
//! abort or a slow input is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pharos_collector::ingest::metrics::remote_write::{self, MetadataCache, WriteRequest};

/// The decompressed-size limit (the server's is `ingest.max_body_bytes`).
const LIMIT: usize = 1 << 20;

fn convert(req: &WriteRequest) {
    let cache = MetadataCache::default();
    let out = remote_write::to_batch(req, &cache);
    for s in &out.batch.series {
        // Samples in time order, whatever order they were sent in.
        assert!(s.samples.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
    }
    // A second request with the metadata now remembered.
    let _ = remote_write::to_batch(req, &cache);
    let _ = remote_write::encode(req);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = remote_write::decode(data, LIMIT) {
        convert(&req);
    }
    if let Ok(body) = snap::raw::Encoder::new().compress_vec(data) {
        match remote_write::decode(&body, LIMIT) {
            Ok(req) => convert(&req),
            Err(remote_write::DecodeError::Snappy(e)) => {
                panic!("snappy refused what snappy compressed: {e}")
            }
            Err(_) => {}
        }
    }
});
