//! Which data a range function reads: raw samples, or the coarsest rollup (hour, then
//! minute) that gives the same answer.
//!
//! # The rule
//!
//! A call `f(S[r])` (S a plain selector, `offset` allowed, no `@`) reads rollups of width
//! `w` (1 h, else 1 min) only when all of these hold:
//!
//! 1. `f` is `count_over_time`, `last_over_time`, `min_over_time`, `max_over_time`,
//!    `sum_over_time`, `avg_over_time`, `delta`, `increase` or `rate`;
//! 2. `r` is a multiple of `w`, and every step's window end `t - offset` is a multiple of
//!    `w` (the instant query's time, or the range query's start and its step).
//!
//! A window `(a, b]` with `a` and `b` multiples of `w` is then exactly the buckets
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
//! floating-point rounding (relative error ~1e-15 · samples). Everything else — instant
//! selectors (staleness needs the markers), `irate`, `idelta`, `quantile_over_time`,
//! `stddev`/`stdvar_over_time`, `present_over_time`, distributions, unaligned queries —
//! reads raw.

use std::collections::HashSet;

use pharos_collector::tsdb::{
    LabelMatcher, Labels, MatchOp, MetricKind, Points, Resolution, RollupBucket, Sample,
    SelectRequest,
};
use promql_parser::parser::MatrixSelector;

use super::eval::{duration_ms, offset_ms, Evaluator};
use super::functions::{extrapolate, raw_rows, RangeFn, Rows, Window};
use super::PromError;

/// Up to this many series that rollups cannot answer are read raw one by one; more, and
/// the selector is read raw once.
const FALLBACK_ONE_BY_ONE: usize = 8;

/// Rollup reads index at most this many buckets per series (a bigger span reads raw).
const MAX_SLOTS: i64 = 10_000_000;

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
    for res in [Resolution::Hour, Resolution::Minute] {
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
        self.push_min_max(b.min, b.max);
        self.first.get_or_insert(b.first);
        self.last = Some(b.last);
        self.reset |= b.resets > 0;
    }

    fn add_sample(&mut self, s: Sample) {
        self.link(&s);
        self.count += 1;
        self.sum += s.value;
        self.push_min_max(s.value, s.value);
        self.first.get_or_insert(s);
        self.last = Some(s);
    }
}

fn unusable(b: &RollupBucket) -> bool {
    b.count == 0
        || b.first.is_stale_marker()
        || b.last.is_stale_marker()
        || b.min.is_nan()
        || b.max.is_nan()
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
    let data = ev.store.select(&SelectRequest {
        matchers,
        start_ms: first_a,
        end_ms: last_b + w - 1,
        resolution: res,
    })?;
    ev.check_size(data.len())?;
    let slots = usize::try_from((last_b - first_a) / w + 1).unwrap_or(0);
    let mut rows: Rows = Vec::with_capacity(data.len());
    let mut fallback: Vec<Labels> = Vec::new();
    for sd in data {
        ev.check_deadline("rollup read")?;
        let buckets = match &sd.points {
            Points::Rollup(r, b) if *r == res => b,
            Points::Raw(samples) => {
                // A store may answer raw where it has no rollups: evaluate as raw.
                let samples = samples
                    .iter()
                    .copied()
                    .filter(|s| !s.is_stale_marker())
                    .collect();
                rows.extend(raw_rows(ev, f, ms, None, vec![(sd.labels, samples)]));
                continue;
            }
            Points::Rollup(..) => {
                return Err(PromError::Execution(
                    "the metrics store answered with rollups of another resolution".into(),
                ))
            }
        };
        let mut index: Vec<Option<&RollupBucket>> = vec![None; slots];
        let mut aligned = true;
        for b in buckets {
            if (b.start_ms - first_a).rem_euclid(w) != 0 {
                aligned = false;
                break;
            }
            if b.start_ms < first_a || b.start_ms > last_b {
                continue;
            }
            if let Some(slot) = usize::try_from((b.start_ms - first_a) / w)
                .ok()
                .and_then(|i| index.get_mut(i))
            {
                *slot = Some(b);
            }
        }
        if !aligned {
            fallback.push(sd.labels);
            continue;
        }
        let per_step = usize::try_from(ev.step / w).unwrap_or(0);
        let per_range = usize::try_from(range / w).unwrap_or(0);
        let mut values = Vec::with_capacity(ev.n);
        let mut exact = true;
        for i in 0..ev.n {
            let end = first_end + i as i64 * ev.step;
            let win = Window {
                start: end - range,
                end,
                range_ms: range,
            };
            let ia = i * per_step;
            match window_value(f, sd.kind, &index, ia, ia + per_range, &win) {
                Ok(v) => values.push(v),
                Err(()) => {
                    exact = false;
                    break;
                }
            }
        }
        if exact {
            rows.push((sd.labels, values));
        } else {
            fallback.push(sd.labels);
        }
    }
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
