//! PromQL over the metrics store ([`MetricStore`]): what Grafana's Prometheus data source
//! needs, with Prometheus 3's semantics.
//!
//! - [`instant_query`] and [`range_query`] parse with `promql-parser` and evaluate every step
//!   of the query at once (`eval`): selectors (`eval`), range functions and instant-vector
//!   functions (`functions`), aggregations (`aggregate`), binary operators (`binary`),
//!   `histogram_quantile` (`histogram`), and the choice of raw data or rollups (`plan`).
//! - Selection follows Prometheus 3: an instant selector takes the newest sample in the
//!   left-open lookback window `(t - 5m, t]` unless it is a staleness marker; a range
//!   selector `x[r]` takes the samples in `(t - r, t]` (left-open, as Prometheus ≥ 3.0), with
//!   staleness markers dropped; `offset d` shifts both windows back by `d`.
//! - `@ t`, `@ start()`, `@ end()` fix a selector's reference time for every step (`offset`
//!   applies from there).
//! - Subqueries `expr[range:step]` evaluate `expr` at the multiples of `step` in each
//!   window, once over the whole query (`Evaluator::subquery_samples`), their steps
//!   bounded by the point limit.
//! - What is not supported answers [`PromError::Unsupported`] naming it (functions and
//!   aggregations not listed in `functions` and `aggregate`, the experimental `fill`
//!   modifiers), never a silently different answer.
//!
//! `testing` has an in-memory store for tests.

mod aggregate;
mod binary;
mod eval;
mod functions;
mod histogram;
pub mod limits;
pub mod plan;
mod plan_open;
mod plan_sum;
pub mod testing;

use std::time::Duration;

use promql_parser::parser::value::ValueType;

use pharos_collector::tsdb::{LabelMatcher, Labels, MetricStore, TsdbError};

use crate::budget::{Budget, Stopped};

/// Prometheus's default lookback delta for instant selectors.
pub const DEFAULT_LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// A sample value as Prometheus writes it (in API answers and `count_values` labels): Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)`, the shortest decimal that reads back as `v`, never
/// with an exponent (Rust's `{}` for `f64` is the same), and `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Prometheus's limit on the points of one series in a range query.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// The query or a parameter is invalid (Prometheus `bad_data`, HTTP 400).
    #[error("{0}")]
    BadData(String),
    /// A valid query that PromQL cannot evaluate on this data (Prometheus `execution`, 422).
    #[error("{0}")]
    Execution(String),
    /// Valid PromQL that Pharos does not evaluate (answered as `bad_data`).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The evaluation ran past its deadline (Prometheus `timeout`, 503).
    #[error("query timed out in {0}")]
    Timeout(String),
    /// The client went away; the evaluation stopped (Prometheus `canceled`, 499).
    #[error("query cancelled in {0}")]
    Cancelled(String),
}

impl PromError {
    /// Prometheus's `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            PromError::BadData(_) | PromError::Unsupported(_) => "bad_data",
            PromError::Execution(_) => "execution",
            PromError::Timeout(_) => "timeout",
            PromError::Cancelled(_) => "canceled",
        }
    }
}

impl From<TsdbError> for PromError {
    fn from(e: TsdbError) -> PromError {
        match e {
            TsdbError::BadMatcher(m) => PromError::BadData(format!("invalid matcher: {m}")),
            other => PromError::Execution(other.to_string()),
        }
    }
}

pub(crate) fn unsupported<T>(what: impl Into<String>) -> Result<T, PromError> {
    Err(PromError::Unsupported(what.into()))
}

/// Evaluation settings.
#[derive(Clone, Debug)]
pub struct PromOptions {
    /// How far back an instant selector looks for a sample (Prometheus's
    /// `--query.lookback-delta`).
    pub lookback_ms: i64,
    /// The evaluation gives up with [`PromError::Timeout`] after this long
    /// (`query.timeout_secs`).
    pub timeout: Option<Duration>,
    /// The caller's budget: its cancellation flag (set when the client goes away) and any
    /// deadline of its own; `timeout` tightens it when the query starts.
    pub budget: Budget,
    /// Whether eligible range functions may read rollups instead of raw samples
    /// (see [`plan`]); off, every read is raw.
    pub use_rollups: bool,
    /// Distribution (HdrHistogram) values are recorded as `observation × scale` (the store's
    /// `rollup::DISTRIBUTION_SCALE`); quantiles are divided by it.
    pub distribution_scale: f64,
    /// The most series × steps an evaluation may hold at once.
    pub max_points: usize,
}

impl Default for PromOptions {
    fn default() -> Self {
        PromOptions {
            lookback_ms: DEFAULT_LOOKBACK_MS,
            timeout: Some(crate::budget::DEFAULT_TIMEOUT),
            budget: Budget::unlimited(),
            use_rollups: true,
            distribution_scale: pharos_collector::tsdb::rollup::DISTRIBUTION_SCALE,
            max_points: 50_000_000,
        }
    }
}

/// One element of an instant vector: the series and its value at the evaluation time.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantSample {
    pub labels: Labels,
    pub ts_ms: i64,
    pub value: f64,
}

/// One series of a matrix: its points `(ms, value)` in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

pub type PromMatrix = Vec<RangeSeries>;

/// The result of an instant query.
#[derive(Clone, Debug, PartialEq)]
pub enum PromValue {
    Scalar {
        ts_ms: i64,
        value: f64,
    },
    String {
        ts_ms: i64,
        value: String,
    },
    Vector(Vec<InstantSample>),
    /// A range selector at the top level of an instant query (`x[5m]`): raw samples.
    Matrix(PromMatrix),
}

impl PromValue {
    /// Prometheus's `resultType`.
    pub fn result_type(&self) -> &'static str {
        match self {
            PromValue::Scalar { .. } => "scalar",
            PromValue::String { .. } => "string",
            PromValue::Vector(_) => "vector",
            PromValue::Matrix(_) => "matrix",
        }
    }
}

/// Parses a query: `bad_data` with the parser's message for invalid PromQL, or naming the
/// limit ([`limits`]) a too long, too deep or too complex query crossed.
pub fn parse(expr: &str) -> Result<promql_parser::parser::Expr, PromError> {
    if expr.trim().is_empty() {
        return Err(PromError::BadData("empty query".into()));
    }
    limits::check_text(expr)?;
    // The parser is generated code; a panic on some odd input must not take the request
    // (or the server's worker) down with it.
    let ast = match std::panic::catch_unwind(|| promql_parser::parser::parse(expr)) {
        Ok(Ok(e)) => e,
        Ok(Err(msg)) => return Err(PromError::BadData(format!("parse error: {msg}"))),
        Err(_) => {
            return Err(PromError::BadData(
                "parse error: the query could not be parsed".into(),
            ))
        }
    };
    limits::check_depth(&ast)?;
    Ok(ast)
}

/// Parses a series selector (`match[]` of `/api/v1/series`, `/labels`, …) into store
/// matchers.
pub fn parse_selector(text: &str) -> Result<Vec<LabelMatcher>, PromError> {
    match parse(text)? {
        promql_parser::parser::Expr::VectorSelector(vs) => {
            if vs.at.is_some() {
                return Err(PromError::BadData(format!(
                    "invalid series selector {text:?}: @ is not allowed"
                )));
            }
            if vs.offset.is_some() {
                return Err(PromError::BadData(format!(
                    "invalid series selector {text:?}: offset is not allowed"
                )));
            }
            eval::selector_matchers(&vs)
        }
        _ => Err(PromError::BadData(format!(
            "invalid series selector {text:?}: expected a selector like metric{{label=\"value\"}}"
        ))),
    }
}

fn budget(opts: &PromOptions) -> Budget {
    match opts.timeout {
        Some(t) => opts.budget.tightened(t),
        None => opts.budget.clone(),
    }
}

impl PromError {
    pub(crate) fn stopped(why: Stopped, what: &str) -> PromError {
        match why {
            Stopped::TimedOut => PromError::Timeout(what.to_string()),
            Stopped::Cancelled => PromError::Cancelled(what.to_string()),
        }
    }
}

/// The evaluator recurses once per tree level; a deep tree is evaluated on a thread whose
/// stack is sized for [`limits::MAX_DEPTH`] levels, whatever thread the caller runs on.
fn eval_root(
    ev: &eval::Evaluator<'_>,
    ast: &promql_parser::parser::Expr,
) -> Result<eval::Value, PromError> {
    if limits::depth(ast) <= INLINE_EVAL_DEPTH {
        return ev.eval(ast);
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("pharos-promql".into())
            .stack_size(DEEP_EVAL_STACK_BYTES)
            .spawn_scoped(scope, || ev.eval(ast))
            .map_err(|e| PromError::Execution(format!("cannot start the evaluation: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(PromError::Execution("the evaluation failed".into())))
    })
}

/// Trees up to this depth are evaluated on the caller's thread (any 2 MiB stack holds them).
const INLINE_EVAL_DEPTH: usize = 48;
/// [`limits::MAX_DEPTH`] levels need under 4 MiB in a debug build (measured with
/// `limits::tests::the_deepest_allowed_tree_evaluates` and this set to 4 MiB); eight times
/// that for margin. Only the touched pages are ever committed.
const DEEP_EVAL_STACK_BYTES: usize = 32 * 1024 * 1024;

/// Evaluates `expr` at `time_ms` (Prometheus's `/api/v1/query`).
pub fn instant_query(
    store: &dyn MetricStore,
    expr: &str,
    time_ms: i64,
    opts: &PromOptions,
) -> Result<PromValue, PromError> {
    let ast = parse(expr)?;
    let ev = eval::Evaluator::new(store, time_ms, time_ms, 1, true, opts, budget(opts));
    let value = eval_root(&ev, &ast)?;
    Ok(match value {
        eval::Value::Scalar(v) => PromValue::Scalar {
            ts_ms: time_ms,
            value: v.first().copied().unwrap_or(f64::NAN),
        },
        eval::Value::String(s) => PromValue::String {
            ts_ms: time_ms,
            value: s,
        },
        eval::Value::Matrix(m) => PromValue::Matrix(m),
        eval::Value::Vector(series) => {
            let order = eval::top_level_order(&ast);
            let mut out: Vec<InstantSample> = series
                .into_iter()
                .filter_map(|s| {
                    s.values
                        .first()
                        .copied()
                        .flatten()
                        .map(|value| InstantSample {
                            labels: s.labels,
                            ts_ms: time_ms,
                            value,
                        })
                })
                .collect();
            eval::sort_instant(&mut out, order);
            PromValue::Vector(out)
        }
    })
}

/// The matrix of a range query: each series' present values with their step times (series
/// without any left out). A month at a 5-minute step for a thousand series is 8.6 M points,
/// so the series are converted on all cores.
fn range_series(series: Vec<eval::Series>, steps: &[i64]) -> PromMatrix {
    let convert = |s: eval::Series| {
        // Sized exactly: `filter_map` gives no size hint, and growing by doubling copied
        // and over-allocated each series (a tenth of a month-long `rate`'s time).
        let present = s.values.iter().filter(|v| v.is_some()).count();
        let mut points: Vec<(i64, f64)> = Vec::with_capacity(present);
        if present == s.values.len() && present <= steps.len() {
            // Every step has a value (the usual case): a plain map, no test per point.
            points.extend(
                steps
                    .iter()
                    .zip(&s.values)
                    .map(|(t, v)| (*t, v.unwrap_or(f64::NAN))),
            );
        } else {
            points.extend(
                steps
                    .iter()
                    .zip(s.values)
                    .filter_map(|(t, v)| v.map(|v| (*t, v))),
            );
        }
        (!points.is_empty()).then_some(RangeSeries {
            labels: s.labels,
            points,
        })
    };
    if series.len().saturating_mul(steps.len()) < PARALLEL_CONVERT_POINTS {
        return series.into_iter().filter_map(convert).collect();
    }
    use rayon::prelude::*;
    series.into_par_iter().filter_map(convert).collect()
}

/// Points from which [`range_series`] splits the conversion over threads.
const PARALLEL_CONVERT_POINTS: usize = 1 << 20;

/// Evaluates `expr` at `start_ms`, `start_ms + step_ms`, … up to `end_ms`
/// (`/api/v1/query_range`). The series are sorted by labels.
pub fn range_query(
    store: &dyn MetricStore,
    expr: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    opts: &PromOptions,
) -> Result<PromMatrix, PromError> {
    if step_ms <= 0 {
        return Err(PromError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    if end_ms < start_ms {
        return Err(PromError::BadData(
            "end timestamp must not be before start time".into(),
        ));
    }
    if (end_ms - start_ms) / step_ms >= MAX_POINTS_PER_SERIES {
        return Err(PromError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let ast = parse(expr)?;
    let vt = ast.value_type();
    if vt != ValueType::Vector && vt != ValueType::Scalar {
        let name = if vt == ValueType::Matrix {
            "range vector"
        } else {
            "string"
        };
        return Err(PromError::BadData(format!(
            "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
        )));
    }
    let ev = eval::Evaluator::new(store, start_ms, end_ms, step_ms, false, opts, budget(opts));
    let value = eval_root(&ev, &ast)?;
    let steps = ev.step_times();
    let mut out = match value {
        eval::Value::Scalar(v) => vec![RangeSeries {
            labels: Labels::from_sorted_unchecked(Vec::new()),
            points: steps.iter().copied().zip(v).collect(),
        }],
        eval::Value::Vector(series) => range_series(series, &steps),
        eval::Value::String(_) => {
            return Err(PromError::BadData(
                "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
            ))
        }
        eval::Value::Matrix(_) => {
            return Err(PromError::BadData(
                "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
            ))
        }
    };
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
}
