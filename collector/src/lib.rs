//! The Pharos collector: ingest endpoints, write-ahead log, tantivy indexing, retention.
//!
//! Data flow: an ingest endpoint normalises a request into [`record::LogRecord`]s and the
//! [`ingest::Ingestor`] appends them to the [`wal`], acknowledging only after fsync. The
//! [`index::Indexer`] tails the WAL into per-day tantivy partitions, which retention drops.

pub mod allocator;
pub mod clock;
pub mod config;
pub mod durable_file;
pub mod index;
pub mod ingest;
pub mod memory;
pub mod metrics;
pub mod normalize;
pub mod record;
pub mod reserve;
pub mod tsdb;
pub mod wal;

use std::sync::Arc;

use clock::SharedClock;
use config::CollectorConfig;
use index::{IndexError, Indexer, IndexerHandle, LogStore};
use ingest::Ingestor;
use metrics::CollectorMetrics;
use wal::{Wal, WalConfig, WalError};

#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("write-ahead log: {0}")]
    Wal(#[from] WalError),
    #[error("index: {0}")]
    Index(#[from] IndexError),
    #[error("{0}")]
    Format(String),
    #[error("{0}")]
    Locked(String),
    #[error("metrics: {0}")]
    Metrics(#[from] tsdb::TsdbError),
}

/// Takes the data dir's lock file, so a second Pharos on the same data dir stops at start
/// instead of interleaving its WAL with ours. The OS drops the lock when the process exits,
/// even on SIGKILL, so a crash never leaves it stale.
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, CollectorError> {
    let path = dir.join("LOCK");
    let io = |e: std::io::Error| CollectorError::Locked(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {
            use std::io::{Seek, Write};
            // The holder's pid, for whoever finds the lock taken.
            file.set_len(0).map_err(io)?;
            file.rewind().map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            Err(CollectorError::Locked(format!(
                "data dir {} is in use by another Pharos process (pid {}); stop it or use another storage.data_dir",
                dir.display(),
                holder.trim()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Bumped whenever the WAL's on-disk layout changes incompatibly. Checked before the WAL is
/// opened: a build that misread a newer WAL would take its frames for a torn tail and cut them.
pub const WAL_FORMAT_VERSION: u32 = 1;

fn check_wal_format(dir: &std::path::Path) -> Result<(), CollectorError> {
    let io = |e: std::io::Error| CollectorError::Format(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let path = dir.join("FORMAT");
    match std::fs::read_to_string(&path) {
        Ok(found) if found.trim() == WAL_FORMAT_VERSION.to_string() => Ok(()),
        // Empty: an older build was killed between creating the marker and writing it, before
        // it opened the WAL, so nothing was written in any format yet.
        Ok(found) if found.trim().is_empty() => {
            durable_file::replace_file(&path, format!("{WAL_FORMAT_VERSION}\n").as_bytes())
                .map_err(io)
        }
        Ok(found) => Err(CollectorError::Format(format!(
            "{}: on-disk WAL format {} is not supported by this Pharos (it writes format {WAL_FORMAT_VERSION}); \
             use the Pharos version that wrote it, or move the data dir away",
            path.display(),
            found.trim()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            durable_file::replace_file(&path, format!("{WAL_FORMAT_VERSION}\n").as_bytes())
                .map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

/// The running collector: WAL, partitions, indexer and the ingest path.
pub struct Collector {
    pub config: CollectorConfig,
    pub wal: Wal,
    pub store: Arc<LogStore>,
    pub ingestor: Arc<Ingestor>,
    pub metrics: Arc<CollectorMetrics>,
    pub clock: SharedClock,
    /// The metrics write path (remote write, OTLP metrics).
    pub metric_ingestor: Arc<tsdb::ingest::MetricsIngestor>,
    /// The metrics ingest endpoints' shared state (conversion, counters) around
    /// `metric_ingestor`.
    pub metrics_ingest: Arc<ingest::metrics::MetricsIngest>,
    /// The metrics read side (PromQL, the Prometheus HTTP API).
    pub tsdb: Arc<dyn tsdb::MetricStore>,
    metrics_wal: Wal,
    indexer: parking_lot::Mutex<IndexerHandle>,
    progress: Arc<index::indexer::IndexerProgress>,
    /// Held for the collector's lifetime (see [`lock_data_dir`]).
    _lock: std::fs::File,
}

impl Collector {
    /// Opens (or creates) the data dir, recovers the WAL, and starts indexing — the WAL tail
    /// that was not yet committed is replayed into the index before anything else.
    pub fn open(
        config: CollectorConfig,
        clock: SharedClock,
        runtime: tokio::runtime::Handle,
    ) -> Result<Collector, CollectorError> {
        let lock = lock_data_dir(&config.storage.data_dir)?;
        let metrics = Arc::new(CollectorMetrics::default());
        let wal_config = WalConfig {
            dir: config.wal_dir(),
            segment_bytes: config.wal.segment_bytes,
            fsync: config.wal.fsync,
        };
        check_wal_format(&wal_config.dir)?;
        let (wal, report) = Wal::open(wal_config, metrics.clone())?;
        if report.truncated_bytes > 0 {
            tracing::warn!(
                truncated_bytes = report.truncated_bytes,
                "the WAL ended in a torn record (a crash mid-write); it was cut off — it had not been acknowledged"
            );
        }
        tracing::info!(
            segments = report.segments,
            last_lsn = report.last_lsn,
            "WAL recovered"
        );
        let store = Arc::new(LogStore::open(
            &config.index_dir(),
            config.index.docstore_zstd_level,
            config.index.partition_hours,
        )?);
        metrics.partitions.set(store.all().len() as i64);
        let indexer = Indexer {
            store: store.clone(),
            wal: wal.clone(),
            index: config.index.clone(),
            retention: config.retention.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
        }
        .start(runtime)?;
        let progress = indexer.progress.clone();
        let ingestor = Arc::new(Ingestor::new(
            &config,
            wal.clone(),
            progress.clone(),
            store.partition_len_ns(),
            metrics.clone(),
            clock.clone(),
        ));
        let metrics_wal_config = WalConfig {
            dir: config.metrics_wal_dir(),
            segment_bytes: config.wal.segment_bytes,
            fsync: config.wal.fsync,
        };
        check_wal_format(&metrics_wal_config.dir)?;
        let (metrics_wal, _) = Wal::open(metrics_wal_config, metrics.clone())?;
        const DAY_MS: i64 = 86_400_000;
        let m = &config.metrics;
        let tsdb_store = Arc::new(tsdb::TsdbStore::open(
            &config.metrics_store_dir(),
            tsdb::TsdbLimits {
                max_series: m.max_series,
                max_series_per_metric: m.max_series_per_metric,
                raw_retention_ms: i64::from(m.raw_retention_days) * DAY_MS,
                minute_retention_ms: i64::from(m.minute_retention_days) * DAY_MS,
                five_minute_retention_ms: i64::from(m.five_minute_retention_days) * DAY_MS,
                hour_retention_ms: i64::from(m.hour_retention_days) * DAY_MS,
                rollup_cache_bytes: m.rollup_cache_mb.saturating_mul(1 << 20),
                new_series_memory_bytes: (m.new_series_memory_percent > 0)
                    .then(crate::memory::available_bytes)
                    .flatten()
                    .map(|b| b / 100 * u64::from(m.new_series_memory_percent)),
                max_future_ms: (m.max_future_secs > 0).then(|| {
                    i64::try_from(m.max_future_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
                }),
            },
            clock.clone(),
        )?);
        let metric_ingestor = Arc::new(tsdb::ingest::MetricsIngestor::start(
            metrics_wal.clone(),
            tsdb_store.clone(),
            config.metrics.clone(),
            metrics.clone(),
            Some(ingestor.clone()),
            clock.clone(),
        )?);
        let metrics_ingest = Arc::new(ingest::metrics::MetricsIngest::new(
            metric_ingestor.clone(),
            metrics.clone(),
            clock.clone(),
            &config.ingest,
        ));
        Ok(Collector {
            metric_ingestor,
            metrics_ingest,
            metrics_wal,
            tsdb: tsdb_store,
            config,
            wal,
            store,
            ingestor,
            metrics,
            clock,
            indexer: parking_lot::Mutex::new(indexer),
            progress,
            _lock: lock,
        })
    }

    /// Indexing progress (for `/ready` and tests).
    pub fn progress(&self) -> &index::indexer::IndexerProgress {
        &self.progress
    }

    /// Runs retention now instead of at its next interval.
    pub fn trigger_retention(&self) {
        self.indexer.lock().trigger_retention();
    }

    /// Flushes the WAL, indexes and commits everything durable, and stops the indexer.
    /// Blocking: call from `spawn_blocking` in async code.
    pub fn shutdown(&self) -> Result<(), CollectorError> {
        self.wal.close();
        self.metrics_wal.close();
        self.indexer.lock().shutdown()?;
        self.metric_ingestor.shutdown()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kill between creating the WAL's format marker and writing it (an older build) left
    /// it empty: it is written, not refused; any other unknown format is refused by name.
    #[test]
    fn an_empty_wal_format_marker_is_written_and_an_unknown_one_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("FORMAT");
        std::fs::write(&marker, "").expect("write");
        check_wal_format(dir.path()).expect("an empty marker is written");
        let written = std::fs::read_to_string(&marker).expect("read");
        assert_eq!(written.trim(), WAL_FORMAT_VERSION.to_string());
        std::fs::write(&marker, "7\n").expect("write");
        let err = check_wal_format(dir.path()).expect_err("format 7 is refused");
        assert!(err.to_string().contains("format 7"), "{err}");
    }
}
