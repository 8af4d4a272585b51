//! Building blocks of `pharos-loadgen`: the raw-tantivy baseline, the HTTP
//! ingest driver (with its fixed-rate pacer), and the orchestration of full
//! benchmark runs.

pub mod alert_bench;
pub mod baseline;
pub mod bench;
pub mod ingest;
pub mod markers;
pub mod metrics_bench;
pub mod pace;
pub mod proc;
pub mod query_bench;
pub mod stats;
pub mod target;
