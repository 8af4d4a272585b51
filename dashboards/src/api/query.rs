//! Search and aggregation: `POST|GET /api/v1/query` (and `GET /api/v1/search`, its alias
//! from the foundation), `GET /api/v1/histogram`, `GET /api/v1/export` (streamed) and
//! `GET /api/v1/tail` (live, Server-Sent Events).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use pharos_query::budget::Budget;
use pharos_query::eval::Matcher;
use pharos_query::exec::{execute, prepare, Mode, Prepared, QueryRequest, QueryResult};
use pharos_query::export::{export, Format};
use pharos_query::hit_json;
use pharos_query::time::{parse_duration_ns, parse_time_literal};
use pharos_query::QueryError;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::{bad_request, query_error};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(query_get).post(query_post))
        .route("/api/v1/search", get(query_get))
        .route("/api/v1/histogram", get(histogram))
        .route("/api/v1/export", get(export_handler))
        .route("/api/v1/tail", get(tail))
}

/// Default number of hits returned.
const DEFAULT_LIMIT: usize = 100;

/// A time given as RFC 3339, epoch seconds/ms/µs/ns, `now` or `now-15m`; JSON bodies may
/// send a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum TimeParam {
    Text(String),
    Number(serde_json::Number),
}

impl TimeParam {
    fn text(&self) -> String {
        match self {
            TimeParam::Text(s) => s.clone(),
            TimeParam::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct QueryBody {
    #[serde(default, alias = "q")]
    query: String,
    start: Option<TimeParam>,
    end: Option<TimeParam>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct QueryParams {
    #[serde(default, alias = "query")]
    q: String,
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
}

fn time(name: &str, v: Option<String>, now: i64) -> Result<Option<i64>, String> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_time_literal(s, now)
            .map(Some)
            .map_err(|e| format!("parameter {name}: {e}")),
    }
}

fn request(
    state: &AppState,
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
) -> Result<QueryRequest, String> {
    let now = state.collector.clock.now_ns();
    Ok(QueryRequest {
        start_ns: time("start", start, now)?,
        end_ns: time("end", end, now)?,
        limit: limit.unwrap_or(DEFAULT_LIMIT),
        now_ns: now,
        budget: Budget::with_timeout(state.settings.query_timeout),
    })
}

fn prepared(text: &str, req: &QueryRequest) -> Result<Prepared, QueryError> {
    let ast = pharos_query::lang::parse(text).map_err(QueryError::Syntax)?;
    prepare(&ast, req)
}

/// Records a query's time when it ends, whichever way it ends.
struct QueryTimer<'a>(&'a super::query_metrics::QueryMetrics, std::time::Instant);

impl Drop for QueryTimer<'_> {
    fn drop(&mut self) {
        self.0.observe("logs", self.1);
    }
}

async fn run_query(state: AppState, text: String, req: QueryRequest) -> Response {
    let store = state.collector.store.clone();
    // Dropped with this future when the client goes away: the query stops at its next check.
    let guard = req.budget.cancel_on_drop();
    let metrics = state.query_metrics.clone();
    let result = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let _timer = QueryTimer(&metrics, started);
        let p = prepared(&text, &req)?;
        let result = execute(&store, &p).inspect_err(|e| {
            if matches!(
                e,
                QueryError::Stopped(pharos_query::budget::Stopped::Cancelled)
            ) {
                tracing::info!(query = %text, "query cancelled: the client went away");
            }
        })?;
        Ok::<_, QueryError>((result, started.elapsed().as_secs_f64() * 1000.0))
    })
    .await;
    guard.disarm();
    match result {
        Ok(Ok((result, took_ms))) => {
            let mut v = serde_json::to_value(&result).unwrap_or(Value::Null);
            v["took_ms"] = json!(took_ms);
            Json(v).into_response()
        }
        Ok(Err(e)) => query_error("query", e),
        Err(e) => super::internal_error(format!("query task failed: {e}")),
    }
}

async fn query_get(State(state): State<AppState>, Query(p): Query<QueryParams>) -> Response {
    match request(&state, p.start, p.end, p.limit) {
        Ok(req) => run_query(state, p.q, req).await,
        Err(e) => bad_request(e),
    }
}

async fn query_post(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let b: QueryBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(format!("request body: {e}")),
    };
    match request(
        &state,
        b.start.map(|t| t.text()),
        b.end.map(|t| t.text()),
        b.limit,
    ) {
        Ok(req) => run_query(state, b.query, req).await,
        Err(e) => bad_request(e),
    }
}

#[derive(Deserialize)]
struct HistogramParams {
    #[serde(default, alias = "query")]
    q: String,
    start: Option<String>,
    end: Option<String>,
    /// Bucket width (`1m`, `30s`); chosen from the range when absent.
    interval: Option<String>,
}

/// Counts per time bucket split by level: `q | timechart span=… count() by level`, pivoted
/// into one object per bucket.
async fn histogram(State(state): State<AppState>, Query(p): Query<HistogramParams>) -> Response {
    let mut req = match request(&state, p.start, p.end, Some(0)) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    if req.start_ns.is_none() {
        // A histogram needs a range: default to the last hour.
        req.start_ns = Some(req.end_ns.unwrap_or(req.now_ns) - 3_600_000_000_000);
    }
    let span = match p
        .interval
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => String::new(),
        Some(s) => match parse_duration_ns(s) {
            Some(ns) if ns > 0 => format!("span={s} "),
            _ => {
                return bad_request(format!(
                    "parameter interval: `{s}` is not a duration like 30s, 1m, 1h"
                ))
            }
        },
    };
    if p.q.contains('|') && pharos_query::lang::parse(&p.q).is_ok_and(|q| !q.pipes.is_empty()) {
        return bad_request("the histogram takes a filter without pipes");
    }
    let text = format!("{} | timechart {span}count() by level", p.q);
    let store = state.collector.store.clone();
    let guard = req.budget.cancel_on_drop();
    let metrics = state.query_metrics.clone();
    let result = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let _timer = QueryTimer(&metrics, started);
        let prepared = prepared(&text, &req)?;
        Ok::<_, QueryError>((
            execute(&store, &prepared)?,
            started.elapsed().as_secs_f64() * 1000.0,
        ))
    })
    .await;
    guard.disarm();
    let (result, took_ms) = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return query_error("histogram", e),
        Err(e) => return super::internal_error(format!("query task failed: {e}")),
    };
    let QueryResult::Table {
        total,
        rows,
        span_ms,
        ..
    } = result
    else {
        return super::internal_error("unexpected result".into());
    };
    // Rows are (_time, level, count), sorted by time: fold them into buckets.
    let mut buckets: Vec<Value> = Vec::new();
    for row in rows {
        let (t, level, count) = (&row[0], &row[1], row[2].as_u64().unwrap_or(0));
        if buckets.last().map(|b| &b["time"]) != Some(t) {
            buckets.push(json!({"time": t, "total": 0, "counts": {}}));
        }
        if let Some(b) = buckets.last_mut() {
            b["total"] = json!(b["total"].as_u64().unwrap_or(0) + count);
            if count > 0 {
                if let Some(level) = level.as_str() {
                    b["counts"][level] = json!(count);
                }
            }
        }
    }
    Json(json!({"interval_ms": span_ms, "total": total, "buckets": buckets, "took_ms": took_ms}))
        .into_response()
}

#[derive(Deserialize)]
struct ExportParams {
    #[serde(default, alias = "query")]
    q: String,
    start: Option<String>,
    end: Option<String>,
    format: Option<String>,
}

/// Streams every matching record (or the aggregation's rows) without buffering the result.
async fn export_handler(State(state): State<AppState>, Query(p): Query<ExportParams>) -> Response {
    let requested = p.format.as_deref().unwrap_or("ndjson");
    let Some(format) = Format::parse(requested) else {
        return bad_request(format!(
            "parameter format: `{requested}` is not ndjson or csv"
        ));
    };
    let mut req = match request(&state, p.start, p.end, Some(pharos_query::exec::MAX_LIMIT)) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    // An export runs as long as its client reads (it stops when the client goes away).
    req.budget = Budget::unlimited();
    let prepared = match prepared(&p.q, &req) {
        Ok(p) => p,
        Err(e) => return query_error("request", e),
    };
    let store = state.collector.store.clone();
    // A small channel: the export thread runs only as fast as the client reads.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, QueryError>>(4);
    tokio::task::spawn_blocking(move || {
        let result = export(&store, &prepared, format, |chunk| {
            tx.blocking_send(Ok(bytes::Bytes::from(chunk))).is_ok()
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "export failed");
            let _ = tx.blocking_send(Err(e));
        }
    });
    // Nothing is sent before the first chunk: a query refused while it runs (too many
    // buckets, its budget) gets its 4xx/5xx answer instead of a 200 cut off mid-stream.
    let first = match rx.recv().await {
        Some(Err(e)) => return query_error("export", e),
        first => first,
    };
    let rest = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let body = Body::from_stream(
        stream::iter(first)
            .chain(rest)
            .map(|item| item.map_err(|e| std::io::Error::other(e.to_string()))),
    );
    let (content_type, ext) = match format {
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"pharos-export.{ext}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct TailParams {
    #[serde(default, alias = "query")]
    q: String,
}

/// Live tail: every record acknowledged from now on that matches the filter, as SSE `record`
/// events; a client that cannot keep up gets a `dropped` event with the number of records it
/// missed, and never slows ingest.
async fn tail(State(state): State<AppState>, Query(p): Query<TailParams>) -> Response {
    let req = match request(&state, None, None, Some(0)) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    let prepared = match prepared(&p.q, &req) {
        Ok(p) => p,
        Err(e) => return query_error("request", e),
    };
    if !matches!(prepared.mode, Mode::Hits { .. }) {
        return bad_request("live tail takes a filter: stats, timechart and top are not live");
    }
    let matcher = Matcher::new(prepared.filter);
    let feed = state.collector.ingestor.tail();
    let (rx, seq) = feed.subscribe();
    // The stream ends when the server shuts down, so it does not hold the shutdown open.
    let events = tail_events(rx, seq, matcher).take_until(feed.closed());
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The SSE events for a tail subscriber whose first batch should have sequence `start_seq`.
fn tail_events(
    rx: tokio::sync::broadcast::Receiver<std::sync::Arc<pharos_collector::ingest::tail::TailBatch>>,
    start_seq: u64,
    matcher: Matcher,
) -> impl Stream<Item = Result<Event, Infallible>> {
    struct St {
        rx: tokio::sync::broadcast::Receiver<
            std::sync::Arc<pharos_collector::ingest::tail::TailBatch>,
        >,
        matcher: Matcher,
        expected_seq: u64,
        pending: std::collections::VecDeque<Event>,
    }
    let st = St {
        rx,
        matcher,
        expected_seq: start_seq,
        pending: Default::default(),
    };
    stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            match st.rx.recv().await {
                Ok(batch) => {
                    if batch.seq > st.expected_seq {
                        let dropped = batch.seq - st.expected_seq;
                        st.pending.push_back(
                            Event::default()
                                .event("dropped")
                                .data(json!({"dropped": dropped}).to_string()),
                        );
                    }
                    st.expected_seq = batch.seq + batch.records.len() as u64;
                    for (i, r) in batch.records.iter().enumerate() {
                        let lsn = batch.first_lsn + i as u64;
                        if st.matcher.matches(r, lsn) {
                            st.pending.push_back(
                                Event::default()
                                    .event("record")
                                    .data(hit_json(lsn, r).to_string()),
                            );
                        }
                    }
                }
                // The gap shows in the next batch's sequence number.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
