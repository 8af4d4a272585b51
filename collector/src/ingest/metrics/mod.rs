//! Metrics ingest: Prometheus remote write 1.0 (`POST /api/v1/write`) and OTLP metrics
//! (`POST /v1/metrics`, protobuf or JSON, and gRPC `MetricsService/Export`), each converted
//! into a [`MetricBatch`] and handed to the [`MetricsIngestor`] (admission, WAL, store).
//!
//! Counted on `/metrics`: `pharos_metric_samples_received_total{endpoint}` (samples as
//! converted, plus what conversion rejected) and
//! `pharos_metric_samples_rejected_total{endpoint,reason}` with `reason` one of
//! [`RejectKind`]'s labels or `backpressure` / `unavailable` (the request was refused whole).
//! For OTLP, a data point that conversion rejects counts as one sample.

pub mod exposition;
pub mod grpc;
pub mod http;
pub mod naming;
pub mod otlp;
#[cfg(test)]
mod props;
pub mod remote_write;

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};

use super::IngestError;
use crate::clock::SharedClock;
use crate::config::IngestSettings;
use crate::metrics::{CollectorMetrics, EndpointLabel, MetricRejectLabel};
use crate::tsdb::ingest::{AppendReport, MetricsIngestor, RejectedSeries};
use crate::tsdb::MetricBatch;

/// Endpoint label of remote write (the OTLP endpoints use [`super::ENDPOINT_OTLP_HTTP`] and
/// [`super::ENDPOINT_OTLP_GRPC`]).
pub const ENDPOINT_REMOTE_WRITE: &str = "remote_write";
/// Endpoint label of what Pharos writes itself ([`MetricsIngest::append_internal`]).
pub const ENDPOINT_INTERNAL: &str = "internal";

/// Why conversion or admission rejected something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectKind {
    /// Invalid names, labels, values or times.
    Invalid,
    /// Valid but not convertible (native histograms, delta non-monotonic sums, …).
    Unsupported,
    /// Refused by the store's limits (cardinality).
    Limit,
}

impl RejectKind {
    pub fn label(self) -> &'static str {
        match self {
            RejectKind::Invalid => "invalid",
            RejectKind::Unsupported => "unsupported",
            RejectKind::Limit => "limit",
        }
    }
}

/// A series (remote write) or data points (OTLP) not stored, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The series as sent (`name{a="1"}`), or the OTLP metric name and point attributes.
    pub series: String,
    /// Samples (remote write) or data points (OTLP).
    pub samples: usize,
    pub reason: String,
    pub kind: RejectKind,
}

/// A request converted: what to append, and what conversion rejected.
#[derive(Default, Debug)]
pub struct Converted {
    pub batch: MetricBatch,
    pub rejected: Vec<Rejected>,
}

/// The metrics ingest path of one collector: conversion state and counters around the
/// [`MetricsIngestor`].
pub struct MetricsIngest {
    ingestor: Arc<MetricsIngestor>,
    metrics: Arc<CollectorMetrics>,
    clock: SharedClock,
    max_body_bytes: usize,
    metadata: remote_write::MetadataCache,
    otlp: otlp::OtlpState,
}

/// What a remote write request came to.
#[derive(Debug)]
pub struct RemoteWriteOutcome {
    /// Series rejected as invalid or unsupported (the answer is then a 400, per the spec).
    pub invalid: Vec<Rejected>,
    /// What the store took and what its limits refused (answered 2xx).
    pub report: AppendReport,
}

impl MetricsIngest {
    pub fn new(
        ingestor: Arc<MetricsIngestor>,
        metrics: Arc<CollectorMetrics>,
        clock: SharedClock,
        settings: &IngestSettings,
    ) -> MetricsIngest {
        let now = clock.now_ns();
        MetricsIngest {
            ingestor,
            metrics,
            clock,
            max_body_bytes: settings.max_body_bytes,
            metadata: remote_write::MetadataCache::default(),
            otlp: otlp::OtlpState::new(now),
        }
    }

    /// Largest request body, as sent and decompressed.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The OTLP conversion state (for tests and diagnostics).
    pub fn otlp_state(&self) -> &otlp::OtlpState {
        &self.otlp
    }

    fn count(&self, endpoint: &'static str, reason: &'static str, n: usize) {
        if n > 0 {
            self.metrics
                .metric_samples_rejected
                .get_or_create(&MetricRejectLabel { endpoint, reason })
                .inc_by(n as u64);
        }
    }

    /// Counts what arrived, appends the batch, counts what was refused.
    async fn submit(
        &self,
        batch: MetricBatch,
        rejected: &[Rejected],
        endpoint: &'static str,
    ) -> Result<AppendReport, IngestError> {
        let own: usize = rejected.iter().map(|r| r.samples).sum();
        let samples = batch.sample_count();
        self.metrics
            .metric_samples_received
            .get_or_create(&EndpointLabel { endpoint })
            .inc_by((samples + own) as u64);
        for r in rejected {
            self.count(endpoint, r.kind.label(), r.samples);
        }
        if !rejected.is_empty() {
            tracing::debug!(
                endpoint,
                rejected = rejected.len(),
                first = %rejected[0].reason,
                "metrics rejected in conversion"
            );
        }
        if batch.series.is_empty() && batch.distributions.is_empty() {
            return Ok(AppendReport::default());
        }
        match self.ingestor.append(batch, endpoint).await {
            Ok(report) => {
                let (limited, invalid): (Vec<&RejectedSeries>, Vec<&RejectedSeries>) =
                    report.rejected.iter().partition(|r| r.by_limit);
                for (kind, refused, what) in [
                    (RejectKind::Limit, &limited, "metrics series refused by the store's limits"),
                    (
                        RejectKind::Invalid,
                        &invalid,
                        "metrics samples refused by the store (out of order, duplicate, too old or too far ahead)",
                    ),
                ] {
                    let Some(first) = refused.first() else { continue };
                    let n: usize = refused.iter().map(|r| r.samples).sum();
                    self.count(endpoint, kind.label(), n);
                    tracing::warn!(
                        endpoint,
                        rejected_series = refused.len(),
                        rejected_samples = n,
                        accepted_samples = report.accepted_samples,
                        first_series = %first.series,
                        first_reason = %first.reason,
                        "{what}"
                    );
                }
                Ok(report)
            }
            Err(e) => {
                let reason = match e {
                    IngestError::Backpressure { .. } => "backpressure",
                    _ => "unavailable",
                };
                self.count(endpoint, reason, samples);
                Err(e)
            }
        }
    }

    /// Samples Pharos makes itself (the checks' probe results), appended and counted under
    /// the endpoint `internal`, durable like any other.
    pub async fn append_internal(&self, batch: MetricBatch) -> Result<AppendReport, IngestError> {
        self.submit(batch, &[], ENDPOINT_INTERNAL).await
    }

    /// A decoded remote write request: converted, appended, counted.
    pub async fn remote_write(
        &self,
        req: &remote_write::WriteRequest,
    ) -> Result<RemoteWriteOutcome, IngestError> {
        let converted = remote_write::to_batch(req, &self.metadata);
        let report = self
            .submit(converted.batch, &converted.rejected, ENDPOINT_REMOTE_WRITE)
            .await?;
        // What the store refused as invalid for it (out of order, too far ahead, …) is a
        // 400 as in Prometheus; what a limit refused stays a 2xx (a retry cannot help and a
        // 4xx would make the sender drop the other series' samples for good).
        let mut invalid = converted.rejected;
        invalid.extend(
            report
                .rejected
                .iter()
                .filter(|r| !r.by_limit)
                .map(|r| Rejected {
                    series: r.series.clone(),
                    samples: r.samples,
                    reason: r.reason.clone(),
                    kind: RejectKind::Invalid,
                }),
        );
        Ok(RemoteWriteOutcome { invalid, report })
    }

    /// A decoded OTLP request: converted, appended, counted; the answer carries
    /// `partial_success` when data points were rejected (or a warning).
    pub async fn export_otlp(
        &self,
        req: &ExportMetricsServiceRequest,
        endpoint: &'static str,
    ) -> Result<ExportMetricsServiceResponse, IngestError> {
        let mut conv = self.otlp.convert(req, self.clock.now_ns());
        let batch = std::mem::take(&mut conv.converted.batch);
        let report = self
            .submit(batch, &conv.converted.rejected, endpoint)
            .await?;
        let pending = std::mem::take(&mut conv.pending);
        self.otlp.commit(pending, self.clock.now_ns());
        Ok(export_response(&conv, &report))
    }
}

/// The OTLP answer: `partial_success` when conversion or the store rejected something.
fn export_response(
    conv: &otlp::OtlpConverted,
    report: &AppendReport,
) -> ExportMetricsServiceResponse {
    let own = &conv.converted.rejected;
    if own.is_empty() && report.rejected.is_empty() {
        return ExportMetricsServiceResponse {
            partial_success: None,
        };
    }
    let own_points: usize = own.iter().map(|r| r.samples).sum();
    let limited = conv.points_of(report.rejected.iter().map(|r| r.series.as_str()));
    let mut reasons: Vec<String> = own
        .iter()
        .map(|r| r.reason.clone())
        .chain(
            report
                .rejected
                .iter()
                .map(|r| format!("{}: {}", r.series, r.reason)),
        )
        .collect();
    let total = reasons.len();
    reasons.truncate(10);
    let mut message = reasons.join("; ");
    if total > 10 {
        message.push_str(&format!("; and {} more", total - 10));
    }
    ExportMetricsServiceResponse {
        partial_success: Some(ExportMetricsPartialSuccess {
            rejected_data_points: (own_points + limited) as i64,
            error_message: message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::MetricsSettings;
    use crate::tsdb::ingest::MetricSink;
    use crate::tsdb::TsdbError;
    use crate::wal::{Wal, WalConfig};
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::{
        number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use remote_write::{Label, Sample, TimeSeries, WriteRequest};

    /// Refuses series whose name starts with `limited` (as cardinality limits would).
    struct LimitSink;

    impl MetricSink for LimitSink {
        fn admit(&self, batch: MetricBatch) -> (MetricBatch, Vec<RejectedSeries>) {
            let (ok, bad): (Vec<_>, Vec<_>) = batch
                .series
                .into_iter()
                .partition(|s| !s.labels.metric_name().starts_with("limited"));
            let rejected = bad
                .iter()
                .map(|s| RejectedSeries {
                    series: s.labels.to_string(),
                    samples: s.samples.len(),
                    reason: "over the series limit".into(),
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
        fn apply(&self, _lsn: u64, _batch: &MetricBatch) -> Result<(), TsdbError> {
            Ok(())
        }
        fn durable_lsn(&self) -> u64 {
            0
        }
        fn flush(&self) -> Result<u64, TsdbError> {
            Ok(0)
        }
        fn run_retention(&self, _now_ms: i64) -> Result<(), TsdbError> {
            Ok(())
        }
    }

    fn ingest(dir: &std::path::Path) -> (MetricsIngest, Arc<CollectorMetrics>) {
        let metrics = Arc::new(CollectorMetrics::default());
        let mut wal_config = WalConfig::new(dir.join("wal"));
        wal_config.fsync = false;
        let (wal, _) = Wal::open(wal_config, metrics.clone()).expect("wal");
        let clock: crate::clock::SharedClock =
            Arc::new(ManualClock::new(1_700_000_000_000_000_000));
        let ingestor = MetricsIngestor::start(
            wal,
            Arc::new(LimitSink),
            MetricsSettings::default(),
            metrics.clone(),
            None,
            clock.clone(),
        )
        .expect("ingestor");
        let ingest = MetricsIngest::new(
            Arc::new(ingestor),
            metrics.clone(),
            clock,
            &IngestSettings::default(),
        );
        (ingest, metrics)
    }

    fn exposition(metrics: &CollectorMetrics) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encode");
        out
    }

    fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Gauge(Gauge {
                data_points: points,
            })),
            ..Default::default()
        }
    }

    fn point(t: u64) -> NumberDataPoint {
        NumberDataPoint {
            time_unix_nano: t,
            value: Some(number_data_point::Value::AsDouble(1.0)),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn otlp_export_counts_samples_and_reports_partial_success() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ingest, metrics) = ingest(dir.path());
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        gauge("a.b", vec![point(1_000_000), point(0), point(2_000_000)]),
                        gauge("!!", vec![point(1_000_000)]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let resp = ingest
            .export_otlp(&req, crate::ingest::ENDPOINT_OTLP_HTTP)
            .await
            .expect("export");
        let partial = resp.partial_success.expect("partial success");
        assert_eq!(partial.rejected_data_points, 2);
        assert!(
            partial.error_message.contains("time_unix_nano is not set"),
            "{}",
            partial.error_message
        );
        assert!(partial.error_message.contains("\"!!\""));
        let text = exposition(&metrics);
        assert!(
            text.contains("pharos_metric_samples_received_total{endpoint=\"otlp_http\"} 4"),
            "{text}"
        );
        assert!(text.contains(
            "pharos_metric_samples_rejected_total{endpoint=\"otlp_http\",reason=\"invalid\"} 2"
        ));

        // A clean request: no partial_success.
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![gauge("ok", vec![point(5_000_000)])],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let resp = ingest
            .export_otlp(&req, crate::ingest::ENDPOINT_OTLP_GRPC)
            .await
            .expect("export");
        assert_eq!(resp.partial_success, None);

        // Series the store's limits refuse: counted as `limit`, mapped back to data points.
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        gauge("limited.a", vec![point(5_000_000), point(6_000_000)]),
                        gauge("limited.b", vec![point(5_000_000)]),
                        gauge("fine", vec![point(5_000_000)]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let resp = ingest
            .export_otlp(&req, crate::ingest::ENDPOINT_OTLP_GRPC)
            .await
            .expect("export");
        let partial = resp.partial_success.expect("partial success");
        assert_eq!(partial.rejected_data_points, 3);
        assert!(
            partial
                .error_message
                .starts_with("limited_a{}: over the series limit; limited_b{}"),
            "{}",
            partial.error_message
        );
        let text = exposition(&metrics);
        assert!(text.contains(
            "pharos_metric_samples_rejected_total{endpoint=\"otlp_grpc\",reason=\"limit\"} 3"
        ));
        assert!(text.contains("pharos_metric_samples_received_total{endpoint=\"otlp_grpc\"} 5"));
    }

    #[tokio::test]
    async fn remote_write_counts_samples_and_returns_invalid_series() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ingest, metrics) = ingest(dir.path());
        let series = |name: &str, n: i64| TimeSeries {
            labels: vec![Label::new("__name__", name)],
            samples: (0..n)
                .map(|t| Sample {
                    value: 1.0,
                    timestamp: t,
                })
                .collect(),
            ..Default::default()
        };
        let req = WriteRequest {
            timeseries: vec![series("good", 3), series("bad-name", 2)],
            metadata: vec![],
        };
        let outcome = ingest.remote_write(&req).await.expect("write");
        assert_eq!(outcome.report.accepted_samples, 3);
        assert_eq!(outcome.invalid.len(), 1);
        assert_eq!(outcome.invalid[0].series, "bad-name{}");
        let text = exposition(&metrics);
        assert!(text.contains("pharos_metric_samples_received_total{endpoint=\"remote_write\"} 5"));
        assert!(text.contains(
            "pharos_metric_samples_rejected_total{endpoint=\"remote_write\",reason=\"invalid\"} 2"
        ));

        // Only limit rejections: no invalid series (the handler answers 204), counted.
        let req = WriteRequest {
            timeseries: vec![series("good", 1), series("limited_x", 4)],
            metadata: vec![],
        };
        let outcome = ingest.remote_write(&req).await.expect("write");
        assert!(outcome.invalid.is_empty());
        assert_eq!(outcome.report.accepted_samples, 1);
        assert_eq!(outcome.report.rejected.len(), 1);
        assert_eq!(outcome.report.rejected[0].series, "limited_x{}");
        let text = exposition(&metrics);
        assert!(text.contains(
            "pharos_metric_samples_rejected_total{endpoint=\"remote_write\",reason=\"limit\"} 4"
        ));
    }
}
