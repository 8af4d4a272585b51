//! Retention through the real collector (WAL, indexer, partitions) with an injected clock:
//! by days, by `keep_errors_days`, and by `max_disk_bytes`, at exact times.

use std::sync::Arc;

use pharos_collector::clock::{ManualClock, NANOS_PER_DAY};
use pharos_collector::config::CollectorConfig;
use pharos_collector::index::PartitionId;
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::record::LogRecord;
use pharos_collector::Collector;

mod common;
use common::{test_config, wait_indexed, wait_until};

const HOUR: i64 = NANOS_PER_DAY / 24;
/// Day numbers in the tests are offsets from 2024-10-04 (day 20,000 since the epoch), so
/// timestamps look like real ones (epoch-number units are told apart by magnitude).
const BASE: i64 = 20_000;

fn config(
    dir: &std::path::Path,
    days: u32,
    keep_errors_days: u32,
    max_disk_bytes: u64,
) -> CollectorConfig {
    let mut c = test_config(dir);
    c.retention.days = days;
    c.retention.keep_errors_days = keep_errors_days;
    c.retention.max_disk_bytes = max_disk_bytes;
    c
}

fn records(day: i64, level: &str, n: usize) -> Vec<LogRecord> {
    (0..n)
        .map(|i| {
            let ts = (BASE + day) * NANOS_PER_DAY + HOUR + i as i64;
            let raw = format!(r#"{{"ts":{ts},"level":"{level}","service":"svc","msg":"record {i} of day {day} padding padding padding padding"}}"#);
            normalize_json_object(&raw, ts).expect("valid record")
        })
        .collect()
}

fn docs(c: &Collector, day: i64) -> Option<u64> {
    c.store
        .get(PartitionId::day(BASE + day))
        .map(|p| p.reader.searcher().num_docs())
}

async fn ingest(c: &Collector, recs: Vec<LogRecord>) {
    c.ingestor.append(&recs, "test", 0).await.expect("append");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_days_strips_below_error_then_drops_after_keep_errors_days() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new((BASE + 95) * NANOS_PER_DAY + 12 * HOUR);
    let c = Collector::open(
        config(dir.path(), 2, 5, 0),
        Arc::new(clock.clone()),
        tokio::runtime::Handle::current(),
    )
    .expect("open");
    for day in 95..=97 {
        ingest(&c, records(day, "info", 3)).await;
        ingest(&c, records(day, "debug", 1)).await;
        ingest(&c, records(day, "error", 2)).await;
    }
    wait_indexed(&c);
    assert_eq!(
        (docs(&c, 95), docs(&c, 96), docs(&c, 97)),
        (Some(6), Some(6), Some(6))
    );

    // One nanosecond before day 96 is 2 full days old, nothing changes.
    clock.set((BASE + 99) * NANOS_PER_DAY - 1);
    c.trigger_retention();
    wait_until("day 95 stripped", || docs(&c, 95) == Some(2));
    assert_eq!(docs(&c, 96), Some(6), "day 96 is not yet 2 days old");

    // At day 99 00:00, day 96 has just become 2 days old: days 95 and 96 keep only errors.
    clock.set((BASE + 99) * NANOS_PER_DAY);
    c.trigger_retention();
    wait_until("days 95 and 96 stripped", || {
        docs(&c, 95) == Some(2) && docs(&c, 96) == Some(2)
    });
    assert_eq!(docs(&c, 97), Some(6));

    // Day 95 ends at day 96; 5 days later it goes entirely; day 97 loses its non-errors.
    clock.set((BASE + 101) * NANOS_PER_DAY);
    c.trigger_retention();
    wait_until("day 95 dropped", || {
        docs(&c, 95).is_none() && docs(&c, 97) == Some(2)
    });
    assert_eq!(docs(&c, 96), Some(2));
    assert!(!dir.path().join("index/2024-10-04").exists());
    assert!(
        !dir.path()
            .join(format!("index/{}", PartitionId::day(BASE + 95).dir_name()))
            .exists(),
        "day 95's files are gone"
    );

    // Records that arrive already past retention are not indexed (WAL replay after an outage).
    ingest(&c, records(90, "info", 1)).await;
    ingest(&c, records(90, "error", 1)).await;
    ingest(&c, records(97, "warn", 1)).await; // day 97 keeps only errors by now
    ingest(&c, records(97, "fatal", 1)).await;
    wait_indexed(&c);
    assert_eq!(docs(&c, 90), None);
    assert_eq!(docs(&c, 97), Some(3));
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_cap_strips_oldest_first_and_a_debug_flood_keeps_older_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new((BASE + 198) * NANOS_PER_DAY + 12 * HOUR);
    let mut cfg = config(dir.path(), 30, 90, 0);
    let c = Collector::open(
        cfg.clone(),
        Arc::new(clock.clone()),
        tokio::runtime::Handle::current(),
    )
    .expect("open");
    for day in [198, 199, 200] {
        ingest(&c, records(day, "debug", 3000)).await;
        if day < 200 {
            ingest(&c, records(day, "error", 5)).await;
        }
    }
    wait_indexed(&c);
    let bytes = |day| {
        c.store
            .get(PartitionId::day(BASE + day))
            .map(|p| p.disk_bytes())
            .unwrap_or(0)
    };
    let (b198, b199, b200) = (bytes(198), bytes(199), bytes(200));
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");

    // Cap between "today alone" and "everything": the older days lose their DEBUG records
    // (oldest first), and that is enough.
    clock.set((BASE + 200) * NANOS_PER_DAY + 12 * HOUR);
    cfg.retention.max_disk_bytes = b200 + (b198 + b199) / 4;
    let c = Collector::open(
        cfg.clone(),
        Arc::new(clock.clone()),
        tokio::runtime::Handle::current(),
    )
    .expect("reopen");
    c.trigger_retention();
    wait_until("older days stripped", || {
        docs(&c, 198) == Some(5) && docs(&c, 199) == Some(5)
    });
    assert_eq!(
        docs(&c, 200),
        Some(3000),
        "today's partition is never cut by size"
    );
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");

    // A cap below today's size alone: whole older partitions go, oldest first, and today stays.
    cfg.retention.max_disk_bytes = b200 / 2;
    let c = Collector::open(
        cfg,
        Arc::new(clock.clone()),
        tokio::runtime::Handle::current(),
    )
    .expect("reopen");
    c.trigger_retention();
    wait_until("older days dropped", || {
        docs(&c, 198).is_none() && docs(&c, 199).is_none()
    });
    assert_eq!(docs(&c, 200), Some(3000));
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_partitions_are_created_searched_and_expired_by_the_hour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day0 = (BASE + 10) * NANOS_PER_DAY;
    let clock = ManualClock::new(day0 + 23 * HOUR);
    let mut cfg = config(dir.path(), 1, 0, 0);
    cfg.index.partition_hours = 6;
    let c = Collector::open(
        cfg.clone(),
        Arc::new(clock.clone()),
        tokio::runtime::Handle::current(),
    )
    .expect("open");
    let at = |h: i64, n: usize| -> Vec<LogRecord> {
        (0..n)
            .map(|i| {
                let ts = day0 + h * HOUR + i as i64;
                normalize_json_object(&format!(r#"{{"ts":{ts},"level":"info","msg":"h{h}"}}"#), ts)
                    .expect("record")
            })
            .collect()
    };
    for h in [1, 7, 13, 19] {
        ingest(&c, at(h, 2)).await;
    }
    wait_indexed(&c);
    let names: Vec<String> = c.store.all().iter().map(|p| p.id.dir_name()).collect();
    let date = PartitionId::day(BASE + 10).dir_name();
    assert_eq!(
        names,
        ["T00-6h", "T06-6h", "T12-6h", "T18-6h"].map(|s| format!("{date}{s}"))
    );
    // A range inside one day touches only the partitions it overlaps.
    assert_eq!(
        c.store.overlapping(day0 + 5 * HOUR, day0 + 7 * HOUR).len(),
        2
    );

    // One day after 06:00, the 00:00–06:00 partition has wholly aged out; the others have not.
    clock.set(day0 + 30 * HOUR);
    c.trigger_retention();
    wait_until("first quarter dropped", || c.store.all().len() == 3);
    assert_eq!(c.store.all()[0].id.dir_name(), format!("{date}T06-6h"));
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");

    // Back to day partitions: the 6-hour ones stay searchable beside the new day partition.
    cfg.index.partition_hours = 24;
    let c = Collector::open(
        cfg,
        Arc::new(clock.clone()),
        tokio::runtime::Handle::current(),
    )
    .expect("reopen");
    ingest(&c, at(20, 1)).await;
    wait_indexed(&c);
    let overlapping = c.store.overlapping(day0, day0 + NANOS_PER_DAY);
    assert_eq!(
        overlapping.len(),
        4,
        "three 6-hour partitions and one day partition"
    );
    let total: u64 = overlapping
        .iter()
        .map(|p| p.reader.searcher().num_docs())
        .sum();
    assert_eq!(total, 7);
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}
