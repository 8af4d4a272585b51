//! Ingest: every endpoint (native JSON, OTLP/HTTP, OTLP/gRPC) normalises its request and hands
//! the records to the [`Ingestor`], which applies backpressure and appends them to the WAL.
//! Only after the WAL has fsynced them is the request acknowledged.

pub mod body;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod tail;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::clock::{rfc3339, SharedClock};
use crate::config::{CollectorConfig, IngestSettings, RetentionSettings};
use crate::index::indexer::IndexerProgress;
use crate::index::retention::is_expired;
use crate::metrics::{CollectorMetrics, EndpointLabel};
use crate::normalize::Parsed;
use crate::record::LogRecord;
use crate::wal::{Wal, WalError};

/// Names of the ingest endpoints, as used in metrics labels.
pub const ENDPOINT_NDJSON: &str = "ndjson";
pub const ENDPOINT_OTLP_HTTP: &str = "otlp_http";
pub const ENDPOINT_OTLP_GRPC: &str = "otlp_grpc";

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The caller should retry after `retry_after_secs`; nothing of the request was stored.
    #[error("{reason}; retry after {retry_after_secs} s")]
    Backpressure {
        retry_after_secs: u64,
        reason: String,
    },
    #[error("write-ahead log: {0}")]
    Wal(#[from] WalError),
    #[error("encoding a record for the WAL: {0}")]
    Encode(#[from] postcard::Error),
}

/// The shared ingest path.
pub struct Ingestor {
    wal: Wal,
    progress: Arc<IndexerProgress>,
    settings: IngestSettings,
    data_dir: PathBuf,
    /// `storage.reserve_bytes`: while the reserve is given back, ingest needs room for it too.
    reserve_bytes: u64,
    metrics: Arc<CollectorMetrics>,
    retention: RetentionSettings,
    partition_len_ns: i64,
    clock: SharedClock,
    tail: tail::TailFeed,
}

impl Ingestor {
    /// `partition_len_ns` is the length of new partitions (for the retention check).
    pub fn new(
        config: &CollectorConfig,
        wal: Wal,
        progress: Arc<IndexerProgress>,
        partition_len_ns: i64,
        metrics: Arc<CollectorMetrics>,
        clock: SharedClock,
    ) -> Ingestor {
        Ingestor {
            wal,
            progress,
            settings: config.ingest.clone(),
            data_dir: config.storage.data_dir.clone(),
            reserve_bytes: config.storage.reserve_bytes,
            metrics,
            retention: config.retention.clone(),
            partition_len_ns,
            clock,
            tail: tail::TailFeed::default(),
        }
    }

    /// Rejects records whose time is outside what Pharos keeps: already past retention
    /// (retention would delete them at once, so acknowledging them would be a silent drop),
    /// or further in the future than `ingest.max_future_secs` (a broken clock would otherwise
    /// create partitions that retention cannot reclaim until that date). The client is told.
    pub fn reject_out_of_range(&self, parsed: &mut Parsed) {
        let now = self.clock.now_ns();
        let r = &self.retention;
        let partition_len_ns = self.partition_len_ns;
        let max_future = self.settings.max_future_secs;
        let latest = match max_future {
            0 => i64::MAX,
            secs => now.saturating_add(
                i64::try_from(secs)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1_000_000_000),
            ),
        };
        parsed.reject_where(|rec| {
            if rec.timestamp_ns > latest {
                return Some(format!(
                    "timestamp {} is more than {max_future} s in the future (ingest.max_future_secs)",
                    rfc3339(rec.timestamp_ns)
                ));
            }
            is_expired(rec.timestamp_ns, rec.severity_number, partition_len_ns, now, r).then(|| {
                format!(
                    "timestamp {} is older than retention (retention.days = {}, retention.keep_errors_days = {} for ERROR and above)",
                    rfc3339(rec.timestamp_ns),
                    r.days,
                    r.effective_keep_errors_days()
                )
            })
        });
    }

    /// The live feed of acknowledged records (for live tail).
    pub fn tail(&self) -> &tail::TailFeed {
        &self.tail
    }

    pub fn settings(&self) -> &IngestSettings {
        &self.settings
    }

    pub fn metrics(&self) -> &CollectorMetrics {
        &self.metrics
    }

    /// Records written to the WAL that the indexer has not taken yet.
    pub fn backlog(&self) -> u64 {
        self.wal
            .durable_lsn()
            .saturating_sub(self.progress.consumed_lsn.load(Ordering::SeqCst))
    }

    /// Free bytes on the data dir's file system (None when it cannot be read).
    pub fn disk_free(&self) -> Option<u64> {
        fs4::available_space(&self.data_dir).ok()
    }

    /// The free space ingest needs: `ingest.min_free_disk_bytes`, plus the disk reserve while
    /// it is given back (after a start on a full disk), so that what was freed to open the
    /// stores is not filled again by ingest before the reserve is back in place.
    pub fn required_free_bytes(&self) -> u64 {
        let reserve_missing =
            self.reserve_bytes > 0 && !crate::reserve::path(&self.data_dir).exists();
        let reserve = if reserve_missing {
            self.reserve_bytes
        } else {
            0
        };
        self.settings.min_free_disk_bytes.saturating_add(reserve)
    }

    /// Refuses work the server cannot take now, before anything is written.
    pub fn check_capacity(&self, endpoint: &'static str) -> Result<(), IngestError> {
        let backlog = self.backlog();
        let throttle = |retry_after_secs, reason| {
            self.metrics
                .requests_throttled
                .get_or_create(&EndpointLabel { endpoint })
                .inc();
            Err(IngestError::Backpressure {
                retry_after_secs,
                reason,
            })
        };
        if backlog >= self.settings.backlog_high_water_records {
            return throttle(
                1,
                format!(
                    "indexing backlog is {backlog} records, at its high-water mark of {}",
                    self.settings.backlog_high_water_records
                ),
            );
        }
        if let Some(free) = self.disk_free() {
            let required = self.required_free_bytes();
            if free < required {
                let why = if required > self.settings.min_free_disk_bytes {
                    format!(
                        "the data dir has {free} bytes free, below ingest.min_free_disk_bytes ({}) plus the disk reserve to restore (storage.reserve_bytes, {})",
                        self.settings.min_free_disk_bytes, self.reserve_bytes
                    )
                } else {
                    format!(
                        "the data dir has {free} bytes free, below ingest.min_free_disk_bytes ({})",
                        self.settings.min_free_disk_bytes
                    )
                };
                return throttle(30, why);
            }
        }
        Ok(())
    }

    /// Appends the records to the WAL; returns once they are fsynced.
    pub async fn append(
        &self,
        records: &[LogRecord],
        endpoint: &'static str,
        body_bytes: usize,
    ) -> Result<(), IngestError> {
        let label = EndpointLabel { endpoint };
        if records.is_empty() {
            return Ok(());
        }
        self.check_capacity(endpoint)?;
        let payloads = records
            .iter()
            .map(postcard::to_allocvec)
            .collect::<Result<Vec<_>, _>>()?;
        let (first_lsn, _) = self.wal.append(payloads).await?;
        self.tail.publish(first_lsn, records);
        self.metrics
            .records_ingested
            .get_or_create(&label)
            .inc_by(records.len() as u64);
        self.metrics
            .bytes_ingested
            .get_or_create(&label)
            .inc_by(body_bytes as u64);
        Ok(())
    }

    pub fn count_rejected(&self, endpoint: &'static str, n: usize) {
        if n > 0 {
            self.metrics
                .records_rejected
                .get_or_create(&EndpointLabel { endpoint })
                .inc_by(n as u64);
        }
    }
}
