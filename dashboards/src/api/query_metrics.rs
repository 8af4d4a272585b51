//! How long queries take, by kind (`logs` for the query language's searches and
//! aggregations, `promql` for the Prometheus API), exported on `/metrics` as
//! `pharos_query_duration_seconds` — the built-in "Pharos" dashboard charts its quantiles.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryKindLabel {
    pub kind: &'static str,
}

type HistogramFamily = Family<QueryKindLabel, Histogram, fn() -> Histogram>;

pub struct QueryMetrics {
    duration: HistogramFamily,
}

fn buckets() -> Histogram {
    // 1 ms .. ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for QueryMetrics {
    fn default() -> Self {
        QueryMetrics {
            duration: Family::new_with_constructor(buckets),
        }
    }
}

impl QueryMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.sub_registry_with_prefix("pharos").register(
            "query_duration_seconds",
            "Time to answer a query, by kind (logs, promql), failed ones included",
            self.duration.clone(),
        );
    }

    pub fn observe(&self, kind: &'static str, started: std::time::Instant) {
        self.duration
            .get_or_create(&QueryKindLabel { kind })
            .observe(started.elapsed().as_secs_f64());
    }
}
