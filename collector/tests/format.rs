//! A data dir written by a Pharos with another on-disk format is refused clearly, before
//! anything in it is touched.

use std::sync::Arc;

use pharos_collector::clock::SystemClock;
use pharos_collector::Collector;

mod common;
use common::test_config;

fn open(dir: &std::path::Path) -> Result<Collector, String> {
    let cfg = test_config(dir);
    Collector::open(
        cfg,
        Arc::new(SystemClock),
        tokio::runtime::Handle::current(),
    )
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_wal_format_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("wal")).expect("mkdir");
    std::fs::write(dir.path().join("wal/FORMAT"), "7\n").expect("write");
    let segment = dir.path().join("wal/00000000000000000001.wal");
    std::fs::write(&segment, b"frames of a future format").expect("write");
    let err = open(dir.path()).err().expect("must refuse");
    assert!(
        err.contains("WAL format 7") && err.contains("writes format 1"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&segment).expect("read"),
        b"frames of a future format",
        "nothing truncated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_index_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("index")).expect("mkdir");
    std::fs::write(dir.path().join("index/FORMAT"), "9\n").expect("write");
    let err = open(dir.path()).err().expect("must refuse");
    assert!(err.contains("index format 9"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_dir_records_both_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = open(dir.path()).expect("open");
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("wal/FORMAT"))
            .expect("wal format")
            .trim(),
        "1"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("index/FORMAT"))
            .expect("index format")
            .trim(),
        pharos_collector::index::INDEX_FORMAT_VERSION.to_string()
    );
    // And a second start accepts what the first wrote.
    let c = open(dir.path()).expect("reopen");
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}
