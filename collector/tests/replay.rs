//! WAL replay indexes each record exactly once, even when the partition length changed
//! between the crash and the restart.

use std::sync::Arc;

use pharos_collector::clock::{ManualClock, NANOS_PER_DAY};
use pharos_collector::config::CollectorConfig;
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::Collector;

mod common;
use common::{test_config, wait_indexed};

const DAY0: i64 = 20_500;

fn config(dir: &std::path::Path, partition_hours: u32) -> CollectorConfig {
    let mut c = test_config(dir);
    c.index.partition_hours = partition_hours;
    c
}

fn total_docs(c: &Collector) -> u64 {
    c.store
        .all()
        .iter()
        .map(|p| p.reader.searcher().num_docs())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_after_a_lost_checkpoint_skips_committed_records_under_a_new_partition_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(DAY0 * NANOS_PER_DAY + 23 * NANOS_PER_DAY / 24);
    let c = Collector::open(
        config(dir.path(), 24),
        Arc::new(clock.clone()),
        tokio::runtime::Handle::current(),
    )
    .expect("open");
    let records: Vec<_> = (0..40)
        .map(|i| {
            let ts = DAY0 * NANOS_PER_DAY + i * NANOS_PER_DAY / 48;
            normalize_json_object(&format!(r#"{{"ts":{ts},"msg":"r{i}"}}"#), ts).expect("record")
        })
        .collect();
    c.ingestor
        .append(&records[..25], "test", 0)
        .await
        .expect("append");
    wait_indexed(&c);
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");

    // As if the process died after the index commit but before the checkpoint was written,
    // and the operator changed the partition length before restarting.
    std::fs::write(dir.path().join("index/checkpoint"), "0\n").expect("rewind checkpoint");
    let c = Collector::open(
        config(dir.path(), 6),
        Arc::new(clock.clone()),
        tokio::runtime::Handle::current(),
    )
    .expect("reopen");
    wait_indexed(&c);
    assert_eq!(
        total_docs(&c),
        25,
        "replayed records must not be indexed a second time"
    );
    assert_eq!(
        c.store.all().len(),
        1,
        "nothing was re-routed into 6-hour partitions"
    );

    // New records go to 6-hour partitions, and everything is counted once.
    c.ingestor
        .append(&records[25..], "test", 0)
        .await
        .expect("append");
    wait_indexed(&c);
    assert_eq!(total_docs(&c), 40);
    assert!(c.store.all().len() > 1);
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}
