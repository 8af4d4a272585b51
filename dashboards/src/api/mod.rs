//! The query API: search and aggregation (`query`), the request view, context and field
//! statistics (`records`), the Prometheus query API for metrics (`prom`), and health checks
//! (`checks`).

pub mod alerting;
pub mod alertmanager_v2;
mod boards;
pub mod checks;
pub mod prom;
mod query;
pub mod query_metrics;
mod records;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use pharos_collector::clock::{Clock, SystemClock};
use pharos_query::QueryError;
use serde::Serialize;
use serde_json::json;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(query::router())
        .merge(records::router())
        .merge(prom::router())
        .merge(checks::router())
        .merge(alerting::router())
        .merge(alertmanager_v2::router())
        .merge(crate::status::notices::router())
        .merge(boards::router())
}

pub(crate) fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

/// A time parameter: RFC 3339, epoch seconds/ms/µs/ns (told apart by magnitude), `now` or
/// `now-15m`.
pub(crate) fn parse_time_param(name: &str, v: &Option<String>) -> Result<Option<i64>, String> {
    let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    pharos_query::time::parse_time_literal(s, SystemClock.now_ns())
        .map(Some)
        .map_err(|e| format!("parameter {name}: {e}"))
}

/// The `start` and `end` parameters, or the message naming the bad one.
pub(crate) fn time_params(
    start: &Option<String>,
    end: &Option<String>,
) -> Result<(Option<i64>, Option<i64>), String> {
    Ok((
        parse_time_param("start", start)?,
        parse_time_param("end", end)?,
    ))
}

/// The response for a failed query: 400 with the position for what the client got wrong,
/// 404 for what does not exist, 500 (logged) for what went wrong here.
pub(crate) fn query_error(what: &'static str, e: QueryError) -> Response {
    match e {
        QueryError::Syntax(p) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": p.to_string(),
                "position": p.position,
                "column": p.column,
                "expected": p.expected,
                "found": p.found,
            })),
        )
            .into_response(),
        QueryError::Invalid {
            ref message,
            position,
        } => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string(), "message": message, "position": position})),
        )
            .into_response(),
        QueryError::Parse(_) | QueryError::BadRequest(_) => bad_request(e.to_string()),
        QueryError::NotFound(_) => {
            (StatusCode::NOT_FOUND, Json(json!({"error": e.to_string()}))).into_response()
        }
        QueryError::Stopped(pharos_query::budget::Stopped::TimedOut) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
        QueryError::Stopped(pharos_query::budget::Stopped::Cancelled) => (
            StatusCode::from_u16(499).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
        QueryError::Index { .. } => {
            tracing::error!(error = %e, query = what, "query failed");
            internal_error(e.to_string())
        }
    }
}

pub(crate) fn internal_error(msg: String) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": msg})),
    )
        .into_response()
}

/// Runs blocking query work (tantivy is synchronous) off the async workers and answers with
/// its JSON, or with [`query_error`]'s response.
pub(crate) async fn run_query<T>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, QueryError> + Send + 'static,
) -> Response
where
    T: Serialize + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(e)) => query_error(what, e),
        Err(e) => {
            tracing::error!(error = %e, query = what, "query task failed");
            internal_error(e.to_string())
        }
    }
}
