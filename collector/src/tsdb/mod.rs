//! Metrics: the data model (`types`) and, built on it, the time-series store (raw chunks:
//! Gorilla XOR while open, decimal-packed once closed where that is exact and smaller, the
//! closed ones in append-only chunk files; the open chunks, the rollups and the index in
//! sled; behind the [`MetricStore`] trait): [`TsdbStore`].

pub mod block;
#[cfg(test)]
mod bucket_props;
pub mod cache;
pub mod cached_block;
pub mod chunkfile;
pub mod colblock;
pub mod decimal;
pub mod gorilla;
pub mod head;
pub mod index;
pub mod ingest;
pub mod kv;
mod read;
mod retention;
pub mod rollup;
pub mod sled_kv;
mod store;
pub mod tier;
pub mod types;

pub use retention::RetentionReport;
pub use rollup::rollup;
pub use store::{
    default_rollup_cache_mb, TsdbLimits, TsdbStats, TsdbStore, FALLBACK_ROLLUP_CACHE_MB,
    MAX_DEFAULT_ROLLUP_CACHE_MB, TSDB_FORMAT_VERSION,
};

pub use types::*;

/// Errors of the time-series store.
#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    #[error("metrics storage: {0}")]
    Storage(String),
    #[error("stored metrics data is corrupt: {0}")]
    Corrupt(String),
    #[error("invalid matcher: {0}")]
    BadMatcher(String),
}

/// What [`MetricStore::visit_rollups`] calls per series.
pub type RollupVisitor<'a> = dyn Fn(&Labels, MetricKind, &RollupColumns) + Sync + 'a;

/// What [`MetricStore::visit_rollups_sorted`] calls per series, in label order.
pub type SortedRollupVisitor<'a> = dyn FnMut(&Labels, MetricKind, &RollupColumns) + 'a;

/// Merged distributions of one histogram family per bucket (`start_ms`, histogram).
pub type DistributionSeries = (Labels, Vec<(i64, hdrhistogram::Histogram<u64>)>);

/// The read side of the time-series store: what the PromQL engine and the Prometheus HTTP
/// API need. Implementations: the sled store (production) and an in-memory one (tests).
pub trait MetricStore: Send + Sync + 'static {
    /// The series matching every matcher that have data in `[start_ms, end_ms]`, with that
    /// data at the requested resolution, sorted by labels.
    fn select(&self, req: &SelectRequest) -> Result<Vec<SeriesData>, TsdbError>;

    /// The rollup buckets of a non-raw `select`, column by column (only `cols` besides start
    /// and count), handed to `visit` one series at a time instead of gathered: a long range
    /// over many series would otherwise hold every bucket in memory at once. `visit` may be
    /// called from several threads at once and in any series order. The default goes
    /// through [`MetricStore::select`] (raw answers are folded into buckets).
    fn visit_rollups(
        &self,
        req: &SelectRequest,
        cols: ColumnSet,
        visit: &RollupVisitor<'_>,
    ) -> Result<(), TsdbError> {
        self.visit_rollups_sorted(req, cols, &mut |l, k, c| visit(l, k, c))
    }

    /// [`MetricStore::visit_rollups`] on the calling thread, one series at a time in label
    /// order: for an evaluation whose answer depends on the series order (a floating-point
    /// sum), split by time over threads instead. The default goes through
    /// [`MetricStore::select`] (sorted; raw answers are folded into buckets).
    fn visit_rollups_sorted(
        &self,
        req: &SelectRequest,
        cols: ColumnSet,
        visit: &mut SortedRollupVisitor<'_>,
    ) -> Result<(), TsdbError> {
        let mut c = RollupColumns::default();
        for sd in self.select(req)? {
            c.clear();
            let folded;
            let buckets = match &sd.points {
                Points::Rollup(_, b) => b,
                Points::Raw(samples) => {
                    folded = rollup(samples, sd.kind, req.resolution, None);
                    &folded
                }
            };
            for b in buckets {
                c.push(b, cols);
            }
            visit(&sd.labels, sd.kind, &c);
        }
        Ok(())
    }

    /// Merged HdrHistograms of the distribution families matching, per bucket of
    /// `resolution` (`Raw` means per ingested observation time).
    fn select_distributions(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        resolution: Resolution,
    ) -> Result<Vec<DistributionSeries>, TsdbError>;

    /// Label sets of the matching series with data in the range (`/api/v1/series`).
    fn series(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, TsdbError>;

    /// Label names present on matching series (all series when `matchers` is empty).
    fn label_names(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError>;

    /// Values of one label on matching series.
    fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError>;
}

/// A store with no data: what the collector serves until the metrics store is wired in.
#[derive(Debug, Default)]
pub struct EmptyStore;

impl MetricStore for EmptyStore {
    fn select(&self, _req: &SelectRequest) -> Result<Vec<SeriesData>, TsdbError> {
        Ok(Vec::new())
    }
    fn select_distributions(
        &self,
        _matchers: &[LabelMatcher],
        _start_ms: i64,
        _end_ms: i64,
        _resolution: Resolution,
    ) -> Result<Vec<DistributionSeries>, TsdbError> {
        Ok(Vec::new())
    }
    fn series(&self, _m: &[LabelMatcher], _s: i64, _e: i64) -> Result<Vec<Labels>, TsdbError> {
        Ok(Vec::new())
    }
    fn label_names(&self, _m: &[LabelMatcher], _s: i64, _e: i64) -> Result<Vec<String>, TsdbError> {
        Ok(Vec::new())
    }
    fn label_values(
        &self,
        _name: &str,
        _m: &[LabelMatcher],
        _s: i64,
        _e: i64,
    ) -> Result<Vec<String>, TsdbError> {
        Ok(Vec::new())
    }
}
