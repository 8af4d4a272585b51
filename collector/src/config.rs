//! Configuration of the collector: where data lives, the WAL, indexing, ingest limits and
//! retention. Every struct has embedded defaults so `pharos serve` runs with no config file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Root of everything Pharos writes: `wal/` and `index/` live below it.
    pub data_dir: PathBuf,
    /// Space set aside in the data dir and given back when the disk fills, so that a restart
    /// on a full disk can open the stores (`reserve`); 0: none.
    pub reserve_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./data"),
            reserve_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WalSettings {
    /// Roll to a new segment file after this many bytes.
    pub segment_bytes: u64,
    /// fsync before acknowledging. Turning this off gives up the durability contract; it
    /// exists only for benchmarks that want to measure everything but the disk.
    pub fsync: bool,
}

impl Default for WalSettings {
    fn default() -> Self {
        WalSettings {
            segment_bytes: 16 * 1024 * 1024,
            fsync: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IndexSettings {
    /// How often new records are committed (made searchable), in milliseconds.
    pub commit_interval_ms: u64,
    /// Memory budget of the writer of the newest partition, in MiB (split across threads).
    pub writer_memory_mb: usize,
    /// Indexing threads of the writer of the newest partition.
    pub writer_threads: usize,
    /// Writers of partitions that received no record for this long are closed.
    pub idle_writer_close_secs: u64,
    /// zstd level of the stored original records.
    pub docstore_zstd_level: i32,
    /// Length of a partition (one tantivy index), in hours: 24 (a UTC day) or a divisor of 24.
    pub partition_hours: u32,
}

impl Default for IndexSettings {
    fn default() -> Self {
        IndexSettings {
            commit_interval_ms: 1000,
            writer_memory_mb: 128,
            writer_threads: 2,
            idle_writer_close_secs: 60,
            docstore_zstd_level: 3,
            partition_hours: 24,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Largest accepted request body, after decompression, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Largest accepted single JSON line, in bytes (that line is rejected above it).
    pub max_line_bytes: usize,
    /// When this many acknowledged records wait to be indexed, ingest answers 429.
    pub backlog_high_water_records: u64,
    /// When the data dir's file system has less free space than this, ingest answers 429.
    pub min_free_disk_bytes: u64,
    /// Records timestamped further than this in the future are rejected (0 = no limit).
    pub max_future_secs: u64,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            max_body_bytes: 16 * 1024 * 1024,
            max_line_bytes: 1024 * 1024,
            backlog_high_water_records: 1_000_000,
            min_free_disk_bytes: 256 * 1024 * 1024,
            max_future_secs: 86_400,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Records older than this many days are deleted (whole partitions).
    pub days: u32,
    /// Records at ERROR and above are kept this many days (≥ `days`); 0 means the same as `days`.
    pub keep_errors_days: u32,
    /// Upper bound on bytes used by the indexes; 0 means no bound. At the bound, the oldest
    /// partitions lose their below-ERROR records first, then whole oldest partitions go.
    pub max_disk_bytes: u64,
    /// How often retention runs, in seconds.
    pub check_interval_secs: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            days: 30,
            keep_errors_days: 90,
            max_disk_bytes: 0,
            check_interval_secs: 60,
        }
    }
}

impl RetentionSettings {
    pub fn effective_keep_errors_days(&self) -> u32 {
        self.keep_errors_days.max(self.days)
    }
}

/// Metrics storage: retention per resolution, cardinality limits, and how often the in-memory
/// head is flushed to disk (which bounds the metrics WAL replayed after a crash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Raw samples are kept this many days.
    pub raw_retention_days: u32,
    /// 1-minute rollups are kept this many days.
    pub minute_retention_days: u32,
    /// 5-minute rollups are kept this many days.
    pub five_minute_retention_days: u32,
    /// 1-hour rollups are kept this many days.
    pub hour_retention_days: u32,
    /// Memory for decoded closed 5-minute rollup blocks, MiB (0: no cache): long-range
    /// queries read them from it instead of decoding them again. Default: 1/16 of the
    /// memory available to the process, at most 1024 (`tsdb::default_rollup_cache_mb`).
    pub rollup_cache_mb: usize,
    /// Most series stored in total; a new series beyond it is rejected with a reason.
    pub max_series: usize,
    /// Most series per metric name; a new series beyond it is rejected with a reason.
    pub max_series_per_metric: usize,
    /// How often the head (open chunks and rollup buckets) is written to disk, in seconds.
    pub flush_interval_secs: u64,
    /// Metrics WAL records not yet applied to the store above which ingest answers 429.
    pub backlog_high_water: u64,
    /// A sample timestamped further than this many seconds ahead is refused (0: no limit).
    pub max_future_secs: u64,
    /// New series are refused while the process would use more than this percent of the
    /// memory available to it (0: no bound).
    pub new_series_memory_percent: u8,
    /// Metrics derived from logs (`[[metrics.from_logs]]`), for apps that emit no metrics.
    pub from_logs: Vec<LogMetricRule>,
}

/// A metric computed from the logs a query selects: a counter of matching records, or a
/// histogram of a numeric field's values, per combination of `by` values, per minute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogMetricRule {
    /// The metric name (`log_errors_total`, `http_request_duration_ms`).
    pub name: String,
    /// A log query filter (the query language, without pipes).
    pub query: String,
    /// Labels from fields: `service`, `label=field`, or `label=field:class` (an HTTP status
    /// code as its class, `5xx`).
    #[serde(default)]
    pub by: Vec<String>,
    /// When set, a histogram of this numeric field (classic `_bucket`/`_sum`/`_count` series
    /// plus a distribution for percentiles) instead of a counter.
    #[serde(default)]
    pub histogram: Option<String>,
    /// Histogram bucket upper bounds (default: 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
    /// 10000 — suited to milliseconds).
    #[serde(default)]
    pub buckets: Vec<f64>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            raw_retention_days: 2,
            minute_retention_days: 30,
            five_minute_retention_days: 90,
            hour_retention_days: 400,
            rollup_cache_mb: crate::tsdb::default_rollup_cache_mb(),
            max_series: 500_000,
            max_series_per_metric: 100_000,
            flush_interval_secs: 60,
            backlog_high_water: 10_000,
            max_future_secs: 600,
            new_series_memory_percent: 80,
            from_logs: Vec::new(),
        }
    }
}

/// Everything the collector needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CollectorConfig {
    pub storage: StorageConfig,
    pub wal: WalSettings,
    pub index: IndexSettings,
    pub ingest: IngestSettings,
    pub retention: RetentionSettings,
    pub metrics: MetricsSettings,
}

/// A config value that is out of range, with the dotted key that names it.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    pub key: &'static str,
    pub reason: String,
}

impl CollectorConfig {
    /// Checks ranges that serde cannot; the first problem found is returned with its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn fail(key: &'static str, reason: impl Into<String>) -> Result<(), ConfigError> {
            Err(ConfigError {
                key,
                reason: reason.into(),
            })
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return fail("storage.data_dir", "must not be empty");
        }
        if self.wal.segment_bytes < 1024 * 1024 {
            return fail("wal.segment_bytes", "must be at least 1048576 (1 MiB)");
        }
        if !(10..=600_000).contains(&self.index.commit_interval_ms) {
            return fail("index.commit_interval_ms", "must be between 10 and 600000");
        }
        if !(1..=16).contains(&self.index.writer_threads) {
            return fail("index.writer_threads", "must be between 1 and 16");
        }
        if self.index.writer_memory_mb < 15 * self.index.writer_threads {
            return fail(
                "index.writer_memory_mb",
                format!(
                    "must be at least 15 MiB per writer thread ({} threads)",
                    self.index.writer_threads
                ),
            );
        }
        if !(-7..=22).contains(&self.index.docstore_zstd_level) {
            return fail("index.docstore_zstd_level", "must be between -7 and 22");
        }
        if !crate::index::partition::ALLOWED_PARTITION_HOURS.contains(&self.index.partition_hours) {
            return fail(
                "index.partition_hours",
                format!(
                    "must divide a day: one of {:?}",
                    crate::index::partition::ALLOWED_PARTITION_HOURS
                ),
            );
        }
        if self.ingest.max_body_bytes < 1024 {
            return fail("ingest.max_body_bytes", "must be at least 1024");
        }
        if self.ingest.max_line_bytes == 0
            || self.ingest.max_line_bytes > self.ingest.max_body_bytes
        {
            return fail(
                "ingest.max_line_bytes",
                "must be between 1 and ingest.max_body_bytes",
            );
        }
        if self.ingest.backlog_high_water_records == 0 {
            return fail("ingest.backlog_high_water_records", "must be at least 1");
        }
        if self.retention.days == 0 {
            return fail("retention.days", "must be at least 1");
        }
        if self.retention.keep_errors_days != 0
            && self.retention.keep_errors_days < self.retention.days
        {
            return fail(
                "retention.keep_errors_days",
                "must be 0 or at least retention.days",
            );
        }
        let m = &self.metrics;
        if m.raw_retention_days == 0 {
            return fail("metrics.raw_retention_days", "must be at least 1");
        }
        if m.minute_retention_days < m.raw_retention_days {
            return fail(
                "metrics.minute_retention_days",
                "must be at least metrics.raw_retention_days",
            );
        }
        if m.five_minute_retention_days < m.minute_retention_days {
            return fail(
                "metrics.five_minute_retention_days",
                "must be at least metrics.minute_retention_days",
            );
        }
        if m.hour_retention_days < m.five_minute_retention_days {
            return fail(
                "metrics.hour_retention_days",
                "must be at least metrics.five_minute_retention_days",
            );
        }
        if m.max_series == 0 {
            return fail("metrics.max_series", "must be at least 1");
        }
        if m.max_series_per_metric == 0 || m.max_series_per_metric > m.max_series {
            return fail(
                "metrics.max_series_per_metric",
                "must be between 1 and metrics.max_series",
            );
        }
        if m.new_series_memory_percent > 95 {
            return fail(
                "metrics.new_series_memory_percent",
                "must be between 0 (no bound) and 95",
            );
        }
        if m.flush_interval_secs == 0 {
            return fail("metrics.flush_interval_secs", "must be at least 1");
        }
        if m.backlog_high_water == 0 {
            return fail("metrics.backlog_high_water", "must be at least 1");
        }
        if self.retention.check_interval_secs == 0 {
            return fail("retention.check_interval_secs", "must be at least 1");
        }
        Ok(())
    }

    pub fn metrics_wal_dir(&self) -> PathBuf {
        self.storage.data_dir.join("metrics").join("wal")
    }
    pub fn metrics_store_dir(&self) -> PathBuf {
        self.storage.data_dir.join("metrics").join("store")
    }
    pub fn wal_dir(&self) -> PathBuf {
        self.storage.data_dir.join("wal")
    }
    pub fn index_dir(&self) -> PathBuf {
        self.storage.data_dir.join("index")
    }
}
