//! Search across several day partitions: global newest-first order, global limit, exact
//! totals, time-range pruning and bad input — through a real collector (WAL + indexer).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pharos_collector::clock::NANOS_PER_DAY;
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::Collector;
use pharos_query::QueryError;

mod common;
use common::{search, SearchRequest};

const DAY0: i64 = 20_400; // 2025-11-08
const HOUR: i64 = NANOS_PER_DAY / 24;

async fn collector_with_three_days(dir: &std::path::Path) -> Collector {
    let c = common::open(dir).await; // its clock says day 2, 23:00
                                     // 10 records a day at hours 0..10, services alternating, every third one an error.
    let mut records = Vec::new();
    for day in 0..3 {
        for h in 0..10 {
            let ts = (DAY0 + day) * NANOS_PER_DAY + h * HOUR;
            let level = if h % 3 == 0 { "error" } else { "info" };
            let service = if h % 2 == 0 { "api" } else { "web" };
            let raw = format!(
                r#"{{"ts":{ts},"level":"{level}","service":"{service}","msg":"day {day} hour {h} checkout"}}"#
            );
            records.push(normalize_json_object(&raw, ts).expect("record"));
        }
    }
    // Sent in an order unrelated to time, in two requests.
    records.reverse();
    let (a, b) = records.split_at(13);
    c.ingestor.append(a, "test", 0).await.expect("append");
    c.ingestor.append(b, "test", 0).await.expect("append");
    let want = c.wal.durable_lsn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.progress().committed_lsn.load(Ordering::SeqCst) < want {
        assert!(Instant::now() < deadline, "indexing timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    c
}

fn ts_of(hit: &serde_json::Value) -> i64 {
    hit["timestamp_ns"].as_i64().expect("timestamp_ns")
}

fn req(q: &str, limit: usize) -> SearchRequest {
    SearchRequest {
        query: q.into(),
        start_ns: None,
        end_ns: None,
        limit,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_merge_across_partitions_newest_first_with_exact_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = collector_with_three_days(dir.path()).await;
    assert_eq!(c.store.all().len(), 3, "one partition per day");

    let all = search(&c.store, &req("*", 100)).expect("search");
    assert_eq!(all.total, 30);
    let ts: Vec<i64> = all.hits.iter().map(ts_of).collect();
    let mut sorted = ts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ts, sorted, "newest first across partitions");
    assert_eq!(ts[0], (DAY0 + 2) * NANOS_PER_DAY + 9 * HOUR);
    assert_eq!(ts[29], DAY0 * NANOS_PER_DAY);

    // The global top 5 comes from the newest partition only; the total still counts all.
    let top = search(&c.store, &req("checkout", 5)).expect("search");
    assert_eq!(top.total, 30);
    assert_eq!(
        top.hits.iter().map(ts_of).collect::<Vec<_>>(),
        (5..10)
            .rev()
            .map(|h| (DAY0 + 2) * NANOS_PER_DAY + h * HOUR)
            .collect::<Vec<_>>()
    );

    // Field queries: 4 errors a day (hours 0, 3, 6, 9), of which api at hours 0 and 6.
    assert_eq!(
        search(&c.store, &req("level:ERROR", 0))
            .expect("search")
            .total,
        12
    );
    let api_errors = search(&c.store, &req("service:api AND level:error", 100)).expect("search");
    assert_eq!(api_errors.total, 6);
    assert!(api_errors
        .hits
        .iter()
        .all(|h| h["service"] == "api" && h["level"] == "error"));
    assert_eq!(
        search(&c.store, &req("\"day 1 hour 3\"", 10))
            .expect("search")
            .total,
        1
    );
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_ranges_cut_inside_and_across_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = collector_with_three_days(dir.path()).await;
    let range = |start: i64, end: i64| SearchRequest {
        query: "*".into(),
        start_ns: Some(start),
        end_ns: Some(end),
        limit: 100,
    };
    // From day 0 hour 5 (inclusive) to day 1 hour 2 (exclusive): day 0 hours 5..10 + day 1 hours 0..2.
    let r = search(
        &c.store,
        &range(
            DAY0 * NANOS_PER_DAY + 5 * HOUR,
            (DAY0 + 1) * NANOS_PER_DAY + 2 * HOUR,
        ),
    )
    .expect("search");
    assert_eq!(r.total, 7);
    assert_eq!(r.hits.len(), 7);
    // Exactly one whole day.
    let r = search(
        &c.store,
        &range((DAY0 + 1) * NANOS_PER_DAY, (DAY0 + 2) * NANOS_PER_DAY),
    )
    .expect("search");
    assert_eq!(r.total, 10);
    // A range with no partition at all.
    let r = search(
        &c.store,
        &range((DAY0 + 10) * NANOS_PER_DAY, (DAY0 + 11) * NANOS_PER_DAY),
    )
    .expect("search");
    assert_eq!(r.total, 0);
    // Errors name the problem.
    let err = search(&c.store, &range(5, 5)).expect_err("empty range");
    assert!(matches!(err, QueryError::BadRequest(_)), "{err}");
    let err = search(&c.store, &req("service:(", 10)).expect_err("syntax");
    assert!(matches!(err, QueryError::Syntax(_)), "{err}");
    let err = search(&c.store, &req("*", 1_000_000)).expect_err("limit");
    assert!(err.to_string().contains("limit"), "{err}");
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}
