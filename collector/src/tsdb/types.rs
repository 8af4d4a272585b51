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
    /// 5-minute rollup buckets, left-open (see [`Resolution::left_open`]).
    FiveMinute,
    /// 1-hour rollup buckets.
    Hour,
}

impl Resolution {
    /// The rollup tiers, finest first.
    pub const TIERS: [Resolution; 3] =
        [Resolution::Minute, Resolution::FiveMinute, Resolution::Hour];

    pub fn bucket_ms(self) -> i64 {
        match self {
            Resolution::Raw => 0,
            Resolution::Minute => 60_000,
            Resolution::FiveMinute => 300_000,
            Resolution::Hour => 3_600_000,
        }
    }

    /// Whether a bucket starting at `s` holds `(s, s + width]`, like a PromQL window, so an
    /// aligned window is exactly whole buckets (no sample on its excluded left edge to take
    /// out). The 1-minute and 1-hour tiers predate this and hold `[s, s + width)`.
    pub fn left_open(self) -> bool {
        self == Resolution::FiveMinute
    }

    /// The start of the bucket holding `ts_ms` (`Raw`: `ts_ms`).
    pub fn bucket_of(self, ts_ms: i64) -> i64 {
        let w = self.bucket_ms();
        if w <= 0 {
            return ts_ms;
        }
        let t = if self.left_open() {
            ts_ms.saturating_sub(1)
        } else {
            ts_ms
        };
        // Saturating: reads pass i64::MIN for "from the beginning".
        t.div_euclid(w).saturating_mul(w)
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

impl RollupBucket {
    /// Whether the bucket holds no usable value for `cols` (empty, a staleness marker where
    /// only values belong, or a NaN min/max: every value NaN).
    pub fn unusable(&self) -> bool {
        self.count == 0
            || self.first.is_stale_marker()
            || self.last.is_stale_marker()
            || self.min.is_nan()
            || self.max.is_nan()
    }
}

/// Which columns of rollup buckets a columnar read decodes (start and count always).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ColumnSet(pub u16);

impl ColumnSet {
    pub const FIRST_TS: ColumnSet = ColumnSet(1);
    pub const FIRST: ColumnSet = ColumnSet(1 << 1);
    pub const LAST_TS: ColumnSet = ColumnSet(1 << 2);
    pub const LAST: ColumnSet = ColumnSet(1 << 3);
    pub const MIN: ColumnSet = ColumnSet(1 << 4);
    pub const MAX: ColumnSet = ColumnSet(1 << 5);
    pub const SUM: ColumnSet = ColumnSet(1 << 6);
    pub const INCREASE: ColumnSet = ColumnSet(1 << 7);
    pub const RESETS: ColumnSet = ColumnSet(1 << 8);
    pub const ALL: ColumnSet = ColumnSet(0x1ff);

    pub fn has(self, c: ColumnSet) -> bool {
        self.0 & c.0 == c.0
    }

    pub fn with(self, c: ColumnSet) -> ColumnSet {
        ColumnSet(self.0 | c.0)
    }
}

/// Rollup buckets of one series column by column, in start order. `start` and `count` are
/// always filled; the other vectors only when their column was asked for (else empty).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RollupColumns {
    pub start: Vec<i64>,
    pub count: Vec<u64>,
    pub first_ts: Vec<i64>,
    pub first: Vec<f64>,
    pub last_ts: Vec<i64>,
    pub last: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    pub sum: Vec<f64>,
    pub increase: Vec<f64>,
    pub resets: Vec<u32>,
}

impl RollupColumns {
    pub fn len(&self) -> usize {
        self.start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }

    pub fn clear(&mut self) {
        for v in [&mut self.start, &mut self.first_ts, &mut self.last_ts] {
            v.clear();
        }
        self.count.clear();
        for v in [
            &mut self.first,
            &mut self.last,
            &mut self.min,
            &mut self.max,
            &mut self.sum,
            &mut self.increase,
        ] {
            v.clear();
        }
        self.resets.clear();
    }

    /// Appends the `cols` of `b`.
    pub fn push(&mut self, b: &RollupBucket, cols: ColumnSet) {
        self.start.push(b.start_ms);
        self.count.push(b.count);
        let floats = [
            (ColumnSet::FIRST, &mut self.first, b.first.value),
            (ColumnSet::LAST, &mut self.last, b.last.value),
            (ColumnSet::MIN, &mut self.min, b.min),
            (ColumnSet::MAX, &mut self.max, b.max),
            (ColumnSet::SUM, &mut self.sum, b.sum),
            (ColumnSet::INCREASE, &mut self.increase, b.increase),
        ];
        for (c, v, x) in floats {
            if cols.has(c) {
                v.push(x);
            }
        }
        if cols.has(ColumnSet::FIRST_TS) {
            self.first_ts.push(b.first.ts_ms);
        }
        if cols.has(ColumnSet::LAST_TS) {
            self.last_ts.push(b.last.ts_ms);
        }
        if cols.has(ColumnSet::RESETS) {
            self.resets.push(b.resets);
        }
    }

    /// Appends rows `from..to` of `other`: start, count and the columns of `cols` (which
    /// `other` must hold; it may hold more).
    pub fn extend_cols(&mut self, other: &RollupColumns, from: usize, to: usize, cols: ColumnSet) {
        fn ext<T: Copy>(v: &mut Vec<T>, o: &[T], from: usize, to: usize, on: bool) {
            if let (true, Some(rows)) = (on, o.get(from..to)) {
                v.extend_from_slice(rows);
            }
        }
        ext(&mut self.start, &other.start, from, to, true);
        ext(&mut self.count, &other.count, from, to, true);
        ext(
            &mut self.first_ts,
            &other.first_ts,
            from,
            to,
            cols.has(ColumnSet::FIRST_TS),
        );
        ext(
            &mut self.first,
            &other.first,
            from,
            to,
            cols.has(ColumnSet::FIRST),
        );
        ext(
            &mut self.last_ts,
            &other.last_ts,
            from,
            to,
            cols.has(ColumnSet::LAST_TS),
        );
        ext(
            &mut self.last,
            &other.last,
            from,
            to,
            cols.has(ColumnSet::LAST),
        );
        ext(
            &mut self.min,
            &other.min,
            from,
            to,
            cols.has(ColumnSet::MIN),
        );
        ext(
            &mut self.max,
            &other.max,
            from,
            to,
            cols.has(ColumnSet::MAX),
        );
        ext(
            &mut self.sum,
            &other.sum,
            from,
            to,
            cols.has(ColumnSet::SUM),
        );
        ext(
            &mut self.increase,
            &other.increase,
            from,
            to,
            cols.has(ColumnSet::INCREASE),
        );
        ext(
            &mut self.resets,
            &other.resets,
            from,
            to,
            cols.has(ColumnSet::RESETS),
        );
    }

    /// Appends rows `from..to` of `other` (the columns `other` holds).
    pub fn extend_rows(&mut self, other: &RollupColumns, from: usize, to: usize) {
        fn ext<T: Copy>(v: &mut Vec<T>, o: &[T], from: usize, to: usize) {
            if let Some(rows) = o.get(from..to) {
                v.extend_from_slice(rows);
            }
        }
        ext(&mut self.start, &other.start, from, to);
        ext(&mut self.count, &other.count, from, to);
        ext(&mut self.first_ts, &other.first_ts, from, to);
        ext(&mut self.first, &other.first, from, to);
        ext(&mut self.last_ts, &other.last_ts, from, to);
        ext(&mut self.last, &other.last, from, to);
        ext(&mut self.min, &other.min, from, to);
        ext(&mut self.max, &other.max, from, to);
        ext(&mut self.sum, &other.sum, from, to);
        ext(&mut self.increase, &other.increase, from, to);
        ext(&mut self.resets, &other.resets, from, to);
    }

    /// Removes rows `from..to` (clamped) from every column that holds rows.
    pub fn remove_rows(&mut self, from: usize, to: usize) {
        fn cut<T>(v: &mut Vec<T>, from: usize, to: usize) {
            let to = to.min(v.len());
            if from < to {
                v.drain(from..to);
            }
        }
        cut(&mut self.start, from, to);
        cut(&mut self.count, from, to);
        cut(&mut self.first_ts, from, to);
        cut(&mut self.first, from, to);
        cut(&mut self.last_ts, from, to);
        cut(&mut self.last, from, to);
        cut(&mut self.min, from, to);
        cut(&mut self.max, from, to);
        cut(&mut self.sum, from, to);
        cut(&mut self.increase, from, to);
        cut(&mut self.resets, from, to);
    }

    /// Keeps rows `from..to` (clamped), dropping the others.
    pub fn keep_rows(&mut self, from: usize, to: usize) {
        fn cut<T>(v: &mut Vec<T>, from: usize, to: usize) {
            if v.is_empty() {
                return;
            }
            let to = to.min(v.len());
            v.truncate(to);
            v.drain(..from.min(to));
        }
        cut(&mut self.start, from, to);
        cut(&mut self.count, from, to);
        cut(&mut self.first_ts, from, to);
        cut(&mut self.first, from, to);
        cut(&mut self.last_ts, from, to);
        cut(&mut self.last, from, to);
        cut(&mut self.min, from, to);
        cut(&mut self.max, from, to);
        cut(&mut self.sum, from, to);
        cut(&mut self.increase, from, to);
        cut(&mut self.resets, from, to);
    }

    /// Row `i` as a bucket (every column must have been read: [`ColumnSet::ALL`]).
    pub fn bucket(&self, i: usize) -> RollupBucket {
        let f = |v: &Vec<f64>| v.get(i).copied().unwrap_or(f64::NAN);
        let t = |v: &Vec<i64>| v.get(i).copied().unwrap_or_default();
        RollupBucket {
            start_ms: t(&self.start),
            count: self.count.get(i).copied().unwrap_or_default(),
            sum: f(&self.sum),
            min: f(&self.min),
            max: f(&self.max),
            first: Sample {
                ts_ms: t(&self.first_ts),
                value: f(&self.first),
            },
            last: Sample {
                ts_ms: t(&self.last_ts),
                value: f(&self.last),
            },
            increase: f(&self.increase),
            resets: self.resets.get(i).copied().unwrap_or_default(),
        }
    }
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
