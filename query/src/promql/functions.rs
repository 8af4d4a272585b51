//! Functions: range-vector functions (`rate`, `increase`, `delta`, `irate`, `idelta`,
//! `*_over_time`), instant-vector math, `absent`, `scalar`, `vector`, `time`; and the
//! dispatch of every call (`histogram_quantile` lives in `histogram`).
//!
//! Numerics follow Prometheus: Kahan(-Neumaier) summation for `sum_over_time` and
//! `avg_over_time` (switching to an incremental mean on overflow), Welford with Kahan for
//! `stddev`/`stdvar_over_time`, and `rate`'s extrapolation rules.

use pharos_collector::tsdb::{Labels, Sample, METRIC_NAME};
use promql_parser::parser::{Call, Expr, MatrixSelector, SubqueryExpr};

use super::eval::{
    check_unique_labels, drop_name, duration_ms, merge_same_labels, offset_ms, unwrap_parens,
    Evaluator, Series, Value,
};
use super::{histogram, plan, unsupported, PromError};

/// The range-vector functions evaluated here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeFn {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    SumOverTime,
    CountOverTime,
    LastOverTime,
    QuantileOverTime,
    StddevOverTime,
    StdvarOverTime,
    PresentOverTime,
    Changes,
    Resets,
    Deriv,
    PredictLinear,
    FirstOverTime,
}

impl RangeFn {
    pub fn from_name(name: &str) -> Option<RangeFn> {
        Some(match name {
            "rate" => RangeFn::Rate,
            "increase" => RangeFn::Increase,
            "delta" => RangeFn::Delta,
            "irate" => RangeFn::Irate,
            "idelta" => RangeFn::Idelta,
            "avg_over_time" => RangeFn::AvgOverTime,
            "min_over_time" => RangeFn::MinOverTime,
            "max_over_time" => RangeFn::MaxOverTime,
            "sum_over_time" => RangeFn::SumOverTime,
            "count_over_time" => RangeFn::CountOverTime,
            "last_over_time" => RangeFn::LastOverTime,
            "quantile_over_time" => RangeFn::QuantileOverTime,
            "stddev_over_time" => RangeFn::StddevOverTime,
            "stdvar_over_time" => RangeFn::StdvarOverTime,
            "present_over_time" => RangeFn::PresentOverTime,
            "changes" => RangeFn::Changes,
            "resets" => RangeFn::Resets,
            "deriv" => RangeFn::Deriv,
            "predict_linear" => RangeFn::PredictLinear,
            "first_over_time" => RangeFn::FirstOverTime,
            _ => return None,
        })
    }
}

/// One step's window `(start, end]` of a range selector.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Exclusive.
    pub start: i64,
    /// Inclusive.
    pub end: i64,
    pub range_ms: i64,
}

/// Prometheus's `kahansum.Inc` (Neumaier's variant).
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    if t.is_infinite() {
        (t, 0.0)
    } else if sum.abs() >= inc.abs() {
        (t, c + ((sum - t) + inc))
    } else {
        (t, c + ((inc - t) + sum))
    }
}

/// The mean as Prometheus's `avg_over_time` and `avg` compute it.
pub(crate) fn prom_mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut it = values;
    let mut sum = it.next()?;
    let (mut count, mut c, mut mean, mut incremental) = (1.0f64, 0.0f64, 0.0f64, false);
    for v in it {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_inc(v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        let (m, nc) = kahan_inc(v / count, q * mean, q * c);
        mean = m;
        c = nc;
    }
    Some(if incremental {
        mean + c
    } else {
        sum / count + c / count
    })
}

pub(crate) fn prom_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for v in values {
        (sum, c) = kahan_inc(v, sum, c);
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

/// Prometheus's `quantile` over values (linear interpolation between closest ranks).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    if q.is_nan() {
        return Some(f64::NAN);
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    // Go's sort.Float64s order: NaN first.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    Some(values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight)
}

/// `rate`/`increase`/`delta`'s extrapolation of a raw difference `result` between the first
/// and the last sample of a window (Prometheus's `extrapolatedRate`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn extrapolate(
    result: f64,
    first_t: i64,
    first_v: f64,
    last_t: i64,
    count: usize,
    w: &Window,
    is_counter: bool,
    is_rate: bool,
) -> f64 {
    let mut to_start = (first_t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / (count - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter {
        // A counter does not go below zero: extrapolate at most to where it would be 0.
        let mut to_zero = to_start;
        if result > 0.0 && first_v >= 0.0 {
            to_zero = sampled * (first_v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= w.range_ms as f64 / 1000.0;
    }
    result * factor
}

/// [`extrapolate`] for many windows of one series in a row. What depends only on the
/// window's timing (the sample offsets from its edges, the count, the range) is computed
/// once and reused while it stays the same, as it does for a regularly scraped series: the
/// same floating-point operations on the same values, so the answers are bit-identical, but
/// a month at a 5-minute step no longer pays seven divisions per step.
#[derive(Default)]
pub(crate) struct Extrapolator {
    /// (first_t - start, end - last_t, count, range_ms, is_rate) of the memoised timing.
    key: Option<(i64, i64, usize, i64, bool)>,
    sampled: f64,
    /// `to_start` before the counter's clamp to zero, and `to_end`, both after the threshold.
    to_start: f64,
    to_end: f64,
    /// The factor without the clamp.
    factor: f64,
    /// `first_v >= result * clamp_bound` proves the clamp cannot apply (see `apply`).
    clamp_bound: f64,
}

impl Extrapolator {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply(
        &mut self,
        result: f64,
        first_t: i64,
        first_v: f64,
        last_t: i64,
        count: usize,
        w: &Window,
        is_counter: bool,
        is_rate: bool,
    ) -> f64 {
        let key = (
            first_t - w.start,
            w.end - last_t,
            count,
            w.range_ms,
            is_rate,
        );
        if self.key != Some(key) {
            let mut to_start = (first_t - w.start) as f64 / 1000.0;
            let mut to_end = (w.end - last_t) as f64 / 1000.0;
            let sampled = (last_t - first_t) as f64 / 1000.0;
            let avg = sampled / (count - 1) as f64;
            let threshold = avg * 1.1;
            if to_start >= threshold {
                to_start = avg / 2.0;
            }
            if to_end >= threshold {
                to_end = avg / 2.0;
            }
            self.key = Some(key);
            self.sampled = sampled;
            self.to_start = to_start;
            self.to_end = to_end;
            self.factor = self.factor_for(to_start, w, is_rate);
            // twice the ratio: far from the boundary, whatever the roundings.
            self.clamp_bound = 2.0 * to_start / sampled;
        }
        self.finish(result, first_v, w, is_counter, is_rate)
    }

    /// [`Extrapolator::apply`] after its timing: valid for a window whose timing (the key)
    /// is the one memoised by the last `apply`.
    #[inline]
    pub(crate) fn finish(
        &self,
        result: f64,
        first_v: f64,
        w: &Window,
        is_counter: bool,
        is_rate: bool,
    ) -> f64 {
        if is_counter && result > 0.0 && first_v >= 0.0 {
            // `extrapolate`'s clamp: to_zero = sampled * (first_v / result), used when below
            // to_start. With first_v at least twice result * to_start / sampled it cannot be
            // (a division saved); otherwise it is computed exactly as there.
            let certainly_not = self.sampled > 0.0
                && (self.to_start <= 0.0
                    || (self.clamp_bound.is_finite() && first_v >= result * self.clamp_bound));
            if !certainly_not {
                let to_zero = self.sampled * (first_v / result);
                if to_zero < self.to_start {
                    return result * self.factor_for(to_zero, w, is_rate);
                }
            }
        }
        result * self.factor
    }

    fn factor_for(&self, to_start: f64, w: &Window, is_rate: bool) -> f64 {
        let mut factor = (self.sampled + to_start + self.to_end) / self.sampled;
        if is_rate {
            factor /= w.range_ms as f64 / 1000.0;
        }
        factor
    }
}

fn extrapolated_rate(s: &[Sample], w: &Window, is_counter: bool, is_rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut result = last.value - first.value;
    if is_counter {
        for p in s.windows(2) {
            if p[1].value < p[0].value {
                result += p[0].value;
            }
        }
    }
    Some(extrapolate(
        result,
        first.ts_ms,
        first.value,
        last.ts_ms,
        s.len(),
        w,
        is_counter,
        is_rate,
    ))
}

/// One range function over one window's samples (staleness markers already removed).
pub(crate) fn apply(f: RangeFn, s: &[Sample], w: &Window, param: f64) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let values = || s.iter().map(|x| x.value);
    match f {
        RangeFn::Rate => extrapolated_rate(s, w, true, true),
        RangeFn::Increase => extrapolated_rate(s, w, true, false),
        RangeFn::Delta => extrapolated_rate(s, w, false, false),
        RangeFn::Irate | RangeFn::Idelta => {
            if s.len() < 2 {
                return None;
            }
            let (prev, last) = (s[s.len() - 2], s[s.len() - 1]);
            let interval = last.ts_ms - prev.ts_ms;
            if interval == 0 {
                return None;
            }
            if f == RangeFn::Idelta {
                return Some(last.value - prev.value);
            }
            let diff = if last.value < prev.value {
                last.value
            } else {
                last.value - prev.value
            };
            Some(diff / (interval as f64 / 1000.0))
        }
        RangeFn::AvgOverTime => prom_mean(values()),
        RangeFn::SumOverTime => Some(prom_sum(values())),
        RangeFn::CountOverTime => Some(s.len() as f64),
        RangeFn::PresentOverTime => Some(1.0),
        RangeFn::LastOverTime => Some(s[s.len() - 1].value),
        RangeFn::FirstOverTime => Some(s[0].value),
        RangeFn::MinOverTime => {
            Some(values().fold(s[0].value, |m, v| if v < m || m.is_nan() { v } else { m }))
        }
        RangeFn::MaxOverTime => {
            Some(values().fold(s[0].value, |m, v| if v > m || m.is_nan() { v } else { m }))
        }
        RangeFn::QuantileOverTime => quantile(param, &mut values().collect::<Vec<_>>()),
        RangeFn::Changes => Some(
            s.windows(2)
                .filter(|p| {
                    let (a, b) = (p[0].value, p[1].value);
                    b != a && !(a.is_nan() && b.is_nan())
                })
                .count() as f64,
        ),
        RangeFn::Resets => Some(s.windows(2).filter(|p| p[1].value < p[0].value).count() as f64),
        // Regressed around the first sample's time (Prometheus: for accuracy).
        RangeFn::Deriv => (s.len() >= 2).then(|| linear_regression(s, s[0].ts_ms).0),
        // `param` is the prediction's offset in seconds; the intercept is at the
        // evaluation time, which `raw_rows` passes as the window's end plus the offset.
        RangeFn::PredictLinear => None,
        RangeFn::StddevOverTime | RangeFn::StdvarOverTime => {
            let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for v in values() {
                count += 1.0;
                let delta = v - (mean + c_mean);
                (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
                (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
            }
            let variance = (aux + c_aux) / count;
            Some(if f == RangeFn::StddevOverTime {
                variance.sqrt()
            } else {
                variance
            })
        }
    }
}

/// Prometheus's `linearRegression`: least squares with Kahan-summed moments, `x` in seconds
/// from `intercept_ms`; a constant series has slope 0 (NaN for an infinite constant).
pub(crate) fn linear_regression(s: &[Sample], intercept_ms: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = s[0].value;
    let mut const_y = true;
    for (i, p) in s.iter().enumerate() {
        if const_y && i > 0 && p.value != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.ts_ms - intercept_ms) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(p.value, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * p.value, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    (slope, sum_y / n - slope * sum_x / n)
}

/// The matrix selector argument of a range function (parentheses allowed).
pub(crate) fn matrix_arg(e: &Expr) -> Result<&MatrixSelector, PromError> {
    match unwrap_parens(e) {
        Expr::MatrixSelector(ms) => Ok(ms),
        Expr::Subquery(_) => unsupported("subqueries (`expr[range:step]`)"),
        _ => Err(PromError::BadData(
            "expected a range vector argument".into(),
        )),
    }
}

/// The range-vector argument of a function: a range selector or a subquery.
pub(crate) enum RangeArg<'e> {
    Selector(&'e MatrixSelector),
    Subquery(&'e SubqueryExpr),
}

pub(crate) fn range_arg(e: &Expr) -> Result<RangeArg<'_>, PromError> {
    match unwrap_parens(e) {
        Expr::MatrixSelector(ms) => Ok(RangeArg::Selector(ms)),
        Expr::Subquery(sq) => Ok(RangeArg::Subquery(sq)),
        _ => Err(PromError::BadData(
            "expected a range vector argument".into(),
        )),
    }
}

/// A range function's rows over a range argument, raw samples or the subquery's points.
fn range_rows(
    ev: &Evaluator,
    f: RangeFn,
    arg: &RangeArg,
    param: Option<&[f64]>,
) -> Result<Rows, PromError> {
    match arg {
        RangeArg::Selector(ms) => match plan::try_rollup(ev, f, ms)? {
            Some(rows) => Ok(rows),
            None => raw_range_fn(ev, f, ms, param),
        },
        RangeArg::Subquery(sq) => {
            let data = ev.subquery_samples(sq)?;
            Ok(rows_over(
                ev,
                f,
                offset_ms(&sq.offset),
                duration_ms(&sq.range),
                ev.at_ms(&sq.at),
                param,
                data,
            ))
        }
    }
}

/// A range function over a range selector or subquery, for every step; `param` is
/// `quantile_over_time`'s φ (or `predict_linear`'s offset) per step.
fn eval_range_fn(
    ev: &Evaluator,
    f: RangeFn,
    arg: &RangeArg,
    param: Option<Vec<f64>>,
) -> Result<Vec<Series>, PromError> {
    let rows = range_rows(ev, f, arg, param.as_deref())?;
    // Prometheus keeps the name for these two: they select a sample rather than compute.
    let keep_name = matches!(f, RangeFn::LastOverTime | RangeFn::FirstOverTime);
    let out: Vec<Series> = rows
        .into_iter()
        .filter(|(_, v)| v.iter().any(Option::is_some))
        .map(|(labels, values)| Series {
            labels: if keep_name {
                labels
            } else {
                drop_name(&labels)
            },
            values,
        })
        .collect();
    check_unique_labels(&out)?;
    Ok(out)
}

pub(crate) type Rows = Vec<(Labels, Vec<Option<f64>>)>;

/// The raw-sample evaluation of a range function (what rollups must equal).
pub(crate) fn raw_range_fn(
    ev: &Evaluator,
    f: RangeFn,
    ms: &MatrixSelector,
    param: Option<&[f64]>,
) -> Result<Rows, PromError> {
    let data = ev.range_samples(ms)?;
    Ok(raw_rows(ev, f, ms, param, data))
}

pub(crate) fn raw_rows(
    ev: &Evaluator,
    f: RangeFn,
    ms: &MatrixSelector,
    param: Option<&[f64]>,
    data: Vec<(Labels, Vec<Sample>)>,
) -> Rows {
    let off = offset_ms(&ms.vs.offset);
    let range = duration_ms(&ms.range);
    rows_over(ev, f, off, range, ev.at_ms(&ms.vs.at), param, data)
}

/// `f` per step over the windows `(t - off - range, t - off]` (`t` the step's time or the
/// `@` time) of time-sorted samples.
fn rows_over(
    ev: &Evaluator,
    f: RangeFn,
    off: i64,
    range: i64,
    at: Option<i64>,
    param: Option<&[f64]>,
    data: Vec<(Labels, Vec<Sample>)>,
) -> Rows {
    let mut out = Vec::with_capacity(data.len());
    for (labels, samples) in data {
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut values = Vec::with_capacity(ev.n);
        for i in 0..ev.n {
            let end = ev.ref_time(at, i) - off;
            let w = Window {
                start: end - range,
                end,
                range_ms: range,
            };
            while hi < samples.len() && samples[hi].ts_ms <= w.end {
                hi += 1;
            }
            while lo < hi && samples[lo].ts_ms <= w.start {
                lo += 1;
            }
            let p = param.and_then(|p| p.get(i).copied()).unwrap_or(f64::NAN);
            let window = &samples[lo..hi];
            values.push(if f == RangeFn::PredictLinear {
                // Regressed around the evaluation time (the window's end before `offset`).
                (window.len() >= 2).then(|| {
                    let t = ev.start + i as i64 * ev.step;
                    let (slope, intercept) = linear_regression(window, t);
                    slope * p + intercept
                })
            } else {
                apply(f, window, &w, p)
            });
        }
        out.push((labels, values));
    }
    out
}

fn map_values(v: Vec<Series>, f: impl Fn(f64) -> f64) -> Result<Value, PromError> {
    let out = v
        .into_iter()
        .map(|s| Series {
            labels: drop_name(&s.labels),
            values: s.values.into_iter().map(|x| x.map(&f)).collect(),
        })
        .collect();
    Ok(Value::Vector(merge_same_labels(out)?))
}

/// `absent(v)`'s labels: the selector's equality matchers (a label matched twice, or by
/// another operator, is left out), as Prometheus does; parentheses are not looked through.
fn absent_labels(e: &Expr) -> Labels {
    let Expr::VectorSelector(vs) = e else {
        return Labels::from_sorted_unchecked(Vec::new());
    };
    let mut set: Vec<(String, String)> = Vec::new();
    let mut has = std::collections::HashSet::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let equal = matches!(m.op, promql_parser::label::MatchOp::Equal);
        if equal && !has.contains(&m.name) {
            set.retain(|(n, _)| n != &m.name);
            set.push((m.name.clone(), m.value.clone()));
            has.insert(m.name.clone());
        } else {
            set.retain(|(n, _)| n != &m.name);
        }
    }
    set.retain(|(_, v)| !v.is_empty());
    set.sort();
    Labels::from_sorted_unchecked(set)
}

pub(crate) fn eval_call(ev: &Evaluator, c: &Call) -> Result<Value, PromError> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let arg = |i: usize| -> Result<&Expr, PromError> {
        args.get(i)
            .copied()
            .ok_or_else(|| PromError::BadData(format!("{name}(): missing argument {}", i + 1)))
    };
    if let Some(f) = RangeFn::from_name(name) {
        let (ra, param) = if f == RangeFn::QuantileOverTime {
            (range_arg(arg(1)?)?, Some(ev.eval_scalar(arg(0)?)?))
        } else if f == RangeFn::PredictLinear {
            (range_arg(arg(0)?)?, Some(ev.eval_scalar(arg(1)?)?))
        } else {
            (range_arg(arg(0)?)?, None)
        };
        return Ok(Value::Vector(eval_range_fn(ev, f, &ra, param)?));
    }
    let simple: Option<fn(f64) -> f64> = match name {
        "abs" => Some(f64::abs),
        "ceil" => Some(f64::ceil),
        "floor" => Some(f64::floor),
        "exp" => Some(f64::exp),
        "sqrt" => Some(f64::sqrt),
        "ln" => Some(f64::ln),
        "log2" => Some(f64::log2),
        "log10" => Some(f64::log10),
        "sin" => Some(f64::sin),
        "cos" => Some(f64::cos),
        "tan" => Some(f64::tan),
        "asin" => Some(f64::asin),
        "acos" => Some(f64::acos),
        "atan" => Some(f64::atan),
        "sinh" => Some(f64::sinh),
        "cosh" => Some(f64::cosh),
        "tanh" => Some(f64::tanh),
        "asinh" => Some(f64::asinh),
        "acosh" => Some(f64::acosh),
        "atanh" => Some(f64::atanh),
        "deg" => Some(|v: f64| v * 180.0 / std::f64::consts::PI),
        "rad" => Some(|v: f64| v * std::f64::consts::PI / 180.0),
        "sgn" => Some(|v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        }),
        _ => None,
    };
    if let Some(f) = simple {
        return map_values(ev.eval_vector(arg(0)?)?, f);
    }
    match name {
        "histogram_quantile" => histogram::eval(ev, arg(0)?, arg(1)?),
        "histogram_fraction" => histogram::eval_fraction(ev, arg(0)?, arg(1)?, arg(2)?),
        // Defined for native histograms only: float samples (classic buckets too) are
        // ignored, as Prometheus does, so over Pharos's series the answer is empty.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            ev.eval_vector(arg(0)?)?;
            Ok(Value::Vector(Vec::new()))
        }
        "absent" => {
            let v = ev.eval_vector(arg(0)?)?;
            let mut values = vec![Some(1.0); ev.n];
            for s in &v {
                for (out, x) in values.iter_mut().zip(&s.values) {
                    if x.is_some() {
                        *out = None;
                    }
                }
            }
            let out = if values.iter().any(Option::is_some) {
                vec![Series {
                    labels: absent_labels(arg(0)?),
                    values,
                }]
            } else {
                Vec::new()
            };
            Ok(Value::Vector(out))
        }
        "round" => {
            let v = ev.eval_vector(arg(0)?)?;
            let to = match args.get(1) {
                Some(e) => ev.eval_scalar(e)?,
                None => vec![1.0; ev.n],
            };
            let out = v
                .into_iter()
                .map(|s| Series {
                    labels: drop_name(&s.labels),
                    values: s
                        .values
                        .into_iter()
                        .zip(&to)
                        .map(|(x, t)| {
                            x.map(|x| {
                                let inv = 1.0 / t;
                                (x * inv + 0.5).floor() / inv
                            })
                        })
                        .collect(),
                })
                .collect();
            Ok(Value::Vector(merge_same_labels(out)?))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let v = ev.eval_vector(arg(0)?)?;
            let (lo, hi) = match name {
                "clamp" => (ev.eval_scalar(arg(1)?)?, ev.eval_scalar(arg(2)?)?),
                "clamp_min" => (ev.eval_scalar(arg(1)?)?, vec![f64::INFINITY; ev.n]),
                _ => (vec![f64::NEG_INFINITY; ev.n], ev.eval_scalar(arg(1)?)?),
            };
            let out = v
                .into_iter()
                .map(|s| Series {
                    labels: drop_name(&s.labels),
                    values: s
                        .values
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| {
                            let (lo, hi) = (lo[i], hi[i]);
                            // Go's math.Max/Min: NaN wins.
                            x.filter(|_| hi >= lo || lo.is_nan() || hi.is_nan())
                                .map(|x| go_max(lo, go_min(hi, x)))
                        })
                        .collect(),
                })
                .collect();
            Ok(Value::Vector(merge_same_labels(out)?))
        }
        "scalar" => {
            let v = ev.eval_vector(arg(0)?)?;
            let out = (0..ev.n)
                .map(|i| {
                    let mut present = v.iter().filter_map(|s| s.values[i]);
                    match (present.next(), present.next()) {
                        (Some(x), None) => x,
                        _ => f64::NAN,
                    }
                })
                .collect();
            Ok(Value::Scalar(out))
        }
        "vector" => {
            let v = ev.eval_scalar(arg(0)?)?;
            Ok(Value::Vector(vec![Series {
                labels: Labels::from_sorted_unchecked(Vec::new()),
                values: v.into_iter().map(Some).collect(),
            }]))
        }
        "time" => Ok(Value::Scalar(
            ev.step_times()
                .into_iter()
                .map(|t| t as f64 / 1000.0)
                .collect(),
        )),
        "pi" => Ok(Value::Scalar(vec![std::f64::consts::PI; ev.n])),
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month"
        | "hour" | "minute" => {
            let part = |secs: f64| date_part(name, secs);
            match args.first() {
                // No argument: the evaluation time, as a series without labels.
                None => Ok(Value::Vector(vec![Series {
                    labels: Labels::from_sorted_unchecked(Vec::new()),
                    values: ev
                        .step_times()
                        .into_iter()
                        .map(|t| Some(part((t / 1000) as f64)))
                        .collect(),
                }])),
                Some(e) => map_values(ev.eval_vector(e)?, part),
            }
        }
        "timestamp" => {
            // Of a selector: the samples' own times; of anything else: the evaluation time.
            let v = match unwrap_parens(arg(0)?) {
                Expr::VectorSelector(vs) => ev.instant_selector_times(vs)?,
                e => {
                    let steps = ev.step_times();
                    ev.eval_vector(e)?
                        .into_iter()
                        .map(|s| Series {
                            values: s
                                .values
                                .iter()
                                .zip(&steps)
                                .map(|(x, t)| x.map(|_| *t as f64 / 1000.0))
                                .collect(),
                            labels: s.labels,
                        })
                        .collect()
                }
            };
            map_values(v, |x| x)
        }
        // The order is the instant query's (`eval::top_level_order`); a range query's
        // series are sorted by labels whatever the function.
        "sort" | "sort_desc" => Ok(Value::Vector(ev.eval_vector(arg(0)?)?)),
        "absent_over_time" => {
            let ra = range_arg(arg(0)?)?;
            let rows = match ra {
                RangeArg::Selector(ms) => raw_range_fn(ev, RangeFn::CountOverTime, ms, None)?,
                RangeArg::Subquery(_) => range_rows(ev, RangeFn::CountOverTime, &ra, None)?,
            };
            let mut values = vec![Some(1.0); ev.n];
            for (_, v) in &rows {
                for (out, x) in values.iter_mut().zip(v) {
                    if x.is_some() {
                        *out = None;
                    }
                }
            }
            let out = if values.iter().any(Option::is_some) {
                // As Prometheus: labels only from a range selector written as the argument
                // itself (not in parentheses, not a subquery).
                let labels = match arg(0)? {
                    Expr::MatrixSelector(ms) => absent_labels(&Expr::VectorSelector(ms.vs.clone())),
                    _ => Labels::from_sorted_unchecked(Vec::new()),
                };
                vec![Series { labels, values }]
            } else {
                Vec::new()
            };
            Ok(Value::Vector(out))
        }
        "label_replace" => {
            let v = ev.eval_vector(arg(0)?)?;
            let dst = string_arg(ev, arg(1)?)?;
            let repl = string_arg(ev, arg(2)?)?;
            let src = string_arg(ev, arg(3)?)?;
            let pattern = string_arg(ev, arg(4)?)?;
            // Prometheus anchors the regex and lets `.` match newlines.
            let re = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|_| {
                PromError::Execution(format!(
                    "invalid regular expression in label_replace(): {pattern}"
                ))
            })?;
            if !valid_label_name(&dst) {
                return Err(PromError::Execution(format!(
                    "invalid destination label name in label_replace(): {dst}"
                )));
            }
            let mut out = Vec::with_capacity(v.len());
            for s in v {
                let src_val = s.labels.get(&src).unwrap_or("");
                let labels = match re.captures(src_val) {
                    // Only a match replaces (an absent source label is the empty string).
                    Some(caps) => {
                        let mut value = String::new();
                        caps.expand(&repl, &mut value);
                        set_label(&s.labels, &dst, &value)
                    }
                    None => s.labels,
                };
                out.push(Series {
                    labels,
                    values: s.values,
                });
            }
            Ok(Value::Vector(merge_same_labels(out)?))
        }
        "label_join" => {
            let v = ev.eval_vector(arg(0)?)?;
            let dst = string_arg(ev, arg(1)?)?;
            let sep = string_arg(ev, arg(2)?)?;
            let mut srcs = Vec::with_capacity(args.len().saturating_sub(3));
            for e in args.iter().skip(3) {
                let src = string_arg(ev, e)?;
                if !valid_label_name(&src) {
                    return Err(PromError::Execution(format!(
                        "invalid source label name in label_join(): {src}"
                    )));
                }
                srcs.push(src);
            }
            if !valid_label_name(&dst) {
                return Err(PromError::Execution(format!(
                    "invalid destination label name in label_join(): {dst}"
                )));
            }
            let out: Vec<Series> = v
                .into_iter()
                .map(|s| {
                    let joined: Vec<&str> =
                        srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
                    let value = joined.join(&sep);
                    Series {
                        labels: set_label(&s.labels, &dst, &value),
                        values: s.values,
                    }
                })
                .collect();
            Ok(Value::Vector(merge_same_labels(out)?))
        }
        other => unsupported(format!("function {other}()")),
    }
}

/// One of the date functions of a Unix time in seconds (UTC), as Prometheus's
/// `dateWrapper`: the time is truncated to whole seconds. Pharos answers NaN for a value
/// that is no time (NaN, ±Inf, beyond year ±9999), where Go's conversion gives arbitrary
/// dates.
fn date_part(name: &str, secs: f64) -> f64 {
    if !secs.is_finite() {
        return f64::NAN;
    }
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs.trunc() as i64) else {
        return f64::NAN;
    };
    match name {
        "year" => f64::from(t.year()),
        "month" => f64::from(u8::from(t.month())),
        "day_of_month" => f64::from(t.day()),
        "day_of_week" => f64::from(t.weekday().number_days_from_sunday()),
        "day_of_year" => f64::from(t.ordinal()),
        "days_in_month" => f64::from(t.month().length(t.year())),
        "hour" => f64::from(t.hour()),
        _ => f64::from(t.minute()),
    }
}

/// A string argument (parentheses allowed, as Prometheus unwraps them).
fn string_arg(ev: &Evaluator, e: &Expr) -> Result<String, PromError> {
    match ev.eval(e)? {
        Value::String(s) => Ok(s),
        _ => Err(PromError::BadData("expected a string argument".into())),
    }
}

/// Label names as Pharos's store accepts them (Prometheus's classic names
/// `[a-zA-Z_][a-zA-Z0-9_]*`; Prometheus 3 also accepts any UTF-8 name, which Pharos's
/// series cannot carry).
pub(crate) fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `l` with `name` set to `value`, or removed when `value` is empty (an empty label is an
/// absent label).
pub(crate) fn set_label(l: &Labels, name: &str, value: &str) -> Labels {
    let mut pairs: Vec<(String, String)> = l
        .pairs()
        .iter()
        .filter(|(n, _)| n != name)
        .cloned()
        .collect();
    if !value.is_empty() {
        pairs.push((name.to_string(), value.to_string()));
        pairs.sort();
    }
    Labels::from_sorted_unchecked(pairs)
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memoised extrapolation answers bit for bit like `extrapolate`, over regular
    /// timings (the memo reused), irregular ones (recomputed) and values on both sides of
    /// the counter's clamp to zero.
    #[test]
    fn the_extrapolator_answers_like_extrapolate() {
        let mut x = 0x853c_49e6_748f_ea9bu64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut clamped = 0;
        for case in 0..40_000 {
            let mut e = Extrapolator::default();
            let range_ms = [300_000, 3_600_000, 60_000][case % 3];
            for i in 0..20i64 {
                let end = 1_700_000_000_000 + i * range_ms;
                let w = Window {
                    start: end - range_ms,
                    end,
                    range_ms,
                };
                let regular = next() % 4 != 0;
                let (a, b) = if regular {
                    (15_000, 1_000)
                } else {
                    let a = 1 + (next() % range_ms as u64) as i64;
                    (a, (next() % (range_ms - a + 1) as u64) as i64)
                };
                let (first_t, last_t) = (w.start + a, w.end - b);
                let count = if regular {
                    20
                } else {
                    2 + (next() % 40) as usize
                };
                let result = match next() % 5 {
                    0 => 0.0,
                    1 => -((next() % 100) as f64),
                    _ => (next() % 1000) as f64 / 7.0,
                };
                let first_v = match next() % 6 {
                    0 => -1.0,
                    1 => (next() % 3) as f64,
                    2 => f64::NAN,
                    _ => (next() % 100_000) as f64 / 3.0,
                };
                for (is_counter, is_rate) in [(true, true), (true, false), (false, false)] {
                    let want = extrapolate(
                        result, first_t, first_v, last_t, count, &w, is_counter, is_rate,
                    );
                    let got = e.apply(
                        result, first_t, first_v, last_t, count, &w, is_counter, is_rate,
                    );
                    assert_eq!(want.to_bits(), got.to_bits(), "case {case} step {i}");
                    let plain =
                        extrapolate(result, first_t, first_v, last_t, count, &w, false, is_rate);
                    clamped += usize::from(is_counter && want.to_bits() != plain.to_bits());
                }
            }
        }
        assert!(clamped > 1000, "the clamp was hit {clamped} times");
    }
}
