//! The evaluator: every node is evaluated for all steps of the query at once. An instant
//! vector is a list of series with fixed labels and one optional value per step (labels do
//! not change from step to step, so signatures and group keys are computed once per series).

use std::cmp::Ordering;
use std::collections::HashMap;

use pharos_collector::tsdb::{
    LabelMatcher, Labels, MatchOp, MetricStore, Points, Resolution, Sample, SelectRequest,
    METRIC_NAME,
};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{
    AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector,
};

use crate::budget::Budget;

use super::{
    aggregate, binary, functions, unsupported, InstantSample, PromError, PromOptions, RangeSeries,
};

/// One series of an instant vector over the steps of the query.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug)]
pub(crate) enum Value {
    /// One value per step.
    Scalar(Vec<f64>),
    String(String),
    Vector(Vec<Series>),
    /// Only at the top level of an instant query.
    Matrix(Vec<RangeSeries>),
}

pub(crate) struct Evaluator<'a> {
    pub store: &'a dyn MetricStore,
    pub start: i64,
    pub end: i64,
    pub step: i64,
    /// The number of steps.
    pub n: usize,
    pub instant: bool,
    pub opts: &'a PromOptions,
    budget: Budget,
    /// The query's own start and end (what `@ start()` / `@ end()` mean, also inside a
    /// subquery, whose steps are `start`…`end`).
    pub query_start: i64,
    pub query_end: i64,
}

/// How an instant query's vector is ordered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Order {
    Labels,
    /// `topk` at the top: by value, highest first.
    ValueDesc,
    /// `bottomk` at the top: by value, lowest first.
    ValueAsc,
}

pub(crate) fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

pub(crate) fn top_level_order(e: &Expr) -> Order {
    use promql_parser::parser::token::{T_BOTTOMK, T_TOPK};
    match unwrap_parens(e) {
        Expr::Aggregate(a) if a.op.id() == T_TOPK => Order::ValueDesc,
        Expr::Aggregate(a) if a.op.id() == T_BOTTOMK => Order::ValueAsc,
        Expr::Call(c) if c.func.name == "sort" => Order::ValueAsc,
        Expr::Call(c) if c.func.name == "sort_desc" => Order::ValueDesc,
        _ => Order::Labels,
    }
}

pub(crate) fn sort_instant(v: &mut [InstantSample], order: Order) {
    let by_value = |a: f64, b: f64| {
        // NaN sorts last either way, as Prometheus's topk output does.
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        }
    };
    match order {
        Order::Labels => v.sort_by(|a, b| a.labels.cmp(&b.labels)),
        Order::ValueDesc => v.sort_by(|a, b| {
            if a.value.is_nan() || b.value.is_nan() {
                by_value(a.value, b.value)
            } else {
                by_value(b.value, a.value)
            }
        }),
        Order::ValueAsc => v.sort_by(|a, b| by_value(a.value, b.value)),
    }
}

pub(crate) fn duration_ms(d: &std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
    }
}

/// The store matchers of a selector (its metric name included).
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<LabelMatcher>, PromError> {
    if !vs.matchers.or_matchers.is_empty() {
        return unsupported("`or` inside label matchers");
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(LabelMatcher {
            name: METRIC_NAME.into(),
            op: MatchOp::Equal,
            value: name.clone(),
        });
    }
    for m in &vs.matchers.matchers {
        let op = match m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::RegexMatch,
            PMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
        };
        out.push(LabelMatcher {
            name: m.name.clone(),
            op,
            value: m.value.clone(),
        });
    }
    Ok(out)
}

/// A subquery's step when it names none (Prometheus's default evaluation interval).
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Labels without `__name__` (what arithmetic and most functions return).
pub(crate) fn drop_name(l: &Labels) -> Labels {
    l.without(&[METRIC_NAME])
}

impl<'a> Evaluator<'a> {
    pub fn new(
        store: &'a dyn MetricStore,
        start: i64,
        end: i64,
        step: i64,
        instant: bool,
        opts: &'a PromOptions,
        budget: Budget,
    ) -> Evaluator<'a> {
        let n = usize::try_from((end - start) / step.max(1) + 1).unwrap_or(1);
        Evaluator {
            store,
            start,
            end,
            step: step.max(1),
            n,
            instant,
            opts,
            budget,
            query_start: start,
            query_end: end,
        }
    }

    /// The time an `@` modifier fixes (ms), if any.
    pub fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at.as_ref()? {
            AtModifier::Start => Some(self.query_start),
            AtModifier::End => Some(self.query_end),
            AtModifier::At(t) => Some(match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => duration_ms(&d),
                Err(e) => -duration_ms(&e.duration()),
            }),
        }
    }

    /// Step `i`'s reference time for a selector: the step's time, or the `@` time.
    pub fn ref_time(&self, at: Option<i64>, i: usize) -> i64 {
        at.unwrap_or(self.start + i as i64 * self.step)
    }

    /// The first and last reference times over the steps.
    pub fn ref_span(&self, at: Option<i64>) -> (i64, i64) {
        match at {
            Some(t) => (t, t),
            None => (self.start, self.end),
        }
    }

    pub fn step_times(&self) -> Vec<i64> {
        (0..self.n)
            .map(|i| self.start + i as i64 * self.step)
            .collect()
    }

    /// `Err` once the query's time is up or its client has gone.
    pub fn check_deadline(&self, what: &str) -> Result<(), PromError> {
        self.budget
            .check()
            .map_err(|why| PromError::stopped(why, what))
    }

    /// Refuses results bigger than the configured bound (series × steps).
    pub fn check_size(&self, series: usize) -> Result<(), PromError> {
        if series.saturating_mul(self.n) > self.opts.max_points {
            return Err(PromError::Execution(format!(
                "query processing would load too many samples into memory ({series} series × {} steps)",
                self.n
            )));
        }
        Ok(())
    }

    pub fn eval(&self, e: &Expr) -> Result<Value, PromError> {
        self.check_deadline("expression evaluation")?;
        match e {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(vec![n.val; self.n])),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Value::Scalar(v) => Ok(Value::Scalar(v.into_iter().map(|x| -x).collect())),
                Value::Vector(v) => {
                    let out = v
                        .into_iter()
                        .map(|s| Series {
                            labels: drop_name(&s.labels),
                            values: s.values.into_iter().map(|x| x.map(|x| -x)).collect(),
                        })
                        .collect();
                    Ok(Value::Vector(merge_same_labels(out)?))
                }
                _ => Err(PromError::BadData(
                    "unary expression only allowed on expressions of type scalar or vector".into(),
                )),
            },
            Expr::Binary(b) => binary::eval(self, b),
            Expr::Aggregate(a) => aggregate::eval(self, a),
            Expr::Call(c) => functions::eval_call(self, c),
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.instant_selector(vs)?)),
            Expr::MatrixSelector(ms) => {
                if self.instant {
                    Ok(Value::Matrix(self.matrix_at_top(ms)?))
                } else {
                    Err(PromError::BadData(
                        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                    ))
                }
            }
            Expr::Subquery(sq) => {
                if self.instant {
                    let mut out: Vec<RangeSeries> = self
                        .subquery_samples(sq)?
                        .into_iter()
                        .map(|(labels, samples)| RangeSeries {
                            labels,
                            points: samples.iter().map(|s| (s.ts_ms, s.value)).collect(),
                        })
                        .collect();
                    out.sort_by(|a, b| a.labels.cmp(&b.labels));
                    Ok(Value::Matrix(out))
                } else {
                    Err(PromError::BadData(
                        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                    ))
                }
            }
            Expr::Extension(_) => unsupported("extension expressions"),
        }
    }

    pub fn eval_vector(&self, e: &Expr) -> Result<Vec<Series>, PromError> {
        match self.eval(e)? {
            Value::Vector(v) => Ok(v),
            _ => Err(PromError::BadData(format!(
                "expected an instant vector, got {}",
                e.value_type()
            ))),
        }
    }

    pub fn eval_scalar(&self, e: &Expr) -> Result<Vec<f64>, PromError> {
        match self.eval(e)? {
            Value::Scalar(v) => Ok(v),
            _ => Err(PromError::BadData(format!(
                "expected a scalar, got {}",
                e.value_type()
            ))),
        }
    }

    /// The store matchers of a selector (its metric name included).
    pub fn matchers(&self, vs: &VectorSelector) -> Result<Vec<LabelMatcher>, PromError> {
        selector_matchers(vs)
    }

    /// Raw samples of the matching series in `[start, end]`, sorted by time.
    pub fn select_raw(
        &self,
        matchers: &[LabelMatcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, PromError> {
        let data = self.store.select(&SelectRequest {
            matchers: matchers.to_vec(),
            start_ms: start,
            end_ms: end,
            resolution: Resolution::Raw,
        })?;
        self.check_size(data.len())?;
        let mut out = Vec::with_capacity(data.len());
        for sd in data {
            match sd.points {
                Points::Raw(mut samples) => {
                    if !samples.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms) {
                        samples.sort_by_key(|s| s.ts_ms);
                    }
                    samples.retain(|s| s.ts_ms >= start && s.ts_ms <= end);
                    out.push((sd.labels, samples));
                }
                Points::Rollup(..) => {
                    return Err(PromError::Execution(
                        "the metrics store answered a raw read with rollups".into(),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// An instant selector: per step the newest sample in `(t - offset - lookback, t -
    /// offset]`, unless that sample is a staleness marker.
    pub fn instant_selector(&self, vs: &VectorSelector) -> Result<Vec<Series>, PromError> {
        self.select_instant(vs, false)
    }

    /// [`Evaluator::instant_selector`] with the selected samples' times (in seconds) as
    /// values (`timestamp(x)`).
    pub fn instant_selector_times(&self, vs: &VectorSelector) -> Result<Vec<Series>, PromError> {
        self.select_instant(vs, true)
    }

    fn select_instant(&self, vs: &VectorSelector, times: bool) -> Result<Vec<Series>, PromError> {
        let matchers = self.matchers(vs)?;
        let off = offset_ms(&vs.offset);
        let at = self.at_ms(&vs.at);
        let (first, last) = self.ref_span(at);
        let lookback = self.opts.lookback_ms;
        let data = self.select_raw(&matchers, first - off - lookback + 1, last - off)?;
        let mut out = Vec::with_capacity(data.len());
        for (labels, samples) in data {
            self.check_deadline("series selection")?;
            let mut values = Vec::with_capacity(self.n);
            // `next` is the first sample after the current reference time.
            let mut next = 0usize;
            let mut any = false;
            for i in 0..self.n {
                let t = self.ref_time(at, i) - off;
                while next < samples.len() && samples[next].ts_ms <= t {
                    next += 1;
                }
                let v = match next.checked_sub(1).map(|j| samples[j]) {
                    Some(s) if s.ts_ms > t - lookback && !s.is_stale_marker() => Some(if times {
                        s.ts_ms as f64 / 1000.0
                    } else {
                        s.value
                    }),
                    _ => None,
                };
                any |= v.is_some();
                values.push(v);
            }
            if any {
                out.push(Series { labels, values });
            }
        }
        Ok(out)
    }

    /// A range selector's samples for every step's window: the non-stale samples in
    /// `[first window start, last window end]` per series.
    pub fn range_samples(
        &self,
        ms: &MatrixSelector,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, PromError> {
        let matchers = self.matchers(&ms.vs)?;
        let off = offset_ms(&ms.vs.offset);
        let range = duration_ms(&ms.range);
        let (first, last) = self.ref_span(self.at_ms(&ms.vs.at));
        let mut data = self.select_raw(&matchers, first - off - range + 1, last - off)?;
        for (_, samples) in &mut data {
            samples.retain(|s| !s.is_stale_marker());
        }
        Ok(data)
    }

    /// A subquery's points for every step's window: `expr` evaluated at the multiples of
    /// the subquery's step (Prometheus's default 1 minute without one) after the first
    /// window's start, up to the last window's end, as samples per series. The inner steps
    /// count against the point limit like a range query's (and share its budget), so a
    /// subquery is refused before it would evaluate more than `max_points` steps.
    pub fn subquery_samples(
        &self,
        sq: &SubqueryExpr,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, PromError> {
        let off = offset_ms(&sq.offset);
        let range = duration_ms(&sq.range);
        let interval = sq
            .step
            .as_ref()
            .map_or(DEFAULT_SUBQUERY_STEP_MS, duration_ms);
        if interval <= 0 {
            return Err(PromError::BadData(
                "zero or negative subquery resolution steps are not accepted".into(),
            ));
        }
        let (first, last) = self.ref_span(self.at_ms(&sq.at));
        let lo = first.saturating_sub(off).saturating_sub(range);
        let mut start = lo.div_euclid(interval).saturating_mul(interval);
        if start <= lo {
            start = start.saturating_add(interval);
        }
        let end = last.saturating_sub(off);
        if end < start {
            return Ok(Vec::new());
        }
        let steps = (end - start) / interval + 1;
        if usize::try_from(steps).map_or(true, |n| n > self.opts.max_points) {
            return Err(PromError::Execution(format!(
                "query processing would load too many samples into memory (a subquery of {steps} steps)"
            )));
        }
        let inner = Evaluator {
            store: self.store,
            start,
            end,
            step: interval,
            n: usize::try_from(steps).unwrap_or(1),
            instant: false,
            opts: self.opts,
            budget: self.budget.clone(),
            query_start: self.query_start,
            query_end: self.query_end,
        };
        let to_samples = |values: &[Option<f64>]| -> Vec<Sample> {
            values
                .iter()
                .enumerate()
                .filter_map(|(k, v)| {
                    v.map(|value| Sample {
                        ts_ms: start + k as i64 * interval,
                        value,
                    })
                })
                .collect()
        };
        Ok(match inner.eval(&sq.expr)? {
            Value::Vector(series) => series
                .into_iter()
                .map(|s| (s.labels, to_samples(&s.values)))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
            Value::Scalar(v) => {
                let values: Vec<Option<f64>> = v.into_iter().map(Some).collect();
                vec![(
                    Labels::from_sorted_unchecked(Vec::new()),
                    to_samples(&values),
                )]
            }
            _ => {
                return Err(PromError::BadData(
                    "subquery is only allowed on instant vector expressions".into(),
                ))
            }
        })
    }

    /// `x[r]` at the top of an instant query: the samples in `(t - offset - r, t - offset]`.
    fn matrix_at_top(&self, ms: &MatrixSelector) -> Result<Vec<RangeSeries>, PromError> {
        let data = self.range_samples(ms)?;
        let mut out: Vec<RangeSeries> = data
            .into_iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(labels, samples)| RangeSeries {
                labels,
                points: samples.iter().map(|s| (s.ts_ms, s.value)).collect(),
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }
}

/// Merges series that ended up with the same labels (after `__name__` was dropped): fine
/// when they never have a value at the same step, otherwise Prometheus's error.
pub(crate) fn merge_same_labels(series: Vec<Series>) -> Result<Vec<Series>, PromError> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    for s in series {
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let target = &mut out[i];
                for (a, b) in target.values.iter_mut().zip(s.values) {
                    if let Some(b) = b {
                        if a.is_some() {
                            return Err(same_labelset());
                        }
                        *a = Some(b);
                    }
                }
            }
        }
    }
    Ok(out)
}

pub(crate) fn same_labelset() -> PromError {
    PromError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Prometheus's check for range-vector functions: any two results with the same labels
/// are an error, whether or not they have values at the same steps.
pub(crate) fn check_unique_labels(series: &[Series]) -> Result<(), PromError> {
    let mut seen = std::collections::HashSet::with_capacity(series.len());
    for s in series {
        if !seen.insert(&s.labels) {
            return Err(same_labelset());
        }
    }
    Ok(())
}
