//! Rollup math, kept pure so it is tested alone and reused (the PromQL engine's in-memory test
//! store calls [`rollup`]): folding samples into [`RollupBucket`]s, counter increases across
//! resets and bucket boundaries, and merged HdrHistograms of distributions.
//!
//! Rules (the store and every reader of rollups rely on them):
//! - Stale markers are not values: they are kept in raw chunks but skipped by rollups.
//! - Buckets are `[start, start + width)` with `start` a multiple of the width (UTC), except
//!   the left-open 5-minute tier's `(start, start + width]` ([`Resolution::bucket_of`]).
//! - `count`, `sum` (added in time order, starting from the first value), `min`, `max`
//!   (NaN only if every value is NaN, as `min_over_time`), `first`, `last`.
//! - Counters (and `Unknown` metrics, which may be counters: rate() must work on them) get
//!   `increase` = sum of the steps from each sample's predecessor (the series' previous
//!   non-stale sample, in an earlier bucket if need be): `cur - prev`, or `cur` after a
//!   reset (`cur < prev`), which also counts in `resets`. A series' very first sample has no
//!   predecessor and adds 0. Gauges get 0.

use hdrhistogram::Histogram;

use super::{MetricKind, Resolution, RollupBucket, Sample, TsdbError};

/// The histograms' significant digits (0.1 % relative precision).
pub const DISTRIBUTION_SIGFIG: u8 = 3;

/// Observed values are recorded as `round(value * DISTRIBUTION_SCALE)` (negative values as
/// 0), so a histogram's value `x` means `x / DISTRIBUTION_SCALE` (microseconds when the
/// observations are seconds).
pub const DISTRIBUTION_SCALE: f64 = 1_000_000.0;

/// Start of the bucket of `width` holding `ts_ms`.
pub fn bucket_start(ts_ms: i64, width: i64) -> i64 {
    // Saturating: reads pass i64::MIN for "from the beginning".
    ts_ms.div_euclid(width).saturating_mul(width)
}

/// Whether increases are tracked for this kind.
pub fn tracks_increase(kind: MetricKind) -> bool {
    kind != MetricKind::Gauge
}

/// The step of a counter from `prev` to `cur`: (increase, whether it was a reset).
pub fn counter_step(prev: f64, cur: f64) -> (f64, bool) {
    if cur < prev {
        (cur, true)
    } else {
        (cur - prev, false)
    }
}

/// A bucket holding only `s` (not a stale marker); `prev` is the series' previous non-stale
/// sample.
pub fn open_bucket(
    start_ms: i64,
    s: Sample,
    prev: Option<Sample>,
    kind: MetricKind,
) -> RollupBucket {
    let mut b = RollupBucket {
        start_ms,
        count: 1,
        sum: s.value,
        min: s.value,
        max: s.value,
        first: s,
        last: s,
        increase: 0.0,
        resets: 0,
    };
    add_step(&mut b, s, prev, kind);
    b
}

/// Folds `s` (not a stale marker, in this bucket, after `b.last`) into `b`.
pub fn fold(b: &mut RollupBucket, s: Sample, kind: MetricKind) {
    let prev = b.last;
    b.count += 1;
    b.sum += s.value;
    b.min = b.min.min(s.value);
    b.max = b.max.max(s.value);
    b.last = s;
    add_step(b, s, Some(prev), kind);
}

fn add_step(b: &mut RollupBucket, s: Sample, prev: Option<Sample>, kind: MetricKind) {
    if let (true, Some(p)) = (tracks_increase(kind), prev) {
        let (inc, reset) = counter_step(p.value, s.value);
        b.increase += inc;
        b.resets += u32::from(reset);
    }
}

/// The buckets of `resolution` for `samples` (in time order); `prev` is the series' last
/// sample before them (for the first step of a counter). `Raw` yields no buckets.
pub fn rollup(
    samples: &[Sample],
    kind: MetricKind,
    resolution: Resolution,
    prev: Option<Sample>,
) -> Vec<RollupBucket> {
    let mut out: Vec<RollupBucket> = Vec::new();
    if resolution.bucket_ms() <= 0 {
        return out;
    }
    let mut prev = prev.filter(|p| !p.is_stale_marker());
    for s in samples.iter().filter(|s| !s.is_stale_marker()) {
        let start = resolution.bucket_of(s.ts_ms);
        match out.last_mut() {
            Some(b) if b.start_ms == start => fold(b, *s, kind),
            _ => out.push(open_bucket(start, *s, prev, kind)),
        }
        prev = Some(*s);
    }
    out
}

/// An empty histogram of the store's precision, growing as values need.
pub fn new_histogram() -> Result<Histogram<u64>, TsdbError> {
    Histogram::new(DISTRIBUTION_SIGFIG)
        .map_err(|e| TsdbError::Storage(format!("creating a histogram: {e:?}")))
}

/// The integer a value is recorded as.
pub fn scaled(value: f64) -> u64 {
    let v = (value * DISTRIBUTION_SCALE).round();
    if v.is_nan() || v <= 0.0 {
        0
    } else if v >= (i64::MAX / 2) as f64 {
        // HdrHistogram tracks values up to i64::MAX / 2.
        (i64::MAX / 2) as u64
    } else {
        v as u64
    }
}

/// Records `(value, count)` observations.
pub fn record(h: &mut Histogram<u64>, observations: &[(f64, u64)]) -> Result<(), TsdbError> {
    for (v, n) in observations {
        if *n > 0 {
            h.record_n(scaled(*v), *n)
                .map_err(|e| TsdbError::Storage(format!("recording a distribution: {e:?}")))?;
        }
    }
    Ok(())
}

/// Adds `from` into `into`.
pub fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) -> Result<(), TsdbError> {
    into.add(from)
        .map_err(|e| TsdbError::Storage(format!("merging distributions: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts_ms: i64, value: f64) -> Sample {
        Sample { ts_ms, value }
    }

    #[test]
    fn counter_buckets_by_hand() {
        // 1-minute buckets: [0, 60s) holds 10, 20; [60s, 120s) holds 25, 5 (a reset), 8;
        // [180s, 240s) holds 9 (after a gap, with a stale marker before it).
        let samples = [
            s(0, 10.0),
            s(30_000, 20.0),
            s(60_000, 25.0),
            s(75_000, 5.0),
            s(90_000, 8.0),
            s(150_000, f64::from_bits(crate::tsdb::STALE_NAN_BITS)),
            s(200_000, 9.0),
        ];
        let b = rollup(&samples, MetricKind::Counter, Resolution::Minute, None);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].start_ms, b[0].count, b[0].sum), (0, 2, 30.0));
        assert_eq!(
            (b[0].min, b[0].max, b[0].increase, b[0].resets),
            (10.0, 20.0, 10.0, 0)
        );
        // 20 → 25 (+5, across the boundary), 25 → 5 (reset: +5), 5 → 8 (+3).
        assert_eq!((b[1].start_ms, b[1].count, b[1].sum), (60_000, 3, 38.0));
        assert_eq!((b[1].first, b[1].last), (s(60_000, 25.0), s(90_000, 8.0)));
        assert_eq!(
            (b[1].min, b[1].max, b[1].increase, b[1].resets),
            (5.0, 25.0, 13.0, 1)
        );
        assert_eq!(
            (b[2].start_ms, b[2].count, b[2].increase),
            (180_000, 1, 1.0)
        );
        // With a previous sample, the first step counts too.
        let b = rollup(
            &samples[..1],
            MetricKind::Counter,
            Resolution::Minute,
            Some(s(-1, 4.0)),
        );
        assert_eq!(b[0].increase, 6.0);
        // Gauges track no increase; hours hold everything here.
        let h = rollup(&samples, MetricKind::Gauge, Resolution::Hour, None);
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].count, h[0].sum, h[0].increase, h[0].resets),
            (6, 77.0, 0.0, 0)
        );
        assert!(rollup(&samples, MetricKind::Gauge, Resolution::Raw, None).is_empty());
    }

    #[test]
    fn negative_times_use_floor_buckets_and_nan_is_like_min_over_time() {
        assert_eq!(bucket_start(-1, 60_000), -60_000);
        assert_eq!(bucket_start(59_999, 60_000), 0);
        let b = rollup(
            &[s(-10, f64::NAN), s(-5, 3.0), s(-1, 1.0)],
            MetricKind::Gauge,
            Resolution::Minute,
            None,
        );
        assert_eq!((b[0].start_ms, b[0].min, b[0].max), (-60_000, 1.0, 3.0));
        assert!(b[0].sum.is_nan());
    }

    #[test]
    fn histograms_record_scaled_values() -> Result<(), TsdbError> {
        let mut a = new_histogram()?;
        record(&mut a, &[(0.001, 3), (-1.0, 1), (2.5, 0)])?;
        let mut b = new_histogram()?;
        record(&mut b, &[(1e9, 1)])?;
        merge(&mut a, &b)?;
        assert_eq!(a.len(), 5);
        assert_eq!(a.value_at_quantile(0.5), 1000);
        assert_eq!(a.min(), 0);
        assert!(a.max() >= 1_000_000_000_000_000 && a.max() < 1_001_000_000_000_000);
        Ok(())
    }
}
