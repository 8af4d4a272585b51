//! `sum(f(x[r]))` over 5-minute rollups is answered part by part without holding every
//! series' answers (`promql::plan_sum`): it must answer exactly like the general path, bit for
//! bit, and must actually be taken.
//!
//! The general path is reached by `sum(f(x[r]) * 1)`: multiplying by one changes no value
//! (not a NaN's bits, not a zero's sign) but is not a range function call, so the sum is taken
//! over the evaluated vector as before.

use std::sync::atomic::{AtomicUsize, Ordering};

use pharos_collector::tsdb::{
    ColumnSet, DistributionSeries, LabelMatcher, Labels, MetricKind, MetricStore, Resolution,
    SelectRequest, SeriesData, SortedRollupVisitor, TsdbError, STALE_NAN_BITS,
};
use pharos_query::promql::testing::{labels, MemStore};
use pharos_query::promql::{range_query, PromMatrix, PromOptions};
use rand::{Rng, SeedableRng};

/// 5-minute aligned.
const T0: i64 = 1_699_999_200_000;

/// Counts the label-order reads the part-by-part sum makes.
struct Counting {
    inner: MemStore,
    sorted_reads: AtomicUsize,
}

impl MetricStore for Counting {
    fn select(&self, req: &SelectRequest) -> Result<Vec<SeriesData>, TsdbError> {
        self.inner.select(req)
    }
    fn visit_rollups(
        &self,
        req: &SelectRequest,
        cols: ColumnSet,
        visit: &pharos_collector::tsdb::RollupVisitor<'_>,
    ) -> Result<(), TsdbError> {
        // The general path's read, not counted.
        self.inner.visit_rollups(req, cols, visit)
    }
    fn visit_rollups_sorted(
        &self,
        req: &SelectRequest,
        cols: ColumnSet,
        visit: &mut SortedRollupVisitor<'_>,
    ) -> Result<(), TsdbError> {
        self.sorted_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.visit_rollups_sorted(req, cols, visit)
    }
    fn select_distributions(
        &self,
        m: &[LabelMatcher],
        s: i64,
        e: i64,
        r: Resolution,
    ) -> Result<Vec<DistributionSeries>, TsdbError> {
        self.inner.select_distributions(m, s, e, r)
    }
    fn series(&self, m: &[LabelMatcher], s: i64, e: i64) -> Result<Vec<Labels>, TsdbError> {
        self.inner.series(m, s, e)
    }
    fn label_names(&self, m: &[LabelMatcher], s: i64, e: i64) -> Result<Vec<String>, TsdbError> {
        self.inner.label_names(m, s, e)
    }
    fn label_values(
        &self,
        n: &str,
        m: &[LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<String>, TsdbError> {
        self.inner.label_values(n, m, s, e)
    }
}

/// Counters of several jobs and instances over 6 hours: regular ones (a sample every 60 s),
/// irregular ones, gaps, a series that starts late and one that ends early, and (with
/// `resets`) a counter reset, which makes the rollups unable to answer that series; floats
/// with many digits so that the order of the additions shows in the bits.
fn store(seed: u64, resets: bool) -> Counting {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut s = MemStore::new();
    for i in 0..24 {
        let regular = i % 3 != 0;
        let (from, to) = match i {
            5 => (T0 + 2 * 3_600_000, T0 + 6 * 3_600_000),
            7 => (T0, T0 + 3 * 3_600_000),
            _ => (T0, T0 + 6 * 3_600_000),
        };
        let mut ts = from + 30_000;
        let mut v: f64 = rng.gen_range(0.0..1e6);
        let mut pts = Vec::new();
        while ts < to {
            v += rng.gen_range(0.0..1000.0) / 7.0;
            if resets && i == 11 && ts > T0 + 4 * 3_600_000 && pts.len() % 97 == 0 {
                v = 1.0;
            }
            if i == 13 && rng.gen_bool(0.002) {
                pts.push((ts, f64::from_bits(STALE_NAN_BITS)));
            } else if regular || !rng.gen_bool(0.1) {
                pts.push((ts, v));
            }
            ts += if regular {
                60_000
            } else {
                rng.gen_range(10_000..200_000)
            };
        }
        let job = ["api", "db", "web"][i % 3];
        s.add(
            labels(&[
                ("__name__", "req_total"),
                ("instance", &format!("i{i:02}")),
                ("job", job),
            ]),
            MetricKind::Counter,
            &pts,
        );
    }
    // Another metric, which the selector must not mix in.
    s.add(
        labels(&[("__name__", "other_total"), ("job", "api")]),
        MetricKind::Counter,
        &[(T0 + 60_000, 1.0), (T0 + 120_000, 2.0)],
    );
    Counting {
        inner: s,
        sorted_reads: AtomicUsize::new(0),
    }
}

/// Every point's bits, by series.
fn bits(m: &PromMatrix) -> Vec<(String, Vec<(i64, u64)>)> {
    m.iter()
        .map(|s| {
            (
                format!("{:?}", s.labels),
                s.points.iter().map(|(t, v)| (*t, v.to_bits())).collect(),
            )
        })
        .collect()
}

#[test]
fn sums_of_rollup_answers_equal_the_general_path_bit_for_bit() {
    let opts = PromOptions::default();
    let mut taken = 0;
    for (seed, resets) in [(1, false), (2, false), (3, true)] {
        let s = store(seed, resets);
        for f in [
            "rate",
            "increase",
            "delta",
            "sum_over_time",
            "count_over_time",
            "max_over_time",
            "avg_over_time",
        ] {
            for range in ["5m", "10m", "1h"] {
                for grouping in ["", " by (job)", " without (instance)", " by (__name__)"] {
                    for (step_s, start, end) in [
                        (300, T0 + 3_600_000, T0 + 6 * 3_600_000),
                        (600, T0 + 1_800_000, T0 + 5 * 3_600_000),
                        (3600, T0 + 3_600_000, T0 + 6 * 3_600_000),
                        (300, T0 + 3_600_000, T0 + 3_600_000),
                    ] {
                        let q = format!("sum{grouping} ({f}(req_total[{range}]))");
                        let general = format!("sum{grouping} ({f}(req_total[{range}]) * 1)");
                        let before = s.sorted_reads.load(Ordering::Relaxed);
                        let got = range_query(&s, &q, start, end, step_s * 1000, &opts);
                        taken += usize::from(s.sorted_reads.load(Ordering::Relaxed) > before);
                        let want = range_query(&s, &general, start, end, step_s * 1000, &opts);
                        match (got, want) {
                            (Ok(g), Ok(w)) => {
                                assert!(!w.is_empty(), "{general}: empty");
                                assert_eq!(bits(&g), bits(&w), "{q} from {start} step {step_s}");
                            }
                            (g, w) => panic!("{q}: {g:?} / {w:?}"),
                        }
                    }
                }
            }
        }
    }
    // Taken for most of the queries (every one that names a 5-minute-aligned window); with
    // the reset, `rate`/`increase` fall back to the general path after trying.
    assert!(taken > 300, "{taken}");
}

#[test]
fn a_selector_that_does_not_name_one_metric_takes_the_general_path() {
    let s = store(4, false);
    let q = "sum(rate({job=\"api\"}[5m]))";
    let got = range_query(
        &s,
        q,
        T0 + 3_600_000,
        T0 + 2 * 3_600_000,
        300_000,
        &PromOptions::default(),
    );
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(s.sorted_reads.load(Ordering::Relaxed), 0);
}
