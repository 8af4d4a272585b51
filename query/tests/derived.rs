//! Metrics from logs: exact counters and histograms per label combination and minute, as
//! cumulative series appended through the metrics write path; a restart neither repeats nor
//! skips a minute.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pharos_collector::clock::{ManualClock, NANOS_PER_DAY};
use pharos_collector::config::{LogMetricRule, MetricsSettings};
use pharos_collector::metrics::CollectorMetrics;
use pharos_collector::tsdb::ingest::{MetricSink, MetricsIngestor, RejectedSeries};
use pharos_collector::tsdb::{MetricBatch, TsdbError};
use pharos_collector::wal::{Wal, WalConfig};
use pharos_query::derived::Materializer;
use serde_json::json;

mod common;

const MIN: i64 = 60_000_000_000;

#[derive(Default)]
struct Sink(Mutex<Vec<MetricBatch>>);

impl MetricSink for Sink {
    fn admit(&self, b: MetricBatch) -> (MetricBatch, Vec<RejectedSeries>) {
        (b, vec![])
    }
    fn apply(&self, _lsn: u64, b: &MetricBatch) -> Result<(), TsdbError> {
        self.0.lock().push(b.clone());
        Ok(())
    }
    fn durable_lsn(&self) -> u64 {
        0
    }
    fn flush(&self) -> Result<u64, TsdbError> {
        Ok(0)
    }
    fn run_retention(&self, _: i64) -> Result<(), TsdbError> {
        Ok(())
    }
}

fn rules() -> Vec<LogMetricRule> {
    vec![
        LogMetricRule {
            name: "log_errors".into(),
            query: "level:error".into(),
            by: vec!["service".into()],
            histogram: None,
            buckets: vec![],
        },
        LogMetricRule {
            name: "http_request_duration_ms".into(),
            query: "http.status_code:*".into(),
            by: vec![
                "service".into(),
                "status_class=http.status_code:class".into(),
            ],
            histogram: Some("duration_ms".into()),
            buckets: vec![100.0, 500.0],
        },
    ]
}

/// Every sample of the appended batches as `name{labels} value @ts`.
fn samples(sink: &Sink) -> Vec<String> {
    let mut out: Vec<String> = sink
        .0
        .lock()
        .iter()
        .flat_map(|b| b.series.iter())
        .flat_map(|s| {
            s.samples
                .iter()
                .map(move |x| format!("{} {} @{}", s.labels, x.value, x.ts_ms))
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_closed_minute_becomes_exact_cumulative_series_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = common::open(dir.path()).await;
    let m0 = (common::DAY0 + 2) * NANOS_PER_DAY + 10 * common::HOUR; // a minute boundary
    let line = |offset_s: i64, level: &str, service: &str, extra: serde_json::Value| {
        let mut v = json!({"ts": m0 + offset_s * 1_000_000_000, "level": level, "service": service, "msg": "m"});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v.to_string()
    };
    let lines = vec![
        line(1, "error", "api", json!({})),
        line(
            2,
            "error",
            "api",
            json!({"http": {"status_code": 503}, "duration_ms": 700}),
        ),
        line(3, "error", "web", json!({})),
        line(
            4,
            "info",
            "api",
            json!({"http": {"status_code": 200}, "duration_ms": 50}),
        ),
        line(
            5,
            "info",
            "api",
            json!({"http": {"status_code": 201}, "duration_ms": 250}),
        ),
        line(70, "error", "api", json!({})), // the next minute
    ];
    common::ingest(&c, &lines, 1).await;

    let clock = Arc::new(ManualClock::new(m0 - 30_000_000_000));
    let sink = Arc::new(Sink::default());
    let metrics = Arc::new(CollectorMetrics::default());
    let (wal, _) =
        Wal::open(WalConfig::new(dir.path().join("mwal")), metrics.clone()).expect("wal");
    let ingestor = Arc::new(
        MetricsIngestor::start(
            wal.clone(),
            sink.clone(),
            MetricsSettings::default(),
            metrics,
            None,
            clock.clone(),
        )
        .expect("ingestor"),
    );
    let state = dir.path().join("derived.json");
    let lag = Duration::from_secs(30);
    let mut m = Materializer::new(
        c.store.clone(),
        ingestor.clone(),
        &rules(),
        state.clone(),
        clock.clone(),
        lag,
    )
    .expect("rules");
    // First step: the rules start at the last closed minute (no backfill).
    assert_eq!(m.step().await.expect("step"), 0);
    // The minute m0 closes, plus the lag: it is materialised (and the empty one before it).
    clock.set(m0 + MIN + 30_000_000_000);
    assert_eq!(m.step().await.expect("step"), 4);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ingestor.applied_lsn() < wal.durable_lsn() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end = (m0 + MIN) / 1_000_000;
    let h = "http_request_duration_ms";
    let want: Vec<String> = {
        let mut v = vec![
            format!("log_errors_total{{service=\"api\"}} 2 @{end}"),
            format!("log_errors_total{{service=\"web\"}} 1 @{end}"),
            format!("{h}_bucket{{le=\"100\", service=\"api\", status_class=\"2xx\"}} 1 @{end}"),
            format!("{h}_bucket{{le=\"500\", service=\"api\", status_class=\"2xx\"}} 2 @{end}"),
            format!("{h}_bucket{{le=\"+Inf\", service=\"api\", status_class=\"2xx\"}} 2 @{end}"),
            format!("{h}_sum{{service=\"api\", status_class=\"2xx\"}} 300 @{end}"),
            format!("{h}_count{{service=\"api\", status_class=\"2xx\"}} 2 @{end}"),
            format!("{h}_bucket{{le=\"100\", service=\"api\", status_class=\"5xx\"}} 0 @{end}"),
            format!("{h}_bucket{{le=\"500\", service=\"api\", status_class=\"5xx\"}} 0 @{end}"),
            format!("{h}_bucket{{le=\"+Inf\", service=\"api\", status_class=\"5xx\"}} 1 @{end}"),
            format!("{h}_sum{{service=\"api\", status_class=\"5xx\"}} 700 @{end}"),
            format!("{h}_count{{service=\"api\", status_class=\"5xx\"}} 1 @{end}"),
        ];
        v.sort();
        v
    };
    assert_eq!(samples(&sink), want);
    let dists: usize = sink.0.lock().iter().map(|b| b.distributions.len()).sum();
    assert_eq!(dists, 2, "one distribution per histogram series");

    // A restart (new materialiser, same state file): nothing is repeated; the next minute
    // carries the running totals on (the api error at +70 s; web unchanged but still present).
    drop(m);
    sink.0.lock().clear();
    let mut m = Materializer::new(
        c.store.clone(),
        ingestor.clone(),
        &rules(),
        state,
        clock.clone(),
        lag,
    )
    .expect("rules");
    assert_eq!(m.step().await.expect("step"), 0);
    clock.set(m0 + 2 * MIN + 30_000_000_000);
    assert_eq!(m.step().await.expect("step"), 2);
    while ingestor.applied_lsn() < wal.durable_lsn() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end2 = end + 60_000;
    let errors: Vec<String> = samples(&sink)
        .into_iter()
        .filter(|s| s.starts_with("log_errors"))
        .collect();
    assert_eq!(
        errors,
        [
            format!("log_errors_total{{service=\"api\"}} 3 @{end2}"),
            format!("log_errors_total{{service=\"web\"}} 1 @{end2}"),
        ]
    );
    wal.close();
}
