//! The metrics write path around any store: acknowledged only after the WAL fsync, applied in
//! LSN order, replayed after a crash from the store's durable LSN (exactly once), admission
//! rejections reported and not written, and backpressure when the store falls behind.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use pharos_collector::clock::ManualClock;
use pharos_collector::config::MetricsSettings;
use pharos_collector::ingest::IngestError;
use pharos_collector::metrics::CollectorMetrics;
use pharos_collector::tsdb::ingest::{MetricSink, MetricsIngestor, RejectedSeries};
use pharos_collector::tsdb::{Labels, MetricBatch, MetricKind, Sample, SeriesSamples, TsdbError};
use pharos_collector::wal::{Wal, WalConfig};

#[derive(Default)]
struct RecordingSink {
    applied: Mutex<Vec<(u64, MetricBatch)>>,
    durable: AtomicU64,
    /// While set, `apply` waits (a store that has fallen behind).
    gate: AtomicBool,
    /// Series named `rejected_*` are refused by admission.
    flushes: AtomicU64,
}

impl MetricSink for RecordingSink {
    fn admit(&self, batch: MetricBatch) -> (MetricBatch, Vec<RejectedSeries>) {
        let (ok, bad): (Vec<_>, Vec<_>) = batch
            .series
            .into_iter()
            .partition(|s| !s.labels.metric_name().starts_with("rejected_"));
        let rejected = bad
            .iter()
            .map(|s| RejectedSeries {
                series: s.labels.to_string(),
                samples: s.samples.len(),
                reason: "test limit".into(),
                by_limit: true,
            })
            .collect();
        (
            MetricBatch {
                series: ok,
                distributions: batch.distributions,
            },
            rejected,
        )
    }

    fn apply(&self, lsn: u64, batch: &MetricBatch) -> Result<(), TsdbError> {
        while self.gate.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut applied = self.applied.lock();
        if applied.last().is_some_and(|(l, _)| *l >= lsn)
            || lsn <= self.durable.load(Ordering::SeqCst)
        {
            return Ok(());
        }
        applied.push((lsn, batch.clone()));
        Ok(())
    }

    fn durable_lsn(&self) -> u64 {
        self.durable.load(Ordering::SeqCst)
    }

    fn flush(&self) -> Result<u64, TsdbError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        let last = self.applied.lock().last().map_or(0, |(l, _)| *l);
        self.durable.fetch_max(last, Ordering::SeqCst);
        Ok(self.durable.load(Ordering::SeqCst))
    }

    fn run_retention(&self, _now_ms: i64) -> Result<(), TsdbError> {
        Ok(())
    }
}

fn batch(name: &str, v: f64) -> MetricBatch {
    MetricBatch {
        series: vec![SeriesSamples {
            labels: Labels::new([("__name__".to_string(), name.to_string())]).expect("labels"),
            kind: MetricKind::Gauge,
            samples: vec![Sample {
                ts_ms: 1_000,
                value: v,
            }],
        }],
        distributions: vec![],
    }
}

fn start(
    dir: &std::path::Path,
    sink: Arc<RecordingSink>,
    settings: MetricsSettings,
) -> (Wal, MetricsIngestor) {
    let metrics = Arc::new(CollectorMetrics::default());
    let (wal, _) = Wal::open(WalConfig::new(dir.join("wal")), metrics.clone()).expect("wal");
    let ingestor = MetricsIngestor::start(
        wal.clone(),
        sink,
        settings,
        metrics,
        None,
        Arc::new(ManualClock::new(0)),
    )
    .expect("start");
    (wal, ingestor)
}

async fn wait_applied(ingestor: &MetricsIngestor, lsn: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while ingestor.applied_lsn() < lsn {
        assert!(
            Instant::now() < deadline,
            "applier stuck at {}",
            ingestor.applied_lsn()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_batches_are_applied_in_order_and_replayed_after_a_crash_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Arc::new(RecordingSink::default());
    let (wal, ingestor) = start(dir.path(), sink.clone(), MetricsSettings::default());
    for i in 0..3 {
        let r = ingestor
            .append(batch("up", i as f64), "test")
            .await
            .expect("append");
        assert_eq!(r.accepted_samples, 1);
    }
    wait_applied(&ingestor, 3).await;
    let lsns: Vec<u64> = sink.applied.lock().iter().map(|(l, _)| *l).collect();
    assert_eq!(lsns, [1, 2, 3]);
    // A crash: no shutdown, no flush (the interval is a minute). The store had made LSN 1
    // durable before it; a new store instance knows only that.
    drop(ingestor);
    wal.close();
    drop(wal);
    let recovered = Arc::new(RecordingSink::default());
    recovered.durable.store(1, Ordering::SeqCst);
    let (wal, ingestor) = start(dir.path(), recovered.clone(), MetricsSettings::default());
    wait_applied(&ingestor, 3).await;
    let replayed: Vec<(u64, f64)> = recovered
        .applied
        .lock()
        .iter()
        .map(|(l, b)| (*l, b.series[0].samples[0].value))
        .collect();
    assert_eq!(
        replayed,
        [(2, 1.0), (3, 2.0)],
        "everything after the durable LSN, once"
    );
    // New appends continue the LSN sequence; shutdown flushes.
    ingestor
        .append(batch("up", 9.0), "test")
        .await
        .expect("append");
    wal.close();
    ingestor.shutdown().expect("shutdown");
    assert_eq!(recovered.durable_lsn(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_series_are_reported_and_never_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Arc::new(RecordingSink::default());
    let (wal, ingestor) = start(dir.path(), sink.clone(), MetricsSettings::default());
    let mut b = batch("up", 1.0);
    b.series.extend(batch("rejected_x", 2.0).series);
    let r = ingestor.append(b, "test").await.expect("append");
    assert_eq!(r.accepted_samples, 1);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].series, "rejected_x{}");
    // Only rejected series: nothing reaches the WAL.
    let r = ingestor
        .append(batch("rejected_y", 1.0), "test")
        .await
        .expect("append");
    assert_eq!(r.accepted_samples, 0);
    assert_eq!(wal.durable_lsn(), 1);
    wait_applied(&ingestor, 1).await;
    assert_eq!(sink.applied.lock()[0].1.series.len(), 1);
    wal.close();
    ingestor.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_falls_behind_gets_backpressure_not_drops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Arc::new(RecordingSink::default());
    sink.gate.store(true, Ordering::SeqCst);
    let settings = MetricsSettings {
        backlog_high_water: 3,
        ..MetricsSettings::default()
    };
    let (wal, ingestor) = start(dir.path(), sink.clone(), settings);
    let mut throttled = None;
    for i in 0..10 {
        match ingestor.append(batch("up", i as f64), "test").await {
            Ok(_) => {}
            Err(e @ IngestError::Backpressure { .. }) => {
                throttled = Some((i, e.to_string()));
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    let (at, msg) = throttled.expect("backpressure");
    assert!(
        at >= 3,
        "throttled only at the high-water mark (after {at})"
    );
    assert!(msg.contains("behind"), "{msg}");
    // Released, everything acknowledged is applied.
    sink.gate.store(false, Ordering::SeqCst);
    wait_applied(&ingestor, at as u64).await;
    assert_eq!(sink.applied.lock().len(), at);
    wal.close();
    ingestor.shutdown().expect("shutdown");
}
