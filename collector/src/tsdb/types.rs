//! The metrics data model shared by metrics ingest, the time-series store and the PromQL
//! engine: label sets, samples, ingest batches, and what a query reads back (raw samples or
//! rollup buckets).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// A label set: unique names, sorted by name, `__name__` included. Series identity is the
/// metric name plus the sorted labels, i.e. this value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Labels(Vec<(String, String)>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("label name `{0}` is not valid (letters, digits and `_`, not starting with a digit)")]
    BadName(String),
    #[error("label `{0}` appears twice")]
    Duplicate(String),
    #[error("the series has no metric name (`__name__`)")]
    NoName,
    #[error(
        "metric name `{0}` is not valid (letters, digits, `_` and `:`, not starting with a digit)"
    )]
    BadMetricName(String),
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Labels {
    /// Builds a label set; labels with empty values are dropped (Prometheus semantics: an
    /// empty label is an absent label).
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Labels, LabelError> {
        let mut v: Vec<(String, String)> =
            pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        for w in v.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(LabelError::Duplicate(w[0].0.clone()));
            }
        }
        for (n, val) in &v {
            if n == METRIC_NAME {
                if !valid_metric_name(val) {
                    return Err(LabelError::BadMetricName(val.clone()));
                }
            } else if !valid_label_name(n) {
                return Err(LabelError::BadName(n.clone()));
            }
        }
        if !v.iter().any(|(n, _)| n == METRIC_NAME) {
            return Err(LabelError::NoName);
        }
        Ok(Labels(v))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn metric_name(&self) -> &str {
        self.get(METRIC_NAME).unwrap_or("")
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Without the labels named (for `without`, or dropping `__name__` after a function).
    pub fn without(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| !names.contains(&n.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Only the labels named (for `by` / `on`).
    pub fn only(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| names.contains(&n.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Any sorted, unique pairs (results of PromQL operations, which may lack `__name__`).
    pub fn from_sorted_unchecked(pairs: Vec<(String, String)>) -> Labels {
        Labels(pairs)
    }
}

impl fmt::Display for Labels {
    /// `name{a="1", b="2"}`, as Prometheus prints a series.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{", self.metric_name())?;
        let mut first = true;
        for (n, v) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                write!(f, ", ")?;
            }
            first = false;
            write!(f, "{n}={v:?}")?;
        }
        write!(f, "}}")
    }
}

/// One sample: Unix milliseconds (Prometheus's resolution) and a float. Stale markers are the
/// special NaN Prometheus uses (`STALE_NAN_BITS`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub ts_ms: i64,
    pub value: f64,
}

/// Prometheus's staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

impl Sample {
    pub fn is_stale_marker(&self) -> bool {
        self.value.to_bits() == STALE_NAN_BITS
    }
}

/// What kind of metric a series belongs to (from Prometheus metadata or the OTLP data type).
/// Counters' rollups track increases across resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum MetricKind {
    Gauge,
    /// Monotonic (cumulative) counter; also each `_bucket`, `_count` and `_sum` of a classic
    /// histogram or summary.
    Counter,
    #[default]
    Unknown,
}

/// One series' samples in an ingest batch, in time order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub kind: MetricKind,
    pub samples: Vec<Sample>,
}

/// Observations of a distribution at one time (for HdrHistogram rollups): the values of a
/// log-derived latency histogram, or an OTLP histogram's bucket counts turned into
/// (representative value, count) pairs. `labels` name the histogram family (no `le`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub labels: Labels,
    pub ts_ms: i64,
    pub observations: Vec<(f64, u64)>,
}

/// What one ingest request adds; written to the metrics WAL as one record and applied to the
/// store in WAL order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricBatch {
    pub series: Vec<SeriesSamples>,
    pub distributions: Vec<Distribution>,
}

impl MetricBatch {
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum::<usize>() + self.distributions.len()
    }
}

/// A PromQL label matcher.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    /// Anchored, as in Prometheus (`=~"api.*"` matches the whole value).
    RegexMatch,
    RegexNoMatch,
}

/// Which data a read uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    Raw,
    /// 1-minute rollup buckets.
    Minute,
    /// 1-hour rollup buckets.
    Hour,
}

impl Resolution {
    pub fn bucket_ms(self) -> i64 {
        match self {
            Resolution::Raw => 0,
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
        }
    }
}

/// One rollup bucket `[start_ms, start_ms + width)` of one series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollupBucket {
    pub start_ms: i64,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first: Sample,
    pub last: Sample,
    /// For counters: the increase from the series' previous sample (in an earlier bucket, if
    /// any) to `last`, with resets handled (after a reset the counter counts from 0). The
    /// increase over any bucket-aligned window is the sum of its buckets' increases.
    pub increase: f64,
    pub resets: u32,
}

/// What a read returns for one series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesData {
    pub labels: Labels,
    pub kind: MetricKind,
    pub points: Points,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Points {
    Raw(Vec<Sample>),
    Rollup(Resolution, Vec<RollupBucket>),
}

/// A read of the series matching `matchers` with data in `[start_ms, end_ms]`.
#[derive(Clone, Debug)]
pub struct SelectRequest {
    pub matchers: Vec<LabelMatcher>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub resolution: Resolution,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Result<Labels, LabelError> {
        Labels::new(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn label_sets_are_sorted_validated_and_print_like_prometheus() {
        let ls = l(&[
            ("job", "api"),
            ("__name__", "up"),
            ("instance", "a:1"),
            ("empty", ""),
        ])
        .expect("labels");
        assert_eq!(ls.to_string(), r#"up{instance="a:1", job="api"}"#);
        assert_eq!(ls.get("job"), Some("api"));
        assert_eq!(ls.get("empty"), None);
        assert_eq!(l(&[("job", "x")]), Err(LabelError::NoName));
        assert!(matches!(
            l(&[("__name__", "up"), ("1a", "x")]),
            Err(LabelError::BadName(_))
        ));
        assert!(matches!(
            l(&[("__name__", "up"), ("a", "x"), ("a", "y")]),
            Err(LabelError::Duplicate(_))
        ));
        assert!(matches!(
            l(&[("__name__", "http.requests")]),
            Err(LabelError::BadMetricName(_))
        ));
    }
}
