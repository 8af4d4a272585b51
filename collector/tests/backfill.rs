//! A backfill that mixes many past days in each request: every record is indexed once, into
//! its day, without one open writer (memory arena and thread) per day.

use std::sync::Arc;

use pharos_collector::clock::{ManualClock, NANOS_PER_DAY};
use pharos_collector::index::PartitionId;
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::Collector;

mod common;
use common::{test_config, wait_indexed};

const TODAY: i64 = 20_600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_days_are_indexed_once_with_few_open_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = test_config(dir.path());
    let clock = ManualClock::new(TODAY * NANOS_PER_DAY + NANOS_PER_DAY / 2);
    let c = Collector::open(cfg, Arc::new(clock), tokio::runtime::Handle::current()).expect("open");
    // 12 past days, round robin: every consecutive record is in another day.
    for chunk in 0..4 {
        let records: Vec<_> = (0..1200)
            .map(|i| {
                let day = TODAY - 1 - (i % 12);
                let ts = day * NANOS_PER_DAY + (chunk * 1200 + i);
                normalize_json_object(&format!(r#"{{"ts":{ts},"msg":"backfill {i}"}}"#), ts)
                    .expect("record")
            })
            .collect();
        c.ingestor
            .append(&records, "test", 0)
            .await
            .expect("append");
    }
    wait_indexed(&c);
    for back in 1..=12 {
        let p = c
            .store
            .get(PartitionId::day(TODAY - back))
            .expect("partition");
        assert_eq!(p.reader.searcher().num_docs(), 400, "day -{back}");
    }
    let open = c.metrics.index_open_writers.get();
    assert!(
        (1..=4).contains(&open),
        "{open} writers open; at most 4 for past days"
    );
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}
