//! The query API: search and aggregation (`query`), the request view, context and field
//! statistics (`records`).

mod records;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pharos_collector::normalize::parse_timestamp;
use pharos_query::{search, QueryError, SearchRequest};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/search", get(search_handler))
        .merge(records::router())
}

#[derive(Deserialize)]
struct SearchParams {
    #[serde(default)]
    q: String,
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
}

pub(crate) fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

/// A time parameter: RFC 3339, or epoch seconds/ms/µs/ns told apart by magnitude.
pub(crate) fn parse_time_param(name: &str, v: &Option<String>) -> Result<Option<i64>, String> {
    let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let value = match s.parse::<f64>() {
        Ok(_) => serde_json::from_str::<serde_json::Value>(s).unwrap_or_else(|_| json!(s)),
        Err(_) => json!(s),
    };
    parse_timestamp(&value)
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

/// The response for a failed query: 400 for bad input, 404 for what does not exist, 500
/// (logged) for everything else.
pub(crate) fn query_error(what: &'static str, e: QueryError) -> Response {
    match e {
        QueryError::Parse(_) | QueryError::BadRequest(_) => bad_request(e.to_string()),
        QueryError::NotFound(_) => {
            (StatusCode::NOT_FOUND, Json(json!({"error": e.to_string()}))).into_response()
        }
        QueryError::Index { .. } => {
            tracing::error!(error = %e, query = what, "query failed");
            internal_error(e.to_string())
        }
    }
}

fn internal_error(msg: String) -> Response {
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

async fn search_handler(State(state): State<AppState>, Query(p): Query<SearchParams>) -> Response {
    let (start_ns, end_ns) = match time_params(&p.start, &p.end) {
        Ok(range) => range,
        Err(e) => return bad_request(e),
    };
    let req = SearchRequest {
        query: p.q,
        start_ns,
        end_ns,
        limit: p.limit.unwrap_or(100),
    };
    let store = state.collector.store.clone();
    run_query("search", move || search(&store, &req)).await
}
