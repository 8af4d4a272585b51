//! Which data a range function reads: raw samples, or the coarsest rollup (hour, then
//! 5 minutes, then minute) that gives the same answer.
//!
//! # The rule
//!
//! A call `f(S[r])` (S a plain selector, `offset` allowed, no `@`) reads rollups of width
//! `w` (1 h, else 5 min, else 1 min) only when all of these hold:
//!
//! 1. `f` is `count_over_time`, `last_over_time`, `min_over_time`, `max_over_time`,
//!    `sum_over_time`, `avg_over_time`, `delta`, `increase` or `rate`;
//! 2. `r` is a multiple of `w`, and every step's window end `t - offset` is a multiple of
//!    `w` (the instant query's time, or the range query's start and its step).
//!
//! The 5-minute tier's buckets are left-open, `(s, s + w]` like the windows, so such a
//! window is exactly its buckets and needs none of the edge handling below (`plan_open.rs`;
//! a bucket's `resets` there also counts the step into its first sample, which is taken out
//! when the bucket before it was read).
//!
//! For the 1-minute and 1-hour tiers (`[s, s + w)`), a window `(a, b]` is exactly the buckets
//! `[a, a + w) … [b - w, b)` without a sample at exactly `a` plus a sample at exactly `b`
//! (the first sample of bucket `[b, b + w)` when its timestamp is `b`). Per series and step
//! the window is answered from the buckets' `count`, `sum`, `min`, `max`, `first`, `last`
//! and `resets`; when a bucket cannot tell the answer, that **series is read raw** instead
//! (for the whole query):
//!
//! - a sample at exactly `a` that is not its bucket's only sample: `count` and `last`
//!   subtract it; `min` (`max`) keep the bucket's minimum only if that sample is strictly
//!   above (below) it; every other function reads raw;
//! - `rate` / `increase`: the series must not be a `Gauge` (the store tracks resets for
//!   counters and `Unknown` metrics) with `resets == 0` in every bucket used and no decrease
//!   between buckets (or to the sample at `b`): then Prometheus's raw difference is
//!   `last - first`, and the
//!   extrapolation needs only the first and last sample and the count, so the answer is
//!   bit-identical. A window with a reset reads raw;
//! - a bucket whose `first`/`last` is a staleness marker or whose `min`/`max` is NaN (the
//!   contract is that rollups leave staleness markers out) reads raw.
//!
//! `count`, `last`, `min`, `max`, `delta`, `increase` and `rate` are then bit-identical to
//! raw. `sum_over_time` and `avg_over_time` add the buckets' sums instead of Kahan-summing
//! the samples: identical for integer-valued data (below 2^53), otherwise equal up to
//! floating-point rounding. The buckets' `min` and `max` bound the samples' magnitudes, so
//! the rounding error of the plain sums is bounded (`samples · ε · Σ|x|`); where that bound
//! is above 1e-9 of the sum (cancellation: `1 1e100 1 -1e100` sums to 2 in Prometheus and
//! to 0 plainly), the series is read raw ([`sum_close_enough`]). Everything else — instant
//! selectors (staleness needs the markers), `irate`, `idelta`, `quantile_over_time`,
//! `stddev`/`stdvar_over_time`, `present_over_time`, distributions, unaligned queries —
//! reads raw.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use pharos_collector::tsdb::{
    ColumnSet, LabelMatcher, Labels, MatchOp, MetricKind, Resolution, RollupBucket, RollupColumns,
    Sample, SelectRequest,
};
use promql_parser::parser::MatrixSelector;

use super::eval::{duration_ms, offset_ms, Evaluator};
use super::functions::{extrapolate, raw_rows, RangeFn, Rows, Window};
use super::plan_open::{self, Steps};
use super::PromError;

/// Up to this many series that rollups cannot answer are read raw one by one; more, and
/// the selector is read raw once.
const FALLBACK_ONE_BY_ONE: usize = 8;

/// Rollup reads index at most this many buckets per series (a bigger span reads raw).
pub(crate) const MAX_SLOTS: i64 = 10_000_000;

/// Whether `f` can be answered from rollups at all (rule 1).
pub fn rollup_function(f: RangeFn) -> bool {
    matches!(
        f,
        RangeFn::CountOverTime
            | RangeFn::LastOverTime
            | RangeFn::MinOverTime
            | RangeFn::MaxOverTime
            | RangeFn::SumOverTime
            | RangeFn::AvgOverTime
            | RangeFn::Delta
            | RangeFn::Increase
            | RangeFn::Rate
    )
}

/// The resolution for `f` over windows of `range_ms` ending at `first_end + i * step`
/// (`steps` of them): the coarsest rollup the rule allows, else raw.
pub fn choose_resolution(
    f: RangeFn,
    first_end: i64,
    step: i64,
    steps: usize,
    range_ms: i64,
) -> Resolution {
    if !rollup_function(f) || range_ms <= 0 {
        return Resolution::Raw;
    }
    for res in [Resolution::Hour, Resolution::FiveMinute, Resolution::Minute] {
        let w = res.bucket_ms();
        if range_ms % w == 0 && first_end.rem_euclid(w) == 0 && (steps <= 1 || step % w == 0) {
            return res;
        }
    }
    Resolution::Raw
}

/// What the buckets of one window add up to.
#[derive(Default)]
struct Agg {
    count: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
    /// A bound on the sum of the samples' magnitudes (count × the larger of |min|, |max|).
    abs: f64,
    first: Option<Sample>,
    last: Option<Sample>,
    /// A reset inside the window (or one that cannot be ruled out).
    reset: bool,
}

impl Agg {
    fn push_min_max(&mut self, lo: f64, hi: f64) {
        // Prometheus's order-dependent NaN rule: a NaN is replaced by any later value.
        self.min = Some(match self.min {
            Some(m) if !(lo < m || m.is_nan()) => m,
            _ => lo,
        });
        self.max = Some(match self.max {
            Some(m) if !(hi > m || m.is_nan()) => m,
            _ => hi,
        });
    }

    fn link(&mut self, next_first: &Sample) {
        if let Some(prev) = self.last {
            if next_first.value < prev.value {
                self.reset = true;
            }
        }
    }

    fn add_bucket(&mut self, b: &RollupBucket) {
        self.link(&b.first);
        self.count += b.count;
        self.sum += b.sum;
        self.abs += b.count as f64 * b.min.abs().max(b.max.abs());
        self.push_min_max(b.min, b.max);
        self.first.get_or_insert(b.first);
        self.last = Some(b.last);
        self.reset |= b.resets > 0;
    }

    fn add_sample(&mut self, s: Sample) {
        self.link(&s);
        self.count += 1;
        self.sum += s.value;
        self.abs += s.value.abs();
        self.push_min_max(s.value, s.value);
        self.first.get_or_insert(s);
        self.last = Some(s);
    }
}

/// Whether a plain sum `sum` of `count` samples whose magnitudes add up to at most `abs` is
/// within a relative 1e-9 of the exact (and so of Prometheus's compensated) sum: the plain
/// sum's error is at most `count · ε · abs`. Not for non-finite values (read raw: Kahan
/// summation treats infinities its own way).
pub(crate) fn sum_close_enough(sum: f64, abs: f64, count: u64) -> bool {
    if !sum.is_finite() || !abs.is_finite() {
        return false;
    }
    count as f64 * f64::EPSILON * abs <= 1e-9 * sum.abs()
}

fn unusable(b: &RollupBucket) -> bool {
    b.unusable()
}

/// One window's answer from the buckets `[a, b)` and the one starting at `b`; `Err(())`
/// when the buckets cannot tell it (the series is then read raw).
fn window_value(
    f: RangeFn,
    kind: MetricKind,
    buckets: &[Option<&RollupBucket>],
    ia: usize,
    ib: usize,
    w: &Window,
) -> Result<Option<f64>, ()> {
    let mut agg = Agg::default();
    for (k, b) in buckets.iter().enumerate().take(ib).skip(ia) {
        let Some(b) = b else { continue };
        if unusable(b) {
            return Err(());
        }
        if k == ia && b.first.ts_ms == w.start {
            // Its first sample is outside the left-open window.
            if b.count == 1 {
                continue;
            }
            match f {
                RangeFn::CountOverTime | RangeFn::LastOverTime => {}
                RangeFn::MinOverTime if b.first.value > b.min => {}
                RangeFn::MaxOverTime if b.first.value < b.max => {}
                _ => return Err(()),
            }
            agg.count += b.count - 1;
            agg.push_min_max(b.min, b.max);
            agg.last = Some(b.last);
            continue;
        }
        agg.add_bucket(b);
    }
    if let Some(Some(b)) = buckets.get(ib) {
        if b.first.is_stale_marker() {
            return Err(());
        }
        if b.count > 0 && b.first.ts_ms == w.end {
            agg.add_sample(b.first);
        }
    }
    if agg.count == 0 {
        return Ok(None);
    }
    let Some(last) = agg.last else {
        return Ok(None);
    };
    Ok(match f {
        RangeFn::CountOverTime => Some(agg.count as f64),
        RangeFn::LastOverTime => Some(last.value),
        RangeFn::MinOverTime => agg.min,
        RangeFn::MaxOverTime => agg.max,
        RangeFn::SumOverTime | RangeFn::AvgOverTime
            if !sum_close_enough(agg.sum, agg.abs, agg.count) =>
        {
            return Err(())
        }
        RangeFn::SumOverTime => Some(agg.sum),
        RangeFn::AvgOverTime => Some(agg.sum / agg.count as f64),
        RangeFn::Delta | RangeFn::Increase | RangeFn::Rate => {
            let counter = f != RangeFn::Delta;
            if counter && (kind == MetricKind::Gauge || agg.reset) {
                return Err(());
            }
            let Some(first) = agg.first else {
                return Err(());
            };
            if agg.count < 2 {
                return Ok(None);
            }
            let count = usize::try_from(agg.count).map_err(|_| ())?;
            Some(extrapolate(
                last.value - first.value,
                first.ts_ms,
                first.value,
                last.ts_ms,
                count,
                w,
                counter,
                f == RangeFn::Rate,
            ))
        }
        _ => return Err(()),
    })
}

/// A lock that a panicked visitor (which would fail the read anyway) does not poison.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `f` per step for one series of a `[s, s + w)` tier (`Err(())`: read it raw).
fn closed_series_values(
    f: RangeFn,
    kind: MetricKind,
    c: &RollupColumns,
    s: &Steps,
) -> Result<Vec<Option<f64>>, ()> {
    let buckets: Vec<RollupBucket> = (0..c.len()).map(|i| c.bucket(i)).collect();
    let last_b = s.first_a + (s.slots as i64 - 1) * s.width;
    let mut index: Vec<Option<&RollupBucket>> = vec![None; s.slots];
    for b in &buckets {
        if (b.start_ms - s.first_a).rem_euclid(s.width) != 0 {
            return Err(());
        }
        if b.start_ms < s.first_a || b.start_ms > last_b {
            continue;
        }
        if let Some(slot) = usize::try_from((b.start_ms - s.first_a) / s.width)
            .ok()
            .and_then(|i| index.get_mut(i))
        {
            *slot = Some(b);
        }
    }
    let mut values = Vec::with_capacity(s.steps);
    for i in 0..s.steps {
        let end = s.first_end + i as i64 * s.step_ms;
        let win = Window {
            start: end - s.range_ms,
            end,
            range_ms: s.range_ms,
        };
        let ia = i * s.per_step;
        values.push(window_value(f, kind, &index, ia, ia + s.per_range, &win)?);
    }
    Ok(values)
}

/// Answers `f(ms)` from rollups when the rule allows it (`None`: read raw).
pub(crate) fn try_rollup(
    ev: &Evaluator,
    f: RangeFn,
    ms: &MatrixSelector,
) -> Result<Option<Rows>, PromError> {
    if !ev.opts.use_rollups || ms.vs.at.is_some() {
        return Ok(None);
    }
    let off = offset_ms(&ms.vs.offset);
    let range = duration_ms(&ms.range);
    let first_end = ev.start - off;
    let res = choose_resolution(f, first_end, ev.step, ev.n, range);
    if res == Resolution::Raw {
        return Ok(None);
    }
    let w = res.bucket_ms();
    if (ev.end - ev.start + range) / w > MAX_SLOTS {
        return Ok(None);
    }
    let matchers = ev.matchers(&ms.vs)?;
    let first_a = first_end - range;
    let last_b = ev.end - off;
    let steps = Steps {
        first_a,
        width: w,
        slots: usize::try_from((last_b - first_a) / w + 1).unwrap_or(0),
        steps: ev.n,
        per_step: usize::try_from(ev.step / w).unwrap_or(0),
        per_range: usize::try_from(range / w).unwrap_or(0),
        first_end,
        step_ms: ev.step,
        range_ms: range,
    };
    let (cols, read_from) = if res.left_open() {
        // One bucket more before the first window: the predecessor of its first sample.
        (plan_open::columns_for(f), first_a - w)
    } else {
        (ColumnSet::ALL, first_a)
    };
    // Series are evaluated as the store decodes them (possibly on several threads), so a
    // long range never holds every series' buckets at once.
    let rows: Mutex<Rows> = Mutex::new(Vec::new());
    let fallback: Mutex<Vec<Labels>> = Mutex::new(Vec::new());
    let seen = AtomicUsize::new(0);
    let failure: Mutex<Option<PromError>> = Mutex::new(None);
    let visit = |labels: &Labels, kind: MetricKind, c: &RollupColumns| {
        let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
        if let Err(e) = ev
            .check_size(n)
            .and_then(|()| ev.check_deadline("rollup read"))
        {
            lock(&failure).get_or_insert(e);
            return;
        }
        let values = if res.left_open() {
            plan_open::series_values(f, kind, c, &steps)
        } else {
            closed_series_values(f, kind, c, &steps)
        };
        match values {
            Ok(v) => lock(&rows).push((labels.clone(), v)),
            Err(()) => lock(&fallback).push(labels.clone()),
        }
    };
    ev.store.visit_rollups(
        &SelectRequest {
            matchers,
            start_ms: read_from,
            end_ms: last_b + w - 1,
            resolution: res,
        },
        cols,
        &visit,
    )?;
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut rows = rows.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut fallback = fallback.into_inner().unwrap_or_else(|p| p.into_inner());
    if fallback.len() > FALLBACK_ONE_BY_ONE {
        // Many series: one raw read of the selector, keeping those series.
        let wanted: HashSet<Labels> = fallback.drain(..).collect();
        let mut data = ev.range_samples(ms)?;
        data.retain(|(l, _)| wanted.contains(l));
        rows.extend(raw_rows(ev, f, ms, None, data));
    }
    for labels in fallback {
        // Exactly this series, raw.
        let matchers: Vec<LabelMatcher> = labels
            .iter()
            .map(|(n, v)| LabelMatcher {
                name: n.to_string(),
                op: MatchOp::Equal,
                value: v.to_string(),
            })
            .collect();
        let mut data = ev.select_raw(&matchers, first_a + 1, last_b)?;
        data.retain(|(l, _)| *l == labels);
        for (_, samples) in &mut data {
            samples.retain(|s| !s.is_stale_marker());
        }
        rows.extend(raw_rows(ev, f, ms, None, data));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(rows))
}
