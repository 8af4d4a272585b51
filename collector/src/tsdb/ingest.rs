//! The write side of metrics: admission (cardinality and order checks), the metrics WAL (a
//! request is acknowledged only once its samples are fsynced), and an applier thread that
//! applies WAL records to the store in LSN order, flushes the store's in-memory head
//! periodically and deletes the WAL segments the flushed state covers. After a crash the WAL
//! after the store's durable LSN is replayed, so nothing acknowledged is lost and nothing is
//! applied twice.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{MetricBatch, TsdbError};
use crate::clock::SharedClock;
use crate::config::MetricsSettings;
use crate::ingest::{IngestError, Ingestor};
use crate::metrics::{CollectorMetrics, EndpointLabel};
use crate::wal::{Lsn, Wal};

/// A series (or some of its samples) that was not stored, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RejectedSeries {
    /// The series as Prometheus prints it (`name{a="1"}`).
    pub series: String,
    pub samples: usize,
    pub reason: String,
    /// Refused by a cardinality limit (the data was valid), rather than invalid for the
    /// store (out of order, duplicate, too old, too far in the future).
    pub by_limit: bool,
}

/// What an append stored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AppendReport {
    pub accepted_samples: usize,
    pub rejected: Vec<RejectedSeries>,
}

/// The store as the write path drives it (implemented by the sled-backed store).
pub trait MetricSink: Send + Sync + 'static {
    /// Splits a batch into what may be stored and what is rejected (new series over the
    /// cardinality limits, out-of-order or too old samples). No writes.
    fn admit(&self, batch: MetricBatch) -> (MetricBatch, Vec<RejectedSeries>);
    /// Applies WAL record `lsn`; records at or below the applied LSN are ignored.
    fn apply(&self, lsn: Lsn, batch: &MetricBatch) -> Result<(), TsdbError>;
    /// The highest LSN whose effects are on disk in the store.
    fn durable_lsn(&self) -> Lsn;
    /// Writes the in-memory state to disk; returns the new durable LSN.
    fn flush(&self) -> Result<Lsn, TsdbError>;
    /// Deletes what is past retention at `now_ms`.
    fn run_retention(&self, now_ms: i64) -> Result<(), TsdbError>;
}

/// WAL records read per applier step.
const APPLY_BATCH: usize = 256;
/// How often retention runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);

struct Shared {
    applied: AtomicU64,
    stop: AtomicBool,
    failed: AtomicBool,
}

/// The metrics write path (one per collector).
pub struct MetricsIngestor {
    wal: Wal,
    sink: Arc<dyn MetricSink>,
    shared: Arc<Shared>,
    settings: MetricsSettings,
    metrics: Arc<CollectorMetrics>,
    /// For the free-disk check shared with log ingest (absent in unit tests).
    logs: Option<Arc<Ingestor>>,
    applier: parking_lot::Mutex<Option<std::thread::JoinHandle<Result<(), TsdbError>>>>,
}

impl MetricsIngestor {
    /// Starts the applier, which first replays the WAL after the store's durable LSN.
    pub fn start(
        wal: Wal,
        sink: Arc<dyn MetricSink>,
        settings: MetricsSettings,
        metrics: Arc<CollectorMetrics>,
        logs: Option<Arc<Ingestor>>,
        clock: SharedClock,
    ) -> Result<MetricsIngestor, TsdbError> {
        let durable = sink.durable_lsn();
        let reader = wal
            .reader(durable + 1)
            .map_err(|e| TsdbError::Storage(format!("opening the metrics WAL: {e}")))?;
        let shared = Arc::new(Shared {
            applied: AtomicU64::new(durable),
            stop: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        });
        let applier = Applier {
            wal: wal.clone(),
            sink: sink.clone(),
            shared: shared.clone(),
            flush_interval: Duration::from_secs(settings.flush_interval_secs),
            clock,
        };
        let thread = std::thread::Builder::new()
            .name("pharos-metrics-applier".into())
            .spawn(move || {
                let result = applier.run(reader);
                if let Err(e) = &result {
                    applier.shared.failed.store(true, Ordering::SeqCst);
                    tracing::error!(error = %e, "metrics applier stopped");
                }
                result
            })
            .map_err(|e| TsdbError::Storage(format!("starting the metrics applier: {e}")))?;
        Ok(MetricsIngestor {
            wal,
            sink,
            shared,
            settings,
            metrics,
            logs,
            applier: parking_lot::Mutex::new(Some(thread)),
        })
    }

    /// WAL records appended but not yet applied to the store.
    pub fn backlog(&self) -> u64 {
        self.wal
            .durable_lsn()
            .saturating_sub(self.shared.applied.load(Ordering::SeqCst))
    }

    /// The highest WAL record applied (its samples are queryable).
    pub fn applied_lsn(&self) -> Lsn {
        self.shared.applied.load(Ordering::SeqCst)
    }

    /// False once the applier failed (the store refused a write); `/ready` reports it.
    pub fn healthy(&self) -> bool {
        !self.shared.failed.load(Ordering::SeqCst) && !self.wal.is_broken()
    }

    fn throttle(
        &self,
        endpoint: &'static str,
        retry_after_secs: u64,
        reason: String,
    ) -> IngestError {
        self.metrics
            .requests_throttled
            .get_or_create(&EndpointLabel { endpoint })
            .inc();
        IngestError::Backpressure {
            retry_after_secs,
            reason,
        }
    }

    /// Admits the batch (series over the cardinality limits are rejected, with the reason),
    /// appends what is admitted to the metrics WAL and returns once it is fsynced; under
    /// pressure returns [`IngestError::Backpressure`] (429 / RESOURCE_EXHAUSTED).
    pub async fn append(
        &self,
        batch: MetricBatch,
        endpoint: &'static str,
    ) -> Result<AppendReport, IngestError> {
        let backlog = self.backlog();
        if backlog >= self.settings.backlog_high_water || self.shared.failed.load(Ordering::SeqCst)
        {
            return Err(self.throttle(
                endpoint,
                1,
                format!(
                    "the metrics store is {backlog} WAL records behind (high-water mark {})",
                    self.settings.backlog_high_water
                ),
            ));
        }
        if let Some((free, min)) = self
            .logs
            .as_ref()
            .and_then(|l| Some((l.disk_free()?, l.settings().min_free_disk_bytes)))
        {
            if free < min {
                return Err(self.throttle(
                    endpoint,
                    30,
                    format!("the data dir has {free} bytes free, below ingest.min_free_disk_bytes ({min})"),
                ));
            }
        }
        let (admitted, rejected) = self.sink.admit(batch);
        let accepted_samples = admitted.sample_count();
        if accepted_samples > 0 {
            let bytes = postcard::to_allocvec(&admitted)?;
            self.wal.append(vec![bytes]).await?;
        }
        Ok(AppendReport {
            accepted_samples,
            rejected,
        })
    }

    /// Stops the applier after it has applied everything appended, then flushes the store.
    /// Call after the WAL stopped taking appends.
    pub fn shutdown(&self) -> Result<(), TsdbError> {
        self.shared.stop.store(true, Ordering::SeqCst);
        let thread = self.applier.lock().take();
        match thread.map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(TsdbError::Storage("the metrics applier panicked".into())),
            None => Ok(()),
        }
    }
}

struct Applier {
    wal: Wal,
    sink: Arc<dyn MetricSink>,
    shared: Arc<Shared>,
    flush_interval: Duration,
    clock: SharedClock,
}

impl Applier {
    fn flush(&self) -> Result<(), TsdbError> {
        let durable = self.sink.flush()?;
        self.wal.remove_segments_before(durable + 1).map_err(|e| {
            TsdbError::Storage(format!("removing applied metrics WAL segments: {e}"))
        })?;
        Ok(())
    }

    fn run(&self, mut reader: crate::wal::WalReader) -> Result<(), TsdbError> {
        let mut last_flush = Instant::now();
        let mut last_retention: Option<Instant> = None;
        loop {
            let stopping = self.shared.stop.load(Ordering::SeqCst);
            let batch = reader
                .next_batch(APPLY_BATCH)
                .map_err(|e| TsdbError::Storage(format!("reading the metrics WAL: {e}")))?;
            let caught_up = batch.is_empty();
            for (lsn, bytes) in batch {
                match postcard::from_bytes::<MetricBatch>(&bytes) {
                    Ok(b) => self.sink.apply(lsn, &b)?,
                    // Only Pharos writes this WAL: a bug or corruption the checksum missed.
                    Err(e) => {
                        tracing::error!(lsn, error = %e, "undecodable metrics WAL record skipped")
                    }
                }
                self.shared.applied.store(lsn, Ordering::SeqCst);
            }
            if caught_up && stopping {
                return self.flush();
            }
            if last_flush.elapsed() >= self.flush_interval {
                self.flush()?;
                last_flush = Instant::now();
            }
            if last_retention.is_none_or(|t| t.elapsed() >= RETENTION_INTERVAL) {
                self.sink.run_retention(self.clock.now_ns() / 1_000_000)?;
                last_retention = Some(Instant::now());
            }
            if caught_up {
                // A short sleep, not a wait on the runtime: the applier must also outlive a
                // runtime that is shutting down (tests, the end of `serve`).
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

impl Drop for MetricsIngestor {
    /// A dropped ingestor (without [`MetricsIngestor::shutdown`]) still stops its applier
    /// thread once it has caught up.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

/// Keeps everything in the metrics WAL and applies nothing: its durable LSN stays 0, so no
/// WAL segment is ever deleted and the store that replaces it replays every acknowledged
/// sample. Used until the metrics store is wired in.
#[derive(Debug, Default)]
pub struct WalOnlySink;

impl MetricSink for WalOnlySink {
    fn admit(&self, batch: MetricBatch) -> (MetricBatch, Vec<RejectedSeries>) {
        (batch, Vec::new())
    }
    fn apply(&self, _lsn: Lsn, _batch: &MetricBatch) -> Result<(), TsdbError> {
        Ok(())
    }
    fn durable_lsn(&self) -> Lsn {
        0
    }
    fn flush(&self) -> Result<Lsn, TsdbError> {
        Ok(0)
    }
    fn run_retention(&self, _now_ms: i64) -> Result<(), TsdbError> {
        Ok(())
    }
}
