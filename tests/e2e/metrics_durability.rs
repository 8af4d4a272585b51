//! Metrics survive crashes: every remote-write sample acknowledged before a `kill -9` is
//! queryable after the restart, exactly once — whether it was still only in the metrics WAL
//! or already flushed to the store.

use std::time::Duration;

use pharos_collector::ingest::metrics::remote_write::{encode, WriteRequest};
use serde_json::Value;

use crate::common::{client, start, Server};
use crate::metrics_ingest::{post_remote_write, series, t0_ms, RW_HEADERS};

async fn count_over_time(server: &Server, selector: &str) -> f64 {
    let t = (t0_ms() / 1000 + 300).to_string();
    let body: Value = client()
        .get(format!("{}/prometheus/api/v1/query", server.http))
        .query(&[
            ("query", format!("sum(count_over_time({selector}[10m]))")),
            ("time", t),
        ])
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "success", "{body}");
    body["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Sends `batches` requests of 10 series × 6 samples for metric `name`; all acknowledged.
async fn send(server: &Server, name: &str, batches: i64) {
    for b in 0..batches {
        let req = WriteRequest {
            timeseries: (0..10)
                .map(|s| {
                    let samples: Vec<(i64, f64)> = (0..6)
                        .map(|i| (t0_ms() + (b * 6 + i) * 1_000, (b * 6 + i) as f64))
                        .collect();
                    series(&[("__name__", name), ("shard", &s.to_string())], &samples)
                })
                .collect(),
            metadata: vec![],
        };
        let (status, body) = post_remote_write(server, encode(&req), RW_HEADERS).await;
        assert_eq!(status, 204, "{body}");
    }
}

async fn wait_count(server: &Server, selector: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = count_over_time(server, selector).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{selector}: {got} samples, want {want}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_samples_survive_kill_9_exactly_once() {
    // Flush the store every second, so the crash finds both flushed and unflushed samples.
    let mut server = start(&[("PHAROS_METRICS__FLUSH_INTERVAL_SECS", "1")]);
    send(&server, "before_flush", 5).await;
    wait_count(&server, "before_flush", 300.0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // flushed now
    send(&server, "after_flush", 5).await;
    server.kill9().expect("kill -9");
    server.restart().expect("restart");
    wait_count(&server, "before_flush", 300.0).await;
    wait_count(&server, "after_flush", 300.0).await;
    // A second crash right after the restart replays nothing twice.
    server.kill9().expect("kill -9");
    server.restart().expect("restart");
    wait_count(&server, "before_flush", 300.0).await;
    wait_count(&server, "after_flush", 300.0).await;
    // And it stays there once replay is surely over (nothing applied twice).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count_over_time(&server, "before_flush").await, 300.0);
    assert_eq!(count_over_time(&server, "after_flush").await, 300.0);
}
