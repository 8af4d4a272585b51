//! A corpus indexed by a real collector (WAL + indexer) over several day partitions, kept
//! in memory too so tests can compute expected answers independently.

#![allow(dead_code)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pharos_collector::clock::{ManualClock, NANOS_PER_DAY};
use pharos_collector::config::CollectorConfig;
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::record::LogRecord;
use pharos_collector::Collector;
use pharos_query::exec::{run, QueryRequest, QueryResult};
use pharos_query::QueryError;

pub const DAY0: i64 = 20_400; // 2025-11-08
pub const HOUR: i64 = NANOS_PER_DAY / 24;
/// The manual clock's `now`: the last day, 23:00.
pub const NOW: i64 = (DAY0 + 2) * NANOS_PER_DAY + 23 * HOUR;

pub async fn open(dir: &std::path::Path) -> Collector {
    let mut cfg = CollectorConfig::default();
    cfg.storage.data_dir = dir.to_path_buf();
    cfg.index.commit_interval_ms = 20;
    cfg.index.writer_memory_mb = 32;
    cfg.index.writer_threads = 1;
    cfg.ingest.min_free_disk_bytes = 0;
    cfg.retention.days = 3650;
    Collector::open(
        cfg,
        Arc::new(ManualClock::new(NOW)),
        tokio::runtime::Handle::current(),
    )
    .expect("open")
}

/// Normalises JSON lines, appends them (in `chunks` requests) and waits until searchable.
/// Returns the records with their record ids (LSNs).
pub async fn ingest(c: &Collector, lines: &[String], chunks: usize) -> Vec<(u64, LogRecord)> {
    let records: Vec<LogRecord> = lines
        .iter()
        .map(|l| normalize_json_object(l, NOW).expect("record"))
        .collect();
    let mut out = Vec::new();
    let per = records.len().div_ceil(chunks.max(1)).max(1);
    for chunk in records.chunks(per) {
        let first = c.wal.durable_lsn() + 1;
        c.ingestor.append(chunk, "test", 0).await.expect("append");
        for (i, r) in chunk.iter().enumerate() {
            out.push((first + i as u64, r.clone()));
        }
    }
    let want = c.wal.durable_lsn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.progress().committed_lsn.load(Ordering::SeqCst) < want {
        assert!(Instant::now() < deadline, "indexing timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out
}

pub struct SearchRequest {
    pub query: String,
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub limit: usize,
}

#[derive(Debug)]
pub struct SearchResponse {
    pub total: u64,
    pub hits: Vec<serde_json::Value>,
}

/// A plain search through the query language.
pub fn search(
    store: &pharos_collector::index::LogStore,
    req: &SearchRequest,
) -> Result<SearchResponse, QueryError> {
    let r = run(
        store,
        &req.query,
        &QueryRequest {
            start_ns: req.start_ns,
            end_ns: req.end_ns,
            limit: req.limit,
            now_ns: 0,
            budget: Default::default(),
        },
    )?;
    match r.result {
        QueryResult::Hits { total, hits } => Ok(SearchResponse { total, hits }),
        QueryResult::Table { .. } => panic!("a plain search answers hits"),
    }
}
