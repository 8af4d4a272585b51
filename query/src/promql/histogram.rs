//! `histogram_quantile(φ, v)`: over classic `le` buckets with Prometheus's interpolation and
//! edge cases, and over Pharos's distributions (merged HdrHistograms).
//!
//! **Distribution rule.** When the second argument has the shape `rate(S[r])`,
//! `increase(S[r])`, or `sum|min|max|avg|count … by|without (…) (rate|increase(S[r]))`, and S
//! names a metric `N_bucket` (or `N`) for which the store has **no** `N_bucket` series in
//! the queried time range but **does** have distributions of family `N` (matched with S's
//! other matchers, those on `le` left out), the answer is read from the distributions: per
//! step, the HdrHistograms observed in `(t - offset - r, t - offset]` are merged per family
//! (and then per group of the aggregation's `by`/`without`, as `sum` would), and φ's value is
//! `value_at_quantile(φ) / distribution_scale` (HdrHistogram's quantile: the highest value
//! equivalent to the bucket the φ-th observation falls in, not a linear interpolation). A
//! step whose window has no observation gives no value; φ < 0 gives -Inf, φ > 1 +Inf, NaN
//! NaN. Labels are the family's labels without `__name__` (or the group's labels).
//! Otherwise the classic evaluation below runs.

use hdrhistogram::Histogram;
use pharos_collector::tsdb::{LabelMatcher, Labels, MatchOp, Resolution, METRIC_NAME};
use promql_parser::parser::token::{T_AVG, T_COUNT, T_MAX, T_MIN, T_SUM};
use promql_parser::parser::{Expr, LabelModifier, MatrixSelector};

use super::aggregate::{group_labels, groups};
use super::eval::{
    drop_name, duration_ms, merge_same_labels, offset_ms, unwrap_parens, Evaluator, Series, Value,
};
use super::functions::matrix_arg;
use super::PromError;

const BUCKET_LABEL: &str = "le";

#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

/// Go's `almost.Equal`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// The buckets by upper bound with equal bounds added up, or `None` without a `+Inf`
/// bucket (both `BucketQuantile` and `BucketFraction` give NaN then).
fn normalized(mut buckets: Vec<Bucket>) -> Option<Vec<Bucket>> {
    buckets.sort_by(|a, b| {
        a.upper_bound
            .partial_cmp(&b.upper_bound)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if buckets
        .last()
        .is_none_or(|b| b.upper_bound != f64::INFINITY)
    {
        return None;
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match merged.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => merged.push(b),
        }
    }
    Some(merged)
}

/// Prometheus's `BucketQuantile` over classic buckets (cumulative counts by upper bound).
pub fn bucket_quantile(q: f64, buckets: Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let Some(mut buckets) = normalized(buckets) else {
        return f64::NAN;
    };
    // Counts must not decrease with the upper bound: tiny differences are floating-point
    // noise, real decreases are flattened.
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) || curr < prev {
            b.count = prev;
            continue;
        }
        prev = curr;
    }
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = buckets.len() - 1;
    let b = buckets[..n]
        .iter()
        .position(|x| x.count >= rank)
        .unwrap_or(n);
    if b == n {
        return buckets[n - 1].upper_bound;
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return buckets[0].upper_bound;
    }
    let end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    let mut start = 0.0;
    if b > 0 {
        start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

pub(crate) fn eval(ev: &Evaluator, phi: &Expr, arg: &Expr) -> Result<Value, PromError> {
    let phi = ev.eval_scalar(phi)?;
    if let Some(v) = distributions(ev, &phi, arg)? {
        return Ok(Value::Vector(v));
    }
    let input = ev.eval_vector(arg)?;
    classic(ev, input, |step, buckets| {
        bucket_quantile(phi.get(step).copied().unwrap_or(f64::NAN), buckets)
    })
}

/// `histogram_fraction(lower, upper, v)` over classic `le` buckets: the estimated fraction
/// of the observations between `lower` and `upper` (Prometheus's `BucketFraction`).
pub(crate) fn eval_fraction(
    ev: &Evaluator,
    lower: &Expr,
    upper: &Expr,
    arg: &Expr,
) -> Result<Value, PromError> {
    let lower = ev.eval_scalar(lower)?;
    let upper = ev.eval_scalar(upper)?;
    let input = ev.eval_vector(arg)?;
    classic(ev, input, |step, buckets| {
        let at = |v: &[f64]| v.get(step).copied().unwrap_or(f64::NAN);
        bucket_fraction(at(&lower), at(&upper), buckets)
    })
}

/// Prometheus's `BucketFraction`: linear interpolation inside the buckets holding `lower`
/// and `upper` (the first bucket's lower bound 0 when its upper bound is positive, else
/// -Inf; nothing is interpolated inside an infinite bucket).
pub fn bucket_fraction(lower: f64, upper: f64, buckets: Vec<Bucket>) -> f64 {
    let Some(merged) = normalized(buckets) else {
        return f64::NAN;
    };
    let count = merged.last().map_or(0.0, |b| b.count);
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if merged[0].upper_bound <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, b) in merged.iter().enumerate() {
        if i > 0 {
            lower_bound = merged[i - 1].upper_bound;
        }
        let upper_bound = b.upper_bound;
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                return b.count;
            }
            rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// Groups classic bucket series by every label but `le` and applies `f` to each group's
/// buckets per step.
fn classic(
    ev: &Evaluator,
    input: Vec<Series>,
    f: impl Fn(usize, Vec<Bucket>) -> f64,
) -> Result<Value, PromError> {
    // Group by every label but `le` (the metric name included, as Prometheus does); the
    // result drops `le` and the name.
    let mut members: Vec<(usize, f64)> = Vec::with_capacity(input.len());
    let mut keys = Vec::with_capacity(input.len());
    for (i, s) in input.iter().enumerate() {
        let Some(le) = s
            .labels
            .get(BUCKET_LABEL)
            .and_then(|v| v.trim().parse::<f64>().ok())
        else {
            continue;
        };
        members.push((i, le));
        keys.push(s.labels.without(&[BUCKET_LABEL]));
    }
    let mut out = Vec::new();
    for (key, idx) in groups(keys) {
        let mut values = Vec::with_capacity(ev.n);
        for step in 0..ev.n {
            let buckets: Vec<Bucket> = idx
                .iter()
                .filter_map(|&m| {
                    let (i, le) = members[m];
                    input[i].values[step].map(|count| Bucket {
                        upper_bound: le,
                        count,
                    })
                })
                .collect();
            values.push((!buckets.is_empty()).then(|| f(step, buckets)));
        }
        out.push(Series {
            labels: drop_name(&key),
            values,
        });
    }
    Ok(Value::Vector(merge_same_labels(out)?))
}

/// The argument's shape for the distribution rule: the range selector, and the
/// aggregation's grouping when there is one.
fn distribution_shape(arg: &Expr) -> Option<(&MatrixSelector, Option<Option<LabelModifier>>)> {
    fn inner_call(e: &Expr) -> Option<&MatrixSelector> {
        match unwrap_parens(e) {
            Expr::Call(c) if c.func.name == "rate" || c.func.name == "increase" => {
                c.args.args.first().and_then(|a| matrix_arg(a).ok())
            }
            _ => None,
        }
    }
    match unwrap_parens(arg) {
        Expr::Aggregate(a) if [T_SUM, T_MIN, T_MAX, T_AVG, T_COUNT].contains(&a.op.id()) => {
            inner_call(&a.expr).map(|ms| (ms, Some(a.modifier.clone())))
        }
        e => inner_call(e).map(|ms| (ms, None)),
    }
}

fn distributions(
    ev: &Evaluator,
    phi: &[f64],
    arg: &Expr,
) -> Result<Option<Vec<Series>>, PromError> {
    let Some((ms, grouping)) = distribution_shape(arg) else {
        return Ok(None);
    };
    // Distributions are read per step window; `@` fixes the window (the classic path).
    if ms.vs.at.is_some() {
        return Ok(None);
    }
    let Ok(matchers) = ev.matchers(&ms.vs) else {
        return Ok(None); // The classic path reports what is wrong.
    };
    let Some(name) = matchers
        .iter()
        .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
        .map(|m| m.value.clone())
    else {
        return Ok(None);
    };
    let family = name.strip_suffix("_bucket").unwrap_or(&name).to_string();
    let off = offset_ms(&ms.vs.offset);
    let range = duration_ms(&ms.range);
    let (start, end) = (ev.start - off - range + 1, ev.end - off);
    let bucket_matchers: Vec<LabelMatcher> = matchers
        .iter()
        .map(|m| {
            let mut m = m.clone();
            if m.name == METRIC_NAME {
                m.value = format!("{family}_bucket");
            }
            m
        })
        .collect();
    if !ev.store.series(&bucket_matchers, start, end)?.is_empty() {
        return Ok(None);
    }
    let dist_matchers: Vec<LabelMatcher> = matchers
        .into_iter()
        .filter(|m| m.name != BUCKET_LABEL)
        .map(|mut m| {
            if m.name == METRIC_NAME {
                m.value = family.clone();
            }
            m
        })
        .collect();
    // Windows of whole hours merge the 1-hour rollups, other windows of an hour or more the
    // 1-minute ones — so quantiles over long and old ranges (past raw retention) come from
    // merged buckets, as HdrHistograms allow. A rollup bucket counts in a window when it
    // starts in [t − range, t): observations are attributed to the bucket they fell in.
    let resolution = if range >= 3_600_000 && range % 3_600_000 == 0 {
        Resolution::Hour
    } else if range >= 3_600_000 && range % 60_000 == 0 {
        Resolution::Minute
    } else {
        Resolution::Raw
    };
    let data = ev
        .store
        .select_distributions(&dist_matchers, start, end, resolution)?;
    if data.is_empty() {
        return Ok(None);
    }
    ev.check_size(data.len())?;
    let keys: Vec<Labels> = data
        .iter()
        .map(|(l, _)| match &grouping {
            Some(m) => group_labels(l, m),
            None => drop_name(l),
        })
        .collect();
    let scale = if ev.opts.distribution_scale > 0.0 {
        ev.opts.distribution_scale
    } else {
        1.0
    };
    let mut out = Vec::new();
    for (labels, idx) in groups(keys) {
        ev.check_deadline("histogram_quantile")?;
        let mut values = Vec::with_capacity(ev.n);
        for (step, &q) in phi.iter().enumerate() {
            let w_end = ev.start + step as i64 * ev.step - off;
            let w_start = w_end - range;
            let mut merged: Option<Histogram<u64>> = None;
            for &i in &idx {
                for (ts, h) in &data[i].1 {
                    let inside = if resolution == Resolution::Raw {
                        *ts > w_start && *ts <= w_end
                    } else {
                        *ts >= w_start && *ts < w_end
                    };
                    if !inside {
                        continue;
                    }
                    match &mut merged {
                        None => merged = Some(h.clone()),
                        Some(m) => m.add(h).map_err(|e| {
                            PromError::Execution(format!("merging distributions: {e:?}"))
                        })?,
                    }
                }
            }
            values.push(merged.map(|h| {
                if q.is_nan() || h.is_empty() {
                    f64::NAN
                } else if q < 0.0 {
                    f64::NEG_INFINITY
                } else if q > 1.0 {
                    f64::INFINITY
                } else {
                    h.value_at_quantile(q) as f64 / scale
                }
            }));
        }
        if values.iter().any(Option::is_some) {
            out.push(Series { labels, values });
        }
    }
    Ok(Some(merge_same_labels(out)?))
}
