//! The query API: search and aggregation (`query`), the request view, context and field
//! statistics (`records`).

mod query;
mod records;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use pharos_collector::clock::Clock;
use pharos_query::QueryError;
use serde_json::json;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(query::router())
        .merge(records::router())
}

pub(crate) fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

/// The HTTP answer for a query error: 400 with the position for what the client got wrong,
/// 500 (logged) for what went wrong here.
pub(crate) fn query_error(e: QueryError) -> Response {
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
        e => {
            tracing::error!(error = %e, "query failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": e.to_string()})),
            )
                .into_response()
        }
    }
}

/// A time parameter: RFC 3339, epoch seconds/ms/µs/ns (told apart by magnitude), `now` or
/// `now-15m`.
pub(crate) fn parse_time_param(name: &str, v: &Option<String>) -> Result<Option<i64>, String> {
    let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let now = pharos_collector::clock::SystemClock.now_ns();
    pharos_query::time::parse_time_literal(s, now)
        .map(Some)
        .map_err(|e| format!("parameter {name}: {e}"))
}
