//! Helpers shared by the collector's integration tests.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pharos_collector::config::CollectorConfig;
use pharos_collector::Collector;

/// A small, fast collector on `dir`: commits every 20 ms, one 32 MiB writer thread, no disk
/// guard, retention only when a test triggers it.
pub fn test_config(dir: &Path) -> CollectorConfig {
    let mut c = CollectorConfig::default();
    c.storage.data_dir = dir.to_path_buf();
    c.index.commit_interval_ms = 20;
    c.index.writer_memory_mb = 32;
    c.index.writer_threads = 1;
    c.ingest.min_free_disk_bytes = 0;
    c.retention.check_interval_secs = 3600;
    c
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until everything durable in the WAL is committed to the index.
pub fn wait_indexed(c: &Collector) {
    let want = c.wal.durable_lsn();
    wait_until("everything committed", || {
        c.progress().committed_lsn.load(Ordering::SeqCst) >= want
    });
}
