//! The Prometheus HTTP query API under `/prometheus` (Pharos's own log API owns
//! `/api/v1/query`), for Grafana's Prometheus data source with the URL
//! `http://host:7070/prometheus`: `/api/v1/query`, `/query_range`, `/series`, `/labels`,
//! `/label/{name}/values` (GET, or POST with a form-encoded body as Grafana sends), plus the
//! minimal `/status/buildinfo`, `/metadata` and `/query_exemplars` answers Grafana probes.
//! Responses use Prometheus's JSON envelope; errors its `errorType`s and status codes
//! (`bad_data` 400, `execution` 422, `timeout` 503).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRef, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use pharos_collector::clock::SharedClock;
use pharos_collector::tsdb::{LabelMatcher, Labels, MetricStore};
use pharos_query::budget::Budget;
use pharos_query::promql::{
    instant_query, parse_selector, range_query, PromError, PromMatrix, PromOptions, PromValue,
};
use serde_json::json;

use crate::AppState;

/// What the Prometheus API handlers need.
#[derive(Clone)]
pub struct PromState {
    pub store: Arc<dyn MetricStore>,
    pub clock: SharedClock,
    pub opts: PromOptions,
    /// Where query latency is recorded (`None` in tests that build the state by hand).
    pub metrics: Option<Arc<crate::api::query_metrics::QueryMetrics>>,
}

impl FromRef<AppState> for PromState {
    fn from_ref(s: &AppState) -> PromState {
        PromState {
            store: s.collector.tsdb.clone(),
            clock: s.collector.clock.clone(),
            opts: PromOptions {
                timeout: Some(s.settings.query_timeout),
                ..PromOptions::default()
            },
            metrics: Some(s.query_metrics.clone()),
        }
    }
}

const PREFIX: &str = "/prometheus/api/v1";

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    PromState: FromRef<S>,
{
    Router::new()
        .route(&format!("{PREFIX}/query"), get(query).post(query))
        .route(
            &format!("{PREFIX}/query_range"),
            get(query_range).post(query_range),
        )
        .route(&format!("{PREFIX}/series"), get(series).post(series))
        .route(&format!("{PREFIX}/labels"), get(labels).post(labels))
        .route(
            &format!("{PREFIX}/label/{{name}}/values"),
            get(label_values),
        )
        .route(&format!("{PREFIX}/status/buildinfo"), get(buildinfo))
        .route(&format!("{PREFIX}/metadata"), get(metadata))
        .route(
            &format!("{PREFIX}/query_exemplars"),
            get(exemplars).post(exemplars),
        )
}

/// Form parameters: a form-encoded body's first (they win, as in Go's `ParseForm`), then
/// the query string's.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Params {
        let mut v = Vec::new();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let form = match content_type {
            Some(ct) => ct.starts_with("application/x-www-form-urlencoded"),
            None => !body.is_empty(),
        };
        if form {
            v.extend(form_urlencoded::parse(body).into_owned());
        }
        if let Some(q) = query {
            v.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Params(v)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn bad(msg: String) -> PromError {
    PromError::BadData(msg)
}

/// A time: Unix seconds (a float) or RFC 3339; milliseconds.
pub fn parse_time(name: &str, s: &str) -> Result<i64, PromError> {
    let s = s.trim();
    let err = || {
        bad(format!(
            "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid timestamp"
        ))
    };
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() || secs.abs() > 9.0e15 {
            return Err(err());
        }
        return Ok(secs.trunc() as i64 * 1000 + (secs.fract() * 1000.0).round() as i64);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| err())?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| err())
}

/// A duration: seconds (a float) or Prometheus's `1h30m`, `15s`, `100ms` (units y w d h m s
/// ms, largest first); milliseconds.
pub fn parse_duration(name: &str, s: &str) -> Result<i64, PromError> {
    let s = s.trim();
    let err = || {
        bad(format!(
            "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid duration"
        ))
    };
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() || secs.abs() > 9.0e15 {
            return Err(err());
        }
        return Ok((secs * 1000.0).trunc() as i64);
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1000),
    ];
    // Rank of each unit, largest first (`ms` after `s`).
    let rank = |u: &str| match u {
        "y" => 0,
        "w" => 1,
        "d" => 2,
        "h" => 3,
        "m" => 4,
        "s" => 5,
        _ => 6,
    };
    let mut rest = s;
    let mut total: i64 = 0;
    let mut last_rank = -1;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let (unit, ms) = UNITS
            .iter()
            .find(|(u, _)| rest.starts_with(u))
            .ok_or_else(err)?;
        if rank(unit) <= last_rank {
            return Err(err());
        }
        last_rank = rank(unit);
        rest = &rest[unit.len()..];
        total = n
            .checked_mul(*ms)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(err)?;
    }
    Ok(total)
}

/// A sample value as Prometheus writes it.
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

/// A timestamp as Prometheus writes it: Unix seconds with up to 3 decimals.
pub fn format_ts(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    match a % 1000 {
        0 => format!("{sign}{}", a / 1000),
        f => format!("{sign}{}.{f:03}", a / 1000),
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn write_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, (n, v)) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_str(n));
        out.push(':');
        out.push_str(&json_str(v));
    }
    out.push('}');
}

fn write_point(out: &mut String, ts: i64, v: f64) {
    out.push('[');
    out.push_str(&format_ts(ts));
    out.push_str(",\"");
    out.push_str(&format_value(v));
    out.push_str("\"]");
}

fn write_matrix(out: &mut String, m: &PromMatrix) {
    out.push('[');
    for (i, s) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        write_labels(out, &s.labels);
        out.push_str(",\"values\":[");
        for (j, (t, v)) in s.points.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_point(out, *t, *v);
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// The `data` of a query answer.
pub fn query_data_json(v: &PromValue) -> String {
    let mut out = format!("{{\"resultType\":\"{}\",\"result\":", v.result_type());
    match v {
        PromValue::Scalar { ts_ms, value } => write_point(&mut out, *ts_ms, *value),
        PromValue::String { ts_ms, value } => {
            out.push('[');
            out.push_str(&format_ts(*ts_ms));
            out.push(',');
            out.push_str(&json_str(value));
            out.push(']');
        }
        PromValue::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                out.push_str(",\"value\":");
                write_point(&mut out, s.ts_ms, s.value);
                out.push('}');
            }
            out.push(']');
        }
        PromValue::Matrix(m) => write_matrix(&mut out, m),
    }
    out.push('}');
    out
}

pub fn matrix_data_json(m: &PromMatrix) -> String {
    let mut out = String::from("{\"resultType\":\"matrix\",\"result\":");
    write_matrix(&mut out, m);
    out.push('}');
    out
}

fn success(data: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"status\":\"success\",\"data\":{data}}}"),
    )
        .into_response()
}

pub fn error_response(e: &PromError) -> Response {
    let status = match e {
        PromError::BadData(_) | PromError::Unsupported(_) => StatusCode::BAD_REQUEST,
        PromError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
        PromError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
        // nginx's "client closed request", as Prometheus answers a cancelled query; nobody
        // reads it, but the access log shows why the query ended.
        PromError::Cancelled(_) => {
            StatusCode::from_u16(499).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
        }
    };
    let body = json!({"status": "error", "errorType": e.error_type(), "error": e.to_string()});
    (status, axum::Json(body)).into_response()
}

/// Runs blocking work off the async workers; its `Ok` is the answer's `data`.
async fn run(work: impl FnOnce() -> Result<String, PromError> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(data)) => success(data),
        Ok(Err(e)) => error_response(&e),
        Err(e) => {
            tracing::error!(error = %e, "Prometheus API task failed");
            let body = json!({"status": "error", "errorType": "internal", "error": e.to_string()});
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
        }
    }
}

/// Runs a query's blocking work; if the client goes away first (hyper drops this future),
/// the query's budget is cancelled and its evaluation stops at the next check.
async fn run_query(
    state: &PromState,
    opts: &PromOptions,
    work: impl FnOnce() -> Result<String, PromError> + Send + 'static,
) -> Response {
    let guard = opts.budget.cancel_on_drop();
    let metrics = state.metrics.clone();
    let response = run(move || {
        let started = std::time::Instant::now();
        let r = work();
        if let Some(m) = &metrics {
            m.observe("promql", started);
        }
        if let Err(PromError::Cancelled(what)) = &r {
            tracing::info!(stopped_in = %what, "PromQL query cancelled: the client went away");
        }
        r
    })
    .await;
    guard.disarm();
    response
}

fn options(state: &PromState, p: &Params) -> Result<PromOptions, PromError> {
    let mut opts = state.opts.clone();
    // Each request its own cancellation flag (a clone would share the configured one).
    opts.budget = Budget::unlimited();
    if let Some(t) = p.get("timeout") {
        let ms = parse_duration("timeout", t)?;
        let asked = Duration::from_millis(u64::try_from(ms.max(1)).unwrap_or(1));
        opts.timeout = Some(opts.timeout.map_or(asked, |d| d.min(asked)));
    }
    Ok(opts)
}

fn now_ms(state: &PromState) -> i64 {
    state.clock.now_ns() / 1_000_000
}

async fn query(
    State(state): State<PromState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    let prepared = (|| {
        let expr = p.get("query").unwrap_or("").to_string();
        let time = match p.get("time") {
            Some(t) => parse_time("time", t)?,
            None => now_ms(&state),
        };
        Ok::<_, PromError>((expr, time, options(&state, &p)?))
    })();
    let (expr, time, opts) = match prepared {
        Ok(x) => x,
        Err(e) => return error_response(&e),
    };
    let store = state.store.clone();
    let budget = opts.clone();
    run_query(&state, &budget, move || {
        instant_query(store.as_ref(), &expr, time, &opts).map(|v| query_data_json(&v))
    })
    .await
}

async fn query_range(
    State(state): State<PromState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    let prepared = (|| {
        let expr = p.get("query").unwrap_or("").to_string();
        let need = |n: &str| {
            p.get(n)
                .ok_or_else(|| bad(format!("invalid parameter \"{n}\": missing")))
        };
        let start = parse_time("start", need("start")?)?;
        let end = parse_time("end", need("end")?)?;
        let step = parse_duration("step", need("step")?)?;
        Ok::<_, PromError>((expr, start, end, step, options(&state, &p)?))
    })();
    let (expr, start, end, step, opts) = match prepared {
        Ok(x) => x,
        Err(e) => return error_response(&e),
    };
    let store = state.store.clone();
    let budget = opts.clone();
    run_query(&state, &budget, move || {
        range_query(store.as_ref(), &expr, start, end, step, &opts).map(|m| matrix_data_json(&m))
    })
    .await
}

/// `match[]` (one matcher set each), `start` and `end` (all time when absent), `limit`
/// (0: none).
type Selection = (Vec<Vec<LabelMatcher>>, i64, i64, usize);

fn selection(p: &Params) -> Result<Selection, PromError> {
    let matchers = p
        .all("match[]")
        .into_iter()
        .map(parse_selector)
        .collect::<Result<Vec<_>, _>>()?;
    let start = match p.get("start") {
        Some(s) => parse_time("start", s)?,
        None => i64::MIN / 4,
    };
    let end = match p.get("end") {
        Some(s) => parse_time("end", s)?,
        None => i64::MAX / 4,
    };
    let limit = match p.get("limit") {
        Some(l) => l.parse::<usize>().map_err(|_| {
            bad(format!(
                "invalid parameter \"limit\": {l:?} is not a number"
            ))
        })?,
        None => 0,
    };
    Ok((matchers, start, end, limit))
}

fn truncate<T>(mut v: Vec<T>, limit: usize) -> Vec<T> {
    if limit > 0 {
        v.truncate(limit);
    }
    v
}

async fn series(
    State(state): State<PromState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    let (sets, start, end, limit) = match selection(&p) {
        Ok(x) if x.0.is_empty() => {
            return error_response(&bad("no match[] parameter provided".into()))
        }
        Ok(x) => x,
        Err(e) => return error_response(&e),
    };
    let store = state.store.clone();
    run(move || {
        let mut all: Vec<Labels> = Vec::new();
        for m in &sets {
            all.extend(store.series(m, start, end)?);
        }
        all.sort();
        all.dedup();
        let mut out = String::from("[");
        for (i, l) in truncate(all, limit).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_labels(&mut out, l);
        }
        out.push(']');
        Ok(out)
    })
    .await
}

fn string_list(mut v: Vec<String>, limit: usize) -> String {
    v.sort();
    v.dedup();
    serde_json::Value::from(truncate(v, limit)).to_string()
}

async fn labels(
    State(state): State<PromState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    let (mut sets, start, end, limit) = match selection(&p) {
        Ok(x) => x,
        Err(e) => return error_response(&e),
    };
    if sets.is_empty() {
        sets.push(Vec::new());
    }
    let store = state.store.clone();
    run(move || {
        let mut all = Vec::new();
        for m in &sets {
            all.extend(store.label_names(m, start, end)?);
        }
        Ok(string_list(all, limit))
    })
    .await
}

async fn label_values(
    State(state): State<PromState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    let (mut sets, start, end, limit) = match selection(&p) {
        Ok(x) => x,
        Err(e) => return error_response(&e),
    };
    if sets.is_empty() {
        sets.push(Vec::new());
    }
    let store = state.store.clone();
    run(move || {
        let mut all = Vec::new();
        for m in &sets {
            all.extend(store.label_values(&name, m, start, end)?);
        }
        Ok(string_list(all, limit))
    })
    .await
}

async fn buildinfo() -> Response {
    success(
        json!({
            "version": "3.0.0",
            "revision": concat!("pharos-", env!("CARGO_PKG_VERSION")),
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        })
        .to_string(),
    )
}

async fn metadata() -> Response {
    success("{}".into())
}

async fn exemplars() -> Response {
    success("[]".into())
}
