//! The write side of metrics: admission (cardinality limits), the metrics WAL (acknowledged
//! only once fsynced), and application to the store in WAL order.
//!
//! PLACEHOLDER: the API is final, the implementation lands with the metrics store.

use super::MetricBatch;
use crate::ingest::IngestError;

/// A series (or some of its samples) that was not stored, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RejectedSeries {
    /// The series as Prometheus prints it (`name{a="1"}`).
    pub series: String,
    pub samples: usize,
    pub reason: String,
}

/// What an append stored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AppendReport {
    pub accepted_samples: usize,
    pub rejected: Vec<RejectedSeries>,
}

/// The metrics write path (one per collector).
#[derive(Default)]
pub struct MetricsIngestor {}

impl MetricsIngestor {
    /// Admits the batch (series over the cardinality limits are rejected, with the reason),
    /// appends what is admitted to the metrics WAL and returns once it is fsynced; under
    /// pressure returns [`IngestError::Backpressure`] (429 / RESOURCE_EXHAUSTED).
    pub async fn append(
        &self,
        batch: MetricBatch,
        _endpoint: &'static str,
    ) -> Result<AppendReport, IngestError> {
        Ok(AppendReport {
            accepted_samples: batch.sample_count(),
            rejected: Vec::new(),
        })
    }
}
