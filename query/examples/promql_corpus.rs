//! Runs Prometheus's PromQL test corpus (`promql/promqltest/testdata/*.test`) against the
//! engine over the in-memory store and reports pass / fail / unsupported per file.
//!
//! ```sh
//! cargo run -p pharos-query --example promql_corpus -- /tmp/promqltest [--list]
//! ```
//!
//! The files are read from wherever they were extracted; none is part of Pharos. Understood:
//! `load <interval>` (and `load_with_nhcb`, loading the float series only), `clear`,
//! `eval instant at <t>`, `eval range from <a> to <b> step <s>`, `eval_fail`,
//! `eval_ordered`, `expect fail`, `expect ordered`, `expect range vector`, `expect string`.
//! Annotations (`expect warn|info`) are not checked: Pharos has none. As Prometheus's
//! runner does, an instant query answering a vector or scalar is also run as a range query
//! around its time (`range_mode`), and re-run with `@ t` on every selector at other times
//! (`at_variants`); a case passes only if every answer is right.
//!
//! Every case gets one of:
//! - `pass`: the answer equals Prometheus's (values within Prometheus's relative tolerance
//!   1e-6, NaN equal to NaN), or a failure was expected and Pharos failed (its message is
//!   not compared: Pharos words its errors its own way);
//! - `fail`: a wrong answer, a missing or unexpected error;
//! - `unsupported`: Pharos answered `unsupported: …` for a query Prometheus evaluates;
//! - `skipped`: out of scope: native histograms (`{{…}}` samples or results, or a query
//!   naming a series loaded with them), experimental features (files and functions behind
//!   Prometheus's feature flags), `@st` start timestamps.

use std::collections::BTreeMap;
use std::path::Path;

use pharos_collector::tsdb::{Labels, MetricKind, STALE_NAN_BITS};
use pharos_query::promql::testing::MemStore;
use pharos_query::promql::{
    instant_query, parse_selector, range_query, PromError, PromOptions, PromValue,
};
use promql_parser::parser::{AtModifier, Expr};
use regex::Regex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// Files whose every case needs a Prometheus feature flag (or is about native histograms).
const SKIPPED_FILES: &[(&str, &str)] = &[
    (
        "duration_expression.test",
        "experimental duration expressions",
    ),
    (
        "extended_vectors.test",
        "experimental anchored/smoothed selectors",
    ),
    ("fill-modifier.test", "experimental fill modifiers"),
    ("info.test", "experimental info()"),
    ("limit.test", "experimental limitk/limit_ratio"),
    ("native_histograms.test", "native histograms"),
    ("type_and_unit.test", "experimental type and unit labels"),
    ("start_timestamps.test", "experimental start timestamps"),
    (
        "name_label_dropping.test",
        "experimental delayed __name__ removal",
    ),
];

/// Functions and keywords behind `--enable-feature=promql-experimental-functions` (or other
/// flags) in Prometheus 3.
const EXPERIMENTAL: &[&str] = &[
    "double_exponential_smoothing(",
    "info(",
    "max_of(",
    "min_of(",
    "mad_over_time(",
    "ts_of_",
    "sort_by_label(",
    "sort_by_label_desc(",
    "limitk(",
    "limit_ratio(",
    "histogram_quantiles(",
    "start_timestamp(",
    "fill(",
    "fill_left(",
    "fill_right(",
    " anchored",
    " smoothed",
    "step()",
    "range()",
];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Outcome {
    Pass,
    Fail,
    Unsupported,
    Skipped,
}

#[derive(Default)]
struct Tally {
    counts: BTreeMap<String, [usize; 4]>,
    failures: Vec<String>,
    /// Cases skipped as experimental in files that are not.
    experimental: Vec<String>,
    /// Skipped cases by reason.
    skipped: BTreeMap<String, usize>,
    /// Cases where Prometheus fails, with Pharos's message (not compared).
    expected_errors: Vec<String>,
    unsupported: BTreeMap<String, usize>,
}

fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if s == "0" {
        return Some(0);
    }
    let re = Regex::new(
        r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$",
    )
    .ok()?;
    let c = re.captures(s)?;
    let units = [
        365 * 86_400_000i64,
        7 * 86_400_000,
        86_400_000,
        3_600_000,
        60_000,
        1000,
        1,
    ];
    let mut total = 0i64;
    let mut any = false;
    for (i, u) in units.iter().enumerate() {
        if let Some(m) = c.get(i + 1) {
            any = true;
            total += m.as_str().parse::<i64>().ok()? * u;
        }
    }
    if !any {
        // A plain number of seconds.
        return s.parse::<f64>().ok().map(|x| (x * 1000.0) as i64);
    }
    Some(if neg { -total } else { total })
}

fn parse_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let (sign, body) = match lower.strip_prefix('-') {
        Some(r) => (-1.0, r.to_string()),
        None => (1.0, lower.trim_start_matches('+').to_string()),
    };
    if body == "inf" {
        return Some(sign * f64::INFINITY);
    }
    if body == "nan" {
        return Some(f64::NAN);
    }
    if let Some(h) = body.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok().map(|v| sign * v as f64);
    }
    body.parse::<f64>().ok().map(|v| sign * v)
}

/// One expanded value: `None` for `_` (no sample), `Some(stale)` for `stale`.
fn expand_values(text: &str) -> Option<Vec<Option<f64>>> {
    let item = Regex::new(
        r"^([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|[Ii]nf|NaN|nan|0x[0-9a-fA-F]+))(?:([-+](?:[0-9.]+(?:[eE][-+]?[0-9]+)?|[Ii]nf)))?x(\d+)$",
    )
    .ok()?;
    let mut out = Vec::new();
    for tok in text.split_whitespace() {
        if tok == "_" {
            out.push(None);
        } else if let Some(n) = tok.strip_prefix("_x") {
            out.extend(std::iter::repeat_n(None, n.parse().ok()?));
        } else if tok == "stale" {
            out.push(Some(f64::from_bits(STALE_NAN_BITS)));
        } else if let Some(c) = item.captures(tok) {
            let mut v = parse_number(&c[1])?;
            let inc = match c.get(2) {
                Some(m) => parse_number(m.as_str())?,
                None => 0.0,
            };
            let n: usize = c[3].parse().ok()?;
            for _ in 0..=n {
                out.push(Some(v));
                v += inc;
            }
        } else {
            out.push(Some(parse_number(tok)?));
        }
    }
    Some(out)
}

/// Splits `metric{a="b c"} 1 2 3` into the series and the values.
fn split_series(line: &str) -> (&str, &str) {
    let (mut depth, mut quote) = (0i32, false);
    let mut prev = ' ';
    for (i, ch) in line.char_indices() {
        match ch {
            '"' if prev != '\\' => quote = !quote,
            '{' if !quote => depth += 1,
            '}' if !quote => depth -= 1,
            c if c.is_whitespace() && !quote && depth == 0 => {
                return (&line[..i], line[i..].trim());
            }
            _ => {}
        }
        prev = ch;
    }
    (line, "")
}

/// The label pairs of a series description, sorted, empty values dropped.
fn series_labels(desc: &str) -> Option<Vec<(String, String)>> {
    // The parser refuses a selector without matchers; an expected `{}` is no labels.
    if desc
        .chars()
        .all(|c| c == '{' || c == '}' || c.is_whitespace())
    {
        return Some(Vec::new());
    }
    let ms = parse_selector(desc).ok()?;
    let mut pairs: Vec<(String, String)> = ms
        .into_iter()
        .filter(|m| !m.value.is_empty())
        .map(|m| (m.name, m.value))
        .collect();
    pairs.sort();
    Some(pairs)
}

fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 0.000001;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

struct Expected {
    /// Series labels and their values (one for an instant vector).
    series: Vec<(Pairs, Vec<Option<f64>>)>,
    scalar: Option<f64>,
    string: Option<String>,
    /// An instant query's range-vector result: `(start, end, step)`.
    range_vector: Option<(i64, i64, i64)>,
}

enum Kind {
    Instant(i64),
    Range(i64, i64, i64),
}

struct Case {
    line: usize,
    kind: Kind,
    query: String,
    fail: bool,
    ordered: bool,
    expected: Expected,
    native: bool,
}

fn fmt_pairs(p: &[(String, String)]) -> String {
    let inner: Vec<String> = p.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn pairs_of(l: &Labels) -> Vec<(String, String)> {
    l.pairs().to_vec()
}

/// Compares an answer with the expectation: `Err(why)` when they differ.
fn compare(case: &Case, got: Result<Answer, PromError>) -> Result<(), String> {
    let got = match got {
        Err(e) => {
            if case.fail {
                return Ok(());
            }
            return Err(format!("error: {e}"));
        }
        Ok(g) => {
            if case.fail {
                return Err("expected a failure, got an answer".into());
            }
            g
        }
    };
    let exp = &case.expected;
    match got {
        Answer::Scalar(v) => match exp.scalar {
            Some(want) if almost_equal(v, want) => Ok(()),
            Some(want) => Err(format!("scalar {v}, want {want}")),
            None => Err(format!("got scalar {v}, want a vector")),
        },
        Answer::String(s) => match &exp.string {
            Some(want) if *want == s => Ok(()),
            _ => Err(format!("got string {s:?}")),
        },
        Answer::Vector(v) => {
            if exp.scalar.is_some() {
                return Err("got a vector, want a scalar".into());
            }
            if v.len() != exp.series.len() {
                return Err(format!(
                    "{} series, want {}: got {}",
                    v.len(),
                    exp.series.len(),
                    v.iter()
                        .map(|(l, x)| format!("{} {x}", fmt_pairs(l)))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            for (i, (labels, value)) in v.iter().enumerate() {
                let found = if case.ordered {
                    exp.series.get(i).filter(|(l, _)| l == labels)
                } else {
                    exp.series.iter().find(|(l, _)| l == labels)
                };
                let Some((_, want)) = found else {
                    return Err(format!("unexpected series {} {value}", fmt_pairs(labels)));
                };
                match want.first().copied().flatten() {
                    Some(w) if almost_equal(*value, w) => {}
                    w => return Err(format!("{} = {value}, want {w:?}", fmt_pairs(labels))),
                }
            }
            Ok(())
        }
        Answer::Matrix(m, steps) => {
            if exp.scalar.is_some() && m.len() == 1 {
                // A range query over a scalar expression: one series without labels.
                let want = exp.scalar.unwrap_or(f64::NAN);
                return match m[0].1.iter().all(|(_, v)| almost_equal(*v, want)) {
                    true => Ok(()),
                    false => Err("scalar range differs".into()),
                };
            }
            let nonempty: Vec<_> = exp
                .series
                .iter()
                .filter(|(_, v)| v.iter().any(Option::is_some))
                .collect();
            if m.len() != nonempty.len() {
                return Err(format!(
                    "{} series, want {}: got {}",
                    m.len(),
                    nonempty.len(),
                    m.iter()
                        .map(|(l, _)| fmt_pairs(l))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            for (labels, points) in &m {
                let Some((_, want)) = nonempty.iter().find(|(l, _)| l == labels) else {
                    return Err(format!("unexpected series {}", fmt_pairs(labels)));
                };
                let want_points: Vec<(i64, f64)> = steps
                    .iter()
                    .zip(want.iter())
                    .filter_map(|(t, v)| v.map(|v| (*t, v)))
                    .collect();
                let same = want_points.len() == points.len()
                    && want_points
                        .iter()
                        .zip(points)
                        .all(|(a, b)| a.0 == b.0 && almost_equal(a.1, b.1));
                if !same {
                    return Err(format!(
                        "{}: got {:?}, want {:?}",
                        fmt_pairs(labels),
                        points,
                        want_points
                    ));
                }
            }
            Ok(())
        }
    }
}

type Pairs = Vec<(String, String)>;

enum Answer {
    Scalar(f64),
    String(String),
    Vector(Vec<(Pairs, f64)>),
    /// Series, and the step times the expectation's values stand for.
    Matrix(Vec<(Pairs, Vec<(i64, f64)>)>, Vec<i64>),
}

fn run(store: &MemStore, case: &Case) -> Result<Answer, PromError> {
    let opts = PromOptions::default();
    match case.kind {
        Kind::Instant(t) => {
            let v = instant_query(store, &case.query, t, &opts)?;
            Ok(match v {
                PromValue::Scalar { value, .. } => Answer::Scalar(value),
                PromValue::String { value, .. } => Answer::String(value),
                PromValue::Vector(v) => Answer::Vector(
                    v.into_iter()
                        .map(|s| (pairs_of(&s.labels), s.value))
                        .collect(),
                ),
                PromValue::Matrix(m) => {
                    let steps = match case.expected.range_vector {
                        Some((a, b, s)) if s > 0 => {
                            (0..).map(|i| a + i * s).take_while(|x| *x <= b).collect()
                        }
                        _ => Vec::new(),
                    };
                    Answer::Matrix(
                        m.into_iter()
                            .map(|s| (pairs_of(&s.labels), s.points))
                            .collect(),
                        steps,
                    )
                }
            })
        }
        Kind::Range(a, b, s) => {
            let m = range_query(store, &case.query, a, b, s, &opts)?;
            let steps = (0..).map(|i| a + i * s).take_while(|x| *x <= b).collect();
            Ok(Answer::Matrix(
                m.into_iter()
                    .map(|s| (pairs_of(&s.labels), s.points))
                    .collect(),
                steps,
            ))
        }
    }
}

/// How many cases were re-run in range mode and with `@` (reported at the end).
static RANGE_RUNS: AtomicUsize = AtomicUsize::new(0);
static AT_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Functions whose answer depends on the evaluation time even over `@`-fixed arguments
/// (Prometheus's `AtModifierUnsafeFunctions`).
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// Prometheus's `atModifierTestCases`: `@ t` on every selector and subquery that has none
/// (nothing inside a subquery is touched); `unsafe_fn` is set when a function of
/// [`AT_UNSAFE`] is called.
fn set_at(e: &mut Expr, t: SystemTime, unsafe_fn: &mut bool) {
    match e {
        Expr::Aggregate(a) => {
            set_at(&mut a.expr, t, unsafe_fn);
            if let Some(p) = &mut a.param {
                set_at(p, t, unsafe_fn);
            }
        }
        Expr::Unary(u) => set_at(&mut u.expr, t, unsafe_fn),
        Expr::Binary(b) => {
            set_at(&mut b.lhs, t, unsafe_fn);
            set_at(&mut b.rhs, t, unsafe_fn);
        }
        Expr::Paren(p) => set_at(&mut p.expr, t, unsafe_fn),
        // Nothing inside a subquery is touched, whether or not it had an `@` already.
        Expr::Subquery(sq) if sq.at.is_none() => sq.at = Some(AtModifier::At(t)),
        Expr::VectorSelector(vs) if vs.at.is_none() => vs.at = Some(AtModifier::At(t)),
        Expr::MatrixSelector(ms) if ms.vs.at.is_none() => ms.vs.at = Some(AtModifier::At(t)),
        Expr::Call(c) => {
            *unsafe_fn |= AT_UNSAFE.contains(&c.func.name);
            for a in &mut c.args.args {
                set_at(a, t, unsafe_fn);
            }
        }
        _ => {}
    }
}

/// As Prometheus's runner: an instant query (evaluated at `t` ≥ 0) is re-run with `@ t` on
/// every selector at other evaluation times (`-10t, 0, t/5, t, 10t`, or `-1s, 0, 1s` for
/// `t = 0`) and must give the same answer.
fn at_variants(store: &MemStore, case: &Case) -> Result<(), String> {
    let Kind::Instant(t) = case.kind else {
        return Ok(());
    };
    if case.fail || t < 0 {
        return Ok(());
    }
    let Ok(mut ast) = promql_parser::parser::parse(&case.query) else {
        return Ok(());
    };
    let Ok(ms) = u64::try_from(t) else {
        return Ok(());
    };
    let mut unsafe_fn = false;
    set_at(
        &mut ast,
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
        &mut unsafe_fn,
    );
    if unsafe_fn {
        return Ok(());
    }
    let text = ast.to_string();
    AT_RUNS.fetch_add(1, Ordering::Relaxed);
    let times: Vec<i64> = if t == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * t, 0, t / 5, t, 10 * t]
    };
    for et in times {
        let variant = Case {
            line: case.line,
            kind: Kind::Instant(et),
            query: text.clone(),
            fail: false,
            ordered: case.ordered,
            expected: Expected {
                series: case.expected.series.clone(),
                scalar: case.expected.scalar,
                string: case.expected.string.clone(),
                range_vector: case.expected.range_vector,
            },
            native: false,
        };
        compare(&variant, run(store, &variant))
            .map_err(|e| format!("@ variant {text} at {et} ms: {e}"))?;
    }
    Ok(())
}

/// As Prometheus's runner: an instant query that answers a vector or a scalar is also run
/// as a range query from `t - 1m` to `t + 1m` at a 1-minute step, and its points at `t`
/// must be the same answer (ordering aside).
fn range_mode(store: &MemStore, case: &Case) -> Result<(), String> {
    let Kind::Instant(t) = case.kind else {
        return Ok(());
    };
    if case.fail || case.ordered || case.expected.range_vector.is_some() {
        return Ok(());
    }
    if case.expected.string.is_some() {
        return Ok(());
    }
    let m = range_query(
        store,
        &case.query,
        t - 60_000,
        t + 60_000,
        60_000,
        &PromOptions::default(),
    )
    .map_err(|e| format!("range mode: error: {e}"))?;
    RANGE_RUNS.fetch_add(1, Ordering::Relaxed);
    let at_t: Vec<(Pairs, f64)> = m
        .into_iter()
        .filter_map(|s| {
            s.points
                .iter()
                .find(|(ts, _)| *ts == t)
                .map(|(_, v)| (pairs_of(&s.labels), *v))
        })
        .collect();
    let answer = if case.expected.scalar.is_some() {
        match at_t.first() {
            Some((_, v)) => Answer::Scalar(*v),
            None => return Err("range mode: no scalar point".into()),
        }
    } else {
        Answer::Vector(at_t)
    };
    compare(case, Ok(answer)).map_err(|e| format!("range mode: {e}"))
}

fn run_file(path: &Path, tally: &mut Tally) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect();
    let skip_file = SKIPPED_FILES.iter().find(|(f, _)| *f == name).map(|x| x.1);
    let eval_instant =
        Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
            .map_err(|e| e.to_string())?;
    let eval_range = Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .map_err(|e| e.to_string())?;
    let expect_range = Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
        .map_err(|e| e.to_string())?;
    // `start()` / `end()` outside `@` are experimental functions.
    let context_fn = Regex::new(r"\b(start|end)\(\)").map_err(|e| e.to_string())?;
    let at_fn = Regex::new(r"@\s*(start|end)\(\)").map_err(|e| e.to_string())?;
    let mut store = MemStore::new();
    // Label sets (without `__name__`) of the series loaded with native-histogram samples:
    // an expected series with one of them is about a native histogram.
    let mut native_sets: Vec<Pairs> = Vec::new();
    // Metric names of series loaded with native-histogram samples (left out of the store).
    let mut native_names: Vec<String> = Vec::new();
    let counts = tally.counts.entry(name.clone()).or_default();
    let mut i = 0usize;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if word == "clear" {
            store = MemStore::new();
            native_names.clear();
            native_sets.clear();
            i += 1;
        } else if word.starts_with("load") {
            let with_nhcb = word == "load_with_nhcb";
            let interval = l
                .split_whitespace()
                .nth(1)
                .and_then(parse_duration_ms)
                .ok_or_else(|| format!("{name}:{}: bad load", i + 1))?;
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let (desc, vals) = split_series(&lines[i]);
                i += 1;
                let base = desc.split('{').next().unwrap_or("").to_string();
                if with_nhcb {
                    if let Some(b) = base.strip_suffix("_bucket") {
                        native_names.push(b.to_string());
                    }
                }
                if vals.contains("{{") || desc.contains("@st") {
                    native_names.push(base);
                    if let Some(mut p) = series_labels(desc) {
                        p.retain(|(n, _)| n != "__name__");
                        // `{}` would match every label-less answer.
                        if !p.is_empty() {
                            native_sets.push(p);
                        }
                    }
                    continue;
                }
                let Some(pairs) = series_labels(desc) else {
                    continue;
                };
                let Ok(labels) = Labels::new(pairs) else {
                    continue;
                };
                let Some(values) = expand_values(vals) else {
                    continue;
                };
                let samples: Vec<(i64, f64)> = values
                    .iter()
                    .enumerate()
                    .filter_map(|(k, v)| v.map(|v| (k as i64 * interval, v)))
                    .collect();
                store.add(labels, MetricKind::Gauge, &samples);
            }
        } else if word.starts_with("eval") {
            let start_line = i + 1;
            let (kind, query, modifier) = if let Some(c) = eval_instant.captures(l) {
                let at = c
                    .get(2)
                    .map(|m| parse_duration_ms(m.as_str()))
                    .unwrap_or(Some(0))
                    .ok_or_else(|| format!("{name}:{start_line}: bad time"))?;
                (
                    Kind::Instant(at),
                    c[3].to_string(),
                    c.get(1).map(|m| m.as_str().to_string()),
                )
            } else if let Some(c) = eval_range.captures(l) {
                let p = |k: usize| {
                    parse_duration_ms(&c[k]).ok_or_else(|| format!("{name}:{start_line}: bad time"))
                };
                (
                    Kind::Range(p(2)?, p(3)?, p(4)?),
                    c[5].to_string(),
                    c.get(1).map(|m| m.as_str().to_string()),
                )
            } else {
                return Err(format!("{name}:{start_line}: bad eval {l:?}"));
            };
            let mut case = Case {
                line: start_line,
                kind,
                query,
                fail: modifier.as_deref() == Some("fail"),
                ordered: modifier.as_deref() == Some("ordered"),
                expected: Expected {
                    series: Vec::new(),
                    scalar: None,
                    string: None,
                    range_vector: None,
                },
                native: false,
            };
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let d = lines[i].clone();
                i += 1;
                if d.starts_with("expected_fail_message") || d.starts_with("expected_fail_regexp") {
                    break;
                }
                if let Some(c) = expect_range.captures(&d) {
                    let p = |k: usize| parse_duration_ms(&c[k]).unwrap_or(0);
                    case.expected.range_vector = Some((p(1), p(2), p(3)));
                    continue;
                }
                if let Some(s) = d.strip_prefix("expect string ") {
                    let s = s.trim();
                    case.expected.string = Some(
                        s.trim_matches(|c| c == '"' || c == '`')
                            .replace("\\\"", "\"")
                            .to_string(),
                    );
                    continue;
                }
                if d.split(' ').next() == Some("expect") {
                    let what = d.split_whitespace().nth(1).unwrap_or("");
                    match what {
                        "fail" => case.fail = true,
                        "ordered" => case.ordered = true,
                        _ => {}
                    }
                    continue;
                }
                if let Some(f) = parse_number(&d) {
                    case.expected.scalar = Some(f);
                    break;
                }
                if d.contains("{{") {
                    case.native = true;
                    continue;
                }
                let (desc, vals) = split_series(&d);
                let Some(pairs) = series_labels(desc) else {
                    return Err(format!("{name}:{}: bad series {desc:?}", i));
                };
                let values = expand_values(vals)
                    .ok_or_else(|| format!("{name}:{}: bad values {vals:?}", i))?;
                case.expected.series.push((pairs, values));
            }
            let experimental = EXPERIMENTAL.iter().any(|x| case.query.contains(x))
                || context_fn.is_match(&at_fn.replace_all(&case.query, "@"));
            let native = case.native
                || case.expected.series.iter().any(|(p, _)| {
                    let mut p = p.clone();
                    p.retain(|(n, _)| n != "__name__");
                    native_sets.contains(&p)
                })
                || native_names.iter().any(|n| {
                    Regex::new(&format!(r"\b{}\b", regex::escape(n)))
                        .map(|re| re.is_match(&case.query))
                        .unwrap_or(false)
                });
            let skip_reason = match (skip_file, native, experimental) {
                (Some(why), _, _) => Some(why),
                (None, true, _) => Some("native histograms"),
                (None, false, true) => Some("experimental functions or modifiers"),
                _ => None,
            };
            let outcome = if let Some(why) = skip_reason {
                *tally.skipped.entry(why.to_string()).or_default() += 1;
                if skip_file.is_none() && !native {
                    tally
                        .experimental
                        .push(format!("{name}:{} {}", case.line, case.query));
                }
                Outcome::Skipped
            } else {
                // A panic is a failure of the case, not of the run.
                let got =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&store, &case)));
                match got {
                    Err(_) => {
                        tally
                            .failures
                            .push(format!("{name}:{} {} → PANIC", case.line, case.query));
                        Outcome::Fail
                    }
                    Ok(Err(PromError::Unsupported(what))) if !case.fail => {
                        *tally.unsupported.entry(what).or_default() += 1;
                        Outcome::Unsupported
                    }
                    Ok(got) => match compare(
                        &case,
                        got.inspect_err(|e| {
                            if case.fail {
                                tally
                                    .expected_errors
                                    .push(format!("{name}:{} {} → {e}", case.line, case.query));
                            }
                        }),
                    )
                    .and_then(|()| range_mode(&store, &case))
                    .and_then(|()| at_variants(&store, &case))
                    {
                        Ok(()) => Outcome::Pass,
                        Err(why) => {
                            tally
                                .failures
                                .push(format!("{name}:{} {} → {why}", case.line, case.query));
                            Outcome::Fail
                        }
                    },
                }
            };
            counts[outcome as usize] += 1;
        } else {
            return Err(format!("{name}:{}: unknown command {l:?}", i + 1));
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = args.iter().any(|a| a == "--list");
    let Some(dir) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: promql_corpus DIR [--list]   (DIR holds Prometheus's *.test files)");
        std::process::exit(2);
    };
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "test"))
            .collect(),
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::exit(2);
        }
    };
    files.sort();
    let mut tally = Tally::default();
    for f in &files {
        if let Err(e) = run_file(f, &mut tally) {
            eprintln!("{e}");
        }
    }
    if list {
        for f in &tally.failures {
            println!("FAIL {f}");
        }
        for e in &tally.experimental {
            println!("SKIPPED-EXPERIMENTAL {e}");
        }
        for e in &tally.expected_errors {
            println!("EXPECTED-ERROR {e}");
        }
        for (what, n) in &tally.unsupported {
            println!("UNSUPPORTED {n:4} {what}");
        }
        println!();
    }
    println!(
        "{:<28} {:>5} {:>5} {:>11} {:>7}",
        "file", "pass", "fail", "unsupported", "skipped"
    );
    let mut total = [0usize; 4];
    for (file, c) in &tally.counts {
        println!(
            "{file:<28} {:>5} {:>5} {:>11} {:>7}",
            c[0], c[1], c[2], c[3]
        );
        for k in 0..4 {
            total[k] += c[k];
        }
    }
    for (why, n) in &tally.skipped {
        println!("skipped {n:5}: {why}");
    }
    println!(
        "instant cases also checked as range queries: {}, with @ at other times: {}",
        RANGE_RUNS.load(Ordering::Relaxed),
        AT_RUNS.load(Ordering::Relaxed)
    );
    let in_scope = total[0] + total[1] + total[2];
    println!(
        "{:<28} {:>5} {:>5} {:>11} {:>7}",
        "total", total[0], total[1], total[2], total[3]
    );
    println!(
        "in scope: {in_scope}, passing {} ({:.1} %)",
        total[0],
        100.0 * total[0] as f64 / in_scope.max(1) as f64
    );
}
