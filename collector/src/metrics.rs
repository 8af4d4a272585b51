//! Pharos's own figures for the collector, exported on `/metrics` in Prometheus text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label for per-endpoint figures: `ndjson`, `otlp_http`, `otlp_grpc`, `remote_write`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    pub endpoint: &'static str,
}

/// Labels of rejected metric samples: the endpoint and why (`invalid`, `unsupported`,
/// `limit`, `backpressure`, `unavailable`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MetricRejectLabel {
    pub endpoint: &'static str,
    pub reason: &'static str,
}

/// Every collector metric. Cheap to share behind an `Arc`.
pub struct CollectorMetrics {
    pub records_ingested: Family<EndpointLabel, Counter>,
    pub bytes_ingested: Family<EndpointLabel, Counter>,
    pub records_rejected: Family<EndpointLabel, Counter>,
    pub requests_throttled: Family<EndpointLabel, Counter>,
    pub wal_fsync_seconds: Histogram,
    pub wal_bytes: Gauge,
    pub index_commit_seconds: Histogram,
    pub records_indexed: Counter,
    pub index_backlog_records: Gauge,
    pub partitions: Gauge,
    pub index_open_writers: Gauge,
    pub disk_used_bytes: Gauge,
    pub retention_partitions_deleted: Counter,
    pub metric_samples_received: Family<EndpointLabel, Counter>,
    pub metric_samples_rejected: Family<MetricRejectLabel, Counter>,
    /// Panics caught (in a request, a query thread or a background task): each one is a bug,
    /// and none takes the process down.
    pub panics: Counter,
}

impl Default for CollectorMetrics {
    fn default() -> Self {
        CollectorMetrics {
            records_ingested: Family::default(),
            bytes_ingested: Family::default(),
            records_rejected: Family::default(),
            requests_throttled: Family::default(),
            // 50 µs .. ~3.3 s
            wal_fsync_seconds: Histogram::new(exponential_buckets(0.00005, 2.0, 17)),
            wal_bytes: Gauge::default(),
            // 1 ms .. ~32 s
            index_commit_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            records_indexed: Counter::default(),
            index_backlog_records: Gauge::default(),
            partitions: Gauge::default(),
            index_open_writers: Gauge::default(),
            disk_used_bytes: Gauge::default(),
            retention_partitions_deleted: Counter::default(),
            metric_samples_received: Family::default(),
            metric_samples_rejected: Family::default(),
            panics: Counter::default(),
        }
    }
}

impl CollectorMetrics {
    /// Registers every metric under the `pharos_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("pharos");
        r.register(
            "panics",
            "Panics caught in a request, a query thread or a background task (each is a bug; the process kept serving)",
            self.panics.clone(),
        );
        r.register(
            "ingest_records",
            "Log records acknowledged, per ingest endpoint",
            self.records_ingested.clone(),
        );
        r.register(
            "ingest_bytes",
            "Request body bytes (decompressed) acknowledged, per ingest endpoint",
            self.bytes_ingested.clone(),
        );
        r.register(
            "ingest_rejected_records",
            "Log records rejected as invalid, per ingest endpoint",
            self.records_rejected.clone(),
        );
        r.register(
            "ingest_throttled_requests",
            "Requests answered 429/RESOURCE_EXHAUSTED because of backpressure",
            self.requests_throttled.clone(),
        );
        r.register(
            "wal_fsync_seconds",
            "Latency of one write-ahead-log group commit (write + fsync)",
            self.wal_fsync_seconds.clone(),
        );
        r.register(
            "wal_size_bytes",
            "Bytes in write-ahead-log segments",
            self.wal_bytes.clone(),
        );
        r.register(
            "index_commit_seconds",
            "Latency of one index commit round",
            self.index_commit_seconds.clone(),
        );
        r.register(
            "index_records",
            "Records indexed",
            self.records_indexed.clone(),
        );
        r.register(
            "index_backlog_records",
            "Records durable in the WAL but not yet indexed",
            self.index_backlog_records.clone(),
        );
        r.register(
            "index_partitions",
            "Index partitions on disk",
            self.partitions.clone(),
        );
        r.register(
            "index_open_writers",
            "Index writers open (one per partition receiving records)",
            self.index_open_writers.clone(),
        );
        r.register(
            "disk_used_bytes",
            "Bytes used under the data dir (WAL and indexes)",
            self.disk_used_bytes.clone(),
        );
        r.register(
            "retention_deleted_partitions",
            "Partitions deleted by retention",
            self.retention_partitions_deleted.clone(),
        );
        r.register(
            "metric_samples_received",
            "Metric samples received (remote write, OTLP), per ingest endpoint",
            self.metric_samples_received.clone(),
        );
        r.register(
            "metric_samples_rejected",
            "Metric samples not stored, per ingest endpoint and reason",
            self.metric_samples_rejected.clone(),
        );
    }
}
