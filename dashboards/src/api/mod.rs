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
use serde::Deserialize;
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

async fn search_handler(State(state): State<AppState>, Query(p): Query<SearchParams>) -> Response {
    let (start_ns, end_ns) = match (
        parse_time_param("start", &p.start),
        parse_time_param("end", &p.end),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let req = SearchRequest {
        query: p.q,
        start_ns,
        end_ns,
        limit: p.limit.unwrap_or(100),
    };
    let store = state.collector.store.clone();
    let result = tokio::task::spawn_blocking(move || search(&store, &req)).await;
    match result {
        Ok(Ok(resp)) => Json(resp).into_response(),
        Ok(Err(e @ (QueryError::Parse(_) | QueryError::BadRequest(_)))) => {
            bad_request(e.to_string())
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "search failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": e.to_string()})),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}
